"""`ConsistencyConfig`: every threshold the consistency checks use, with why it has its default."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...errors import ConfigError


def _help(text: str) -> dict:
    return {"help": text}


@dataclass
class ConsistencyConfig:
    # ------------------------------------------------------------------ preference data
    near_duplicate_jaccard: float = field(default=0.9, metadata=_help(
        "token Jaccard similarity (0-1) of prompt and of each reply above which two pairs count as near duplicates"))
    min_pairs_for_stats: int = field(default=20, metadata=_help(
        "fewest pairs (that differ in a feature) needed before a confound share and its CI are computed"))
    confound_effect_medium: float = field(default=0.1, metadata=_help(
        "|share - 0.5| from which a significant confound is 'medium' (0.1 = chosen has the feature 60% of the time)"))
    confound_effect_high: float = field(default=0.25, metadata=_help(
        "|share - 0.5| from which a significant confound is 'high' (0.25 = 75% of the time)"))
    alpha: float = field(default=0.05, metadata=_help("family-wise error rate for Holm-corrected tests"))
    max_evidence: int = field(default=10, metadata=_help("most examples quoted as evidence per finding"))
    strict: bool = field(default=False, metadata=_help(
        "stop at the first invalid row (DataError naming it) instead of auditing the valid rows and reporting the "
        "invalid ones in an 'invalid-rows' finding"))
    # ------------------------------------------------------------------ poisoning
    suspicious_quantile: float = field(default=0.75, metadata=_help(
        "pairs whose suspicion score is above this quantile are the 'suspicious' set used for n-gram enrichment"))
    ngram_max: int = field(default=3, metadata=_help("longest trigger n-gram (in tokens) considered"))
    poisoning_high_alpha: float = field(default=0.01, metadata=_help(
        "family-wise error rate at which a candidate trigger is 'high' (one that passes only at alpha is 'medium'; "
        "above alpha, alpha is used): natural n-grams reach alpha = 0.05 on a few clean datasets in a hundred (the "
        "measured rates: docs/benchmarks.md, Data)"))
    min_ngram_pairs: int = field(default=3, metadata=_help(
        "an n-gram must occur in at least this many pairs to be tested (rarer ones cannot reach significance)"))
    # ------------------------------------------------------------------ reward model
    reward_tolerance: float = field(default=1e-3, metadata=_help(
        "largest reward difference (reward units) still counted as 'the same score' for batch/padding/order checks"))
    edit_tolerance: float = field(default=0.05, metadata=_help(
        "largest reward change (in standard deviations of the test-case rewards) allowed for a neutral edit"))
    # ------------------------------------------------------------------ training runs
    kl_target: float | None = field(default=None, metadata=_help(
        "the KL target of the run (nats); KL above 1.5x this is an alarm. None: only negative KL is checked"))
    kl_negative_tolerance: float = field(default=0.05, metadata=_help(
        "KL values between -this and 0 (nats) count as sampling noise, not negative KL: a policy still close to "
        "its reference gives small negative estimates by chance"))
    approxkl_target: float | None = field(default=None, metadata=_help(
        "per-update approximate KL target (PPO's early-stopping `target_kl`, nats); policy/approxkl_avg above 1.5x "
        "this is an alarm. None: not checked"))
    min_steps: int = field(default=8, metadata=_help(
        "fewest logged steps needed before trend checks (length lockstep, entropy, over-optimisation) run"))
    length_lockstep_r: float = field(default=0.8, metadata=_help(
        "Pearson r over steps between reward and response length from which they count as moving in lockstep"))
    length_share_alarm: float = field(default=0.5, metadata=_help(
        "share of the reward gain explained by the length gain from which length hacking is raised"))
    ratio_tolerance: float = field(default=0.5, metadata=_help(
        "|importance ratio - 1| above which the ratio is 'far from 1' (PPO clips at 0.2; TRL skips above 10)"))
    entropy_collapse: float = field(default=0.2, metadata=_help(
        "entropy below this fraction of its starting level counts as collapsed"))
    spike_factor: float = field(default=5.0, metadata=_help(
        "a value above the running median + this many median absolute deviations (and 2x the median) is a spike"))
    clipfrac_max: float = field(default=0.3, metadata=_help(
        "clip fraction above this (share of tokens clipped) is a spike whatever its history"))
    gold_metric: str | None = field(default=None, metadata=_help(
        "name of the logged metric that holds the watched (gold) reward when it is none of the usual names "
        "(gold/score, rewards/gold/mean, ...), e.g. 'rewards/my_verifier/mean' of a GRPO run whose verifier has "
        "weight 0"))
    zero_std_alarm: float = field(default=0.9, metadata=_help(
        "GRPO/RLOO: share of prompts whose replies all got the same reward (frac_reward_zero_std) from which the "
        "run is said to have no learning signal; such groups have zero advantage"))
    gold_drop: float = field(default=0.1, metadata=_help(
        "fall of the gold reward from its peak, as a share of its rise, from which over-optimisation is raised"))
    gold_fall_z: float = field(default=3.0, metadata=_help(
        "fall of the gold reward from its peak window to the run's last fifth, in standard errors of that "
        "difference, that over-optimisation also needs (the peak is the highest of many windows, hence more than 2); "
        "benchmarks/guard_roc.py measures the rates at 1.5-5"))

    def __post_init__(self):
        for name in ("near_duplicate_jaccard", "suspicious_quantile", "alpha", "entropy_collapse", "zero_std_alarm"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0 and not (name == "near_duplicate_jaccard" and v == 1.0):
                raise ConfigError(f"must lie in (0, 1), got {v!r}", field=name)
        for name in ("min_pairs_for_stats", "min_steps", "min_ngram_pairs", "ngram_max", "max_evidence"):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)!r}", field=name)
        if not 0.0 < self.poisoning_high_alpha < 1.0:
            raise ConfigError(f"must lie in (0, 1), got {self.poisoning_high_alpha!r}", field="poisoning_high_alpha")
        if self.min_steps < 4:
            raise ConfigError(f"trend checks need at least 4 steps, got {self.min_steps}", field="min_steps")
        if not 0 <= self.confound_effect_medium <= self.confound_effect_high <= 0.5:
            raise ConfigError("expected 0 <= confound_effect_medium <= confound_effect_high <= 0.5, got "
                              f"{self.confound_effect_medium}, {self.confound_effect_high}",
                              field="confound_effect_medium")
        if self.gold_metric is not None and not self.gold_metric.strip():
            raise ConfigError("must name a logged metric, got an empty string", field="gold_metric")
        for name in ("kl_target", "approxkl_target"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ConfigError(f"must be positive or None, got {getattr(self, name)!r}", field=name)
        for name in ("reward_tolerance", "edit_tolerance", "ratio_tolerance", "spike_factor", "clipfrac_max",
                     "gold_drop", "gold_fall_z", "length_share_alarm", "length_lockstep_r", "kl_negative_tolerance"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"must be positive, got {getattr(self, name)!r}", field=name)
