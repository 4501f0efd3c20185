"""PPO maths against values computed by hand (the arithmetic is in the comments)."""

import math

import pytest
import torch

from sentinel.errors import ConfigError
from sentinel.train.ppo import PPOConfig, core


def approx(xs):
    return pytest.approx(xs, abs=1e-5)


def test_gae_undiscounted_with_lambda():
    # gamma 1, lambda 0.5, values 0.5: deltas (0, 0, 0.5) -> A2 = .5, A1 = 0 + .5*.5 = .25, A0 = .5*.25 = .125
    adv, ret = core.compute_gae(torch.tensor([[0.0, 0.0, 1.0]]), torch.full((1, 3), 0.5), torch.ones(1, 3), 1.0, 0.5)
    assert adv[0].tolist() == approx([0.125, 0.25, 0.5])
    assert ret[0].tolist() == approx([0.625, 0.75, 1.0])


def test_gae_discount_and_padding():
    # gamma .9, lambda 1, values 0: A1 = 2, A0 = 1 + .9 * 2 = 2.8
    adv, _ = core.compute_gae(torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2), torch.ones(1, 2), 0.9, 1.0)
    assert adv[0].tolist() == approx([2.8, 2.0])
    # the padded third token (reward 99, value 7) must not leak: A1 = 1 - .5 = .5, A0 = 0 + .5 - .5 + .5 * .5 = .25
    adv, ret = core.compute_gae(torch.tensor([[0.0, 1.0, 99.0]]), torch.tensor([[0.5, 0.5, 7.0]]),
                                torch.tensor([[1.0, 1.0, 0.0]]), 1.0, 0.5)
    assert adv[0].tolist() == approx([0.25, 0.5, 0.0])
    assert ret[0].tolist() == approx([0.75, 1.0, 0.0])


def test_masked_whiten_mean_var():
    x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    # mean 2.5, unbiased var 5/3
    assert core.masked_whiten(x, torch.ones(4)).tolist() == approx([(v - 2.5) / math.sqrt(5 / 3) for v in x.tolist()])
    # the masked 100 is ignored: mean 2, unbiased var 1
    x, m = torch.tensor([1.0, 2.0, 3.0, 100.0]), torch.tensor([1.0, 1.0, 1.0, 0.0])
    assert core.masked_whiten(x, m).tolist() == approx([-1.0, 0.0, 1.0, 0.0])
    assert core.masked_whiten(x, m, shift_mean=False).tolist() == approx([1.0, 2.0, 3.0, 0.0])
    assert core.masked_mean(x, m).item() == pytest.approx(2.0)
    assert core.masked_var(x, m, unbiased=False).item() == pytest.approx(2 / 3)


def test_adaptive_kl_controller():
    ctl = core.AdaptiveKLController(0.2, target=6.0, horizon=10000)
    ctl.update(9.0, 100)  # error clip(9/6 - 1) = 0.2 -> x (1 + 0.2 * 100 / 10000)
    assert ctl.value == pytest.approx(0.2 * 1.002)
    ctl.update(3.0, 1000)  # error clip(-0.5) = -0.2 -> x (1 - 0.02)
    assert ctl.value == pytest.approx(0.2 * 1.002 * 0.98)
    ctl.update(6.0, 10**6)  # on target: unchanged
    assert ctl.value == pytest.approx(0.2 * 1.002 * 0.98)
    fixed = core.FixedKLController(0.05)
    fixed.update(100.0, 10**6)
    assert fixed.value == 0.05


def test_clipped_policy_loss():
    logp, old = torch.log(torch.tensor([[1.5, 0.5]])), torch.zeros(1, 2)
    loss, st = core.policy_loss(logp, old, torch.ones(1, 2), torch.ones(1, 2), 0.2)
    # ratio (1.5, .5), A = 1: max(-1.5, -1.2) = -1.2 and max(-.5, -.8) = -.5 -> mean -.85; clipped branch won once
    assert loss.item() == pytest.approx(-0.85)
    assert st["clipfrac"].item() == pytest.approx(0.5)
    assert st["ratio"].item() == pytest.approx(1.0)
    assert st["approxkl"].item() == pytest.approx(0.25 * (math.log(1.5) ** 2 + math.log(0.5) ** 2))
    loss, _ = core.policy_loss(logp, old, -torch.ones(1, 2), torch.ones(1, 2), 0.2)
    # A = -1: max(1.5, 1.2) = 1.5 and max(.5, .8) = .8 -> mean 1.15
    assert loss.item() == pytest.approx(1.15)
    # a masked token changes nothing
    loss, _ = core.policy_loss(torch.log(torch.tensor([[1.5, 9.0]])), old, torch.ones(1, 2),
                               torch.tensor([[1.0, 0.0]]), 0.2)
    assert loss.item() == pytest.approx(-1.2)


def test_clipped_value_loss():
    v, old, ret = torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2), torch.ones(1, 2)
    loss, clipfrac = core.value_loss(v, old, ret, torch.ones(1, 2), 0.2)
    # clipped values (0.2, 0): errors (0, 1) vs (0.64, 1) -> 0.5 * mean(0.64, 1) = 0.41
    assert loss.item() == pytest.approx(0.41)
    assert clipfrac.item() == pytest.approx(0.5)


def test_logprobs_entropy_and_kl_estimators():
    logits = torch.randn(2, 3, 7)
    tokens = torch.randint(0, 7, (2, 3))
    expected = torch.log_softmax(logits, -1).gather(-1, tokens[..., None]).squeeze(-1)
    assert torch.allclose(core.logprobs_of(logits, tokens), expected, atol=1e-6)
    assert core.entropy_of(torch.zeros(1, 1, 8)).item() == pytest.approx(math.log(8))
    lp, ref = torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)])
    d = math.log(2)
    assert core.kl_per_token(lp, ref, "kl").item() == pytest.approx(d)
    assert core.kl_per_token(ref, lp, "abs").item() == pytest.approx(d)
    assert core.kl_per_token(lp, ref, "mse").item() == pytest.approx(0.5 * d * d)
    assert core.kl_per_token(lp, ref, "k3").item() == pytest.approx(0.5 - 1 + d)


def test_running_moments():
    m = core.RunningMoments()
    m.update(torch.tensor([1.0, 2.0, 3.0]))
    m.update(torch.tensor([4.0, 5.0]))
    assert m.mean == pytest.approx(3.0)
    assert m.std == pytest.approx(math.sqrt(2.0))


@pytest.mark.parametrize("kw, field", [
    ({"batch_size": 10, "mini_batch_size": 4}, "batch_size"),
    ({"lam": 1.5}, "lam"),
    ({"kl_penalty": "full"}, "kl_penalty"),
    ({"cliprange": -0.1}, "cliprange"),
    ({"missing_eos_penalty": -1.0}, "missing_eos_penalty"),
    ({"length_penalty": -0.1}, "length_penalty"),
    ({"ppo_epochs": 0}, "ppo_epochs"),
])
def test_config_rejects_bad_values(kw, field):
    with pytest.raises(ConfigError) as e:
        PPOConfig(**kw)
    assert e.value.field == field


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_fused_token_logprobs_match_log_softmax_values_and_gradients(temperature):
    from sentinel.train.ppo.logprobs import token_logprobs

    torch.manual_seed(0)
    head = torch.nn.Linear(8, 50, bias=False)
    states = torch.randn(3, 5, 8, requires_grad=True)
    tokens = torch.randint(0, 50, (3, 5))
    weights = torch.randn(3, 5)  # an arbitrary downstream loss, so every row's gradient differs

    fused = token_logprobs(states, head, tokens, temperature)
    (fused * weights).sum().backward()
    g_states, g_head = states.grad.clone(), head.weight.grad.clone()
    states.grad, head.weight.grad = None, None
    plain = core.logprobs_of(head(states) / temperature, tokens)
    (plain * weights).sum().backward()

    assert torch.allclose(fused, plain, atol=1e-5)
    assert torch.allclose(g_states, states.grad, atol=1e-5)
    assert torch.allclose(g_head, head.weight.grad, atol=1e-5)
    assert g_head.abs().sum() > 0  # the comparison is not between two zero gradients


def test_fused_head_only_for_plain_linear_heads():
    from transformers import LlamaConfig, LlamaForCausalLM

    from sentinel.train.ppo.logprobs import fusable_head

    cfg = LlamaConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=32)
    lm = LlamaForCausalLM(cfg)
    assert fusable_head(lm) is lm.lm_head
    lm.lm_head = torch.nn.Linear(16, 40, bias=True)
    assert fusable_head(lm) is None  # a bias changes the logits: use the model's own head
