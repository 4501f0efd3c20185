"""Shared by the PPO, GRPO and RLOO tests: small PPO settings for tiny models, and a tiny policy folder with
arithmetic prompts on disk."""

from __future__ import annotations

import json
from pathlib import Path

from sentinel.train.ppo import PPOConfig

PROMPTS = [f"What is {a} + {b}?" for a in range(4) for b in range(4)]


def small_config(**kw) -> PPOConfig:
    """3 steps of 8 samples in mini-batches of 4, 2 PPO epochs, 8 new tokens; keywords override."""
    base = {"learning_rate": 3e-3, "batch_size": 8, "mini_batch_size": 4, "ppo_epochs": 2, "max_new_tokens": 8,
            "init_kl_coef": 0.05, "max_steps": 3, "seed": 0}
    return PPOConfig(**{**base, **kw})


def tiny_policy_files(tokenizer, root: Path) -> tuple[Path, Path]:
    """(policy folder, prompts.jsonl) under `root`: a 1-layer, 32-wide Llama with `tokenizer`, and PROMPTS."""
    from sentinel.models import TinyConfig, build_causal_lm

    policy = root / "policy"
    build_causal_lm(tokenizer, TinyConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1)) \
        .save_pretrained(policy)
    tokenizer.save_pretrained(policy)
    prompts = root / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in PROMPTS))
    return policy, prompts
