"""sentinel-rlhf: run the fine-tuning / RLHF lifecycle and secure it.

The public API is small and stable:

    from sentinel import scan, RewardModelAuditor, SycophancyDetector, RLHFConsistencyChecker, PPOTrainer, PPOConfig

Names are imported lazily, so `import sentinel` does not pull in torch until a name that needs it is used.
"""

from __future__ import annotations

import importlib

from ._version import __version__
from .errors import ConfigError, DataError, MissingDependencyError, ModelLoadError, SentinelError
from .report import Finding, Report, Severity

# public name -> module that defines it
_LAZY = {
    "scan": "sentinel.scan",
    "RewardModelAuditor": "sentinel.audit.reward_model",
    "attack_reward_model": "sentinel.audit.attack",
    "SycophancyDetector": "sentinel.audit.sycophancy",
    "RLHFConsistencyChecker": "sentinel.audit.consistency",
    "SentinelCallback": "sentinel.audit.guard",
    "PPOTrainer": "sentinel.train.ppo",
    "PPOConfig": "sentinel.train.ppo",
}

__all__ = [
    "ConfigError", "DataError", "Finding", "MissingDependencyError", "ModelLoadError", "Report", "SentinelError",
    "Severity", "__version__", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sentinel' has no attribute '{name}'")


def __dir__():
    return sorted(__all__)
