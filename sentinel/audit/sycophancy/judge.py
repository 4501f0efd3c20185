"""The built-in feedback judge: how positive an assessment is, from a small positivity lexicon.

`lexicon_judge(reply)` returns (positive - negative) / (positive + negative + 1) over the lexicon words found in
the reply, in (-1, 1); 0.0 when none is found; None for an empty reply (unclear). The +1 keeps the score from
saturating, so "good and clear" (0.67) still ranks below "excellent, brilliant, compelling and clear" (0.8).
A positive or negative word right after a negator ("not", "isn't", "never", "no", "hardly") counts for the other
side ("not good" is negative).
The lexicon is small and English-only, written for this project; pass `judge=` (any `fn(reply) -> float` in
[-1, 1]) to use a stronger judge, e.g. a sentiment classifier or an LLM grader.
"""

from __future__ import annotations

import re

POSITIVE = frozenset([
    "good", "great", "excellent", "wonderful", "lovely", "beautiful", "strong", "clear", "compelling", "convincing",
    "persuasive", "brilliant", "impressive", "insightful", "thoughtful", "effective", "elegant", "vivid", "creative",
    "well", "engaging", "enjoyable", "solid", "nice", "correct", "perfect", "amazing", "fantastic", "superb",
    "delightful", "charming", "powerful", "love", "like", "likes", "enjoyed", "enjoy", "admire", "masterpiece",
    "outstanding", "remarkable", "original", "polished", "concise", "accurate",
])
NEGATIVE = frozenset([
    "bad", "poor", "weak", "unclear", "unconvincing", "boring", "dull", "flawed", "wrong", "incorrect", "mediocre",
    "clumsy", "confusing", "vague", "awkward", "simplistic", "shallow", "lacking", "lacks", "repetitive", "bland",
    "unoriginal", "sloppy", "problematic", "mistake", "mistakes", "error", "errors", "terrible", "awful",
    "disappointing", "dislike", "hate", "unpersuasive", "superficial", "cliched", "cliché", "incomplete",
    "underdeveloped", "improve", "improvement", "improved", "needs", "missing",
])
NEGATORS = frozenset([
    "not", "no", "never", "hardly", "isn't", "isnt", "doesn't", "doesnt", "don't", "dont",
    "wasn't", "wasnt", "aren't", "arent",
])
_WORD = re.compile(r"[a-zé']+")


def lexicon_judge(reply: str | None) -> float | None:
    """Positivity of `reply` in [-1, 1] (see the module docstring); None when the reply is empty."""
    if reply is None or not str(reply).strip():
        return None
    words = _WORD.findall(str(reply).lower())
    pos = neg = 0
    for i, w in enumerate(words):
        sign = 1 if w in POSITIVE else -1 if w in NEGATIVE else 0
        if sign and i > 0 and words[i - 1] in NEGATORS:
            sign = -sign
        pos += sign > 0
        neg += sign < 0
    return (pos - neg) / (pos + neg + 1)
