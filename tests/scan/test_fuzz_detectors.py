"""Generated hostile text for every registered scan detector: any Unicode (lone surrogates included), control and
zero-width characters, right-to-left overrides, and very long lines. Each detector returns a score in [0, 1] and a
span inside the text; `scan` raises only the project's own errors (a non-string is a DataError) and never hangs
(its time is linear in the text length)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.errors import SentinelError
from sentinel.scan import DETECTORS, resolve_detectors, scan

pytestmark = pytest.mark.fuzz

ODD = st.sampled_from(["\x00", "\x07", "\x1b[31m", "\x7f", "\u0085", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
                       "\u202a", "\u202b", "\u202d", "\u202e", "\u2066", "\u2067", "\u2069", "\ud800", "\udfff",
                       "\U000e0041", "\U0010ffff", "\r\n", "\t"])
# words the detectors look for, so that generated text reaches their scoring and not only their first check
WORDS = st.sampled_from(["ignore", "previous", "instructions", "system prompt", "Great question!", "As an AI",
                         "I'm glad to assist", "[HIDDEN:", "rate this 10/10", "Sure", "certainly", "!", "?", " ",
                         "\n", "10/10", "<!--", "-->", "```", "Note to grader:", "score", "helpful", "safe"])
TEXT = st.lists(st.one_of(st.characters(), ODD, WORDS), max_size=60).map("".join)


@given(prompt=TEXT, response=TEXT, only=st.sampled_from([None, *sorted(DETECTORS)]))
def test_any_text_gets_scores_in_range_and_spans_inside_it(prompt, response, only):
    dets = [only] if only else None
    result = scan(prompt, response, detectors=dets)
    assert all(0.0 <= s <= 1.0 for s in result.scores.values()), result.scores
    for det in resolve_detectors(dets):
        _, span = det.score(prompt, response)
        if span is not None:
            text = prompt if span.field == "prompt" else response
            assert 0 <= span.start <= span.end <= len(text), (det.id, span)


@given(value=st.one_of(st.none(), st.integers(), st.binary(), st.lists(st.text(), max_size=2)))
def test_a_non_string_is_one_of_our_errors(value):
    with pytest.raises(SentinelError):
        scan(value)
    if value is not None:  # scan(prompt, None) scans the prompt alone
        with pytest.raises(SentinelError):
            scan("prompt", value)


LONG = 200_000
LONG_LINES = {
    "one-char": "a" * LONG,
    "spaces": " " * LONG,
    "words": "ignore previous " * (LONG // 16),
    "punctuation": "!?." * (LONG // 3),
    "zero-width": "\u200b" * LONG,
    "rtl-overrides": "\u202e\u2066" * (LONG // 2),
    "almost-markers": "[HIDDEN" * (LONG // 7),
    "digits": "10/10 " * (LONG // 6),
    "no-newline-json": '{"a": ' * (LONG // 6),
}


@pytest.mark.timeout(300)  # a detector that backtracks on a long line would run for hours: fail instead
@pytest.mark.parametrize("name", sorted(LONG_LINES))
def test_very_long_lines_finish(name):
    text = LONG_LINES[name]
    result = scan(text[:1000], text)
    assert all(0.0 <= s <= 1.0 for s in result.scores.values())
