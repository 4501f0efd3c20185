"""PPO in the lab: from the SFT policy against a rule reward, the gold grader watched alongside."""

from __future__ import annotations

import math

import pytest
import torch

pytestmark = pytest.mark.slow


def wordiness(prompts, responses):
    """Longer is better, up to 16 words: 0.25 per word (large against the KL penalty per token). The lab SFT policy already answers in the shortest form
    ("The answer is X."), so a brevity reward has nothing left to teach it; a length reward does."""
    return [0.25 * min(len(r.split()), 16) for r in responses]


def test_ppo_from_lab_sft_raises_a_rule_reward(lab_dir, lab_sft):
    from sentinel.lab import gold_rewards
    from sentinel.train.ppo import PPOConfig, PPOTrainer
    from sentinel.train.ppo.prompts import load_prompts

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = PPOConfig(learning_rate=5e-4, batch_size=32, mini_batch_size=8, ppo_epochs=4, max_new_tokens=24,
                           init_kl_coef=0.01, steps=24, seed=0)
        trainer = PPOTrainer(config=config, model=str(lab_sft), reward_model=wordiness,
                             gold_reward_fn=gold_rewards)
        history = trainer.train(load_prompts(lab_dir / "data" / "prompts.jsonl"))
    finally:
        torch.set_num_threads(threads)
    first, last = history[:4], history[-4:]
    mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)
    assert mean(last, "objective/scores") > mean(first, "objective/scores") + 0.25, str([round(h["objective/scores"], 3) for h in history])
    assert mean(last, "response_length/mean") > mean(first, "response_length/mean")
    kls = [h["objective/kl"] for h in history]
    assert all(math.isfinite(k) for k in kls) and mean(last, "objective/kl") > 0
    assert all("gold/score" in h for h in history)
