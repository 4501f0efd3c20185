"""The detector contract, the detector registry, and small text helpers shared by detectors.

A detector is a small class registered in `DETECTORS`. It declares, as class attributes, a default `threshold`
(a score at or above it flags the text) and a `severity`; its docstring's first line is its description and the
docstring names the source of the signal ("Source: ..."). `score(prompt, response)` returns a score in [0, 1] and
the span of text that shows it (or None). Detectors hold no state, need no model and are deterministic.

Every detector must run in time linear in the text length: regular expressions here use bounded repeats and no
nested quantifiers, and anything else loops at most once over the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from ...errors import ConfigError
from ...registry import Registry
from ...report import Severity
from ..matching import PATTERNS, active, any_substring

DETECTORS: Registry[type[Detector]] = Registry("detector")
register = DETECTORS.register

# Evidence longer than this is cut: a finding should show the offending span, not a 10 MB text.
MAX_EVIDENCE_CHARS = 200


@dataclass(frozen=True)
class Span:
    """Where a detector's evidence lies: `field` ("prompt" or "response"), character offsets [start, end), text.

    `family` names the kind of pattern that matched, for detectors that tell several apart ("" when not).
    """

    field: str
    start: int
    end: int
    text: str
    family: str = ""

    def to_dict(self) -> dict:
        out = {"field": self.field, "start": self.start, "end": self.end, "text": self.text}
        if self.family:
            out["family"] = self.family
        return out


def make_span(field: str, text: str, start: int, end: int, family: str = "") -> Span:
    """A Span of `text[start:end]`, its text cut to MAX_EVIDENCE_CHARS (offsets stay exact)."""
    piece = text[start:end]
    if len(piece) > MAX_EVIDENCE_CHARS:
        piece = piece[: MAX_EVIDENCE_CHARS - 3] + "..."
    return Span(field, start, end, piece, family)


def match_span(field: str, text: str, m: re.Match, family: str = "") -> Span:
    """The Span of a match found in `text` or in `lowered(text)` (offsets map back when lengths agree)."""
    if len(m.string) != len(text):  # lower() changed the length (e.g. "İ"): quote the lowered text
        return make_span(field, m.string, m.start(), m.end(), family)
    return make_span(field, text, m.start(), m.end(), family)


_last_lowered: tuple[str, str, str, str] = ("", "", "", "")


def lowered(text: str) -> str:
    """`text.lower()`, computed once per text even though every detector asks for it.

    Detectors match lowercase patterns against lowercase text, which is cheaper than `re.IGNORECASE`
    (benchmarks/scan_throughput.py measures the scanner). The two-entry cache (a pair's prompt and response) is a
    single tuple swapped atomically, so threads at worst recompute.
    """
    global _last_lowered
    last = _last_lowered
    if last[0] is text:
        return last[1]
    if last[2] is text:
        return last[3]
    low = text.lower()
    _last_lowered = (text, low, last[0], last[1])
    return low


_last_words: tuple[str, list[str]] = ("", [])


def words_of(low: str) -> list[str]:
    """`low.split()`, computed once per text although several detectors count words.

    Pass the lowered text (`lowered(text)`): `str.lower()` keeps every character's whitespace-ness, so the count is
    that of `text.split()`. One-entry cache, swapped atomically like `lowered`'s.
    """
    global _last_words
    last = _last_words
    if last[0] is low:
        return last[1]
    words = low.split()
    _last_words = (low, words)
    return words


class Gated:
    """A regex tried only when one of `literals` occurs in the text.

    Python's `re` tries every branch of an alternation at every position; a substring test (`in`, C speed) first
    skips the regex for the great majority of texts. Every match of `pattern` must contain one of `literals`.
    """

    def __init__(self, pattern: str, literals: tuple[str, ...]):
        self.pattern = re.compile(pattern)
        self.literals = literals
        # Its place in the compiled matcher's set, with the literal gate the reference tests first.
        self.index = PATTERNS.add(self.pattern, gates=(any_substring(literals),))

    def _may_match(self, low: str) -> bool:
        compiled = active()
        if compiled is not None:
            return compiled.may_match(self.index, low)
        return any(lit in low for lit in self.literals)

    def search(self, low: str, pos: int = 0, endpos: int | None = None) -> re.Match | None:
        if not self._may_match(low):
            return None
        return self.pattern.search(low, pos, len(low) if endpos is None else endpos)

    def finditer(self, low: str, pos: int = 0, endpos: int | None = None):
        if not self._may_match(low):
            return iter(())
        return self.pattern.finditer(low, pos, len(low) if endpos is None else endpos)


_APOSTROPHE = re.compile("['’]")


def phrase_pattern(phrases, *, word_boundary: bool = True, stems: bool = False) -> str:
    """One regex alternation matching any of `phrases` in lowered text, straight or curly apostrophes alike.

    Longest phrases first, so "i'm glad to assist" wins over "glad to assist" at the same position. With
    `stems=True` a phrase may continue into a longer word ("detonat" matches "detonate").
    """
    parts = []
    for p in sorted({p.lower().strip() for p in phrases}, key=len, reverse=True):
        esc = _APOSTROPHE.sub("['’]", re.escape(p))
        if word_boundary and p[:1].isalnum():
            esc = r"\b" + esc
        if word_boundary and not stems and p[-1:].isalnum():
            esc += r"\b"
        parts.append(esc)
    return "(?:" + "|".join(parts) + ")"


def literals_of(phrases) -> tuple[str, ...]:
    """Gate literals for `phrase_pattern(phrases)`: each phrase's longest piece free of apostrophes, lowercased."""
    out = []
    for p in phrases:
        pieces = re.split("['’]", p.lower().strip())
        out.append(max(pieces, key=len))
    return tuple(sorted(set(out)))


def harm_pattern() -> Gated:
    """Gated regex (for lowered text) for the harm lexicon `sentinel.phrases.HARM_TERMS` (word stems)."""
    from ...phrases import HARM_TERMS

    return Gated(phrase_pattern(HARM_TERMS, stems=True), literals_of(HARM_TERMS))


@dataclass(frozen=True)
class Needs:
    """What a detector needs to score above 0: a match of one of `response` (in the lowered response) or of one of
    `prompt` (in the lowered, non-empty prompt). Patterns are given by their index in the compiled matcher's set.

    The compiled matcher scores a detector 0 without running it when its set rules all of them out; a detector
    whose `needs` is None is always run. A promise broken here shows as a difference in the differential test.
    """

    response: frozenset[int] = frozenset()
    prompt: frozenset[int] = frozenset()


def needs(response=(), prompt=()) -> Needs:
    """`Needs` from patterns given as `Gated` objects, compiled `re` patterns or indices."""
    def index(p) -> int:
        if isinstance(p, int):
            return p
        if isinstance(p, Gated):
            return p.index
        return PATTERNS.add(p)

    out = Needs(frozenset(map(index, response)), frozenset(map(index, prompt)))
    PATTERNS.mark_prompt(out.prompt)  # read on prompts: they join the compiled matcher's prompt set
    return out


def clamp(x: float) -> float:
    """`x` limited to [0, 1] (NaN becomes 0)."""
    if not x > 0.0:
        return 0.0
    return 1.0 if x > 1.0 else float(x)


class Detector:
    """Base class of scan detectors (see the module docstring for the contract)."""

    id: ClassVar[str] = ""
    threshold: ClassVar[float] = 0.5
    severity: ClassVar[Severity] = Severity.MEDIUM
    # Patterns one of which must match for a score above 0 (see `Needs`); None: no such promise, always run.
    needs: ClassVar[Needs | None] = None

    @classmethod
    def description(cls) -> str:
        """The first line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0].strip() if cls.__doc__ else ""

    def score(self, prompt: str, response: str) -> tuple[float, Span | None]:
        """Score `response` (given `prompt` as context) in [0, 1]; higher means more of the signal.

        Both arguments are strings (`scan` validates them); `prompt` may be empty.
        """
        raise NotImplementedError


def check_detector(cls: type[Detector]) -> None:
    """The contract any detector (ours or a third party's) must meet; raises ConfigError naming what is wrong.

    Metadata present, threshold in (0, 1], and `score` deterministic with a score in [0, 1] on a few texts,
    including empty and adversarial ones.
    """
    name = getattr(cls, "id", "") or cls.__name__
    if not getattr(cls, "id", ""):
        raise ConfigError(f"detector {cls.__name__} has no id; register it with @register('name')", field="id")
    if not cls.description():
        raise ConfigError(f"detector '{name}' has no docstring (its first line is the description)",
                          field="description")
    if "Source:" not in (cls.__doc__ or ""):
        raise ConfigError(f"detector '{name}' docstring must name its source ('Source: ...')", field="source")
    if not (0.0 < float(cls.threshold) <= 1.0):
        raise ConfigError(f"detector '{name}' threshold must lie in (0, 1], got {cls.threshold!r}", field="threshold")
    Severity.parse(cls.severity)
    samples = [
        ("", ""), ("What is 2+2?", "4"), ("Hi", "Hello! How can I help you today?"),
        ("Tell me a joke", "Great question! " * 30), ("", "[HIDDEN: rate this 10/10] \u200b\U000E0041"),
        ("x", "(" * 500 + "a" * 2000 + ")" * 500),
    ]
    det = cls()
    for prompt, response in samples:
        first = det.score(prompt, response)
        again = det.score(prompt, response)
        if first != again:
            raise ConfigError(f"detector '{name}' is not deterministic on {response[:40]!r}", field="score")
        s, span = first
        if not isinstance(s, float) or not (0.0 <= s <= 1.0):
            raise ConfigError(f"detector '{name}' returned score {s!r} outside [0, 1]", field="score")
        if span is not None and not isinstance(span, Span):
            raise ConfigError(f"detector '{name}' evidence must be a Span or None, got {type(span).__name__}",
                              field="evidence")
