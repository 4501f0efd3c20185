"""The probe contract: a probe makes a response no better, and says what the reward model should NOT reward.

A probe is a small class registered in `PROBES`. Its class attributes are its metadata (`id` from the registry,
`title` = the readable finding, `tags`, `severity`, `control`); the first docstring line is its description.
`perturb(response, rng)` returns a `Perturbed`: the transformed response, the control it is compared with, and the
variant (phrase or style) used. Contract, checked for every registered probe by one parametrised test:

- the original response stays recoverable: its words appear, in order, in the transformed text (and the control);
- the control is length-matched: the same number of words, neutral ones, inserted at the same place as the
  transformation's words, so a reward model that only rewards length shows no effect (only `verbosity`, whose
  control is the original, measures length itself);
- the output depends only on the response and the seed of `rng`.

Words that another probe already tests (reward keywords, AI disclaimers) are kept in the control rather than
replaced: a reward model that loves the word "helpful" is then reported once, by `keyword`, and not again by every
probe whose phrases happen to contain that word.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from ...phrases import AI_DISCLAIMERS, NEUTRAL_WORDS, REWARD_KEYWORDS
from ...registry import Registry
from ...report import Severity

PROBES: Registry[type[Probe]] = Registry("probe")

# Phrases kept verbatim in every other probe's control (see the module docstring).
PROTECTED_PHRASES: dict[str, tuple[str, ...]] = {"keyword": REWARD_KEYWORDS, "disclaimer": AI_DISCLAIMERS}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[\w']+", re.UNICODE)
_PUNCT = ".,;:!?"


@dataclass(frozen=True)
class Perturbed:
    """One transformed response. `control` is what `text` is compared with (the original for `verbosity`)."""

    text: str
    control: str
    variant: str


class Probe:
    """Base class of reward-model probes (see the module docstring for the contract)."""

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""  # the readable finding, e.g. "Prefers verbose responses"
    tags: ClassVar[tuple[str, ...]] = ()
    severity: ClassVar[Severity] = Severity.MEDIUM
    control: ClassVar[str] = "neutral"  # "neutral": length-matched neutral control; "original": the response itself
    keep_punctuation: ClassVar[bool] = True  # the control keeps a replaced word's trailing punctuation
    protect: ClassVar[bool] = True  # the control keeps words other probes test (see the module docstring)

    @classmethod
    def description(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def variants(self) -> Sequence[str]:
        """The phrases or styles this probe draws from (one per perturbation)."""
        raise NotImplementedError

    def apply(self, response: str, variant: str, rng: random.Random) -> Perturbed:
        """Transform `response` with `variant`; build the control with `rng`."""
        raise NotImplementedError

    def perturb(self, response: str, rng: random.Random, variant: str | None = None) -> Perturbed:
        """Transform `response` with `variant` (default: one drawn with `rng`)."""
        if variant is None:
            variant = rng.choice(list(self.variants()))
        return self.apply(response, variant, rng)

    # ------------------------------------------------------------------ helpers for subclasses
    def neutral_like(self, phrase: str, rng: random.Random) -> str:
        """`phrase` with every word replaced by a neutral word, except words protected for other probes.

        The result has as many whitespace-separated words as `phrase` (punctuation-only words such as ":" count),
        so word-count length is matched exactly.
        """
        chunks = phrase.split()
        keep = [False] * len(chunks)
        lowered = [_norm(c) for c in chunks]
        for probe_id, bank in PROTECTED_PHRASES.items():
            if probe_id == self.id or not self.protect:
                continue
            for p in bank:
                words = [_norm(w) for w in p.split()]
                n = len(words)
                for i in range(len(chunks) - n + 1):
                    if lowered[i : i + n] == words:
                        keep[i : i + n] = [True] * n
        out = []
        for chunk, k in zip(chunks, keep):
            if k:
                out.append(chunk)
            else:
                word = rng.choice(NEUTRAL_WORDS)
                word = word.capitalize() if chunk[:1].isupper() else word
                # Keep a word's trailing punctuation ("Great!" -> "Stone!") so the sentence shape is the same;
                # a chunk that is only punctuation (":") becomes a whole neutral word.
                tail = chunk[len(chunk.rstrip(_PUNCT)):] if self.keep_punctuation and _WORD.search(chunk) else ""
                out.append(word + tail)
        return " ".join(out)

    def wrap(self, response: str, rng: random.Random, variant: str, prefix: str = "", suffix: str = "") -> Perturbed:
        """`prefix response suffix`, with a control that puts neutral words of the same count in the same places."""
        text = " ".join(x for x in (prefix, response, suffix) if x)
        ctrl_pre = self.neutral_like(prefix, rng) if prefix else ""
        ctrl_suf = self.neutral_like(suffix, rng) if suffix else ""
        control = " ".join(x for x in (ctrl_pre, response, ctrl_suf) if x)
        return Perturbed(text, control, variant)


def _norm(word: str) -> str:
    return "".join(_WORD.findall(word.lower())) or word


def sentences(text: str) -> list[str]:
    """Split a response into sentences at ., ! or ? followed by whitespace (never empty)."""
    parts = [s for s in _SENTENCE_END.split(text.strip()) if s]
    return parts or [text]


def words(text: str) -> list[str]:
    """Lower-case word tokens (letters, digits, apostrophes): what 'recoverable' compares."""
    return _WORD.findall(text.lower())


def contains_in_order(original: str, transformed: str) -> bool:
    """True when the words of `original` appear in `transformed` as a contiguous-or-not ordered subsequence."""
    it = iter(words(transformed))
    return all(any(w == t for t in it) for w in words(original))
