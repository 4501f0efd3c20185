"""Extractive question answering (SQuAD v1.1 format), scored by exact match and token F1.

A context longer than one window is cut into overlapping windows of `max_length` tokens (`doc_stride` shared).
A training window that does not contain the answer learns to point at [CLS]. At evaluation every window of a
question proposes its best span and the highest-scoring span over all windows is the answer.

The window labelling and span search are written here because transformers ships them only as example
scripts, not as a library function.
"""

from __future__ import annotations

import logging
import statistics
from typing import Any

from ...errors import DataError
from ..stage import TrainResult, quiet_mode, require_rows
from .configs import QAConfig
from .metrics import squad_scores
from .task_data import read_squad, split_by_group
from .task_stage import load_encoder, make_trainer, run_task, take

logger = logging.getLogger(__name__)


def load_data(cfg: QAConfig) -> tuple[list[dict], list[dict]]:
    """(train questions, eval questions); without eval_file whole groups (articles) are held out."""
    questions = read_squad(cfg.train_file)
    if cfg.eval_file:
        train, held = questions, read_squad(cfg.eval_file)
    elif cfg.eval_fraction:
        train, held = split_by_group(questions, cfg.split_by, cfg.eval_fraction, cfg.seed)
        if not train:
            raise DataError(f"eval_fraction {cfg.eval_fraction} holds out every {cfg.split_by}; nothing left to "
                            "train on", path=cfg.train_file)
    else:
        train, held = questions, []
    train = take(train, cfg.max_rows)
    require_rows(len(train), cfg, "the file has no questions")
    return train, take(held, cfg.max_eval_rows)


def _windows(tok, questions: list[dict], cfg: QAConfig):
    return tok(
        [q["question"].lstrip() for q in questions], [q["context"] for q in questions],
        truncation="only_second", max_length=cfg.max_length, stride=cfg.doc_stride,
        return_overflowing_tokens=True, return_offsets_mapping=True, padding="max_length",
    )


def train_features(tok, questions: list[dict], cfg: QAConfig) -> tuple[dict[str, list], int]:
    """Windows with start/end token labels (first gold answer; [CLS] = 0 when the window lacks it), and how
    many questions have their answer in no window at all (too long to fit; they teach only "no answer here")."""
    enc = _windows(tok, questions, cfg)
    starts, ends, found = [], [], set()
    for i, offsets in enumerate(enc["offset_mapping"]):
        q = enc["overflow_to_sample_mapping"][i]
        ans = questions[q]["answers"]
        a0 = ans["answer_start"][0]
        a1 = a0 + len(ans["text"][0])
        seq = enc.sequence_ids(i)
        ctx = [k for k, s in enumerate(seq) if s == 1]
        if not ctx or offsets[ctx[0]][0] > a0 or offsets[ctx[-1]][1] < a1:
            starts.append(0)
            ends.append(0)
            continue
        s = next(k for k in ctx if offsets[k][1] > a0)  # first context token ending after the answer starts
        e = next(k for k in reversed(ctx) if offsets[k][0] < a1)  # last one starting before it ends
        starts.append(s)
        ends.append(e)
        found.add(q)
    features = {k: enc[k] for k in enc if k not in ("offset_mapping", "overflow_to_sample_mapping")}
    features.update(start_positions=starts, end_positions=ends)
    return features, len(questions) - len(found)


def eval_features(tok, questions: list[dict], cfg: QAConfig) -> tuple[dict[str, list], list[int], list[list]]:
    """(model inputs, question index per window, character offsets per token with None outside the context)."""
    enc = _windows(tok, questions, cfg)
    offsets = []
    for i, offs in enumerate(enc["offset_mapping"]):
        seq = enc.sequence_ids(i)
        offsets.append([tuple(o) if s == 1 else None for o, s in zip(offs, seq)])
    inputs = {k: enc[k] for k in enc if k not in ("offset_mapping", "overflow_to_sample_mapping")}
    return inputs, list(enc["overflow_to_sample_mapping"]), offsets


def best_spans(questions: list[dict], owner: list[int], offsets: list[list], start_logits, end_logits,
               n_best: int, max_answer_length: int) -> list[str]:
    """The answer text per question: the span (start <= end, at most `max_answer_length` tokens, inside the
    context) maximising start_logit + end_logit over the `n_best` starts and ends of each of its windows.

    `start_logits`/`end_logits`: arrays of shape (windows, max_length). "" when no window has a valid span.
    """
    import numpy as np

    best: list[tuple[float, str]] = [(-np.inf, "")] * len(questions)
    for w, q in enumerate(owner):
        offs = offsets[w]
        sl, el = start_logits[w], end_logits[w]
        for s in np.argsort(sl)[::-1][:n_best]:
            if offs[s] is None:
                continue
            for e in np.argsort(el)[::-1][:n_best]:
                if offs[e] is None or e < s or e - s + 1 > max_answer_length:
                    continue
                score = float(sl[s] + el[e])
                if score > best[q][0]:
                    best[q] = (score, questions[q]["context"][offs[s][0] : offs[e][1]])
    return [text for _, text in best]


def prefix_baseline(train: list[dict], held: list[dict]) -> dict[str, Any]:
    """EM/F1 of answering every question with the first k words of its context, k = the median training answer
    length in words: what a model gets for knowing only how long answers are."""
    k = max(1, round(statistics.median(len(q["answers"]["text"][0].split()) for q in train)))
    preds = [" ".join(q["context"].split()[:k]) for q in held]
    scores = squad_scores(preds, [q["answers"]["text"] for q in held]) if held else {"exact_match": None, "f1": None}
    return {"kind": f"first {k} context words", **scores}


def qa(cfg: QAConfig, *, callbacks: list | None = None) -> TrainResult:
    """Fine-tune `cfg.model` for extractive QA.

    The finished folder loads with `AutoModelForQuestionAnswering`; `eval.json` holds eval_exact_match and
    eval_f1 (in [0, 1], over questions, SQuAD v1.1 normalisation) and the context-prefix baseline.
    """
    from datasets import Dataset
    from transformers import AutoModelForQuestionAnswering

    quiet_mode(cfg)
    train, held = load_data(cfg)
    model, tok = load_encoder(cfg, AutoModelForQuestionAnswering)
    if tok.padding_side != "right":
        tok.padding_side = "right"  # window labels assume the question comes first and padding last
    feats, n_lost = train_features(tok, train, cfg)
    if n_lost:
        logger.warning("%d training answers fit in no window of max_length=%d tokens", n_lost, cfg.max_length)
    ev_inputs, owner, offsets = eval_features(tok, held, cfg) if held else ({}, [], [])
    summary = {
        "task": "qa", "train_file": cfg.train_file, "eval_file": cfg.eval_file,
        "train_examples": len(train), "eval_examples": len(held),
        "train_groups": len({q[cfg.split_by] for q in train}), "eval_groups": len({q[cfg.split_by] for q in held}),
        "group_field": cfg.split_by,
        "train_windows": len(feats["input_ids"]), "eval_windows": len(owner),
        "train_answers_in_no_window": n_lost,
    }

    def evaluate(trainer) -> dict[str, float]:
        if not held:
            return {}
        out = trainer.predict(Dataset.from_dict(ev_inputs))
        start_logits, end_logits = out.predictions[:2]
        preds = best_spans(held, owner, offsets, start_logits, end_logits, cfg.n_best, cfg.max_answer_length)
        scores = squad_scores(preds, [q["answers"]["text"] for q in held])
        return {"eval_exact_match": scores["exact_match"], "eval_f1": scores["f1"]}

    def build():
        return make_trainer(cfg, "QUESTION_ANS", model, tok, Dataset.from_dict(feats))

    return run_task("qa", cfg, build, summary, prefix_baseline(train, held), evaluate=evaluate,
                    callbacks=callbacks)
