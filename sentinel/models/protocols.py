"""The shapes of what users pass in, as types: a prompt, a reward scorer, and what can become a reward function.

A `RewardScorer` is anything called as `fn(prompts, responses) -> list[float]` (higher is better): a plain
function, a `RewardFunction`, an ensemble. A `RewardSource` is anything `as_reward_fn` turns into one: a scorer, a
reward-model folder or Hub name, a `'module:function'` name, a loaded sequence-classification model, a
`(model, tokenizer)` pair, or a list of `(source, weight)` pairs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, Union, runtime_checkable

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

Messages = list[dict[str, str]]
"""A conversation: `[{"role": "user", "content": ...}, {"role": "assistant", ...}, ...]`."""

Prompt = str | Messages
"""One user turn as text, or a conversation ending with a user turn."""


@runtime_checkable
class RewardScorer(Protocol):
    """Scores (prompt, response) pairs: one float per pair, higher is better."""

    def __call__(self, prompts: Sequence[Prompt], responses: Sequence[str], /) -> Sequence[float]: ...


RewardSource = Union[
    str,
    "os.PathLike[str]",
    RewardScorer,
    "PreTrainedModel",
    "tuple[PreTrainedModel, PreTrainedTokenizerBase]",
    "list[tuple[Any, float]]",
]
"""What `as_reward_fn` accepts (module docstring)."""

ModelSource = Union[str, "os.PathLike[str]", "PreTrainedModel"]
"""A model: a folder (or a Hub name when online) or a loaded Hugging Face model."""

TokenizerSource = Union[str, "os.PathLike[str]", "PreTrainedTokenizerBase"]
"""A tokenizer: a folder (or a Hub name when online) or a loaded tokenizer."""

DataSource = Union[str, "os.PathLike[str]", Sequence[Any], "Dataset"]
"""Rows: a data file (JSON, JSONL, CSV, Parquet), a `save_to_disk` folder, a Hub name when online, a list of row
dicts (or of prompts where prompts are asked for), or a `datasets.Dataset`."""

__all__ = ["DataSource", "Messages", "ModelSource", "Prompt", "RewardScorer", "RewardSource", "TokenizerSource"]
