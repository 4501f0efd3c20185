"""Recognising and converting instruction and preference data.

Canonical shapes inside sentinel:
- a conversation: `{"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}`
  ending with an assistant turn (instruction data);
- a preference pair: `{"prompt": [messages ending with a user turn], "chosen": str, "rejected": str}`.
Each recognised source format has a function to the canonical shape; writers turn the canonical shape into
every output format `sentinel data convert --to` offers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..errors import DataError

ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant"}
OASST_ROLES = {"prompter": "user", "assistant": "assistant"}

INSTRUCTION_FORMATS = ("alpaca", "alpaca_seed", "prompt_completion", "prompt_response", "messages",
                       "sharegpt", "oasst_tree", "text")
PREFERENCE_FORMATS = ("preference", "preference_chat", "preference_implicit", "hh")


class RowError(Exception):
    """Raised by a converter for one bad row; the loader turns it into a DataError with file and line."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def detect_format(row: dict[str, Any]) -> str:
    """The format of one row, from its keys. Raises RowError listing the known formats when none fits."""
    keys = set(row)
    if "messages" in keys:
        return "messages"
    if "conversations" in keys:
        return "sharegpt"
    if "message_id" in keys and "replies" in keys:
        return "oasst_tree"
    if {"chosen", "rejected"} <= keys:
        if "prompt" in keys:
            return "preference_chat" if isinstance(row["prompt"], list) else "preference"
        if isinstance(row["chosen"], list):
            return "preference_implicit"
        return "hh"
    if "instruction" in keys and "instances" in keys:
        return "alpaca_seed"
    if {"instruction", "output"} <= keys:
        return "alpaca"
    if {"prompt", "completion"} <= keys:
        return "prompt_completion"
    if {"prompt", "response"} <= keys:
        return "prompt_response"
    if "text" in keys:
        return "text"
    raise RowError(
        f"unrecognised row with keys {sorted(keys)}; expected instruction data (instruction/input/output, "
        "prompt/completion, prompt/response, messages, conversations, an OpenAssistant tree, text) or preference data "
        "(prompt/chosen/rejected, or HH-RLHF chosen/rejected dialogues)"
    )


def _text(row: dict, field: str, *, allow_empty: bool = False) -> str:
    if field not in row:
        raise RowError("missing field; expected a string", field)
    v = row[field]
    if not isinstance(v, str):
        raise RowError(f"expected a string, got {type(v).__name__}", field)
    if not allow_empty and not v.strip():
        raise RowError("empty string; expected text", field)
    return v


def _check_messages(msgs: Any, field: str) -> list[dict[str, str]]:
    if not isinstance(msgs, list) or not msgs:
        raise RowError(f"expected a non-empty list of {{role, content}} messages, got {type(msgs).__name__}", field)
    out = []
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise RowError(f"message {i} must be an object with 'role' and 'content'", f"{field}[{i}]")
        if m["role"] not in ROLES:
            raise RowError(f"message {i} has role {m['role']!r}; expected one of {ROLES}", f"{field}[{i}].role")
        if not isinstance(m["content"], str):
            raise RowError(f"message {i} content must be a string", f"{field}[{i}].content")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _require_final_assistant(msgs: list[dict], field: str) -> list[dict]:
    if msgs[-1]["role"] != "assistant":
        raise RowError("the conversation must end with an assistant turn (the reply to train on)", field)
    if not msgs[-1]["content"].strip():
        raise RowError("the final assistant reply is empty", field)
    if not any(m["role"] == "user" for m in msgs):
        raise RowError("the conversation has no user turn", field)
    return msgs


# ---------------------------------------------------------------- instruction formats -> conversations
def alpaca_to_conversations(row: dict) -> list[dict]:
    instruction = _text(row, "instruction")
    inp = _text(row, "input", allow_empty=True) if "input" in row else ""
    output = _text(row, "output")
    user = f"{instruction}\n\n{inp}" if inp.strip() else instruction
    return [{"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": output}]}]


def alpaca_seed_to_conversations(row: dict) -> list[dict]:
    instances = row.get("instances")
    if not isinstance(instances, list) or not instances:
        raise RowError("expected a non-empty list of {input, output}", "instances")
    out = []
    for i, inst in enumerate(instances):
        if not isinstance(inst, dict):
            raise RowError("expected an object with input and output", f"instances[{i}]")
        try:
            out += alpaca_to_conversations({"instruction": row.get("instruction"), **inst})
        except RowError as e:
            raise RowError(str(e), e.field if e.field == "instruction" else f"instances[{i}].{e.field}") from None
    return out


def prompt_completion_to_conversations(row: dict) -> list[dict]:
    p, c = row.get("prompt"), row.get("completion")
    if isinstance(p, list):
        msgs = _check_messages(p, "prompt") + _check_messages(c, "completion")
        return [{"messages": _require_final_assistant(msgs, "completion")}]
    prompt, completion = _text(row, "prompt"), _text(row, "completion")
    return [{"messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]}]


def prompt_response_to_conversations(row: dict) -> list[dict]:
    """`{"prompt", "response"}`, the commonest layout of generated data: the prompt as the user turn (a string, or
    chat messages ending with a user turn) and the response as the assistant reply (a string, or one assistant
    message)."""
    p = row.get("prompt")
    if isinstance(p, list):
        prompt = _check_messages(p, "prompt")
    else:
        prompt = [{"role": "user", "content": _text(row, "prompt")}]
    if prompt[-1]["role"] != "user":
        raise RowError("the prompt must end with a user turn", "prompt")
    r = row.get("response")
    reply = _reply(r, "response") if isinstance(r, list) else _text(row, "response")
    if not reply.strip():
        raise RowError("empty reply; expected text", "response")
    return [{"messages": prompt + [{"role": "assistant", "content": reply}]}]


def messages_to_conversations(row: dict) -> list[dict]:
    return [{"messages": _require_final_assistant(_check_messages(row["messages"], "messages"), "messages")}]


def sharegpt_to_conversations(row: dict) -> list[dict]:
    conv = row["conversations"]
    if not isinstance(conv, list) or not conv:
        raise RowError("expected a non-empty list of {from, value} turns", "conversations")
    msgs = []
    for i, turn in enumerate(conv):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            raise RowError("each turn must be an object with 'from' and 'value'", f"conversations[{i}]")
        role = SHAREGPT_ROLES.get(str(turn["from"]).lower())
        if role is None:
            raise RowError(f"unknown speaker {turn['from']!r}; expected one of {sorted(SHAREGPT_ROLES)}",
                           f"conversations[{i}].from")
        if not isinstance(turn["value"], str):
            raise RowError("expected a string", f"conversations[{i}].value")
        msgs.append({"role": role, "content": turn["value"]})
    return [{"messages": _require_final_assistant(msgs, "conversations")}]


def oasst_tree_to_conversations(row: dict, *, include_deleted: bool = False) -> list[dict]:
    """Every root-to-leaf path of an OpenAssistant message tree that ends with an assistant reply.

    Deleted messages (and their subtrees) are left out unless `include_deleted`; paths that end on a
    prompter message are cut back to their last assistant reply (duplicates of a shorter path are not repeated).
    """
    out: list[dict] = []
    seen: set[tuple] = set()

    def walk(node: dict, path: list[dict], depth: str) -> None:
        if not isinstance(node, dict) or "text" not in node or "role" not in node:
            raise RowError("each message must have 'text' and 'role'", depth or "root")
        if node.get("deleted") and not include_deleted:
            return
        role = OASST_ROLES.get(node["role"])
        if role is None:
            raise RowError(f"unknown role {node['role']!r}; expected prompter or assistant", f"{depth}.role")
        path = path + [{"role": role, "content": node["text"]}]
        children = [c for c in node.get("replies") or [] if include_deleted or not c.get("deleted")]
        if not children:
            while path and path[-1]["role"] != "assistant":
                path = path[:-1]
            key = tuple((m["role"], m["content"]) for m in path)
            if path and key not in seen and any(m["role"] == "user" for m in path):
                seen.add(key)
                out.append({"messages": path})
            return
        for i, child in enumerate(children):
            walk(child, path, f"{depth}.replies[{i}]" if depth else f"replies[{i}]")

    walk(row, [], "")
    if not out:
        raise RowError("the tree has no assistant reply", "replies")
    return out


def text_to_conversations(row: dict) -> list[dict]:
    return [{"text": _text(row, "text")}]


INSTRUCTION_CONVERTERS: dict[str, Callable[[dict], list[dict]]] = {
    "alpaca": alpaca_to_conversations,
    "alpaca_seed": alpaca_seed_to_conversations,
    "prompt_completion": prompt_completion_to_conversations,
    "prompt_response": prompt_response_to_conversations,
    "messages": messages_to_conversations,
    "sharegpt": sharegpt_to_conversations,
    "oasst_tree": oasst_tree_to_conversations,
    "text": text_to_conversations,
}

# ---------------------------------------------------------------- preference formats -> pairs
_HH_TURN = re.compile(r"(?:^|\n\n)(Human|Assistant):[ ]?")


def parse_hh_dialogue(text: str, field: str) -> list[dict]:
    """Split an HH-RLHF dialogue string ("\\n\\nHuman: ...\\n\\nAssistant: ...") into messages."""
    if not isinstance(text, str):
        raise RowError(f"expected a dialogue string, got {type(text).__name__}", field)
    parts = _HH_TURN.split(text)
    if len(parts) < 3 or parts[0].strip():
        raise RowError('expected a dialogue of "\\n\\nHuman: ..." and "\\n\\nAssistant: ..." turns', field)
    msgs = []
    for speaker, content in zip(parts[1::2], parts[2::2]):
        msgs.append({"role": "user" if speaker == "Human" else "assistant", "content": content.strip()})
    return msgs


def _pair(prompt: list[dict], chosen: str, rejected: str) -> dict:
    if not prompt or prompt[-1]["role"] != "user":
        raise RowError("the prompt must end with a user turn", "prompt")
    if not chosen.strip():
        raise RowError("empty reply; expected text", "chosen")
    if not rejected.strip():
        raise RowError("empty reply; expected text", "rejected")
    if chosen.strip() == rejected.strip():
        raise RowError("chosen and rejected are identical, so the pair carries no preference", "rejected")
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected}


def hh_to_pairs(row: dict) -> list[dict]:
    if row["chosen"] == row["rejected"]:
        raise RowError("chosen and rejected are identical, so the pair carries no preference", "rejected")
    c = parse_hh_dialogue(row["chosen"], "chosen")
    r = parse_hh_dialogue(row["rejected"], "rejected")
    if c[-1]["role"] != "assistant":
        raise RowError("the dialogue must end with an Assistant reply", "chosen")
    if r[-1]["role"] != "assistant":
        raise RowError("the dialogue must end with an Assistant reply", "rejected")
    if c[:-1] != r[:-1]:
        raise RowError("chosen and rejected do not share the same dialogue before their final replies", "rejected")
    return [_pair(c[:-1], c[-1]["content"], r[-1]["content"])]


def preference_to_pairs(row: dict) -> list[dict]:
    prompt = _text(row, "prompt")
    return [_pair([{"role": "user", "content": prompt}], _text(row, "chosen"), _text(row, "rejected"))]


def _reply(value: Any, field: str) -> str:
    if isinstance(value, str):
        return value
    msgs = _check_messages(value, field)
    if len(msgs) != 1 or msgs[0]["role"] != "assistant":
        raise RowError("expected exactly one assistant message", field)
    return msgs[0]["content"]


def preference_chat_to_pairs(row: dict) -> list[dict]:
    prompt = _check_messages(row["prompt"], "prompt")
    return [_pair(prompt, _reply(row["chosen"], "chosen"), _reply(row["rejected"], "rejected"))]


def preference_implicit_to_pairs(row: dict) -> list[dict]:
    c = _check_messages(row["chosen"], "chosen")
    r = _check_messages(row["rejected"], "rejected")
    if c[:-1] != r[:-1]:
        raise RowError("chosen and rejected do not share the same conversation before their final replies", "rejected")
    for msgs, f in ((c, "chosen"), (r, "rejected")):
        if msgs[-1]["role"] != "assistant":
            raise RowError("must end with an assistant reply", f)
    return [_pair(c[:-1], c[-1]["content"], r[-1]["content"])]


PREFERENCE_CONVERTERS: dict[str, Callable[[dict], list[dict]]] = {
    "preference": preference_to_pairs,
    "preference_chat": preference_chat_to_pairs,
    "preference_implicit": preference_implicit_to_pairs,
    "hh": hh_to_pairs,
}

# ---------------------------------------------------------------- writers: canonical -> output formats
def render_transcript(messages: list[dict]) -> str:
    """A conversation as plain text in the HH style, for plain-string prompts with more than one turn."""
    names = {"user": "Human", "assistant": "Assistant", "system": "System"}
    return "\n\n".join(f"{names[m['role']]}: {m['content']}" for m in messages)


def prompt_text(prompt: list[dict]) -> str:
    """A prompt (messages ending with a user turn) as one string: the user text alone for a single turn."""
    if len(prompt) == 1:
        return prompt[0]["content"]
    return render_transcript(prompt)


def as_messages(prompt: Any) -> list[dict[str, str]]:
    """A prompt as chat messages ending with a user turn: a string becomes one user turn; a list of {role, content}
    messages (a conversational prompt: earlier turns, then the user's last one) is checked and kept as it is.
    Raises DataError naming the field when it is neither."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    try:
        msgs = _check_messages(prompt, "prompt")
    except RowError as e:
        raise DataError(str(e), field=e.field) from None
    if msgs[-1]["role"] != "user":
        raise DataError("a conversational prompt must end with a user turn", field="prompt")
    return msgs


def simple_prompt(prompt: Any) -> Any:
    """A prompt in its simplest faithful form: a single user turn as its text, several turns as the messages."""
    msgs = as_messages(prompt)
    return msgs[0]["content"] if len(msgs) == 1 else msgs


def _single_turn(messages: list[dict], target: str) -> tuple[str, str]:
    if len(messages) != 2 or messages[0]["role"] != "user":
        raise RowError(f"'{target}' holds single-turn examples only; this conversation has {len(messages)} turns; "
                       "use --to messages or sharegpt", "messages")
    return messages[0]["content"], messages[1]["content"]


def conversation_to(conv: dict, target: str) -> dict:
    if "text" in conv:
        if target != "text":
            raise RowError(f"plain-text rows cannot be converted to '{target}'", "text")
        return {"text": conv["text"]}
    msgs = conv["messages"]
    if target == "messages":
        return {"messages": msgs}
    if target == "sharegpt":
        names = {"user": "human", "assistant": "gpt", "system": "system"}
        return {"conversations": [{"from": names[m["role"]], "value": m["content"]} for m in msgs]}
    if target == "prompt_completion":
        if len(msgs) == 2 and msgs[0]["role"] == "user":
            return {"prompt": msgs[0]["content"], "completion": msgs[1]["content"]}
        return {"prompt": msgs[:-1], "completion": [msgs[-1]]}
    if target == "prompt_response":
        if len(msgs) == 2 and msgs[0]["role"] == "user":
            return {"prompt": msgs[0]["content"], "response": msgs[1]["content"]}
        if msgs[-2]["role"] != "user":
            raise RowError("'prompt_response' needs the reply to follow a user turn", "messages")
        return {"prompt": msgs[:-1], "response": msgs[-1]["content"]}
    if target == "alpaca":
        user, reply = _single_turn(msgs, target)
        return {"instruction": user, "input": "", "output": reply}
    if target == "text":
        return {"text": render_transcript(msgs)}
    raise RowError(f"unknown instruction target format '{target}'")


def pair_to(pair: dict, target: str) -> dict:
    if target == "preference":
        return {"prompt": prompt_text(pair["prompt"]), "chosen": pair["chosen"], "rejected": pair["rejected"]}
    if target == "preference_chat":
        return {"prompt": pair["prompt"], "chosen": [{"role": "assistant", "content": pair["chosen"]}],
                "rejected": [{"role": "assistant", "content": pair["rejected"]}]}
    if target == "hh":
        prefix = "".join(f"\n\n{'Human' if m['role'] == 'user' else 'Assistant'}: {m['content']}"
                         for m in pair["prompt"])
        return {"chosen": f"{prefix}\n\nAssistant: {pair['chosen']}",
                "rejected": f"{prefix}\n\nAssistant: {pair['rejected']}"}
    raise RowError(f"unknown preference target format '{target}'")


INSTRUCTION_TARGETS = ("messages", "prompt_completion", "prompt_response", "sharegpt", "alpaca", "text")
PREFERENCE_TARGETS = ("preference", "preference_chat", "hh")


def kind_of(fmt: str) -> str:
    return "preference" if fmt in PREFERENCE_FORMATS else "instruction"


def converter_for(fmt: str) -> Callable[[dict], list[dict]]:
    if fmt in PREFERENCE_CONVERTERS:
        return PREFERENCE_CONVERTERS[fmt]
    if fmt in INSTRUCTION_CONVERTERS:
        return INSTRUCTION_CONVERTERS[fmt]
    raise DataError(f"unknown format '{fmt}'; known: {', '.join(INSTRUCTION_FORMATS + PREFERENCE_FORMATS)}")
