"""PPO in the lab: from the SFT policy against a rule reward, the gold grader watched alongside."""

from __future__ import annotations

import math

import pytest
import torch

pytestmark = pytest.mark.slow


def brevity(prompts, responses):
    """Shorter is better: minus 0.1 per word."""
    return [-0.1 * len(r.split()) for r in responses]


def test_ppo_from_lab_sft_raises_a_rule_reward(lab_dir, lab_sft):
    from sentinel.lab import gold_rewards
    from sentinel.train.ppo import PPOConfig, PPOTrainer
    from sentinel.train.ppo.prompts import load_prompts

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = PPOConfig(learning_rate=5e-4, batch_size=32, mini_batch_size=8, ppo_epochs=4, max_new_tokens=24,
                           init_kl_coef=0.05, steps=12, seed=0)
        trainer = PPOTrainer(config=config, model=str(lab_sft), reward_model=brevity,
                             gold_reward_fn=gold_rewards)
        history = trainer.train(load_prompts(lab_dir / "data" / "prompts.jsonl"))
    finally:
        torch.set_num_threads(threads)
    first, last = history[:4], history[-4:]
    mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)
    assert mean(last, "objective/scores") > mean(first, "objective/scores") + 0.1, [h["objective/scores"] for h in history]
    assert mean(last, "response_length/mean") < mean(first, "response_length/mean")
    kls = [h["objective/kl"] for h in history]
    assert all(math.isfinite(k) for k in kls) and mean(last, "objective/kl") > 0
    assert all("gold/score" in h for h in history)
