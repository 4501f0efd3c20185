"""Token classification (NER) with BIO tags, scored by entity-level F1 over whole words.

Each word's tag is predicted at its first sub-token (the others get label -100, so they carry no loss). Words cut
off by `max_length` are predicted as "O" at evaluation: the score is over every gold entity, never only the
ones that fitted.
"""

from __future__ import annotations

import collections
import logging
from typing import Any

from ...errors import DataError
from ..stage import TrainResult, quiet_mode, require_rows, split_eval
from .configs import NERConfig
from .metrics import entity_scores
from .task_data import bio_label_list, read_conll
from .task_stage import load_encoder, make_trainer, run_task, take

logger = logging.getLogger(__name__)

IGNORE = -100  # label of sub-tokens after the first, of special tokens and of padding: no loss, not scored


def load_data(cfg: NERConfig) -> tuple[list[dict], list[dict], list[str]]:
    """(train sentences, eval sentences, tag names in model output order)."""
    sentences = read_conll(cfg.train_file)
    tags = bio_label_list(sentences)
    if cfg.eval_file:
        train, held = sentences, read_conll(cfg.eval_file)
        known = set(tags)
        for s in held:
            for i, t in enumerate(s["tags"]):
                if t not in known:
                    raise DataError(f"tag {t!r} never occurs in the training file {cfg.train_file}; the model "
                                    f"cannot predict it", path=cfg.eval_file, line=s["line"] + i, field="tag")
    else:
        train, held = split_eval(sentences, cfg)
    train = take(train, cfg.max_rows)
    require_rows(len(train), cfg, "the file has no sentences")
    return train, take(held, cfg.max_eval_rows), tags


def align_labels(word_ids: list[int | None], word_tags: list[int]) -> list[int]:
    """Per-token labels: a word's tag id on its first sub-token, IGNORE on the rest and on special tokens."""
    out, prev = [], None
    for w in word_ids:
        out.append(IGNORE if w is None or w == prev else word_tags[w])
        prev = w
    return out


def lookup_baseline(train: list[dict], held: list[dict]) -> dict[str, Any]:
    """Entity F1 on `held` of tagging each word with its most frequent tag in `train` (unseen words: O).

    The floor a trained tagger should clear: it knows every entity it memorised and nothing else.
    """
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for s in train:
        for w, t in zip(s["tokens"], s["tags"]):
            counts[w.lower()][t] += 1
    pred = [[counts[w.lower()].most_common(1)[0][0] if w.lower() in counts else "O" for w in s["tokens"]]
            for s in held]
    scores = entity_scores([s["tags"] for s in held], pred)
    return {"kind": "most frequent training tag per word", "f1": scores["f1"], "precision": scores["precision"],
            "recall": scores["recall"]}


def entity_counts(sentences: list[dict]) -> dict[str, int]:
    counts: collections.Counter = collections.Counter()
    for s in sentences:
        counts.update(t[2:] for t in s["tags"] if t.startswith("B-"))
    return dict(sorted(counts.items()))


def ner(cfg: NERConfig, *, callbacks: list | None = None) -> TrainResult:
    """Fine-tune `cfg.model` to tag words with BIO entity tags.

    The finished folder loads with `AutoModelForTokenClassification` (`config.id2label` holds the tags);
    `eval.json` holds eval_f1, eval_precision, eval_recall (entity level, exact span and type) and the
    word-lookup baseline.
    """
    import numpy as np
    from datasets import Dataset
    from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification

    quiet_mode(cfg)
    train, held, tags = load_data(cfg)
    tag2id = {t: i for i, t in enumerate(tags)}
    model, tok = load_encoder(cfg, AutoModelForTokenClassification, num_labels=len(tags),
                              id2label=dict(enumerate(tags)), label2id=tag2id)

    def encode(sents: list[dict]) -> tuple[Any, int]:
        enc = tok([s["tokens"] for s in sents], is_split_into_words=True, truncation=True, max_length=cfg.max_length)
        labels, n_cut = [], 0
        for i, s in enumerate(sents):
            word_ids = enc.word_ids(i)
            labels.append(align_labels(word_ids, [tag2id[t] for t in s["tags"]]))
            seen = [w for w in word_ids if w is not None]
            n_cut += (max(seen) + 1 if seen else 0) < len(s["tokens"])
        return Dataset.from_dict({**enc, "labels": labels}), n_cut

    train_ds, train_cut = encode(train)
    eval_ds, eval_cut = encode(held) if held else (None, 0)
    if train_cut or eval_cut:
        logger.warning("%d train / %d eval sentences are longer than max_length=%d tokens; their last words are "
                       "not trained on / predicted as O", train_cut, eval_cut, cfg.max_length)
    summary = {
        "task": "ner", "train_file": cfg.train_file, "eval_file": cfg.eval_file,
        "train_examples": len(train), "eval_examples": len(held), "tags": tags,
        "train_tokens": sum(len(s["tokens"]) for s in train), "eval_tokens": sum(len(s["tokens"]) for s in held),
        "train_entities": entity_counts(train), "eval_entities": entity_counts(held),
        "train_sentences_truncated": train_cut, "eval_sentences_truncated": eval_cut,
    }

    def compute_metrics(p) -> dict[str, float]:
        logits = p.predictions[0] if isinstance(p.predictions, tuple) else p.predictions
        pred_ids = np.argmax(logits, -1)
        gold, pred = [], []
        for s, row_pred, row_lab in zip(held, pred_ids, p.label_ids):
            words = [tags[k] for k, lab in zip(row_pred, row_lab) if lab != IGNORE]
            gold.append(s["tags"])
            pred.append(words + ["O"] * (len(s["tags"]) - len(words)))  # truncated words: predicted O
        scores = entity_scores(gold, pred)
        return {"precision": scores["precision"], "recall": scores["recall"], "f1": scores["f1"],
                "predicted_entities": scores["predicted_entities"], "gold_entities": scores["gold_entities"]}

    def build():
        return make_trainer(cfg, "TOKEN_CLS", model, tok, train_ds, eval_ds, compute_metrics=compute_metrics,
                            collator=DataCollatorForTokenClassification(tok, label_pad_token_id=IGNORE))

    return run_task("ner", cfg, build, summary, lookup_baseline(train, held), callbacks=callbacks)
