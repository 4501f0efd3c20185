"""Reward functions: one calling convention for every way a user can give a reward.

`as_reward_fn(x)` turns a reward-model folder, a loaded sequence-classification model, or any Python callable
`fn(prompts: list[str], responses: list[str]) -> list[float]` into a `RewardFunction` with that same signature.
Trainers (PPO), auditors and `compare` all score through it, so a reward model sees its inputs formatted the same
way everywhere (`format_for_reward`), including the way `sentinel train reward` formats them during training.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import ConfigError, DataError
from ..progress import progress
from .protocols import Prompt, RewardScorer, RewardSource

logger = logging.getLogger(__name__)

def format_for_reward(tokenizer, prompt: str | list[dict], response: str) -> str:
    """The text a reward model scores for (prompt, response).

    `prompt`: a string (one user turn) or a conversational prompt (chat messages ending with a user turn: earlier
    turns such as a previous answer and the user's pushback). With a chat template: the conversation plus the
    response as the assistant's turn, rendered by it (no generation prompt). Without one (e.g. a BERT encoder): the
    prompt (several turns as an HH-style transcript), a blank line, then the response.
    """
    from ..data.formats import as_messages, prompt_text

    msgs = as_messages(prompt)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(msgs + [{"role": "assistant", "content": response}], tokenize=False)
    return f"{prompt_text(msgs)}\n\n{response}"


class RewardFunction:
    """Base of every reward adapter: `rf(prompts, responses) -> list[float]`, validated."""

    name: str = "reward"

    def score(self, prompts: list[Prompt], responses: list[str]) -> list[float]:
        raise NotImplementedError

    def __call__(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> list[float]:
        prompts, responses = list(prompts), list(responses)
        if len(prompts) != len(responses):
            raise DataError(f"got {len(prompts)} prompts but {len(responses)} responses; expected equal lengths")
        for i, (p, r) in enumerate(zip(prompts, responses)):
            prompt_ok = isinstance(p, str) or (isinstance(p, list) and p and all(
                isinstance(m, dict) and isinstance(m.get("content"), str) and "role" in m for m in p))
            if not prompt_ok or not isinstance(r, str):
                raise DataError(f"expected a prompt string (or a list of chat messages) and a response string, got "
                                f"{type(p).__name__} and {type(r).__name__}", row=i + 1,
                                field="prompt" if not prompt_ok else "response")
        if not prompts:
            return []
        out = [float(v) for v in self.score(prompts, responses)]
        if len(out) != len(prompts):
            raise DataError(f"reward function '{self.name}' returned {len(out)} rewards for {len(prompts)} pairs")
        return out


class CallableReward(RewardFunction):
    """Wraps a user callable; checks the length of what it returns and names it in errors."""

    def __init__(self, fn: RewardScorer, name: str | None = None):
        self.fn = fn
        self.name = name or getattr(fn, "__qualname__", None) or type(fn).__name__

    def score(self, prompts, responses):
        try:
            values = self.fn(prompts, responses)
        except Exception as e:  # a user's reward function failed: say which one, keep the cause
            raise DataError(f"reward function '{self.name}' raised {type(e).__name__}: {e}") from e
        try:
            return [float(v) for v in values]
        except (TypeError, ValueError):
            raise DataError(f"reward function '{self.name}' must return a list of numbers, "
                            f"got {values!r:.100}") from None


class ModelReward(RewardFunction):
    """A sequence-classification reward model scored in batches.

    Texts are sorted by length so each batch pads little, identical texts are scored once, and inputs longer
    than `max_length` lose tokens from the left (the prompt), never from the response.
    """

    def __init__(self, model, tokenizer, *, batch_size: int = 32, max_length: int = 512, device: str | None = None):
        import torch

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_length = max_length
        self.device = device or next(model.parameters()).device
        self.name = getattr(model.config, "_name_or_path", None) or type(model).__name__
        self._torch = torch

    def texts(self, prompts, responses) -> list[str]:
        return [format_for_reward(self.tokenizer, p, r) for p, r in zip(prompts, responses)]

    def score_texts(self, texts: list[str]) -> list[float]:
        torch = self._torch
        unique = list(dict.fromkeys(texts))
        lengths = [len(t) for t in unique]
        order = sorted(range(len(unique)), key=lambda i: lengths[i])
        scores: dict[str, float] = {}
        tok = self.tokenizer
        old_side = tok.truncation_side
        tok.truncation_side = "left"
        try:
            with torch.inference_mode(), progress(f"reward model {self.name}", total=len(unique),
                                                  unit="texts") as advance:
                for start in range(0, len(order), self.batch_size):
                    batch = [unique[i] for i in order[start : start + self.batch_size]]
                    enc = tok(batch, return_tensors="pt", padding=True, truncation=True, max_length=self.max_length)
                    enc = {k: v.to(self.device) for k, v in enc.items()}
                    logits = self.model(**enc).logits  # (B, 1)
                    for t, v in zip(batch, logits[:, 0].float().cpu().tolist()):
                        scores[t] = v
                    advance(len(batch))
        finally:
            tok.truncation_side = old_side
        return [scores[t] for t in texts]

    def score(self, prompts, responses):
        return self.score_texts(self.texts(prompts, responses))


class CombinedReward(RewardFunction):
    """A weighted sum of several reward functions."""

    def __init__(self, parts: list[tuple[RewardFunction, float]]):
        self.parts = parts
        self.name = " + ".join(f"{w:g}*{rf.name}" for rf, w in parts)

    def score(self, prompts, responses):
        total = [0.0] * len(prompts)
        for rf, w in self.parts:
            for i, v in enumerate(rf(prompts, responses)):
                total[i] += w * v
        return total


def _import_callable(spec: str) -> Callable:
    """'package.module:function' -> the function."""
    import importlib

    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ConfigError(f"expected 'module:function', got {spec!r}", field="reward_model")
    try:
        obj = importlib.import_module(module)
    except ModuleNotFoundError as e:
        # `python -m sentinel` puts the current folder on sys.path, the `sentinel` console script does not: look
        # there too, so a rules.py beside the user's data works either way
        here = os.getcwd()
        if e.name != module.split(".")[0] or here in sys.path or "" in sys.path:
            raise ConfigError(f"cannot import module '{module}': {e}", field="reward_model") from None
        sys.path.insert(0, here)
        try:
            obj = importlib.import_module(module)
        except ImportError as e2:
            raise ConfigError(f"cannot import module '{module}' (looked on sys.path and in {here}): {e2}",
                              field="reward_model") from None
    except ImportError as e:
        raise ConfigError(f"cannot import module '{module}': {e}", field="reward_model") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"module '{module}' has no attribute '{attr}'", field="reward_model")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"'{spec}' is not callable", field="reward_model")
    return obj


def as_reward_fn(
    reward: RewardSource,
    tokenizer: Any = None,
    *,
    batch_size: int = 32,
    max_length: int = 512,
    device: str | None = None,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
) -> RewardFunction:
    """Any supported reward given -> a `RewardFunction`.

    `reward` may be a RewardFunction, a folder with a sequence-classification model, a loaded model (with
    `tokenizer`), a `(model, tokenizer)` tuple, a `'module:function'` string, a callable
    `fn(prompts, responses) -> list[float]`, or a list of `(reward, weight)` pairs combined by weighted sum.
    """
    if isinstance(reward, RewardFunction):
        return reward
    if isinstance(reward, list):
        for i, item in enumerate(reward):
            if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[1], numbers.Real)):
                raise ConfigError(f"entry {i} of the reward list is {type(item).__name__} {item!r:.60}; a list is a "
                                  "weighted sum of (reward, weight) pairs (for an ensemble of reward models, give "
                                  "the list to PPO with ensemble='mean', 'min' or 'uwo')", field="reward_model")
        return CombinedReward([(as_reward_fn(r, batch_size=batch_size, max_length=max_length, device=device,
                                             allow_pickle=allow_pickle, trust_remote_code=trust_remote_code), float(w))
                               for r, w in reward])
    if isinstance(reward, tuple) and len(reward) == 2:
        reward, tokenizer = reward
    if isinstance(reward, (str, os.PathLike)):
        if isinstance(reward, str) and ":" in reward and not os.path.exists(reward):
            return CallableReward(_import_callable(reward), name=reward)
        from .loading import load_reward_model

        model, tok = load_reward_model(reward, tokenizer=tokenizer, device=device, allow_pickle=allow_pickle,
                                       trust_remote_code=trust_remote_code)
        return ModelReward(model, tok, batch_size=batch_size, max_length=max_length)
    if hasattr(reward, "config") and hasattr(reward, "parameters"):
        from .loading import load_reward_model

        model, tok = load_reward_model(reward, tokenizer=tokenizer)
        return ModelReward(model, tok, batch_size=batch_size, max_length=max_length)
    if callable(reward):
        return CallableReward(reward)
    raise ConfigError(f"cannot use a {type(reward).__name__} as a reward; give a folder, a model, or a callable",
                      field="reward_model")


def finite_or_none(values: Sequence[float]) -> list[float | None]:
    """Rewards with NaN/inf replaced by None, so callers can skip those samples explicitly."""
    return [v if math.isfinite(v) else None for v in values]
