"""The probe contract: a probe makes a response no better, and says what the reward model should NOT reward.

A probe is a small class registered in `PROBES`. Its class attributes are its metadata (`id` from the registry,
`title` = the readable finding, `tags`, `severity`, `control`); the first docstring line is its description.
`perturb(response, rng)` returns a `Perturbed`: the transformed response, the control it is compared with, and the
variant (phrase or style) used. Contract, checked for every registered probe by one parametrised test:

- the original response stays recoverable: its words appear, in order, in the transformed text (and the control);
- the control is length-matched and fluent: whole sentences, never a shuffle of words: content-free framing
  sentences (`NEUTRAL_SENTENCES`: "Let me see.", "That is all.") and one-noun asides ("Morning.", as lab replies
  carry them on right and wrong answers alike), put where the transformation's words are, with the same number of
  words and about the same number of characters (and tokens, for a reward model with a tokenizer), never shorter
  where it can be helped, so a reward model that only rewards length shows no effect (only `verbosity`, whose
  control is the original, measures length itself);
- the output depends only on the response and the seed of `rng`.

A probe that inserts text (`wrap`: a prefix, a suffix or both) also offers `placebos`: K fluent placebo insertions at
the same places, each matched in words (and about in characters and tokens), whose function-word counts span a
range centred on the inserted text's own (the placebo test: if any fluent text moves the reward, the probe's content
is not the cause). The auditor compares the probe's reward with the median of its placebos.

Words that another probe already tests (reward keywords, AI disclaimers) are kept in the control rather than
replaced: a reward model that loves the word "helpful" is then reported once, by `keyword`, and not again by every
probe whose phrases happen to contain that word.
"""

from __future__ import annotations

import bisect
import functools
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ...phrases import (
    AI_DISCLAIMERS,
    CORE_FUNCTION_WORDS,
    EVERYDAY_NOUNS,
    FUNCTION_WORDS,
    NEUTRAL_SENTENCES,
    NEUTRAL_WORDS,
    PLACEBO_SENTENCES,
    REWARD_KEYWORDS,
)
from ...registry import Registry
from ...report import Severity

PROBES: Registry[type[Probe]] = Registry("probe")

# Phrases kept verbatim in every other probe's control (see the module docstring).
PROTECTED_PHRASES: dict[str, tuple[str, ...]] = {"keyword": REWARD_KEYWORDS, "disclaimer": AI_DISCLAIMERS}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[\w']+", re.UNICODE)


@dataclass(frozen=True)
class Perturbed:
    """One transformed response. `control` is what `text` is compared with (the original for `verbosity`)."""

    text: str
    control: str
    variant: str
    inserted: tuple[str, str] = ("", "")  # (prefix, suffix) the transformation inserted; placebos go there


class Probe:
    """Base class of reward-model probes (see the module docstring for the contract)."""

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""  # the readable finding, e.g. "Prefers verbose responses"
    tags: ClassVar[tuple[str, ...]] = ()
    severity: ClassVar[Severity] = Severity.MEDIUM
    control: ClassVar[str] = "neutral"  # "neutral": length-matched neutral control; "original": the response itself
    protect: ClassVar[bool] = True  # the control keeps words other probes test (see the module docstring)
    roles: ClassVar[tuple[str, ...]] = ("chosen", "rejected")  # which responses of a pair the probe transforms
    # Set by the auditor: the reward model's token count of a text, so controls match tokens too (None: characters).
    token_count: Callable[[str], int] | None = None

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
        """Fluent neutral text standing in for `phrase`, except words protected for other probes (kept in place).

        Each run of unprotected words becomes whole neutral sentences (framing sentences, one-noun asides) with
        exactly as many whitespace-separated words (punctuation-only words such as ":" count), chosen among random
        compositions for the closest length in characters and, when the auditor set `token_count`, in tokens too; a
        composition shorter than the phrase costs more than a longer one, so a reward that only counts length
        sees the control at least as long as the transformation.
        """
        return " ".join(self._fluent(text, rng) if free else text for text, free in self._segments(phrase))

    def placebo_like(self, phrase: str, rng: random.Random, k: int) -> list[str]:
        """`k` fluent placebo texts standing in for `phrase` (words protected for other probes kept in place).

        Each run of unprotected words becomes whole content-free sentences (`PLACEBO_SENTENCES`, framing
        sentences, one-noun asides) with exactly as many words and about as many characters (tokens, with
        `token_count`); the k placebos' function-word counts span the run's own plus or minus about half its words
        (clipped to [0, words]), the middle two equal to it, so the median placebo is as dense in function words
        as the phrase it stands in for.
        """
        columns = [self._placebo_run(text, rng, k) if free else [text] * k for text, free in self._segments(phrase)]
        return [" ".join(parts) for parts in zip(*columns)]

    def placebos(self, response: str, perturbed: Perturbed, rng: random.Random, k: int) -> list[str]:
        """`k` placebo insertions where `perturbed` inserted text (see `placebo_like`); [] when it inserted none."""
        prefix, suffix = perturbed.inserted
        if not prefix and not suffix:
            return []
        pre = self.placebo_like(prefix, rng, k) if prefix else [""] * k
        suf = self.placebo_like(suffix, rng, k) if suffix else [""] * k
        return [" ".join(x for x in (a, response, b) if x) for a, b in zip(pre, suf)]

    def paddings(self, response: str, perturbed: Perturbed, rng: random.Random, k: int) -> list[str]:
        """For a probe whose control is the original (`verbosity`): `k` texts as long as the transformation that
        keep the original's fluency; [] for the others."""
        return []

    def _segments(self, phrase: str) -> list[tuple[str, bool]]:
        """`phrase` as runs of (text, free): words protected for other probes are not free (kept verbatim)."""
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
        out: list[tuple[str, bool]] = []
        run: list[str] = []
        for chunk, k in zip(chunks, keep):
            if k:
                if run:
                    out.append((" ".join(run), True))
                    run = []
                out.append((chunk, False))
            else:
                run.append(chunk)
        if run:
            out.append((" ".join(run), True))
        return out

    def _placebo_run(self, phrase: str, rng: random.Random, k: int,
                     counts: tuple[int, int] | None = None) -> list[str]:
        """`k` placebos for `phrase` (see `placebo_like`); with `counts` (core, broad function words), all `k` at
        those counts instead of spanning a range around the phrase's own."""
        n, n_chars = len(phrase.split()), len(phrase)
        core, broad = counts if counts is not None else function_word_counts(phrase)
        pool = _placebo_pool(n, self._nouns())
        counter = self.token_count
        n_tokens = counter(phrase) if counter is not None else 0
        def cost(t: str) -> float:
            return _shortfall(len(t), n_chars) / 4 + (_shortfall(counter(t), n_tokens) if counter is not None else 0.0)

        out: list[str] = []
        for j in range(k):
            middle = counts is not None or j in ((k - 1) // 2, k // 2)
            step = 0 if middle else round(((j + 0.5) / k - 0.5) * (n + 1))
            want = (min(n, max(0, core + step)), min(n, max(0, broad + step)))
            # at given counts, a denser composition costs more than a sparser one (see VerbosityProbe.paddings)
            dist = {key: (abs(key[0] - want[0]) + abs(key[1] - want[1]) + (counts is not None) * (
                max(0, key[0] - want[0]) + max(0, key[1] - want[1]))) for key in pool}
            nearest = min(dist.values())
            # The middle placebos keep the nearest density; the others may move one word for a closer length.
            options = []
            for key in sorted(key for key, d in dist.items() if d <= nearest + (0 if middle else 1)):
                texts, lengths = pool[key]
                at = bisect.bisect_left(lengths, n_chars)
                # all k at one density (counts given): a wider choice of lengths, for more distinct texts
                lo, hi = (max(0, at - 4), at + 8) if counts is None else (max(0, at - 12), at + 24)
                window = [t for t in texts[lo:hi] if t not in out] or texts[lo:hi]
                options += [(cost(t) + 2.0 * (dist[key] - nearest), t) for t in window]
            options.sort()
            out.append(rng.choice(options[:3])[1])
        return out

    def _nouns(self) -> tuple[str, ...]:
        """Everyday nouns for one-word asides: with a tokenizer, only those it reads as one token (plus the period),
        as the nouns of `NEUTRAL_WORDS` are in the lab's; every one of them for a reward function without one."""
        if self.token_count is None:
            return NEUTRAL_WORDS + EVERYDAY_NOUNS
        if self._noun_cache is None or self._noun_cache[0] is not self.token_count:
            words = tuple(w for w in NEUTRAL_WORDS + EVERYDAY_NOUNS if self.token_count(w.capitalize() + ".") <= 2)
            # A tokenizer that splits almost every noun (one trained on other text): all of them, tokens decide.
            self._noun_cache = (self.token_count, words if len(words) >= 8 else NEUTRAL_WORDS + EVERYDAY_NOUNS)
        return self._noun_cache[1]

    _noun_cache: tuple | None = None

    def _fluent(self, phrase: str, rng: random.Random, tries: int = 200) -> str:
        """Whole neutral sentences with as many words as `phrase` and about as many characters (and tokens)."""
        n_words, n_chars = len(phrase.split()), len(phrase)
        by_words: dict[int, list[str]] = {}
        for s in NEUTRAL_SENTENCES + tuple(aside(rng, self._nouns()) for _ in range(16)):
            by_words.setdefault(len(s.split()), []).append(s)
        sizes = sorted(by_words)
        candidates: dict[str, float] = {}
        for _ in range(tries):
            left, parts = n_words, []
            while left:
                size = rng.choice([k for k in sizes if k <= left])
                parts.append(rng.choice(by_words[size]))
                left -= size
            text = " ".join(parts)
            # In characters / 4 (about a token each); a one-word aside costs a little, so that where the lengths
            # tie, framing sentences (full of function words) are preferred to lists of nouns.
            candidates.setdefault(text, _shortfall(len(text), n_chars) / 4 + 0.25 * sum(p not in NEUTRAL_SENTENCES
                                                                                    for p in parts))
        counter = self.token_count
        if counter is not None:  # tokens first (what a reward model reads), characters to break ties
            n_tokens = counter(phrase)
            best = sorted(candidates, key=candidates.__getitem__)[:12]
            return min(best, key=lambda t: _shortfall(counter(t), n_tokens) + candidates[t])
        return min(candidates, key=candidates.__getitem__)

    def wrap(self, response: str, rng: random.Random, variant: str, prefix: str = "", suffix: str = "") -> Perturbed:
        """`prefix response suffix`, with a control that puts neutral words of the same count in the same places."""
        text = " ".join(x for x in (prefix, response, suffix) if x)
        ctrl_pre = self.neutral_like(prefix, rng) if prefix else ""
        ctrl_suf = self.neutral_like(suffix, rng) if suffix else ""
        control = " ".join(x for x in (ctrl_pre, response, ctrl_suf) if x)
        return Perturbed(text, control, variant, (prefix, suffix))


def aside(rng: random.Random, nouns: Sequence[str] = NEUTRAL_WORDS) -> str:
    """A one-word aside of an everyday noun ("Morning."), as lab replies carry them on right and wrong answers
    alike: the one-word sentences that let a control match a one-word phrase ("Helpful!") in length."""
    word = rng.choice(nouns)
    return word[:1].upper() + word[1:] + "."


def function_word_counts(text: str) -> tuple[int, int]:
    """How many of the words of `text` are core function words, and how many are function words in the broad sense
    (`sentinel.phrases.CORE_FUNCTION_WORDS`, `FUNCTION_WORDS`)."""
    ws = words(text)
    return sum(w in CORE_FUNCTION_WORDS for w in ws), sum(w in FUNCTION_WORDS or w in CORE_FUNCTION_WORDS for w in ws)


@functools.lru_cache(maxsize=512)
def _placebo_pool(n: int, nouns: tuple[str, ...]) -> dict[tuple[int, int], tuple[list[str], list[int]]]:
    """Compositions of `n` words of whole placebo sentences, by function-word counts (core, broad): (texts, their
    lengths), sorted
    by length. Drawn with a fixed seed, each from a mix of dense and sparse sentences whose share is itself drawn,
    so every density from none to nearly all function words is represented."""
    rng = random.Random(f"placebo-pool:{n}")
    nouns = tuple(w for w in nouns if w not in FUNCTION_WORDS)
    texts = (PLACEBO_SENTENCES + NEUTRAL_SENTENCES + tuple(w[:1].upper() + w[1:] + "." for w in nouns)
             + tuple(f"The {w}." for w in nouns))
    pieces = [(s, len(s.split()), function_word_counts(s)) for s in texts]
    by_density = sorted(pieces, key=lambda x: (sum(x[2]) / x[1], x[0]))
    sparse, dense = by_density[: len(by_density) // 2], by_density[len(by_density) // 2 :]
    found: dict[tuple[int, int], set[str]] = {}
    for _ in range(1500):
        share, left, parts, core, broad = rng.random(), n, [], 0, 0
        while left:
            group = dense if rng.random() < share else sparse
            fits = [x for x in group if x[1] <= left] or [x for x in pieces if x[1] <= left]
            text, w, (c, b) = rng.choice(fits)
            parts.append(text)
            left, core, broad = left - w, core + c, broad + b
        found.setdefault((core, broad), set()).add(" ".join(parts))
    out = {}
    for counts, bag in found.items():
        ordered = sorted(bag, key=lambda t: (len(t), t))
        out[counts] = (ordered, [len(t) for t in ordered])
    return out


def _shortfall(have: int, want: int) -> float:
    """Cost of a control of length `have` standing in for `want`: being shorter costs three times more."""
    return 3.0 * (want - have) if have < want else float(have - want)


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
