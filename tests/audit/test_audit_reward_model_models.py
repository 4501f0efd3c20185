"""The auditor on real (tiny) models: a sequence-classification reward model and a DPO policy's implicit reward."""

from __future__ import annotations

import pytest
import torch

from sentinel import RewardModelAuditor
from sentinel.audit.cases import BUILTIN_CASES
from sentinel.audit.targets import CachedScorer, DPOImplicitReward, as_target
from sentinel.models import ModelReward, build_causal_lm, build_reward_model, format_for_reward

PROBES = ["verbosity", "keyword"]


def test_folder_and_loaded_model_give_the_same_audit(tiny_tokenizer, tmp_path):
    rm = build_reward_model(tiny_tokenizer, seed=0)
    rm.save_pretrained(tmp_path)
    tiny_tokenizer.save_pretrained(tmp_path)
    a = RewardModelAuditor(probes=PROBES, max_rows=12).analyze(reward_model=str(tmp_path))
    b = RewardModelAuditor(probes=PROBES, max_rows=12).analyze(reward_model=(rm, tiny_tokenizer))
    assert a.probes == b.probes and a.metrics["accuracy"] == b.metrics["accuracy"]
    assert a.model["path"] == str(tmp_path)
    # Each distinct (prompt, response) was scored once: originals, transformations and controls, and 16 placebos per
    # transformed reply of the confirmation half for `keyword` (verbosity's control is the original).
    assert a.metrics["texts_scored"] <= 12 * 2 * (1 + 2 * 2 * len(PROBES) * 3) + 6 * 2 * 3 * 16


def test_batched_scores_equal_one_at_a_time(tiny_tokenizer):
    rm = build_reward_model(tiny_tokenizer, seed=1)
    prompts = [c.prompt for c in BUILTIN_CASES[:6]] * 2
    responses = [c.chosen for c in BUILTIN_CASES[:6]] + [c.rejected for c in BUILTIN_CASES[:6]]
    batched = ModelReward(rm, tiny_tokenizer, batch_size=5)(prompts, responses)
    with torch.no_grad():
        single = [float(rm(**tiny_tokenizer(format_for_reward(tiny_tokenizer, p, r), return_tensors="pt")).logits[0, 0])
                  for p, r in zip(prompts, responses)]
    assert batched == pytest.approx(single, abs=1e-5)
    cached = CachedScorer(ModelReward(rm, tiny_tokenizer))
    assert list(cached(prompts + prompts, responses + responses)) == pytest.approx(single + single, abs=1e-5)
    assert cached.calls == 12


def _manual_logratio(policy, ref, tok, prompt, response):
    """Sum over response tokens of log pi - log pi_ref, one example, no batching or padding."""
    full = tok(format_for_reward(tok, prompt, response), add_special_tokens=False, return_tensors="pt")["input_ids"]
    head = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    n = len(tok(head, add_special_tokens=False)["input_ids"])
    total = 0.0
    with torch.no_grad():
        for m, sign in ((policy, 1), (ref, -1)):
            logp = torch.log_softmax(m(full).logits[0, :-1].float(), -1).gather(-1, full[0, 1:, None])[:, 0]
            total += sign * float(logp[n - 1 :].sum())
    return total


def test_dpo_implicit_reward_matches_a_direct_computation(tiny_tokenizer):
    policy = build_causal_lm(tiny_tokenizer, seed=0).eval()
    ref = build_causal_lm(tiny_tokenizer, seed=1).eval()
    rf = as_target((policy, ref, tiny_tokenizer))
    assert isinstance(rf, DPOImplicitReward)
    prompts = [c.prompt for c in BUILTIN_CASES[:6]]
    responses = [c.chosen for c in BUILTIN_CASES[:6]]
    got = rf(prompts, responses)
    want = [_manual_logratio(policy, ref, tiny_tokenizer, p, r) for p, r in zip(prompts, responses)]
    assert got == pytest.approx(want, rel=1e-4, abs=1e-4)
    assert DPOImplicitReward(policy, policy, tiny_tokenizer)(prompts, responses) == pytest.approx([0.0] * 6, abs=1e-6)
    result = RewardModelAuditor(probes=["verbosity"], max_rows=8).analyze(reward_model=(policy, ref, tiny_tokenizer))
    assert result.metrics["pairs"] == 8 and "verbosity" in result.probes
