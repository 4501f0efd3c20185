"""PPO in the lab: from the SFT policy against the gold grader (a rule reward that knows the right answer)."""

from __future__ import annotations

import math

import pytest
import torch

pytestmark = pytest.mark.slow

STEPS = 100  # the full recipe (LAB_RECIPE, 150 steps) is measured by benchmarks/ppo_gold.py


def test_ppo_from_lab_sft_raises_the_gold_reward_and_greedy_answers(lab_dir, lab_sft):
    from sentinel.lab import gold_rewards
    from sentinel.lab.evaluate import evaluate
    from sentinel.train.ppo import PPOConfig, PPOTrainer
    from sentinel.train.ppo.config import LAB_RECIPE
    from sentinel.train.ppo.prompts import load_prompts

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = PPOTrainer(config=PPOConfig(**{**LAB_RECIPE, "steps": STEPS, "seed": 0}), model=str(lab_sft),
                             reward_model=gold_rewards)
        eval_file = lab_dir / "data" / "eval.jsonl"
        before = evaluate(trainer.policy, eval_file, tokenizer=trainer.tokenizer)
        history = trainer.train(load_prompts(lab_dir / "data" / "prompts.jsonl"))
        after = evaluate(trainer.policy, eval_file, tokenizer=trainer.tokenizer)
    finally:
        torch.set_num_threads(threads)
    mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)
    first, last = history[:20], history[-20:]
    # gold reward of the policy's own samples (1 right, 0 no answer, -1 wrong): about 0.2 -> 0.3 in 100 steps
    assert mean(last, "objective/scores") > mean(first, "objective/scores") + 0.05, \
        [round(h["objective/scores"], 2) for h in history]
    kls = [h["objective/kl"] for h in history]
    assert all(math.isfinite(k) for k in kls) and mean(last, "objective/kl") > 0, kls
    # greedy answers on the eval split get better (0.43 -> 0.49-0.54 mean gold over seeds 0-2 of the full recipe;
    # learning rates of 2e-4 and above made them worse: see LAB_RECIPE)
    assert after["mean_gold"] > before["mean_gold"], (before["mean_gold"], after["mean_gold"])
    assert after["by_task"]["capital"] >= 0.9  # facts the SFT policy knew are kept
