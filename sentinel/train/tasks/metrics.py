"""Task metrics: entity-level F1 over BIO tags, and SQuAD exact match / token F1. All scores are in [0, 1].

Written here rather than imported because the libraries that hold them (`seqeval`, `evaluate`) are not among our
dependencies, and each is a few lines: conlleval-style span extraction, and the SQuAD v1.1 answer normalisation.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Iterable, Sequence

Span = tuple[str, int, int]  # (entity type, first token, one past the last token)


def bio_spans(tags: Sequence[str]) -> set[Span]:
    """Entity spans of one tag sequence, read the way conlleval reads it.

    An entity starts at `B-X`, or at `I-X` that does not continue an entity of type X (a stray `I-` after `O` or
    after another type counts as a start rather than being dropped). It ends before `O`, any `B-`, or an `I-`
    of another type.
    """
    spans: set[Span] = set()
    kind, start = None, 0
    for i, tag in enumerate(list(tags) + ["O"]):
        bio, _, typ = tag.partition("-")
        continues = bio == "I" and typ == kind
        if kind is not None and not continues:
            spans.add((kind, start, i))
            kind = None
        if bio in ("B", "I") and not continues:
            kind, start = typ, i
    return spans


def entity_scores(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]) -> dict[str, float]:
    """Micro-averaged entity precision, recall and F1: a predicted entity counts only if type and both
    boundaries match a gold entity exactly. Also the gold/predicted entity counts."""
    tp = n_gold = n_pred = 0
    for g, p in zip(gold, pred, strict=True):
        if len(g) != len(p):
            raise ValueError(f"gold and predicted tag sequences differ in length ({len(g)} vs {len(p)})")
        gs, ps = bio_spans(g), bio_spans(p)
        tp += len(gs & ps)
        n_gold += len(gs)
        n_pred += len(ps)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "gold_entities": n_gold, "predicted_entities": n_pred}


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 normalisation: lower case, drop punctuation and the articles a/an/the, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer, else 0.0."""
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """Best bag-of-tokens F1 between the normalised prediction and any gold answer."""
    p_tokens = normalize_answer(prediction).split()
    best = 0.0
    for a in answers:
        a_tokens = normalize_answer(a).split()
        if not p_tokens or not a_tokens:
            best = max(best, float(p_tokens == a_tokens))
            continue
        common = sum((collections.Counter(p_tokens) & collections.Counter(a_tokens)).values())
        if common:
            precision, recall = common / len(p_tokens), common / len(a_tokens)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def squad_scores(predictions: Sequence[str], answers: Sequence[Sequence[str]]) -> dict[str, float]:
    """Mean exact match and mean token F1 over questions, in [0, 1]."""
    if len(predictions) != len(answers):
        raise ValueError(f"{len(predictions)} predictions for {len(answers)} questions")
    n = len(predictions) or 1
    return {
        "exact_match": sum(exact_match(p, a) for p, a in zip(predictions, answers)) / n,
        "f1": sum(token_f1(p, a) for p, a in zip(predictions, answers)) / n,
    }
