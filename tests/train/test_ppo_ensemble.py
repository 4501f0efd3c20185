"""Reward-model ensembles in PPO (after Coste et al. 2023): the combination maths, what step() optimises, config
validation and the `sentinel train ppo` flags."""

from __future__ import annotations

import json
import math

import pytest
import torch
from ppo_tiny import small_config as tiny_config  # tests/helpers/ppo_tiny.py
from ppo_tiny import tiny_policy_files

from sentinel.errors import ConfigError, DataError
from sentinel.models import TinyConfig, as_reward_fn, build_causal_lm
from sentinel.models.ensemble import EnsembleReward, combine_rewards, ensemble_std
from sentinel.train.ppo import PPOConfig, PPOTrainer

PROMPTS = [f"What is {a} + {b}?" for a in range(4) for b in range(4)]


def count_fives(prompts, responses):
    return [float(r.count("5")) for r in responses]


def length_share(prompts, responses):
    """A second member that disagrees with count_fives: a tenth of the response's length."""
    return [len(r) / 10 for r in responses]


def small_config(**kw):
    return tiny_config(**{"max_steps": 2, **kw})


def make_trainer(tok, reward, **kw):
    torch.manual_seed(0)  # the same initial policy for every trainer built here
    policy = build_causal_lm(tok, TinyConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1))
    return PPOTrainer(config=small_config(**kw), model=policy, tokenizer=tok, reward_model=reward)


# ------------------------------------------------------------------------------------------- the maths
def test_combination_maths_on_hand_computed_values():
    # three members, two samples: sample 0 scores (1, 2, 6), sample 1 scores (4, 4, 4)
    members = [[1.0, 4.0], [2.0, 4.0], [6.0, 4.0]]
    # sample 0: mean 3, min 1, population variance ((1-3)^2 + (2-3)^2 + (6-3)^2) / 3 = 14/3, std sqrt(14/3)
    assert combine_rewards(members, "mean") == pytest.approx([3.0, 4.0])
    assert combine_rewards(members, "min") == [1.0, 4.0]
    assert combine_rewards(members, "uwo", uwo_lambda=0.5) == pytest.approx([3.0 - 0.5 * 14 / 3, 4.0])
    assert combine_rewards(members, "uwo", uwo_lambda=0.0) == pytest.approx([3.0, 4.0])
    assert ensemble_std(members) == pytest.approx([math.sqrt(14 / 3), 0.0])
    # two members: (0, 2) -> mean 1, min 0, variance 1; uwo with lambda 2 -> 1 - 2 = -1
    assert combine_rewards([[0.0], [2.0]], "uwo", uwo_lambda=2.0) == pytest.approx([-1.0])
    assert combine_rewards([[0.0], [2.0]], "min") == [0.0]


def test_a_member_nan_makes_the_sample_nan_and_members_must_agree_on_length():
    out = combine_rewards([[1.0, math.nan], [2.0, 5.0]], "min")
    assert out[0] == 1.0 and math.isnan(out[1])  # never min(5, nan) = 5: the broken member is not outvoted
    assert math.isnan(combine_rewards([[math.inf], [1.0]], "mean")[0])
    assert math.isnan(ensemble_std([[1.0, math.nan], [2.0, 5.0]])[1])
    with pytest.raises(DataError, match="member 1 gave 1 rewards, member 0 gave 2"):
        combine_rewards([[1.0, 2.0], [3.0]], "mean")


def test_ensemble_reward_scores_every_member_and_combines():
    ens = EnsembleReward([as_reward_fn(count_fives), as_reward_fn(length_share)], "min")
    prompts, responses = ["p", "q"], ["55555 55555", "5"]
    assert ens.member_scores(prompts, responses) == [[10.0, 1.0], [1.1, 0.1]]
    assert ens(prompts, responses) == pytest.approx([1.1, 0.1])
    assert ens.name == "min(count_fives, length_share)"


# --------------------------------------------------------------------------------------- validation
def test_config_rejects_unknown_ensemble_and_misplaced_lambda():
    with pytest.raises(ConfigError, match=r"unknown ensemble 'max'; expected one of \['mean', 'min', 'uwo'\]") as e:
        PPOConfig(ensemble="max")
    assert e.value.field == "ensemble"
    with pytest.raises(ConfigError, match="needs uwo_lambda") as e:
        PPOConfig(ensemble="uwo")
    assert e.value.field == "uwo_lambda"
    with pytest.raises(ConfigError, match="only to ensemble 'uwo'"):
        PPOConfig(ensemble="min", uwo_lambda=1.0)
    with pytest.raises(ConfigError, match="ensemble is not"):
        PPOConfig(uwo_lambda=1.0)
    with pytest.raises(ConfigError, match=">= 0"):
        PPOConfig(ensemble="uwo", uwo_lambda=-0.1)
    assert PPOConfig(ensemble="uwo", uwo_lambda=0.0).uwo_lambda == 0.0


def test_single_reward_model_with_an_ensemble_setting_is_an_error(tiny_tokenizer):
    for reward in (count_fives, [count_fives]):
        with pytest.raises(ConfigError, match="ensemble 'mean' combines several reward models, got 1") as e:
            make_trainer(tiny_tokenizer, reward, ensemble="mean")
        assert e.value.field == "ensemble"
    # a plain list without ensemble is a weighted sum of pairs: bare entries are an error that names the fix
    with pytest.raises(ConfigError, match="entry 0 of the reward list.*ensemble="):
        make_trainer(tiny_tokenizer, [count_fives, length_share])
    with pytest.raises(ConfigError, match="combines by 'min'"):
        make_trainer(tiny_tokenizer, EnsembleReward([as_reward_fn(count_fives)] * 2, "min"), ensemble="mean")


# ------------------------------------------------------------------------------------------ in PPO
@pytest.mark.slow
def test_step_optimises_the_combined_reward_and_logs_members(tiny_tokenizer, tmp_path):
    """A trainer with a min-ensemble of two callables must make exactly the update that a trainer without a reward
    model makes when handed min(member rewards) by hand."""
    prompts = PROMPTS[:8]
    # fixed responses (tokenised by step(), scored by a forward pass): the members' scores are known exactly
    responses = ["5 5 5 5 5", "The answer is 5.", "Sorted: 1, 2, 3.", "55", "What is 5 + 5?", "I'm glad",
                 "The answer is 10.", "5"]
    members = [count_fives(prompts, responses), length_share(prompts, responses)]
    expected = [min(a, b) for a, b in zip(*members)]
    assert expected != members[0] and expected != members[1]  # the members disagree: min picks from both
    ens = make_trainer(tiny_tokenizer, [count_fives, length_share], ensemble="min", output_dir=str(tmp_path / "run"))
    by_hand = make_trainer(tiny_tokenizer, None)

    stats = ens.step(prompts, responses)
    manual = by_hand.step(prompts, responses, expected)
    assert stats["objective/scores"] == pytest.approx(sum(expected) / 8)
    assert stats["objective/scores"] == pytest.approx(manual["objective/scores"])
    for name in ("loss/policy_avg", "loss/value_avg", "objective/kl"):
        assert stats[name] == pytest.approx(manual[name], rel=1e-5, abs=1e-7), name
    after_ens = ens.accelerator.unwrap_model(ens.model).state_dict()
    after_hand = by_hand.accelerator.unwrap_model(by_hand.model).state_dict()
    assert all(torch.allclose(after_ens[k], after_hand[k], atol=1e-6) for k in after_ens)

    assert stats["ensemble/member_0"] == pytest.approx(sum(members[0]) / 8)
    assert stats["ensemble/member_1"] == pytest.approx(sum(members[1]) / 8)
    assert stats["ensemble/std"] == pytest.approx(sum(ensemble_std(members)) / 8)
    logged = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert {"ensemble/member_0", "ensemble/member_1", "ensemble/std"} <= set(logged)


# ------------------------------------------------------------------------------------------------ CLI
@pytest.fixture
def rules_module(tmp_path, monkeypatch):
    (tmp_path / "ens_rules.py").write_text(
        "def fives(prompts, responses):\n    return [float(r.count('5')) for r in responses]\n"
        "def length(prompts, responses):\n    return [len(r) / 10 for r in responses]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_cli_refuses_bad_ensemble_settings_before_loading_anything(rules_module, capsys):
    from sentinel.cli.main import main

    base = ["train", "ppo", "--model", str(rules_module / "no-such-policy"), "--prompts", "p.jsonl",
            "--output-dir", str(rules_module / "out")]
    assert main([*base, "--reward-model", "ens_rules:fives", "--ensemble", "min"]) == 2
    assert "combines several reward models, got 1" in capsys.readouterr().err
    assert main([*base, "--reward-model", "ens_rules:fives,ens_rules:length", "--ensemble", "mean",
                 "--reward-weights", "1,2"]) == 2
    assert "reward_weights" in capsys.readouterr().err
    assert main([*base, "--reward-model", "ens_rules:fives,ens_rules:length", "--ensemble", "uwo"]) == 2
    assert "needs uwo_lambda" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_trains_against_an_ensemble(tiny_tokenizer, rules_module, capsys):
    from sentinel.cli.main import main

    policy_dir, prompts = tiny_policy_files(tiny_tokenizer, rules_module)
    out = rules_module / "out"
    assert main(["train", "ppo", "--model", str(policy_dir), "--prompts", str(prompts), "--output-dir", str(out),
                 "--reward-model", "ens_rules:fives,ens_rules:length", "--ensemble", "uwo", "--uwo-lambda", "0.5",
                 "--batch-size", "8", "--mini-batch-size", "4", "--ppo-epochs", "1", "--max-new-tokens", "6",
                 "--max-steps", "2"]) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        m0, m1, std = row["ensemble/member_0"], row["ensemble/member_1"], row["ensemble/std"]
        assert std >= 0 and math.isfinite(m0) and math.isfinite(m1)
        # uwo never exceeds the mean: the batch's combined score is at most the members' mean
        assert row["objective/scores"] <= (m0 + m1) / 2 + 1e-9
    assert "ensemble: uwo" in (out / "config.yaml").read_text()
