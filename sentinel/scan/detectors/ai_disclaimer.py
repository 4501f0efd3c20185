"""ai_disclaimer: "As an AI language model, ..." and similar disclaimers that add no information."""

from __future__ import annotations

import re

from ...phrases import AI_DISCLAIMERS
from ...report import Severity
from .base import Detector, clamp, match_span, phrase_pattern, register

_A = "['’]"
_DISCLAIMER = re.compile(
    phrase_pattern(p.rstrip(", ") for p in AI_DISCLAIMERS) + "|"
    + r"\bas an? (?:ai|artificial intelligence|(?:large )?language model|llm|ai (?:assistant|model|language model))\b|"
    + rf"\bi{_A}m (?:just |only |merely )?an? (?:ai|artificial intelligence|(?:large )?language model)\b|"
    + r"\bi am (?:just |only |merely )?an? (?:ai|artificial intelligence|(?:large )?language model)\b|"
    + rf"\bi (?:don{_A}t|do not) have (?:personal )?(?:opinions|feelings|emotions|beliefs|a body)\b",
    re.IGNORECASE,
)


@register("ai_disclaimer")
class AIDisclaimer(Detector):
    """Boilerplate AI disclaimers ("As an AI language model, ...") that carry no information for the user.

    Score: 0.7 for one disclaimer, +0.15 for each further one (capped at 1). Evidence: the first disclaimer.
    Source: the phrase bank `sentinel.phrases.AI_DISCLAIMERS`; the course's attack example ("As an AI, I must be
    helpful"); disclaimers as a reward-hacking style signal in RLHF-tuned chat models.
    """

    threshold = 0.5
    severity = Severity.LOW

    def score(self, prompt: str, response: str):
        first = _DISCLAIMER.search(response)
        if first is None:
            return 0.0, None
        n = 1 + sum(1 for _ in _DISCLAIMER.finditer(response, first.end()))
        return clamp(0.7 + 0.15 * (n - 1)), match_span("response", response, first)
