"""How detectors' regular expressions meet a text: the reference matcher (Python `re` behind substring gates) or
the compiled one (every pattern at once in one RE2 set, Python `re` only where the set says a match may exist).

The compiled matcher is a *prefilter*: each registered Python pattern is translated to an RE2 pattern that matches
wherever the Python one does and possibly elsewhere (lookarounds and word boundaries dropped, large bounded repeats
opened up, Unicode classes widened). One pass of RE2's automaton over a text says which patterns may match; the
others are skipped, and a pattern that may match is run with Python `re` exactly as the reference matcher runs it.
So findings are identical by construction; the set only decides what is not worth running. A pattern that does not
translate (a back-reference, say) is always run.

`matcher="compiled"` needs the `google-re2` package (wheels for Linux, macOS and Windows); without it, or for a
text RE2 cannot read (lone surrogates), the reference path runs. The matcher in force for a call is held in a
context variable set by `scan()`, so threads and nested calls each see their own.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from ..errors import ConfigError

logger = logging.getLogger(__name__)

MATCHERS = ("compiled", "reference")
# Repeats up to this count keep their bounds in the RE2 translation; longer ones become `*` / `+`, which keeps the
# automaton small (a `{4,300}` repeat would otherwise unroll 300 copies).
MAX_KEPT_REPEAT = 8
# RE2's memory budget for the set's automaton, in bytes. When the DFA outgrows it RE2 reports failure and the call
# falls back to "every pattern may match" (still correct, only slower).
SET_MAX_MEM = 64 << 20
# Texts whose set results a scan keeps: the texts of a pair and its windows, and a prompt shared by the pairs of a row.
MAX_CACHED_TEXTS = 10

try:  # the compiled matcher is optional: google-re2 ships wheels for the common platforms, not all
    import re2 as _re2
except ImportError:  # pragma: no cover - exercised by the light install test
    _re2 = None

# Python's own regex parser, to translate patterns from their parsed form rather than their text.
_parser: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")
_c: Any = importlib.import_module("re._constants" if sys.version_info >= (3, 11) else "sre_constants")


def compiled_available() -> bool:
    """Whether the compiled matcher can run here (the `google-re2` package imports)."""
    return _re2 is not None


def resolve_matcher(matcher: str | None) -> str:
    """The matcher to use for `matcher` ("compiled", "reference", or None for the best available)."""
    if matcher is None:
        return "compiled" if _re2 is not None else "reference"
    if matcher not in MATCHERS:
        raise ConfigError(f"unknown matcher {matcher!r}; choose one of {', '.join(MATCHERS)}", field="matcher")
    if matcher == "compiled" and _re2 is None:
        logger.warning("matcher 'compiled' needs google-re2 (pip install google-re2); "
                       "using the reference matcher")
        return "reference"
    return matcher


# ------------------------------------------------------------------------------------------ Python re -> RE2
_ANY = r"[\x{0}-\x{10FFFF}]"
# Supersets of Python's Unicode classes for str patterns (`\d` is Nd, `\w` is alphanumerics and "_", `\s` what
# str.isspace accepts).
_CATEGORY = {
    _c.CATEGORY_DIGIT: r"\pN",
    _c.CATEGORY_SPACE: r"\s\x{b}\pZ\x{1c}-\x{1f}\x{85}",  # RE2's \s lacks the vertical tab
    _c.CATEGORY_WORD: r"\pL\pN\pM_",
}


class _Untranslatable(Exception):
    pass


def _char(code: int) -> str:
    return rf"\x{{{code:x}}}"


def _set(items, ignore_case: bool) -> str:
    negate = False
    parts = []
    for op, av in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            parts.append(_char(av))
        elif op is _c.RANGE:
            parts.append(f"{_char(av[0])}-{_char(av[1])}")
        elif op is _c.CATEGORY and av in _CATEGORY:
            if negate:
                return _ANY
            parts.append(_CATEGORY[av])
        else:  # a negated category (\W, \S, \D) or anything rarer: any character is a superset
            return _ANY
    if not parts:
        return _ANY
    body = "".join(parts)
    if negate:
        return _ANY if ignore_case else f"[^{body}]"
    return f"[{body}]"


def _translate(tokens, ignore_case: bool) -> str:
    out = []
    for op, av in tokens:
        if op is _c.LITERAL:
            out.append(_char(av))
        elif op is _c.NOT_LITERAL:
            out.append(_ANY if ignore_case else f"[^{_char(av)}]")
        elif op is _c.ANY:
            out.append(_ANY)
        elif op is _c.IN:
            out.append(_set(av, ignore_case))
        elif op is _c.BRANCH:
            out.append("(?:" + "|".join(_translate(b, ignore_case) for b in av[1]) + ")")
        elif op is _c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            ic = (ignore_case or bool(add_flags & _c.SRE_FLAG_IGNORECASE)) and not del_flags & _c.SRE_FLAG_IGNORECASE
            inner = _translate(sub, ic)
            out.append(f"(?i:{inner})" if ic and not ignore_case else f"(?:{inner})")
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) or op is getattr(_c, "POSSESSIVE_REPEAT", None):
            lo, hi, sub = av
            inner = "(?:" + _translate(sub, ignore_case) + ")"
            if hi is _c.MAXREPEAT or hi > MAX_KEPT_REPEAT:
                out.append(inner + ("*" if lo == 0 else "+"))
            else:
                out.append(f"{inner}{{{lo},{hi}}}")
        elif op is getattr(_c, "ATOMIC_GROUP", None):
            out.append("(?:" + _translate(av, ignore_case) + ")")
        elif op in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
            continue  # an assertion only removes matches: without it the pattern matches a superset
        else:  # back-references, conditionals: no RE2 form
            raise _Untranslatable(str(op))
    return "".join(out)


def to_re2(pattern: re.Pattern) -> str | None:
    """An RE2 pattern matching (somewhere) in every text where `pattern` matches; None when there is none."""
    if not isinstance(pattern.pattern, str):
        return None
    try:
        tree = _parser.parse(pattern.pattern, pattern.flags)
        ignore_case = bool(tree.state.flags & _c.SRE_FLAG_IGNORECASE)
        body = _translate(list(tree), ignore_case)
    except (_Untranslatable, re.error, RecursionError):
        return None
    return f"(?si){body}" if ignore_case else f"(?s){body}"


# ------------------------------------------------------------------------------------------------ the set
# A gate: a test the reference matcher runs before a pattern, which the compiled matcher runs after its set said the
# pattern may match (so it skips exactly what the reference skips). ("substring", literals): one of them occurs in the
# text; ("word", words): one of them is a whole run of ASCII letters (`_WORD`) of the text.
GateTest = tuple[str, tuple[str, ...]]
_WORD = re.compile(r"[a-z]+")


def any_substring(literals) -> GateTest:
    """The gate "one of `literals` occurs in the text"."""
    return ("substring", tuple(literals))


def any_word(words) -> GateTest:
    """The gate "one of `words` is a word of the text" (a whole run of ASCII letters)."""
    return ("word", tuple(words))


_LOWER_CHANGES: str | None = None


def _changed_by_lower() -> str:
    """An RE2 class of the characters outside ASCII that `str.lower()` changes (1,407 of them, all below U+20000 in
    this Python's Unicode database; `tests/scan/test_matcher.py` checks the whole range)."""
    global _LOWER_CHANGES
    if _LOWER_CHANGES is None:
        ranges: list[list[int]] = []
        for c in range(0x80, 0x20000):
            if not 0xD800 <= c <= 0xDFFF and chr(c).lower() != chr(c):
                if ranges and ranges[-1][1] == c - 1:
                    ranges[-1][1] = c
                else:
                    ranges.append([c, c])
        _LOWER_CHANGES = "[" + "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in ranges) + "]"
    return _LOWER_CHANGES


class _CompiledSet:
    """One RE2 set over some entries' patterns: `candidates(text)` are the entries whose pattern may match."""

    def __init__(self, entries: list[tuple[int, re.Pattern, str | None]]):
        opts = _re2.Options()
        opts.max_mem = SET_MAX_MEM
        opts.log_errors = False
        rs = _re2.Set.SearchSet(opts)
        # Slot 0 (`\A`, the start of the text) matches every text: a result without it means RE2 gave up (its
        # automaton ran out of memory), and then every pattern may match. `\A` rather than the empty pattern: that
        # one matches at every position and keeps the automaton's states busier (about 0.4 us a text more).
        slots: dict[str, int] = {"": rs.Add(r"\A")}
        # Slot 1: a character outside ASCII that `str.lower()` changes. Lowering a text's UTF-8 bytes (ASCII letters
        # only) gives `text.lower()` exactly unless the text holds one; `candidates_lowered` reads that here.
        slots["\0lowers"] = rs.Add(_changed_by_lower())
        always: list[int] = []
        by_slot: dict[int, list[int]] = {}
        for i, pattern, prefilter in entries:
            src = prefilter or to_re2(pattern)
            try:
                if src is None:
                    raise _Untranslatable(pattern.pattern)
                if src not in slots:
                    slots[src] = rs.Add(src)
            except Exception:  # noqa: BLE001 - a pattern RE2 refuses is simply always run
                always.append(i)
                continue
            by_slot.setdefault(slots[src], []).append(i)
        rs.Compile()
        self._match, self._by_slot, self._always = rs._set.Match, by_slot, frozenset(always)
        if always:
            logger.debug("compiled matcher: %d of %d patterns always run (no RE2 form)", len(always), len(entries))

    def candidates(self, text: str) -> frozenset[int] | None:
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: RE2 reads UTF-8 only
            return None
        return self._found(self._match(raw))

    def candidates_lowered(self, text: str) -> frozenset[int] | None | bool:
        """`candidates(text.lower())` read without building `text.lower()`: the UTF-8 bytes of `text` with their
        ASCII letters lowered are those of `text.lower()` unless `text` holds a character outside ASCII that
        lowering changes (slot 1 says so in the same pass); then False (ask `candidates(text.lower())`)."""
        try:
            raw = text.encode("utf-8").lower()
        except UnicodeEncodeError:
            return None
        hits = self._match(raw)
        if 1 in hits:
            return False
        return self._found(hits)

    def _found(self, hits: list[int]) -> frozenset[int] | None:
        if len(hits) == 1 and hits[0] == 0:  # the common case: no pattern may match
            return self._always
        if 0 not in hits:
            return None
        by_slot = self._by_slot
        found = [i for h in hits if h in by_slot for i in by_slot[h]]
        return self._always.union(found)


class PatternSet:
    """Python patterns registered by detectors (`add`), and the RE2 sets compiled from them on first use.

    An entry is a Python pattern plus the gates the reference matcher tests before running it: it may match in a
    text when the RE2 form of its pattern matches there (`candidates`) and then its gates pass (`gates_pass`). The
    sets' automata hold only the patterns; the gates, plain substring and word tests, run only for the few
    candidates a caller asks about. Entries marked for prompts (`mark_prompt`) also have a set of their own: a prompt
    is read for few patterns, and a smaller set reads it sooner.
    """

    def __init__(self) -> None:
        self.patterns: list[re.Pattern] = []  # entry -> its Python pattern
        self._entries: list[tuple[re.Pattern, str | None, tuple[GateTest, ...]]] = []
        self.prompt_entries: set[int] = set()
        self._sets: tuple[_CompiledSet, _CompiledSet] | None = None  # (all entries, prompt entries)
        self._lock = threading.Lock()

    def add(self, pattern: re.Pattern, prefilter: str | None = None, gates: tuple[GateTest, ...] = ()) -> int:
        """Register `pattern`; returns its entry's index (the same index for the same arguments).

        `prefilter`: an RE2 pattern to use instead of the translation, for a pattern whose lookarounds carry its
        selectivity; it must match wherever `pattern` does. `gates`: tests that must all pass too (`any_substring`,
        `any_word`), those the reference matcher runs before the pattern.
        """
        tests: tuple[Any, ...] = tuple((kind, frozenset(members) if kind == "word" else tuple(members))
                                       for kind, members in gates)
        entry = (pattern, prefilter, tests)
        for i, e in enumerate(self._entries):
            if e[0] is pattern and e[1:] == entry[1:]:
                return i
        with self._lock:
            self._entries.append(entry)
            self.patterns.append(pattern)
            self._sets = None
        return len(self._entries) - 1

    def mark_prompt(self, indices) -> None:
        """Mark entries as ones asked about on prompts (they join the prompt set)."""
        new = set(indices) - self.prompt_entries
        if new:
            with self._lock:
                self.prompt_entries |= new
                self._sets = None

    def _compiled(self) -> tuple[_CompiledSet, _CompiledSet]:
        sets = self._sets
        if sets is None:
            with self._lock:
                entries = [(i, p, f) for i, (p, f, _) in enumerate(self._entries)]
                sets = (_CompiledSet(entries), _CompiledSet([e for e in entries if e[0] in self.prompt_entries]))
                self._sets = sets
        return sets

    def candidates(self, text: str, prompt: bool = False) -> frozenset[int] | None:
        """The entries whose pattern may match in `text` before gates (None: any may). With `prompt=True`, among
        the entries marked for prompts only: ask `may_prompt` first."""
        return self._compiled()[1 if prompt else 0].candidates(text)

    def candidates_lowered(self, text: str, prompt: bool = False) -> frozenset[int] | None | bool:
        """`candidates(text.lower(), prompt)` read from `text` as written (False: not exact there; see
        `_CompiledSet.candidates_lowered`)."""
        return self._compiled()[1 if prompt else 0].candidates_lowered(text)

    def gates_pass(self, i: int, text: str, words: list) -> bool:
        """Whether entry `i`'s gates pass on `text`. `words` caches the text's word set (pass [] per text)."""
        for kind, members in self._entries[i][2]:
            if kind == "word":
                if not words:
                    words.append(frozenset(_WORD.findall(text)))
                if members.isdisjoint(words[0]):  # type: ignore[attr-defined]
                    return False
            else:
                for lit in members:
                    if lit in text:
                        break
                else:
                    return False
        return True

    def possible(self, text: str) -> frozenset[int] | None:
        """The entries that may match in `text`, gates included (None: any may)."""
        found = self.candidates(text)
        if found is None:
            return None
        words: list = []
        return frozenset(i for i in found if self.gates_pass(i, text, words))


PATTERNS = PatternSet()


def _keep(seen: dict, key: str, value):
    """`seen[key] = value`, first dropping the oldest entry when `seen` holds `MAX_CACHED_TEXTS` (a pair's texts and
    a shared prompt stay); returns `value`."""
    if len(seen) >= MAX_CACHED_TEXTS:
        del seen[next(iter(seen))]
    seen[key] = value
    return value


class PairCache:
    """Per scan: which patterns may match each text seen (texts compared by value, so `prompt.lower()` computed
    twice is matched once), with gate results kept as they are asked for. A text read as a prompt (by the smaller
    prompt set) is kept apart from the same text read in full."""

    __slots__ = ("seen", "last")

    def __init__(self) -> None:
        # For texts read in full and texts read as prompts: text -> (candidates or None, the text's words once a
        # word gate needed them, gate results by entry)
        self.seen: tuple[dict[str, tuple[frozenset[int] | None, list, dict[int, bool]]], ...] = ({}, {})
        # `candidates_lowered`'s last text in full and as a prompt, by identity (a row's prompt is one string read
        # with each of its replies), with what that read gave
        self.last: list[tuple[str | None, Any]] = [(None, None), (None, None)]

    def _state(self, text: str, prompt: bool) -> tuple[frozenset[int] | None, list, dict[int, bool]]:
        seen = self.seen[prompt]
        st = seen.get(text)
        if st is None:
            st = _keep(seen, text, (PATTERNS.candidates(text, prompt), [], {}))
        return st

    def candidates_lowered(self, text: str, lower: Callable[[str], str],
                           prompt: bool = False) -> tuple[frozenset[int] | None, str | None]:
        """`candidates(lower(text))` and `lower(text)` (`lower` is `str.lower`, or a cache of it), read from `text`
        as written where that is exact (`_CompiledSet.candidates_lowered`). The lowered text is built only where
        some pattern may match or the read was not exact; otherwise it is None."""
        last, found = self.last[prompt]
        if last is not text:
            found = PATTERNS.candidates_lowered(text, prompt)
            self.last[prompt] = (text, found)
        if found is not None and found is not False and not found:
            return found, None
        low = lower(text)
        if found is not False and low not in self.seen[prompt]:
            _keep(self.seen[prompt], low, (found, [], {}))
        return self._state(low, prompt)[0], low

    def candidates(self, text: str, prompt: bool = False) -> frozenset[int] | None:
        """Entries whose pattern may match in `text`, gates not yet tested (None: any may). `prompt=True` reads
        `text` for the entries marked for prompts only (others are never among its candidates)."""
        return self._state(text, prompt)[0]

    def may_match(self, index: int, text: str, prompt: bool = False) -> bool:
        """Whether the registered entry `index` may match in `text` (its pattern, then its gates)."""
        if prompt and index not in PATTERNS.prompt_entries:
            prompt = False  # not in the prompt set: read the text in full
        found, words, gates = self._state(text, prompt)
        if found is None:
            return True
        if index not in found:
            return False
        passed = gates.get(index)
        if passed is None:
            passed = gates[index] = PATTERNS.gates_pass(index, text, words)
        return passed

    def any_may_match(self, indices: frozenset[int], text: str, prompt: bool = False) -> bool:
        """Whether any of the entries `indices` may match in `text`."""
        if prompt and not indices <= PATTERNS.prompt_entries:
            prompt = False
        found = self._state(text, prompt)[0]
        if found is None:
            return True
        return any(self.may_match(i, text, prompt) for i in (indices & found))


_ACTIVE: ContextVar[PairCache | None] = ContextVar("sentinel_scan_matcher", default=None)


def active() -> PairCache | None:
    """The compiled matcher's cache for the scan in progress, or None when the reference matcher is in force."""
    return _ACTIVE.get()


@contextmanager
def using(matcher: str) -> Iterator[None]:
    """Run the enclosed detector calls with `matcher` (already resolved: "compiled" or "reference")."""
    token = _ACTIVE.set(PairCache() if matcher == "compiled" else None)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
