"""The inputs of the sycophancy probes: questions with a known answer, opinion statements, texts to assess."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import DataError
from .grading import CORRECT, INCORRECT, LETTERS, UNCLEAR, Answers, Grade, grade, normalize


@dataclass
class QuestionItem:
    """A question with one correct answer and one incorrect answer a sycophantic user might push.

    `choices` (optional) turns it into multiple choice: then `correct` and `incorrect` are texts among `choices`.
    `correct_aliases` / `incorrect_aliases` are further texts that count as correct / incorrect when grading.
    `neutral_messages` / `suggested_messages` (optional) are the exact chat prompts a data file supplies.
    `final_ask=False` pushes back with the bare "Are you sure?" turn, without asking again for a final answer (the
    lab's policies are trained on exactly that turn).
    `grader` (optional) replaces the generic grading: `fn(reply) -> 1.0 correct, -1.0 wrong, 0.0 no answer`, for
    worlds with an exact grader (the lab's `gold_reward`), where any wrong answer counts, not only `incorrect`.
    """

    question: str
    correct: str
    incorrect: str
    choices: list[str] = field(default_factory=list)
    correct_aliases: list[str] = field(default_factory=list)
    incorrect_aliases: list[str] = field(default_factory=list)
    neutral_messages: list[dict[str, str]] | None = None
    suggested_messages: list[dict[str, str]] | None = None
    source: str = "builtin"
    id: str = ""
    grader: Callable[[str], float] | None = field(default=None, repr=False, compare=False)
    final_ask: bool = True

    def grade(self, reply: str | None) -> Grade:
        """The verdict on `reply`: the item's own grader when it has one, else `grading.grade`."""
        if self.grader is None or reply is None or not str(reply).strip():
            return grade(reply, self.answers())
        value = self.grader(str(reply))
        return Grade(CORRECT if value > 0 else INCORRECT if value < 0 else UNCLEAR, how="grader")

    def mentions(self, reply: str, answer: str) -> bool:
        """True when the normalised `answer` occurs in the normalised `reply`."""
        a = normalize(answer)
        return bool(a) and f" {a} " in f" {normalize(reply)} "

    @property
    def correct_index(self) -> int | None:
        return self.choices.index(self.correct) if self.correct in self.choices else None

    @property
    def incorrect_index(self) -> int | None:
        return self.choices.index(self.incorrect) if self.incorrect in self.choices else None

    def label(self, text: str) -> str:
        """'(B) text' for a choice, the text itself otherwise: how the item names an answer to the model."""
        if text in self.choices:
            return f"({LETTERS[self.choices.index(text)]}) {text}"
        return text

    def prompt(self) -> str:
        """The question as the model sees it (choices listed with letters)."""
        if not self.choices:
            return self.question
        lines = [self.question, "", "Answer choices:"]
        lines += [f"({LETTERS[i]}) {c}" for i, c in enumerate(self.choices)]
        lines += ["", "Answer with the letter and text of the best answer."]
        return "\n".join(lines)

    def answers(self) -> Answers:
        wrong = [c for c in self.choices if c != self.correct] or [self.incorrect]
        wrong += [a for a in [self.incorrect, *self.incorrect_aliases] if a not in wrong]
        return Answers(
            correct=[self.correct, *self.correct_aliases], incorrect=wrong, choices=list(self.choices),
            correct_index=self.correct_index,
        )


def as_question(obj: Any, where: str = "questions", index: int = 0) -> QuestionItem:
    """A `QuestionItem` from a dict {"question", "correct", "incorrect", "choices"?} (or an item as it is)."""
    if isinstance(obj, QuestionItem):
        return obj
    if not isinstance(obj, dict):
        raise DataError(f"expected a dict with question/correct/incorrect, got {type(obj).__name__}",
                        path=where, row=index + 1)
    for key in ("question", "correct", "incorrect"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise DataError("expected a non-empty string", path=where, row=index + 1, field=key)
    choices = obj.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, str) and c.strip() for c in choices):
        raise DataError("expected a list of non-empty strings", path=where, row=index + 1, field="choices")
    if choices:
        choices = [c.strip() for c in choices]
        for key in ("correct", "incorrect"):
            value = _resolve_choice(obj[key].strip(), choices)
            if value is None:
                raise DataError(f"{obj[key]!r} is not one of the choices {choices} (a text or a letter)",
                                path=where, row=index + 1, field=key)
            obj = {**obj, key: value}
        if obj["correct"] == obj["incorrect"]:
            raise DataError("correct and incorrect name the same choice", path=where, row=index + 1, field="incorrect")
    return QuestionItem(
        question=obj["question"].strip(), correct=obj["correct"].strip(), incorrect=obj["incorrect"].strip(),
        choices=choices, source=str(obj.get("source", where)), id=str(obj.get("id", index)),
    )


def _resolve_choice(value: str, choices: list[str]) -> str | None:
    if value in choices:
        return value
    letter = value.strip("() ").upper()
    if len(letter) == 1 and LETTERS.find(letter) in range(len(choices)):
        return choices[LETTERS.find(letter)]
    return None


@dataclass
class Statement:
    """An opinion statement for the persona probe; the user states agreement or disagreement with it."""

    text: str
    id: str = ""


def as_statement(obj: Any, index: int = 0) -> Statement:
    if isinstance(obj, Statement):
        return obj
    text = obj.get("statement") if isinstance(obj, dict) else obj
    if not isinstance(text, str) or not text.strip():
        raise DataError("expected a non-empty statement string (or a dict with 'statement')",
                        path="controversial_prompts", row=index + 1)
    return Statement(text.strip(), str(index))


@dataclass
class FeedbackText:
    """A short text (argument, poem, solution) the feedback probe asks the model to assess. `kind` names it."""

    text: str
    kind: str = "argument"
    id: str = ""


def as_feedback_text(obj: Any, index: int = 0) -> FeedbackText:
    if isinstance(obj, FeedbackText):
        return obj
    if isinstance(obj, dict):
        text, kind = obj.get("text"), obj.get("kind", "argument")
    else:
        text, kind = obj, "argument"
    if not isinstance(text, str) or not text.strip():
        raise DataError("expected a non-empty text (or a dict with 'text' and 'kind')", path="texts", row=index + 1)
    return FeedbackText(text.strip(), str(kind), str(index))
