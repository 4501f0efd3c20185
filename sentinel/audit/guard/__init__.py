"""Guard a training run: the checks for reward hacking and unstable RL in a metrics log (`checks.py`,
`TRAINING_CHECKS`), read from any log shape (`series.py`), and `SentinelCallback`, which runs them online every N
steps during TRL or PPO training and can stop the run. `RLHFConsistencyChecker.check_training` runs the same checks
on a finished log; their thresholds are `ConsistencyConfig` fields.
"""

from .checks import TRAINING_CHECKS, check_training

__all__ = ["SentinelCallback", "TRAINING_CHECKS", "check_training"]


def __getattr__(name):
    # The callback imports transformers; load it only when asked for.
    if name == "SentinelCallback":
        from .callback import SentinelCallback

        return SentinelCallback
    raise AttributeError(name)
