"""Synthetic but realistic PPO metric logs for the training-check tests (TRL metric names)."""

from __future__ import annotations

import numpy as np


def ppo_log(n: int = 60, *, hacking: bool = False, onset: int = 20, over_opt: bool = False, seed: int = 0,
            every: int = 1) -> list[dict]:
    """`n` logged steps of a PPO run. Healthy: reward rises and saturates, length flat, KL small.
    `hacking`: from step `onset` length grows and the reward follows it in lockstep while KL grows.
    `over_opt`: a gold score that peaks at `onset` and then falls while the proxy keeps rising."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        step = (i + 1) * every
        t = max(0, i - onset)
        length = 40 + rng.normal(0, 1.5) + (1.8 * t if hacking else 0)
        reward = 0.5 * (1 - np.exp(-i / 15)) + rng.normal(0, 0.04) + (0.05 * (length - 40) if hacking else 0)
        kl = 0.5 + 0.02 * i + abs(rng.normal(0, 0.05)) + (0.15 * t if hacking else 0)
        gold = 0.5 * (1 - np.exp(-i / 15)) + rng.normal(0, 0.02)
        if over_opt:
            gold = 0.04 * min(i, onset) - 0.05 * t + rng.normal(0, 0.02)
        rows.append({
            "step": step,
            "objective/scores": float(reward),
            "objective/rlhf_reward": float(reward - 0.05 * kl),
            "objective/kl": float(kl),
            "objective/kl_coef": 0.05,
            "objective/entropy": float(2.5 - 0.005 * i + rng.normal(0, 0.03)),
            "policy/approxkl_avg": float(abs(rng.normal(0.01, 0.003))),
            "policy/clipfrac_avg": float(abs(rng.normal(0.08, 0.01))),
            "val/ratio": float(1 + rng.normal(0, 0.01)),
            "loss/policy_avg": float(rng.normal(0, 0.02)),
            "loss/value_avg": float(0.3 * np.exp(-i / 30) + abs(rng.normal(0, 0.01)) + 0.02),
            "response_length/mean": float(length),
            "gold/score": float(gold),
        })
    return rows


def flat_gold_log(n: int, seed: int) -> list[dict]:
    """`ppo_log` with a proxy rising linearly (0.1 a step) over gold that is flat noise (0.6, SD 0.15: the mean of a
    32-sample batch): no over-optimisation, so every alarm on it is a false one."""
    rng = np.random.default_rng(seed)
    rows = ppo_log(n=n, seed=seed)
    for i, r in enumerate(rows):
        r["objective/scores"] = 0.2 + 0.1 * i + float(rng.normal(0, 0.05))
        r["gold/score"] = 0.6 + float(rng.normal(0, 0.15))
    return rows


def saturated_proxy_log(seed: int, gold_falls: bool, n: int = 150) -> list[dict]:
    """A GRPO-like run of `n` logged steps: the proxy climbs from about 0 to 3.4 in the first fifth, then sits on
    its plateau (noise 0.3); gold is flat noise (SD 0.15) at 0.63, and with `gold_falls` it slides to about 0.33 from
    the run's middle on (the shape of GRPO against the lab's biased reward model)."""
    rng = np.random.default_rng(seed)
    rows = ppo_log(n=n, seed=seed)
    for i, r in enumerate(rows):
        r["objective/scores"] = 3.4 * (1 - np.exp(-i / 10)) + float(rng.normal(0, 0.3))
        slide = 0.3 * max(0, i - n // 2) / (n // 2) if gold_falls else 0.0
        r["gold/score"] = 0.63 - slide + float(rng.normal(0, 0.15))
    return rows


def grpo_log(n: int = 60, *, beta: float = 0.0, hacking: bool = False, over_opt: bool = False, onset: int = 20,
             zero_std: float = 0.2, gold_name: str = "gold", seed: int = 0) -> list[dict]:
    """`n` logged steps of a TRL 1.16 GRPO/RLOO run with its own metric names: `reward` (the weighted sum of the
    optimised reward functions), `rewards/<name>/mean|std` per function (the watched one, `gold_name`, weight 0),
    `completions/*`, `frac_reward_zero_std`, `entropy`, `clip_ratio/*`, and `kl` only when `beta` > 0 (as TRL).
    `hacking`, `over_opt`, `onset` as `ppo_log`; `zero_std`: the share of groups whose replies all scored alike."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        t = max(0, i - onset)
        length = 30 + rng.normal(0, 1.5) + (1.8 * t if hacking else 0)
        reward = 0.5 * (1 - np.exp(-i / 15)) + rng.normal(0, 0.04) + (0.05 * (length - 30) if hacking else 0)
        gold = 0.5 * (1 - np.exp(-i / 15)) + rng.normal(0, 0.02)
        if over_opt:
            gold = 0.04 * min(i, onset) - 0.05 * t + rng.normal(0, 0.02)
        row = {
            "step": i + 1, "loss": float(rng.normal(0, 0.02)), "grad_norm": float(abs(rng.normal(1, 0.2))),
            "learning_rate": 1e-4, "num_tokens": float(4000 * (i + 1)),
            "completions/mean_length": float(length), "completions/min_length": float(length - 10),
            "completions/max_length": float(length + 10), "completions/clipped_ratio": 0.0,
            "rewards/verifier/mean": float(reward), "rewards/verifier/std": 0.5,
            f"rewards/{gold_name}/mean": float(gold), f"rewards/{gold_name}/std": 0.5,
            "reward": float(reward), "reward_std": 0.5,
            "frac_reward_zero_std": float(np.clip(zero_std + rng.normal(0, 0.03), 0, 1)),
            "entropy": float(0.6 - 0.002 * i + rng.normal(0, 0.01)),
            "clip_ratio/low_mean": 0.0, "clip_ratio/high_mean": 0.0,
            "clip_ratio/region_mean": float(abs(rng.normal(0.01, 0.003))),
        }
        if beta:
            row["kl"] = float(0.01 * i + abs(rng.normal(0, 0.005)))
        rows.append(row)
    return rows
