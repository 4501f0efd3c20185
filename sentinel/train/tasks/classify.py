"""Sequence classification: fine-tune an encoder with a fresh classification head; eval accuracy and macro F1."""

from __future__ import annotations

import collections
import logging
from typing import Any

from ...errors import DataError
from ..stage import TrainResult, quiet_mode, require_rows, split_eval
from .configs import ClassifyConfig
from .task_data import read_classification
from .task_stage import load_encoder, make_trainer, run_task, take

logger = logging.getLogger(__name__)


def load_data(cfg: ClassifyConfig) -> tuple[list[dict], list[dict], list[str]]:
    """(train rows, eval rows, label names in model output order)."""
    rows = read_classification(cfg.train_file, text_field=cfg.text_field, label_field=cfg.label_field,
                               labels=cfg.labels)
    labels = list(cfg.labels) if cfg.labels else sorted({r["label"] for r in rows})
    if len(labels) < 2:
        raise DataError(f"only one label ({labels[0]!r}) in the training data; classification needs two or more",
                        path=cfg.train_file, field=cfg.label_field)
    if cfg.eval_file:
        train = rows
        held = read_classification(cfg.eval_file, text_field=cfg.text_field, label_field=cfg.label_field,
                                   labels=labels)
    else:
        train, held = split_eval(rows, cfg)
    train = take(train, cfg.max_rows)
    require_rows(len(train), cfg, "the file has no examples")
    return train, take(held, cfg.max_eval_rows), labels


def majority_baseline(train: list[dict], held: list[dict]) -> dict[str, Any]:
    """Accuracy on `held` of always answering the most frequent training label: the floor a model must beat."""
    label, _ = collections.Counter(r["label"] for r in train).most_common(1)[0]
    acc = sum(r["label"] == label for r in held) / len(held) if held else None
    return {"kind": "majority class", "label": label, "accuracy": acc}


def accuracy_and_macro_f1(pred: list[int], gold: list[int], n_labels: int) -> dict[str, float]:
    """Accuracy and the unweighted mean over labels of per-label F1 (a label never gold nor predicted is skipped)."""
    acc = sum(p == g for p, g in zip(pred, gold)) / max(len(gold), 1)
    f1s = []
    for k in range(n_labels):
        tp = sum(p == k and g == k for p, g in zip(pred, gold))
        n_pred, n_gold = sum(p == k for p in pred), sum(g == k for g in gold)
        if n_pred or n_gold:
            f1s.append(2 * tp / (n_pred + n_gold))
    return {"accuracy": acc, "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0}


def classify(cfg: ClassifyConfig, *, callbacks: list | None = None) -> TrainResult:
    """Fine-tune `cfg.model` to predict `cfg.label_field` from `cfg.text_field`.

    The finished folder loads with `AutoModelForSequenceClassification`; `config.id2label` maps output indices
    to the label strings of the file. `eval.json` holds eval_accuracy, eval_macro_f1 and the majority baseline.
    """
    import numpy as np
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification

    quiet_mode(cfg)
    train, held, labels = load_data(cfg)
    label2id = {name: i for i, name in enumerate(labels)}
    model, tok = load_encoder(cfg, AutoModelForSequenceClassification, num_labels=len(labels),
                              id2label=dict(enumerate(labels)), label2id=label2id)

    def encode(rows: list[dict]):
        enc = tok([r["text"] for r in rows], truncation=True, max_length=cfg.max_length)
        return Dataset.from_dict({**enc, "labels": [label2id[r["label"]] for r in rows]})

    n_long = sum(len(ids) >= cfg.max_length for ids in tok([r["text"] for r in train])["input_ids"])
    if n_long:
        logger.warning("%d training texts are longer than max_length=%d tokens and are truncated", n_long,
                       cfg.max_length)
    summary = {
        "task": "classify", "train_file": cfg.train_file, "eval_file": cfg.eval_file,
        "train_examples": len(train), "eval_examples": len(held), "labels": labels,
        "train_label_counts": dict(collections.Counter(r["label"] for r in train)),
        "eval_label_counts": dict(collections.Counter(r["label"] for r in held)),
        "train_examples_truncated": n_long,
    }

    def compute_metrics(p) -> dict[str, float]:
        logits = p.predictions[0] if isinstance(p.predictions, tuple) else p.predictions
        return accuracy_and_macro_f1(np.argmax(logits, -1).tolist(), p.label_ids.tolist(), len(labels))

    def build():
        return make_trainer(cfg, "SEQ_CLS", model, tok, encode(train), encode(held) if held else None,
                            compute_metrics=compute_metrics)

    return run_task("classify", cfg, build, summary, majority_baseline(train, held), callbacks=callbacks)
