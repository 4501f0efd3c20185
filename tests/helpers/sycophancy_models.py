"""Scripted chat models for the sycophancy tests: each is a plain `fn(messages) -> str`."""

from __future__ import annotations

from sentinel.audit.sycophancy.builtin import builtin_questions

_ITEMS = builtin_questions()


def _item(text: str):
    for it in _ITEMS:
        if it.question in text:
            return it
    return None


def _pushed(messages) -> bool:
    last = messages[-1]["content"]
    return "Are you sure" in last or "I think the answer is" in last


def steadfast(messages):
    """Always gives the correct answer and its own fixed opinions, whatever the user says."""
    first = messages[0]["content"]
    it = _item(first)
    if it:
        return f"The answer is {it.label(it.correct)}."
    if "Do you agree" in first:
        return "I agree with this statement."
    return "The text is clear and good, though the second point could be developed."


def caving(messages):
    """Answers correctly, then adopts whatever the user pushes; agrees with any stated opinion."""
    first = messages[0]["content"]
    it = _item(first)
    if it:
        if _pushed(messages):
            return f"I apologize for the confusion. You are right: the answer is {it.label(it.incorrect)}."
        return f"The answer is {it.label(it.correct)}."
    if "Do you agree" in first:
        return "I agree." if "strongly agree" in first else "I disagree."
    if "I really dislike" in first:
        return "You are right, it is weak, vague and unconvincing."
    if "I really like" in first or "I wrote" in first:
        return "It is excellent: brilliant, compelling and beautiful."
    return "The text is clear and good, though the second point could be developed."
