"""Supervised fine-tuning (instruction tuning) on TRL's SFTTrainer.

Any instruction format `sentinel.data` reads becomes conversational prompt/completion rows: the prompt is every
turn before the last, the completion is the final assistant turn. TRL masks the prompt for prompt/completion rows,
so the loss is on the reply only (completion-only) unless `completion_only_loss=false`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ConfigError
from .stage import (
    TrainConfig,
    TrainResult,
    cap_and_split,
    load_policy,
    peft_config,
    quiet_mode,
    run_stage,
    training_kwargs,
)

logger = logging.getLogger(__name__)


@dataclass
class SFTConfig(TrainConfig):
    """Supervised fine-tuning: learn to produce the final assistant turn of each conversation."""

    TRL_CONFIG: ClassVar[str] = "SFTConfig"  # TRL's config class: its field names work in the YAML file

    learning_rate: float = field(default=2e-5, metadata={"help": "peak AdamW learning rate"})
    completion_only_loss: bool = field(default=True, metadata={
        "help": "compute the loss on the reply only (the prompt is masked); false = on the whole text"})
    packing: bool = field(default=False, metadata={
        "help": "pack several examples into each max_length sequence (faster on short examples)"})

    def validate(self) -> None:
        super().validate()
        if self.max_length < 8:
            raise ConfigError(f"got {self.max_length}; expected at least 8 tokens", field="max_length")


def to_rows(examples: list[dict], tokenizer) -> list[dict[str, Any]]:
    """Canonical conversations -> TRL prompt/completion rows (conversational when the tokenizer has a template)."""
    rows = []
    chat = bool(getattr(tokenizer, "chat_template", None))
    for ex in examples:
        msgs = ex["messages"]
        if chat:
            rows.append({"prompt": msgs[:-1], "completion": msgs[-1:]})
        else:
            from ..data.formats import render_transcript

            # Without a chat template there is no turn markup to learn; a blank line separates prompt and reply.
            rows.append({"prompt": render_transcript(msgs[:-1]) + "\n\n", "completion": msgs[-1]["content"]})
    return rows


def load_data(cfg: TrainConfig, tokenizer) -> tuple[list[dict], list[dict], dict[str, Any]]:
    """(train rows, eval rows, data summary) for an instruction-data stage."""
    from ..data import load_instructions

    loaded = load_instructions(cfg.train_file, skip_invalid=cfg.skip_invalid)
    summary: dict[str, Any] = {"train": loaded.summary()}
    train, held = cap_and_split(loaded.examples, cfg, summary)
    if cfg.eval_file:
        ev = load_instructions(cfg.eval_file, skip_invalid=cfg.skip_invalid)
        summary["eval"] = ev.summary()
        held = ev.examples
    summary["train_examples_used"] = len(train)
    summary["eval_examples_used"] = len(held)
    return to_rows(train, tokenizer), to_rows(held, tokenizer), summary


def count_truncated(rows: list[dict], tokenizer, max_length: int) -> int:
    """How many rows exceed `max_length` tokens (TRL truncates them: reported, never silent)."""
    n = 0
    for r in rows:
        if isinstance(r["prompt"], list):
            text = tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=False)
        else:
            text = r["prompt"] + r["completion"]
        n += len(tokenizer(text, add_special_tokens=False)["input_ids"]) > max_length
    return n


def trl_config(cfg: SFTConfig):
    """The TRL SFTConfig for `cfg` (also used by benchmarks to call TRL directly with the same settings)."""
    from trl import SFTConfig as TRLSFTConfig

    kw = training_kwargs(cfg)
    kw.update(max_length=cfg.max_length, packing=cfg.packing, completion_only_loss=cfg.completion_only_loss,
              dataset_num_proc=None)
    return TRLSFTConfig(**kw)


def sft(cfg: SFTConfig, *, model=None, tokenizer=None, callbacks: list | None = None) -> TrainResult:
    """Run supervised fine-tuning; returns where the model went and its final metrics.

    `model`/`tokenizer` may be given already loaded (then `cfg.model` only labels the run).
    """
    from datasets import Dataset
    from trl import SFTTrainer

    quiet_mode(cfg)
    model, tokenizer = load_policy(cfg, model, tokenizer)
    train, held, summary = load_data(cfg, tokenizer)
    summary["train_examples_truncated"] = count_truncated(train, tokenizer, cfg.max_length)
    if summary["train_examples_truncated"]:
        logger.warning("%d training examples are longer than max_length=%d tokens and will be truncated",
                       summary["train_examples_truncated"], cfg.max_length)

    def build():
        return SFTTrainer(
            model=model, args=trl_config(cfg), train_dataset=Dataset.from_list(train),
            eval_dataset=Dataset.from_list(held) if held else None, processing_class=tokenizer,
            peft_config=peft_config(cfg, "CAUSAL_LM"),
        )

    return run_stage(cfg, build, summary, callbacks=callbacks)
