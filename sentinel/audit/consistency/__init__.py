"""Consistency checks: preference data, poisoning, reward-model stability and training runs.

`RLHFConsistencyChecker` runs them; `SentinelCallback` runs the training checks online during TRL or PPO training.
"""

from .checker import RLHFConsistencyChecker
from .thresholds import ConsistencyConfig

__all__ = ["ConsistencyConfig", "RLHFConsistencyChecker", "SentinelCallback"]


def __getattr__(name):
    # The callback imports transformers; load it only when asked for.
    if name == "SentinelCallback":
        from .callback import SentinelCallback

        return SentinelCallback
    raise AttributeError(name)
