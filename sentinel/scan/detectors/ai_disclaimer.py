"""ai_disclaimer: "As an AI language model, ..." and similar disclaimers that add no information."""

from __future__ import annotations

from ...phrases import AI_DISCLAIMERS
from ...report import Severity
from .base import Detector, Gated, clamp, lowered, match_span, needs, phrase_pattern, register

_A = "['’]"
_MODEL = r"(?:ai|artificial intelligence|(?:large )?language model|llm|ai (?:assistant|model|language model))"
_DISCLAIMER = Gated(
    phrase_pattern(p.rstrip(", ") for p in AI_DISCLAIMERS) + "|"
    + rf"\bas an? {_MODEL}\b|"
    + rf"\bi(?:{_A}m| am) (?:just |only |merely )?an? {_MODEL}\b|"
    + rf"\bi (?:don{_A}t|do not) have (?:personal )?(?:opinions|feelings|emotions|beliefs|a body)\b",
    # every alternative contains one of these
    ("an ai", "a ai", "an artificial", "language model", "an llm", "a llm", "have personal", "have opinions",
     "have feelings", "have emotions", "have beliefs", "have a body", "only an ai", "just an ai", "only an ai"),
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
    needs = needs(response=[_DISCLAIMER])

    def score(self, prompt: str, response: str):
        hits = list(_DISCLAIMER.finditer(lowered(response)))
        if not hits:
            return 0.0, None
        return clamp(0.7 + 0.15 * (len(hits) - 1)), match_span("response", response, hits[0])
