"""What the three tasks share: loading the encoder with a fresh head, building the Trainer, writing eval.json.

Training, metrics.jsonl, resume and the atomic output folder come from `sentinel.train.stage.run_stage`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...models.loading import load_pretrained, load_tokenizer, resolve_dtype
from ...utils import atomic_write_json
from ..stage import TrainResult, load_dtype, peft_config, run_stage, training_kwargs
from .configs import TaskConfig

logger = logging.getLogger(__name__)

EVAL_FILE = "eval.json"


def load_encoder(cfg: TaskConfig, auto_cls: Any, **head_kwargs):
    """(model, fast tokenizer): the encoder at `cfg.model` with a task head (`auto_cls`, e.g.
    AutoModelForTokenClassification) whose size comes from `head_kwargs` (num_labels, id2label, label2id).

    Safetensors only unless `allow_pickle`; a head of another size in the checkpoint is re-initialised.
    """
    tok = load_tokenizer(cfg.tokenizer or cfg.model, trust_remote_code=cfg.trust_remote_code)
    if not tok.is_fast:
        # offsets (QA) and word ids (NER) need a Rust tokenizer
        raise ConfigError(f"the tokenizer of {cfg.tokenizer or cfg.model} is not a fast tokenizer", field="tokenizer")
    model = load_pretrained(
        auto_cls, cfg.model, allow_pickle=cfg.allow_pickle, trust_remote_code=cfg.trust_remote_code,
        dtype=resolve_dtype("cpu", load_dtype(cfg)), ignore_mismatched_sizes=True, **head_kwargs,
    )
    return model, tok


def make_trainer(cfg: TaskConfig, peft_task: str, model, tok, train_ds, eval_ds=None, compute_metrics=None,
                 collator=None):
    """A transformers Trainer with the shared CPU/GPU defaults; eval only at the end unless eval_steps is set.

    With `lora_r > 0` the encoder gets LoRA adapters (`peft_task`: SEQ_CLS, TOKEN_CLS or QUESTION_ANS, which
    also keeps the fresh head fully trainable); the saved model has them merged unless `lora_merge` is false.
    """
    from transformers import Trainer, TrainingArguments

    lora = peft_config(cfg, peft_task)
    if lora is not None:
        from peft import get_peft_model

        model = get_peft_model(model, lora)

    kw = training_kwargs(cfg)
    if eval_ds is None:
        kw.pop("eval_strategy", None)
        kw.pop("eval_steps", None)
    return Trainer(
        model=model, args=TrainingArguments(**kw), train_dataset=train_ds, eval_dataset=eval_ds,
        processing_class=tok, data_collator=collator, compute_metrics=compute_metrics,
    )


def run_task(
    task: str,
    cfg: TaskConfig,
    build_trainer: Callable[[], Any],
    data_summary: dict[str, Any],
    baseline: dict[str, float],
    evaluate: Callable[[Any], dict[str, float]] | None = None,
    callbacks: list | None = None,
) -> TrainResult:
    """`run_stage`, plus `eval.json` in the finished folder: the final eval_* metrics next to a trivial baseline."""

    def save_eval(trainer, folder: Path) -> None:
        final: dict[str, Any] = {}
        for row in trainer.state.log_history:  # trainer.evaluate() and `evaluate` both log their metrics here
            final.update({k: v for k, v in row.items() if k.startswith("eval_")})
        atomic_write_json(folder / EVAL_FILE, {
            "task": task, "global_step": trainer.state.global_step, **final,
            "baseline": baseline, "train_examples": data_summary.get("train_examples"),
            "eval_examples": data_summary.get("eval_examples"),
        })

    data_summary = {**data_summary, "baseline": baseline}
    return run_stage(cfg, build_trainer, data_summary, save_extra=save_eval, evaluate=evaluate, callbacks=callbacks)


def take(rows: list, limit: int | None) -> list:
    """The first `limit` rows (all when None)."""
    return rows if limit is None else rows[:limit]
