"""Reward-model training on TRL's RewardTrainer (Bradley-Terry: loss = -log sigmoid(r_chosen - r_rejected - margin)).

Each pair is formatted with `sentinel.models.format_for_reward` and tokenized here, truncating from the left, so
the model is trained on exactly the text `as_reward_fn` later scores and long prompts lose their start, never the
reply. (TRL would instead drop every pair longer than max_length.) Evaluation reports strict pairwise accuracy
(a tie counts as wrong) and the tie rate, scored through `as_reward_fn`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ConfigError, DataError
from .stage import (
    TrainConfig,
    TrainResult,
    cap_and_split,
    load_dtype,
    peft_config,
    quiet_mode,
    run_stage,
    training_kwargs,
)

logger = logging.getLogger(__name__)


@dataclass
class RewardConfig(TrainConfig):
    """Reward model: a sequence classifier with one output, trained so that chosen replies score higher."""

    TRL_CONFIG: ClassVar[str] = "RewardConfig"  # TRL's config class: its field names work in the YAML file

    learning_rate: float = field(default=1e-5, metadata={"help": "peak AdamW learning rate"})
    margin_field: str | None = field(default=None, metadata={
        "help": "column of the data holding a per-pair margin m (loss -log sigmoid(r_c - r_r - m)); none = 0"})
    center_rewards_coefficient: float | None = field(default=None, metadata={
        "help": "weight of a penalty pulling rewards towards zero mean (e.g. 0.01); none = off"})

    def validate(self) -> None:
        super().validate()
        c = self.center_rewards_coefficient
        if c is not None and c < 0:
            raise ConfigError(f"got {c}; expected a number >= 0", field="center_rewards_coefficient")


def load_pairs(cfg: TrainConfig, path: str, summary_key: str, summary: dict) -> list[dict[str, Any]]:
    """Canonical preference pairs from `path`, with `margin` attached when `cfg.margin_field` is set."""
    from ..data import load_preferences, read_rows

    loaded = load_preferences(path, skip_invalid=cfg.skip_invalid)
    summary[summary_key] = loaded.summary()
    pairs = [dict(p) for p in loaded.examples]
    margin_field = getattr(cfg, "margin_field", None)
    if margin_field:
        rows = read_rows(path)
        by_location = dict(zip(rows.locations, rows.rows))
        for pair, origin in zip(pairs, loaded.origins):
            value = by_location[origin].get(margin_field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise DataError(f"expected a finite number for the margin, got {value!r}", path=loaded.source,
                                field=margin_field, **{loaded.unit: origin})
            pair["margin"] = float(value)
    return pairs


def load_preference_data(cfg: TrainConfig) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """(train pairs, eval pairs, data summary) for a preference stage (reward, dpo)."""
    summary: dict[str, Any] = {}
    train, held = cap_and_split(load_pairs(cfg, cfg.train_file, "train", summary), cfg, summary)
    if cfg.eval_file:
        held = load_pairs(cfg, cfg.eval_file, "eval", summary)
    summary["train_pairs_used"] = len(train)
    summary["eval_pairs_used"] = len(held)
    return train, held, summary


def tokenize_pairs(pairs: list[dict], tokenizer, max_length: int) -> tuple[list[dict], int]:
    """Pairs -> `chosen_ids`/`rejected_ids` (+ `margin`) rows as TRL's RewardTrainer takes them pre-tokenized.

    Returns the rows and how many pairs had a side truncated (from the left) to `max_length` tokens.
    """
    from ..models import format_for_reward

    old_side = tokenizer.truncation_side
    tokenizer.truncation_side = "left"
    rows, truncated = [], 0
    try:
        for p in pairs:
            # The prompt's turns go to the chat template as they are (a conversational prompt stays several turns).
            texts = [format_for_reward(tokenizer, p["prompt"], p[k]) for k in ("chosen", "rejected")]
            # One token over the limit is enough to tell whether truncation cut anything (and stays warning-free).
            over = tokenizer(texts, truncation=True, max_length=max_length + 1)["input_ids"]
            ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
            truncated += any(len(a) > max_length for a in over)
            row = {"chosen_ids": ids[0], "rejected_ids": ids[1]}
            if "margin" in p:
                row["margin"] = p["margin"]
            rows.append(row)
    finally:
        tokenizer.truncation_side = old_side
    return rows, truncated


def pairwise_accuracy(reward_fn, pairs: list[dict]) -> dict[str, float]:
    """Strict pairwise accuracy (chosen must score strictly higher; ties are wrong), tie rate, mean margin."""
    from ..data.formats import simple_prompt

    prompts = [simple_prompt(p["prompt"]) for p in pairs]
    chosen = reward_fn(prompts, [p["chosen"] for p in pairs])
    rejected = reward_fn(prompts, [p["rejected"] for p in pairs])
    n = len(pairs)
    wins = sum(c > r for c, r in zip(chosen, rejected))
    ties = sum(c == r for c, r in zip(chosen, rejected))
    return {"strict_accuracy": wins / n, "tie_rate": ties / n,
            "mean_margin": sum(c - r for c, r in zip(chosen, rejected)) / n, "pairs": n}


def trl_config(cfg: RewardConfig):
    """The TRL RewardConfig for `cfg` (also used by benchmarks to call TRL directly with the same settings)."""
    from trl import RewardConfig as TRLRewardConfig

    kw = training_kwargs(cfg)
    kw.update(max_length=cfg.max_length, center_rewards_coefficient=cfg.center_rewards_coefficient)
    return TRLRewardConfig(**kw)


def load_model(cfg: TrainConfig, tokenizer=None):
    """(sequence-classification model with one label, tokenizer) on CPU; the trainer places it."""
    from ..models import load_reward_model

    return load_reward_model(cfg.model, tokenizer=tokenizer or cfg.tokenizer, device="cpu", dtype=load_dtype(cfg),
                             allow_pickle=cfg.allow_pickle, trust_remote_code=cfg.trust_remote_code)


def reward(cfg: RewardConfig, *, model=None, tokenizer=None, callbacks: list | None = None) -> TrainResult:
    """Train a reward model; returns where it went and its final metrics (with eval_strict_accuracy/tie_rate)."""
    from datasets import Dataset
    from trl import RewardTrainer

    from ..models import ModelReward

    quiet_mode(cfg)
    if model is None:
        model, tokenizer = load_model(cfg, tokenizer)
    elif tokenizer is None:
        raise ConfigError("give the tokenizer with an in-memory model", field="tokenizer")
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    train, held, summary = load_preference_data(cfg)
    train_rows, summary["train_pairs_truncated"] = tokenize_pairs(train, tokenizer, cfg.max_length)
    if summary["train_pairs_truncated"]:
        logger.warning("%d training pairs are longer than max_length=%d tokens; their start (the prompt) is cut",
                       summary["train_pairs_truncated"], cfg.max_length)
    eval_rows = tokenize_pairs(held, tokenizer, cfg.max_length)[0] if held else None

    def build():
        return RewardTrainer(
            model=model, args=trl_config(cfg), train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None, processing_class=tokenizer,
            peft_config=peft_config(cfg, "SEQ_CLS"),
        )

    def evaluate(trainer) -> dict[str, float]:
        if not held:
            return {}
        m = trainer.accelerator.unwrap_model(trainer.model)
        rf = ModelReward(m, tokenizer, batch_size=cfg.per_device_eval_batch_size, max_length=cfg.max_length)
        out = {f"eval_{k}": v for k, v in pairwise_accuracy(rf, held).items()}
        m.train()
        return out

    # Our strict-accuracy pass replaces TRL's final evaluate (same pairs; scoring them twice doubles eval cost).
    return run_stage(cfg, build, summary, evaluate=evaluate, callbacks=callbacks, trainer_eval=False)
