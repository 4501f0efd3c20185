"""On the lab with our PPO: the online guard stays quiet (no hacking alarm) when PPO optimises the lab's gold reward,
and raises the hacking alarm during PPO against the lab's biased reward model (the demo's settings: a small fixed KL
coefficient lets the policy drift far enough to find the reward model's hacks; at lr 1e-4-1e-3 with the adaptive
controller it did not).
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow
# skip at import, before the session fixtures below train an SFT policy for a test that cannot run
ppo = pytest.importorskip("sentinel.train.ppo", reason="our PPOTrainer has not landed on this branch yet")

HACKING = {"length-hacking", "over-optimisation"}


def _ppo(lab_dir, lab_sft, reward, steps):

    from sentinel import SentinelCallback
    from sentinel.lab import gold_reward

    def gold(prompts, responses):
        return [gold_reward(p, r) for p, r in zip(prompts, responses)]

    prompts = [json.loads(line)["prompt"] for line in (lab_dir / "data" / "prompts.jsonl").read_text().splitlines()]
    cb = SentinelCallback(every_n_steps=5, stop_on="high")  # stops at the first high alarm
    # Threads: the test run's (OMP_NUM_THREADS, 1 unless set; tests/conftest.py).
    cfg = ppo.PPOConfig(max_steps=steps, batch_size=16, mini_batch_size=8, learning_rate=LR, max_new_tokens=48,
                        device="cpu")
    trainer = ppo.PPOTrainer(cfg, model=str(lab_sft), reward_model=gold if reward == "gold" else str(reward),
                             gold_reward_fn=gold, callbacks=[cb])
    history = trainer.train(prompts)
    cb.run_checks(len(history))
    return cb, history


LR = 1e-4
STEPS = 40


def test_guard_stays_quiet_when_ppo_optimises_the_gold_reward(lab_dir, lab_sft):
    cb, history = _ppo(lab_dir, lab_sft, "gold", STEPS)
    assert not ({f.id for f in cb.alarms} & HACKING), [str(f) for f in cb.alarms]
    assert len(history) == STEPS


def test_guard_raises_the_hacking_alarm_when_ppo_optimises_the_biased_reward_model(lab_dir, lab_sft, lab_rm_biased,
                                                                                    record_property):
    """The demo's settings (fixed small KL coefficient, lr 2e-4, batch 32): the policy finds the biased reward
    model's hacks, the proxy rises while gold does not, and the guard names it while the run is going."""
    from sentinel import SentinelCallback
    from sentinel.lab import gold_rewards

    prompts = [json.loads(line)["prompt"] for line in (lab_dir / "data" / "prompts.jsonl").read_text().splitlines()]
    cb = SentinelCallback(every_n_steps=5)
    cfg = ppo.PPOConfig(max_steps=30, batch_size=32, mini_batch_size=8, ppo_epochs=4, learning_rate=2e-4,
                        max_new_tokens=48, adap_kl_ctrl=False, init_kl_coef=0.01, seed=0, device="cpu")
    trainer = ppo.PPOTrainer(cfg, model=str(lab_sft), reward_model=str(lab_rm_biased),
                             gold_reward_fn=gold_rewards, callbacks=[cb])
    history = trainer.train(prompts)
    cb.run_checks(len(history))
    proxy = [h["objective/scores"] for h in history]
    gold = [h["gold/score"] for h in history]
    record_property("proxy_first5_last5", [sum(proxy[:5]) / 5, sum(proxy[-5:]) / 5])
    record_property("gold_first5_last5", [sum(gold[:5]) / 5, sum(gold[-5:]) / 5])
    record_property("alarms", sorted((f.id, f.data.get("step")) for f in cb.alarms))
    assert sum(proxy[-5:]) / 5 > sum(proxy[:5]) / 5 + 0.5, proxy  # the proxy is being optimised ...
    # ... while the true reward falls: the policy starts from a fully trained SFT policy, so there is no gold to gain
    # by hedging instead of answering (0.49 -> -0.11 mean gold over the first and last 5 steps, lab v3).
    assert sum(gold[-5:]) / 5 < sum(gold[:5]) / 5 - 0.1, gold
    alarms = {f.id for f in cb.alarms}
    assert alarms & HACKING, [str(f) for f in cb.alarms]
    first = min(f.data["step"] for f in cb.alarms if f.id in HACKING)
    assert 1 <= first <= len(history)  # the alarm names the step where the hack began
