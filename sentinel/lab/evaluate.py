"""Gold accuracy of a policy on the lab's eval split: generate greedily, grade with the gold reward."""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data import as_messages, read_rows
from ..errors import DataError
from .world import gold_reward

if TYPE_CHECKING:
    from .models.protocols import ModelSource, TokenizerSource

logger = logging.getLogger(__name__)


def generate(model, tokenizer, prompts: list, *, max_new_tokens: int = 48, batch_size: int = 64) -> list[str]:
    """Greedy replies of a causal LM to `prompts` (strings, or conversational prompts: messages ending with the
    user's turn), rendered with the chat template."""
    import torch

    from ..train.compare import policy_text

    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # decoder-only models must continue from the last real token
    device = next(model.parameters()).device
    out: list[str] = []
    try:
        model.eval()
        for start in range(0, len(prompts), batch_size):
            batch = prompts[start : start + batch_size]
            texts = [policy_text(tokenizer, p) for p in batch]
            enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            with torch.inference_mode():
                ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            new = ids[:, enc["input_ids"].shape[1]:]  # (B, new_tokens)
            out += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = old_side
    return out


def evaluate(model: ModelSource, eval_data: str | Path | list[dict], *, tokenizer: TokenizerSource | None = None,
             limit: int | None = None, max_new_tokens: int = 48, device: str | None = None) -> dict[str, Any]:
    """Gold accuracy of `model` (folder or loaded model) on eval rows {"prompt", "task", "kind"}; a prompt is a
    string or chat messages ending with the user's turn (the lab's: an earlier answer, then the user's pushback).

    Returns {"accuracy", "mean_gold", "n", "by_task": {task: accuracy}, "by_kind": {...}, "samples": [...]};
    accuracy = share of replies with gold reward 1.0 (correct), mean_gold = mean gold reward in [-1, 1].
    """
    from ..models import load_causal_lm

    rows = read_rows(eval_data).rows
    if limit:
        rows = rows[:limit]
    for i, r in enumerate(rows, start=1):
        try:
            as_messages(r.get("prompt"))
        except DataError as e:
            raise DataError(f"expected a prompt string or chat messages ending with a user turn ({e.reason})",
                            path=str(eval_data) if not isinstance(eval_data, list) else None, row=i,
                            field="prompt") from None
    model, tok = load_causal_lm(model, tokenizer=tokenizer, device=device)
    replies = generate(model, tok, [r["prompt"] for r in rows], max_new_tokens=max_new_tokens)
    golds = [gold_reward(r["prompt"], y) for r, y in zip(rows, replies)]
    groups: dict[str, dict[str, list[float]]] = {"by_task": defaultdict(list), "by_kind": defaultdict(list)}
    for r, g in zip(rows, golds):
        groups["by_task"][r.get("task", "?")].append(g == 1.0)
        groups["by_kind"][r.get("kind", "?")].append(g == 1.0)
    result: dict[str, Any] = {
        "accuracy": sum(g == 1.0 for g in golds) / len(golds),
        "mean_gold": sum(golds) / len(golds),
        "n": len(golds),
    }
    for name, group in groups.items():
        result[name] = {k: sum(v) / len(v) for k, v in sorted(group.items())}
    result["samples"] = [{"prompt": r["prompt"], "reply": y, "gold": g} for r, y, g in zip(rows[:5], replies, golds)]
    return result
