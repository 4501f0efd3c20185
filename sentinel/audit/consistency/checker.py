"""`RLHFConsistencyChecker`: the course-facing entry point to every consistency check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...report import Report
from .thresholds import ConsistencyConfig

if TYPE_CHECKING:
    from ...models.protocols import DataSource, RewardSource


class RLHFConsistencyChecker:
    """Checks preference data, reward models and training runs for the inconsistencies that break RLHF.

    Keyword arguments are `ConsistencyConfig` fields (e.g. `kl_target=6.0`); each method returns a `Report`
    (`.findings`, `.metrics`, `.save(dir)`).
    """

    def __init__(self, config: ConsistencyConfig | None = None, **overrides: Any):
        from ...config import from_dict, to_dict

        base = to_dict(config) if config is not None else {}
        self.config = from_dict(ConsistencyConfig, {**base, **overrides})

    def check_preferences(self, dataset: DataSource, reference_reward: RewardSource | None = None) -> Report:
        """Conflicting duplicates, identical replies, cycles, style confounds and (with a reference reward model)
        label noise. `dataset`: a file, a list of dicts, a datasets.Dataset or a `Loaded`."""
        from .preferences import check_preferences

        return check_preferences(dataset, self.config, reference_reward)

    def detect_poisoning(self, dataset: DataSource, reference_reward: RewardSource | None = None) -> Report:
        """Suspicious pairs and candidate backdoor triggers (Rando & Tramer 2023 style)."""
        from .poisoning import detect_poisoning

        return detect_poisoning(dataset, self.config, reference_reward)

    def check_reward_model(self, reward_model: RewardSource, test_cases: DataSource | None = None,
                           **kwargs: Any) -> Report:
        """Batch/padding/order invariance, neutral edits, transitivity over triples and determinism."""
        from .rm_stability import check_reward_model

        return check_reward_model(reward_model, test_cases, self.config, **kwargs)

    def check_training(self, run: Any, checks: list[str] | None = None) -> Report:
        """Reward hacking and instability signals in a metrics.jsonl, a TRL log_history, a trainer or PPO stats."""
        from ..guard.checks import check_training

        return check_training(run, self.config, checks)
