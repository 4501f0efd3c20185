"""On the lab with our PPO: the online guard stays quiet (no hacking alarm) when PPO optimises the lab's gold reward.

Runs once our PPOTrainer is on the branch (skipped before). The positive direction (the alarm against the biased
reward model) is tested on a recorded lab PPO log with a planted hack in test_consistency_callback.py: in runs on
the PPO branch (40-60 steps, lr 1e-4 and 1e-3) the SFT policy did not discover the biased RM's padding hack, so a
live test of that direction would assert something the run does not produce.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow
# skip at import, before the session fixtures below train an SFT policy for a test that cannot run
ppo = pytest.importorskip("sentinel.train.ppo", reason="our PPOTrainer has not landed on this branch yet")

HACKING = {"length-hacking", "over-optimisation"}


def _ppo(lab_dir, lab_sft, reward, steps):
    import torch

    from sentinel import SentinelCallback
    from sentinel.lab import gold_reward

    def gold(prompts, responses):
        return [gold_reward(p, r) for p, r in zip(prompts, responses)]

    prompts = [json.loads(line)["prompt"] for line in (lab_dir / "data" / "prompts.jsonl").read_text().splitlines()]
    cb = SentinelCallback(every_n_steps=5, stop_on="high")  # stops at the first high alarm
    old = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model, many small steps: one thread is far faster on a shared machine
    try:
        cfg = ppo.PPOConfig(steps=steps, batch_size=16, mini_batch_size=8, learning_rate=LR, max_new_tokens=48,
                            device="cpu")
        trainer = ppo.PPOTrainer(cfg, model=str(lab_sft), reward_model=gold if reward == "gold" else str(reward),
                                 gold_reward_fn=gold, callbacks=[cb])
        history = trainer.train(prompts)
    finally:
        torch.set_num_threads(old)
    cb.run_checks(len(history))
    return cb, history


LR = 1e-4
STEPS = 40


def test_guard_stays_quiet_when_ppo_optimises_the_gold_reward(lab_dir, lab_sft):
    cb, history = _ppo(lab_dir, lab_sft, "gold", STEPS)
    assert not ({f.id for f in cb.alarms} & HACKING), [str(f) for f in cb.alarms]
    assert len(history) == STEPS
