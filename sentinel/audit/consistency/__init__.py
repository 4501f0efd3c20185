"""Consistency checks: preference data, poisoning, reward-model stability and (from `sentinel.audit.guard`) training
runs, all run by `RLHFConsistencyChecker`; `ConsistencyConfig` holds their thresholds."""

from .checker import RLHFConsistencyChecker
from .thresholds import ConsistencyConfig

__all__ = ["ConsistencyConfig", "RLHFConsistencyChecker"]
