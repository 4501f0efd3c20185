"""Shared by the PPO tests: small PPO settings for tiny models (a few steps of 8 samples)."""

from __future__ import annotations

from sentinel.train.ppo import PPOConfig


def small_config(**kw) -> PPOConfig:
    """3 steps of 8 samples in mini-batches of 4, 2 PPO epochs, 8 new tokens; keywords override."""
    base = {"learning_rate": 3e-3, "batch_size": 8, "mini_batch_size": 4, "ppo_epochs": 2, "max_new_tokens": 8,
            "init_kl_coef": 0.05, "steps": 3, "seed": 0}
    return PPOConfig(**{**base, **kw})
