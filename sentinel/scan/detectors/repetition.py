"""repetition: repeated word n-grams, sentences or lines, and degenerate character loops."""

from __future__ import annotations

import re
import zlib
from collections import Counter

from ...report import Severity
from ..matching import PATTERNS, active
from .base import Detector, clamp, lowered, make_span, register, words_of

N = 4  # n-gram order: 4 words repeat rarely in natural text, yet catch looped phrases
MIN_WORDS = 12  # below this, n-gram statistics say nothing
WINDOW_CHARS = 300_000  # word and sentence statistics read this much (counting n-grams of 10 MB costs seconds)
LONG_WORD_CHARS = 15  # mean characters per whitespace-separated word above which a text is not prose
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# A gap between two words of one sentence holding two or more spaces: a whitespace run without a line break, after
# a character that ends no sentence. A repeated sentence of 4+ words repeats a word 4-gram; one of fewer words counts
# (3+ spaces) only with such a gap inside it. So a text whose 4-grams are all distinct and that has no such gap has
# no repeated sentence to count.
_INNER_GAP = re.compile(r"[^.!?\s][^\S\n]* [^\S\n]* ")
_WS_NO_NEWLINE = r"[\t\r\f\x{b}\pZ\x{1c}-\x{1f}\x{85}]"  # RE2: a superset of Python's whitespace less "\n"
_INNER_GAP_INDEX = PATTERNS.add(
    _INNER_GAP, prefilter=rf"[^.!?\s\x{{b}}\pZ\x{{1c}}-\x{{1f}}\x{{85}}]{_WS_NO_NEWLINE}* {_WS_NO_NEWLINE}* ")


def _ngram_repeats(words: list[str]) -> float:
    """Share of word n-grams that repeat an earlier one."""
    n = len(words) - N + 1
    if n <= 0:
        return 0.0
    return 1.0 - len(set(zip(words, words[1:], words[2:], words[3:]))) / n  # N = 4


def _most_common_ngram(words: list[str]) -> str:
    return " ".join(Counter(zip(*(words[i:] for i in range(N)))).most_common(1)[0][0])


def _sentence_repeats(low: str) -> tuple[float, str | None]:
    """Share of sentences/lines (of 4+ words) that repeat an earlier one, and the most repeated one."""
    sentences = [t for t in (s.strip() for s in _SENTENCE_END.split(low)) if t.count(" ") >= 3]
    distinct = len(set(sentences))
    if distinct == len(sentences):  # the common case: nothing repeats, skip the counting
        return 0.0, None
    return 1.0 - distinct / len(sentences), Counter(sentences).most_common(1)[0][0]


def _compressibility(text: str) -> float:
    """1 - (zlib-compressed size / raw size): ~0.4 for English prose, near 1 for a looped string."""
    raw = text.encode("utf-8", "surrogatepass")
    return 1.0 - len(zlib.compress(raw, 1)) / len(raw)


@register("repetition")
class Repetition(Detector):
    """Repeated word n-grams, sentences or lines, or a degenerate character loop ("aaaa...", "!!!!...").

    Score: the maximum of (a) the share of word 4-grams that repeat an earlier one, above a 15% baseline and
    scaled so that 50% scores 1; (b) the share of sentences or lines (of 4+ words) that repeat an earlier one,
    above a 10% baseline and scaled so that 40% scores 1; (c) for texts over 200 characters averaging over 15
    characters per word, zlib compressibility above 0.7 (scaled so 0.9 scores 1), which catches loops without
    word boundaries. Word and sentence statistics read the first 300,000 characters; longer texts also get the
    compressibility test over their whole length, so the cost stays linear with a small constant. Evidence: the
    most repeated n-gram or sentence.
    Source: degenerate repetition in language-model sampling (Holtzman et al. 2020 "The curious case of neural
    text degeneration"); length hacking by repetition under PPO (Singhal et al. 2023).
    """

    threshold = 0.5
    severity = Severity.MEDIUM

    def score(self, prompt: str, response: str):
        low = lowered(response)
        window = low[:WINDOW_CHARS]
        words = words_of(window)
        best, evidence = 0.0, None
        if len(words) >= MIN_WORDS:
            ngram_share = _ngram_repeats(words)
            s = clamp((ngram_share - 0.15) / 0.35)
            if s > best:
                best, evidence = s, _most_common_ngram(words)
            compiled = active()
            # The compiled matcher skips the sentence count where it cannot find a repeat (see _INNER_GAP).
            if ngram_share > 0.0 or compiled is None or compiled.may_match(_INNER_GAP_INDEX, low):
                share, sentence = _sentence_repeats(window)
                s = clamp((share - 0.1) / 0.3)
                if s > best:
                    best, evidence = s, sentence
        # Loops without word boundaries ("aaaa...", "!!!!..."): few, very long "words". Natural prose has
        # about 5 characters per word and is covered by the n-gram test above, so zlib runs only on the odd text.
        # Past the window, compressibility of the whole text stands in for the word statistics.
        not_prose = len(window) > LONG_WORD_CHARS * max(1, len(words))
        if len(response) > 200 and (not_prose or len(response) > WINDOW_CHARS):
            s = clamp((_compressibility(response) - 0.7) / 0.2)
            if s > best:
                best, evidence = s, low[:80]
        if best == 0.0 or evidence is None:
            return 0.0, None
        start = low.find(evidence)
        if start < 0 or len(low) != len(response):  # lower() changed lengths: point at the start
            start = 0
        return best, make_span("response", response, start, start + len(evidence))
