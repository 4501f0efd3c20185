"""Reading PPO prompts: a list of strings, or rows of a data file / Dataset with a prompt-like field."""

from __future__ import annotations

from typing import Any

from ...data import read_rows
from ...data.formats import simple_prompt
from ...errors import DataError

PROMPT_FIELDS = ("prompt", "query", "instruction", "question", "text")


def _is_messages(x: Any) -> bool:
    return isinstance(x, list) and bool(x) and all(isinstance(m, dict) for m in x)


def _row_prompt(row: dict[str, Any]) -> Any:
    for name in PROMPT_FIELDS:
        if name in row:
            return name, row[name]
    if "messages" in row:  # a conversation: the prompt is every turn before the last assistant turn
        msgs = row["messages"]
        if isinstance(msgs, list) and msgs and isinstance(msgs[-1], dict) and msgs[-1].get("role") == "assistant":
            msgs = msgs[:-1]
        return "messages", msgs
    return None, None


def load_prompts(source: Any) -> list[str | list[dict]]:
    """Prompts from a list of strings, a file (JSONL/JSON/CSV/...), a list of dicts or a Dataset.

    A row gives its prompt in one of the fields prompt / query / instruction / question / text (a string or a
    list of chat messages ending with a user turn), or as `messages` (the turns before the last assistant turn).
    A single user turn becomes its text; a conversation (an earlier answer, then the user's pushback) stays a list
    of messages, which the trainer renders turn by turn with the chat template (a conversational prompt).
    Raises DataError naming the file, line and field of the first row without a usable prompt.
    """
    if isinstance(source, (list, tuple)) and all(isinstance(p, str) or _is_messages(p) for p in source):
        prompts = []
        for i, p in enumerate(source, start=1):
            if isinstance(p, str) and not p.strip():
                raise DataError("prompt is empty", path="<list>", row=i, field="prompt")
            try:
                prompts.append(p if isinstance(p, str) else simple_prompt(p))
            except DataError as e:
                raise DataError(e.reason, path="<list>", row=i, field="prompt") from None
        if not prompts:
            raise DataError("no prompts given; expected at least one")
        return prompts
    rows = read_rows(source)
    prompts = []
    for row, loc in zip(rows.rows, rows.locations):
        where: dict[str, Any] = {"path": rows.source, rows.unit: loc}
        name, value = _row_prompt(row)
        if name is None:
            raise DataError(f"no prompt field; expected one of {', '.join(PROMPT_FIELDS)} or messages", **where)
        if isinstance(value, list):
            if not value or not all(isinstance(m, dict) and "content" in m and "role" in m for m in value):
                raise DataError("expected a list of {role, content} messages", field=name, **where)
            try:
                value = simple_prompt(value)
            except DataError as e:
                raise DataError(e.reason, field=name, **where) from None
            if isinstance(value, list):
                prompts.append(value)
                continue
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"expected a non-empty string, got {value!r:.60}", field=name, **where)
        prompts.append(value)
    return prompts
