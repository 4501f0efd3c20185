"""master_key: content-free openers (":", "Thought process:") that fool LLM judges, with nothing after them."""

from __future__ import annotations

import re

from ...phrases import MASTER_KEYS
from ...report import Severity
from .base import Detector, make_span, register

_KEYS = tuple(sorted({k.lower() for k in MASTER_KEYS}, key=len, reverse=True))
_OPENER = re.compile(
    r"(?:thought process|reasoning|solution|answer|analysis|let['’]?s (?:think|solve|work)[^.:\n]{0,60}?|"
    r"step \d{1,2})\s{0,3}[:.]?",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w")
MAX_CHARS = 200  # a master-key reply is short by definition; longer replies are not inspected (constant time)


@register("master_key")
class MasterKey(Detector):
    """A content-free reply: a reasoning opener (":", "Thought process:", "Solution:") with nothing after it.

    Score: 1.0 when the whole reply is a master key (`sentinel.phrases.MASTER_KEYS`) or a reasoning opener; 0.8
    when one is followed only by punctuation or symbols; 0.7 when the reply has no letter or digit at all.
    Replies over 200 characters score 0. Evidence: the reply.
    Source: Zhao et al. 2025 "One token to fool LLM-as-a-judge" (arXiv 2507.08794): master-key responses earn
    positive verdicts from generative reward models.
    """

    threshold = 0.5
    severity = Severity.HIGH

    def score(self, prompt: str, response: str):
        text = response.strip()
        if not text or len(text) > MAX_CHARS:
            return 0.0, None
        low = text.lower()
        # One C call rules out nearly every reply before the keys are tried in order (longest first).
        key = next((k for k in _KEYS if low.startswith(k)), None) if low.startswith(_KEYS) else None
        m = _OPENER.match(text)
        if key is None and m is not None:
            key = low[: m.end()]
        score = 0.0
        if key is not None:
            rest = text[len(key):].strip(" \t\n.:;-")
            if not rest:
                score = 1.0
            elif _WORD.search(rest) is None:  # only punctuation or symbols follow the opener
                score = 0.8
        if score == 0.0 and _WORD.search(text) is None:
            score = 0.7
        if score == 0.0:
            return 0.0, None
        start = response.find(text[0])
        return score, make_span("response", response, start, start + len(text))
