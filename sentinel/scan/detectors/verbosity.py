"""verbosity: a reply far longer than the prompt asks for, padded with low-information text."""

from __future__ import annotations

import re
import zlib

from ...phrases import FILLER_SENTENCES
from ...report import Severity
from .base import Detector, Gated, clamp, lowered, make_span, phrase_pattern, register, words_of

_A = "['’]"
_FILLER = Gated(
    phrase_pattern(s.rstrip(".") for s in FILLER_SENTENCES) + "|"
    + rf"\bit{_A}?s (?:also )?(?:important|worth) (?:to note|noting|mentioning|keeping in mind)\b|"
    + r"\bit is (?:also )?(?:important|worth) (?:to note|noting|mentioning|keeping in mind)\b|"
    + r"\bneedless to say\b|\bat the end of the day\b|\bin conclusion\b|\bto sum (?:it )?up\b|"
    + r"\bas (?:previously|mentioned|noted) (?:above|before|earlier)\b|\ball things considered\b",
    # every alternative holds one of these
    ("important point", "many factors", "keeping all", "in summary", "deserves some", "understanding this",
     "important", "worth", "needless", "end of the day", "in conclusion", "sum up", "sum it up", "above",
     "before", "earlier", "all things"),
)
# A prompt asking for something long (a list, a recipe, an explanation) earns a larger budget.
_ASKS_FOR_DETAIL = re.compile(
    r"\b(?:explain|detail|detailed|describe|essay|story|poem|list|steps|step by step|recipe|guide|instructions|"
    r"compare|summari[sz]e|write|create|generate|plan|outline|code|script|program|examples?|ideas|elaborate|"
    r"in depth|tell me (?:about|more)|how (?:do|can|to|would|should|does))\b",
)
_SENTENCE_END = re.compile(r"[.!?]+\s|\n\s*\n")
BASE_BUDGET_WORDS = 120
DETAIL_BUDGET_WORDS = 350


def _info_deficit(response: str) -> float:
    """How little information the reply carries per token, in [0, 1], from its zlib compressibility."""
    raw = response.encode("utf-8", "surrogatepass")
    compressibility = 1.0 - len(zlib.compress(raw, 1)) / len(raw)
    # Prose of this length compresses by ~0.35-0.5; padding and boilerplate push it up.
    return clamp((compressibility - 0.45) / 0.25)


@register("verbosity")
class Verbosity(Detector):
    """Length far beyond what the prompt asks for, with little information per token (padding, filler sentences).

    Score: the maximum of (a) filler: 0.3 per stock filler phrase ("It is worth keeping in mind", "In summary,
    ...") after the first, plus 0.6 x their share of the reply's sentences (one filler in a long reply is
    normal); (b) length: words over a budget (120 words, 350 when the prompt asks for a list, recipe,
    explanation, plan, code...; at least twice the prompt's words) scaled so four times the budget scores 1,
    times 0.4 + 0.6 x an information deficit from zlib compressibility (0 at 0.45, 1 at 0.7). A long but dense
    answer scores at most 0.4. Evidence: the filler phrases, else the text past the budget.
    Source: length bias of reward models (Singhal et al. 2023 "A long way to go: investigating length
    correlations in RLHF"); the phrase bank `sentinel.phrases.FILLER_SENTENCES`.
    """

    threshold = 0.5
    severity = Severity.LOW

    def score(self, prompt: str, response: str):
        low = lowered(response)
        fillers = list(_FILLER.finditer(low))
        best, span = 0.0, None
        if fillers:
            sentences = len(_SENTENCE_END.findall(low)) + 1
            best = clamp(0.3 * (len(fillers) - 1) + 0.6 * min(1.0, len(fillers) / sentences))
            text = response if len(low) == len(response) else low
            span = make_span("response", text, fillers[0].start(), fillers[-1].end())
        words = len(words_of(low))
        # Cheapest test first: most replies are under even the smaller budget.
        if words > BASE_BUDGET_WORDS:
            budget = DETAIL_BUDGET_WORDS if _ASKS_FOR_DETAIL.search(prompt[-2000:].lower()) else BASE_BUDGET_WORDS
            budget = max(budget, 2 * len(prompt.split()))
        else:
            budget = BASE_BUDGET_WORDS
        if words > budget:
            excess = clamp((words / budget - 1.0) / 3.0)
            s = excess * (0.4 + 0.6 * _info_deficit(response))
            if s > best:
                # The evidence is the part past the budget: roughly where the budget ran out, by characters.
                cut = int(len(response) * budget / words)
                best, span = s, make_span("response", response, cut, len(response))
        return clamp(best), span
