"""Text helpers shared by the preference and poisoning checks: normalisation, tokens, style features, refusals."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ... import phrases
from ...data import Loaded, load_preferences, prompt_text

_QUOTES = (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'))
TOKEN = re.compile(r"[a-z0-9']+|[^\w\s]+")
_LIST_LINE = re.compile(r"(?m)^\s*(?:[-*\u2022]|\d+[.)])\s+\S")
_REFUSAL = re.compile(
    r"\b(?:i'?m sorry|i am sorry|i apologi[sz]e|i can(?:'|no)?t (?:help|assist|do|provide|answer|tell|recommend|"
    r"support|condone|encourage)|i won'?t|i will not|i'?m not (?:able|comfortable|going to|willing)|"
    r"i (?:do not|don'?t) (?:think (?:that'?s|it'?s|you should)|feel comfortable|want to help)|"
    r"(?:it'?s|that'?s|this is|that would be) (?:not (?:ok|okay|appropriate|legal|a good idea)|illegal|wrong|"
    r"unethical|dangerous|harmful)|against the law|i'?d rather not|please don'?t|i'?d advise against|"
    r"i (?:would|'d) (?:strongly )?(?:recommend|suggest) (?:not|against))"
)


def lower_plain(text: str) -> str:
    """Lower case with curly quotes made straight (by `str.replace`, several times faster here than
    `str.translate` with a mapping table, which looks up every character)."""
    for curly, plain in _QUOTES:
        if curly in text:
            text = text.replace(curly, plain)
    return text.lower()


_HEDGES = tuple(h.lower() for h in phrases.HEDGES)
_DISCLAIMERS = tuple(d.lower().rstrip(",") for d in phrases.AI_DISCLAIMERS)
_OPENERS = tuple(o.lower().rstrip("!.") for o in phrases.FLATTERY_OPENERS)


def normalise(text: str) -> str:
    """Lower case, unified quotes, collapsed whitespace, trimmed punctuation at the ends: two texts that differ
    only in these ways compare equal."""
    t = " ".join(lower_plain(text).split())
    return t.strip(" .!?,;:")


def tokens(text: str) -> list[str]:
    """Word and punctuation-run tokens of normalised-case text ("do it?" -> ["do", "it", "?"])."""
    return TOKEN.findall(lower_plain(text))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def is_refusal(text: str) -> bool:
    """Heuristic: the reply declines, apologises or warns instead of complying (English phrasings, plus the
    shared HEDGES bank)."""
    t = lower_plain(text)
    return bool(_REFUSAL.search(t)) or any(h in t for h in _HEDGES)


def has_list(text: str) -> bool:
    return len(_LIST_LINE.findall(text)) >= 2


def has_disclaimer(text: str) -> bool:
    t = lower_plain(text)
    return any(d in t for d in _DISCLAIMERS)


def has_flattering_opener(text: str) -> bool:
    return lower_plain(text.lstrip()[:80])[:80].startswith(_OPENERS)


_KEYWORDS = tuple(f" {' '.join(tokens(k))} " for k in phrases.REWARD_KEYWORDS)


def keyword_count(text: str) -> int:
    toks = " " + " ".join(tokens(text)) + " "
    return sum(toks.count(k) for k in _KEYWORDS)


def word_count(text: str) -> int:
    return len(text.split())


# feature name -> (function of a reply, what "more" means in a sentence)
STYLE_FEATURES: dict[str, tuple[Any, str]] = {
    "length": (word_count, "is longer (words)"),
    "list": (has_list, "contains a list"),
    "disclaimer": (has_disclaimer, "contains an AI disclaimer"),
    "flattering_opener": (has_flattering_opener, "opens with flattery"),
    "reward_keywords": (keyword_count, "uses more reward keywords (helpful, certainly, safely...)"),
    "refusal": (is_refusal, "refuses or warns"),
}


def load_pairs(dataset: Any, strict: bool = False) -> Loaded:
    """A file, list of dicts, datasets.Dataset or an already `Loaded` set -> canonical preference pairs.

    Invalid rows are left out and listed in `skipped` (the checks report them in an `invalid-rows` finding, so
    nothing is dropped silently); with `strict` the first one raises DataError naming its line and field. Input
    in which no row is valid is an error either way.
    """
    if isinstance(dataset, Loaded):
        return dataset
    return load_preferences(dataset, skip_invalid=not strict)


def data_findings(loaded: Loaded) -> list:
    """The `invalid-rows` finding for the rows `loaded` left out (empty when there were none)."""
    from ...report.coverage import invalid_rows_finding

    f = invalid_rows_finding(loaded.skipped, loaded.rows_read, loaded.source, loaded.unit)
    return [f] if f is not None else []


def pair_location(loaded: Loaded, i: int) -> str:
    return f"{loaded.unit} {loaded.origins[i]}"


def short(text: str, n: int = 80) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 3] + "..."


def last_user_turn(example: dict) -> str:
    return example["prompt"][-1]["content"]


def pair_prompt(example: dict) -> str:
    return prompt_text(example["prompt"])


class MinHasher:
    """MinHash signatures of token sets, with LSH banding to find pairs whose Jaccard similarity is high.

    Hand-written because no maintained dependency of this project offers it (datasketch would be a new
    dependency for ~30 lines). `num_perm` hash functions in `bands` bands: pairs with Jaccard s become candidates
    with probability 1 - (1 - s^(num_perm/bands))^bands (0.99 for s = 0.9, 0.38 for s = 0.7 with the defaults).
    Tokens are hashed once (`hashes`, with a salt per namespace, e.g. prompt and reply words apart); signatures of
    several sets combine by an element-wise minimum into the signature of their union; only one 64-bit key per band
    is kept per text (`band_keys`), so a million texts take 64 MB.
    """

    _PRIME = (1 << 61) - 1
    MAX_BUCKET = 200  # larger buckets are degenerate (e.g. empty texts); exact repeats are found apart

    def __init__(self, num_perm: int = 64, bands: int = 8, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, self._PRIME, size=num_perm, dtype=np.uint64)
        self.b = rng.integers(0, self._PRIME, size=num_perm, dtype=np.uint64)
        self.mix = rng.integers(1, self._PRIME, size=num_perm // bands, dtype=np.uint64) | np.uint64(1)
        self.bands = bands
        self.rows = num_perm // bands

    @staticmethod
    def hashes(items: set[str], salt: int = 0) -> np.ndarray:
        return np.fromiter((zlib.crc32(s.encode()) ^ salt for s in items), dtype=np.uint64, count=len(items))

    def signature(self, hashes: np.ndarray) -> np.ndarray:
        """Per hash function, the minimum over the set; an empty set gets the largest value, the identity of
        the union's minimum."""
        if not len(hashes):
            return np.full(len(self.a), np.iinfo(np.uint64).max, dtype=np.uint64)
        # (a*h + b) mod 2^64 is a cheap universal-ish hash; the minimum per function is the signature
        return (np.outer(hashes, self.a) + self.b).min(axis=0)

    def band_keys(self, signature: np.ndarray) -> np.ndarray:
        """One 64-bit key per band: texts share a band's key (up to a 2^-64 chance) when their signatures agree
        on all of that band's rows."""
        return (signature.reshape(self.bands, self.rows) * self.mix).sum(axis=1)

    def candidates(self, keys: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Per band, the index pairs (i < j) that share its key, as two arrays; `keys` is (texts, bands), rows
        from `band_keys`. A pair may come from several bands."""
        for band in range(keys.shape[1]):
            order = np.argsort(keys[:, band], kind="stable")
            col = keys[order, band]
            starts = np.flatnonzero(np.r_[True, col[1:] != col[:-1]])
            sizes = np.diff(np.r_[starts, len(col)])
            left, right = [], []
            for size in np.unique(sizes[(sizes > 1) & (sizes <= self.MAX_BUCKET)]):
                runs = order[starts[sizes == size][:, None] + np.arange(size)]  # (buckets, size)
                x, y = np.triu_indices(size, 1)
                left.append(np.minimum(runs[:, x], runs[:, y]).ravel())
                right.append(np.maximum(runs[:, x], runs[:, y]).ravel())
            if left:
                yield np.concatenate(left), np.concatenate(right)
