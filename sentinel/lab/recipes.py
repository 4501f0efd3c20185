"""Fast training recipes for lab models: an SFT policy and reward models, in seconds to minutes on a CPU.

Used by the shared test fixtures (`tests/fixtures_lab.py`) and `benchmarks/lab_pipeline.py`. They run TRL's
`SFTTrainer` and `RewardTrainer` directly with settings that suit a 0.15M-parameter model on a CPU (high learning
rate, no gradient checkpointing, float32, one thread). When `sentinel.train` offers the same stages, these recipes
are the place to switch over: callers only see `train_sft(lab, out)` and `train_reward(lab, out)`.

Reward models see pairs in the conversational form, so TRL renders them with the chat template exactly as
`sentinel.models.format_for_reward` does when the model is scored later.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import ConfigError
from ..utils import atomic_directory, atomic_write_json
from .build import Lab

logger = logging.getLogger(__name__)


@dataclass
class RecipeConfig:
    """Optimiser settings of a lab recipe (defaults: the SFT policy)."""

    steps: int = field(default=400, metadata={"help": "optimiser steps"})
    batch_size: int = field(default=32, metadata={"help": "examples (or pairs) per step"})
    learning_rate: float = field(default=5e-3, metadata={"help": "peak learning rate (cosine decay, 5% warm-up)"})
    max_length: int = field(default=128, metadata={"help": "longest sequence in tokens"})
    seed: int = field(default=0, metadata={"help": "seed of initialisation and data order"})
    threads: int | None = field(default=1, metadata={"help": "torch CPU threads while training (None: leave "
                                                              "as is); tiny models gain nothing from more, and "
                                                              "oversubscribed cores make them much slower"})

    def __post_init__(self):
        for name in ("steps", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)}", field=name)
        if not self.learning_rate > 0:
            raise ConfigError(f"must be positive, got {self.learning_rate}", field="learning_rate")


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    import torch

    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _args(cls, cfg: RecipeConfig, out: Path, **extra):
    return cls(output_dir=str(out), max_steps=cfg.steps, per_device_train_batch_size=cfg.batch_size,
               learning_rate=cfg.learning_rate, lr_scheduler_type="cosine", warmup_steps=max(1, cfg.steps // 20),
               weight_decay=0.0, max_length=cfg.max_length, seed=cfg.seed, use_cpu=True, bf16=False,
               gradient_checkpointing=False, save_strategy="no", report_to="none", logging_steps=max(1, cfg.steps // 10),
               disable_tqdm=True, dataloader_num_workers=0, **extra)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _save(trainer, tok, out: Path, stage: str, cfg: RecipeConfig, rows: int) -> None:
    trainer.model.save_pretrained(out)
    tok.save_pretrained(out)
    with open(out / "metrics.jsonl", "w", encoding="utf-8") as f:
        for entry in trainer.state.log_history:
            f.write(json.dumps({"step": entry.get("step"), **{k: v for k, v in entry.items() if k != "step"}}) + "\n")
    atomic_write_json(out / "recipe.json", {"stage": stage, "rows": rows, **cfg.__dict__})


def train_sft(lab: str | Path, out: str | Path, config: RecipeConfig | None = None) -> Path:
    """Fine-tune the lab's base policy on DIR/data/sft.jsonl (loss on assistant turns only). Returns `out`."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from ..models import load_causal_lm

    cfg = config or RecipeConfig()
    lab = Lab.open(lab)
    rows = _read_jsonl(lab.data("sft"))
    with _threads(cfg.threads), atomic_directory(out) as tmp:
        model, tok = load_causal_lm(lab.base, device="cpu")
        trainer = SFTTrainer(model=model, processing_class=tok, train_dataset=Dataset.from_list(rows),
                             args=_args(SFTConfig, cfg, tmp / "_trainer", assistant_only_loss=True))
        trainer.train()
        _save(trainer, tok, tmp, "sft", cfg, len(rows))
        _remove(tmp / "_trainer")
    return Path(out)


def preference_split(lab: str | Path, holdout: int = 0, preferences: str | Path | None = None
                     ) -> tuple[list[dict], list[dict]]:
    """(train, held-out) pairs from the lab's preferences (or `preferences`); the last `holdout` rows are held out."""
    lab = Lab.open(lab)
    rows = _read_jsonl(Path(preferences) if preferences else lab.data("preferences"))
    if holdout >= len(rows):
        raise ConfigError(f"holdout {holdout} leaves no training pairs out of {len(rows)}", field="holdout")
    return (rows[: len(rows) - holdout], rows[len(rows) - holdout:]) if holdout else (rows, [])


def train_reward(lab: str | Path, out: str | Path, config: RecipeConfig | None = None, *,
                 pairs: list[dict[str, Any]] | None = None) -> Path:
    """Train a tiny reward model (Llama, one label) on the lab's preference pairs (or `pairs`). Returns `out`."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    from ..models import build_reward_model, load_tokenizer

    cfg = config or RecipeConfig(steps=300, learning_rate=3e-3)
    lab = Lab.open(lab)
    rows = pairs if pairs is not None else preference_split(lab.root)[0]
    conv = [{"prompt": [{"role": "user", "content": r["prompt"]}],
             "chosen": [{"role": "assistant", "content": r["chosen"]}],
             "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in rows]
    with _threads(cfg.threads), atomic_directory(out) as tmp:
        tok = load_tokenizer(lab.tokenizer)
        model = build_reward_model(tok, lab.reward_config(), seed=cfg.seed)
        trainer = RewardTrainer(model=model, processing_class=tok, train_dataset=Dataset.from_list(conv),
                                args=_args(RewardConfig, cfg, tmp / "_trainer"))
        trainer.train()
        _save(trainer, tok, tmp, "reward", cfg, len(rows))
        _remove(tmp / "_trainer")
    return Path(out)


def _remove(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
