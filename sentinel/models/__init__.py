"""Models: safe loading of causal LMs, reward models and tokenizers, and tiny models built from configs."""

from .ensemble import ENSEMBLE_METHODS, EnsembleReward, combine_rewards, ensemble_std
from .loading import (
    check_weights_safe,
    load_causal_lm,
    load_reward_model,
    load_tokenizer,
    model_identity,
    resolve_device,
    resolve_dtype,
)
from .protocols import Messages, Prompt, RewardScorer, RewardSource
from .reward_fn import (
    CallableReward,
    CombinedReward,
    ModelReward,
    RewardFunction,
    as_reward_fn,
    format_for_reward,
)
from .tiny import CHAT_TEMPLATE, TinyConfig, add_blocks, build_causal_lm, build_reward_model, train_tokenizer

__all__ = [
    "Messages",
    "Prompt",
    "RewardScorer",
    "RewardSource",
    "CHAT_TEMPLATE",
    "ENSEMBLE_METHODS",
    "CallableReward",
    "CombinedReward",
    "EnsembleReward",
    "ModelReward",
    "RewardFunction",
    "TinyConfig",
    "add_blocks",
    "as_reward_fn",
    "build_causal_lm",
    "build_reward_model",
    "check_weights_safe",
    "combine_rewards",
    "ensemble_std",
    "format_for_reward",
    "load_causal_lm",
    "load_reward_model",
    "load_tokenizer",
    "model_identity",
    "resolve_device",
    "resolve_dtype",
    "train_tokenizer",
]
