"""Reward-model ensembles: several reward functions combined into one conservative reward per sample.

After Coste et al. 2023, "Reward model ensembles help mitigate overoptimization" (arXiv 2310.02743):

- `mean`: the members' mean;
- `min`: the worst case over members (their WCO);
- `uwo`: uncertainty-weighted optimisation, the mean minus `uwo_lambda` x the members' variance (population
  variance, 1/k; the paper penalises the variance, so `uwo_lambda` is in units of 1 / reward).

`combine_rewards` and `ensemble_std` are the pure maths; `EnsembleReward` is the `RewardFunction` a trainer scores
with, and `member_scores` lets it log each member apart. A sample that any member scores NaN/inf gets a NaN
combined reward, so trainers skip it instead of letting the other members decide.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import ConfigError, DataError
from .reward_fn import RewardFunction

ENSEMBLE_METHODS = ("mean", "min", "uwo")


def check_method(method: str, uwo_lambda: float | None = None) -> None:
    """ConfigError unless `method` is one of ENSEMBLE_METHODS and `uwo_lambda` fits it (given, >= 0, only for uwo)."""
    if method not in ENSEMBLE_METHODS:
        raise ConfigError(f"unknown ensemble {method!r}; expected one of {list(ENSEMBLE_METHODS)}", field="ensemble")
    if method == "uwo":
        if uwo_lambda is None:
            raise ConfigError("ensemble 'uwo' needs uwo_lambda, the weight of the members' variance (its scale "
                              "depends on your rewards' scale)", field="uwo_lambda")
        if not uwo_lambda >= 0:
            raise ConfigError(f"must be >= 0, got {uwo_lambda!r}", field="uwo_lambda")
    elif uwo_lambda is not None:
        raise ConfigError(f"uwo_lambda applies only to ensemble 'uwo', not {method!r}", field="uwo_lambda")


def check_members(count: int, method: str | None) -> None:
    """ConfigError when an ensemble is asked for with fewer than two reward models."""
    if method is not None and count < 2:
        raise ConfigError(f"ensemble {method!r} combines several reward models, got {count}: give two or more as "
                          "reward_model=[...], or leave ensemble unset for one reward model", field="ensemble")


def _columns(member_scores: Sequence[Sequence[float]]) -> list[tuple[float, ...]]:
    """The members' scores per sample; DataError when members disagree on the number of samples."""
    if not member_scores:
        raise DataError("an ensemble needs at least one member's scores")
    n = len(member_scores[0])
    for i, scores in enumerate(member_scores):
        if len(scores) != n:
            raise DataError(f"ensemble member {i} gave {len(scores)} rewards, member 0 gave {n}")
    return list(zip(*member_scores))


def _stats(values: tuple[float, ...]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, sum((v - mean) ** 2 for v in values) / len(values)


def combine_rewards(member_scores: Sequence[Sequence[float]], method: str,
                    uwo_lambda: float | None = None) -> list[float]:
    """One reward per sample from `member_scores` (one list per member, one score per sample)."""
    check_method(method, uwo_lambda)
    out = []
    for values in _columns(member_scores):
        if not all(math.isfinite(v) for v in values):
            out.append(math.nan)
        elif method == "min":
            out.append(min(values))
        else:
            mean, var = _stats(values)
            out.append(mean if method == "mean" else mean - (uwo_lambda or 0.0) * var)  # uwo: lambda checked
    return out


def ensemble_std(member_scores: Sequence[Sequence[float]]) -> list[float]:
    """Per sample, the members' standard deviation (population, 1/k); NaN where a member's score is not finite."""
    return [math.sqrt(_stats(values)[1]) if all(math.isfinite(v) for v in values) else math.nan
            for values in _columns(member_scores)]


class EnsembleReward(RewardFunction):
    """Several reward functions scored on the same pairs and combined by `method` (see the module docstring)."""

    def __init__(self, members: Sequence[RewardFunction], method: str, uwo_lambda: float | None = None):
        check_method(method, uwo_lambda)
        check_members(len(members), method)
        self.members = list(members)
        self.method = method
        self.uwo_lambda = uwo_lambda
        arg = f", lambda={uwo_lambda:g}" if method == "uwo" else ""
        self.name = f"{method}({', '.join(m.name for m in self.members)}{arg})"

    def member_scores(self, prompts: Sequence[str], responses: Sequence[str]) -> list[list[float]]:
        """Each member's rewards for the pairs: one list per member."""
        return [member(prompts, responses) for member in self.members]

    def combine(self, member_scores: Sequence[Sequence[float]]) -> list[float]:
        return combine_rewards(member_scores, self.method, self.uwo_lambda)

    def score(self, prompts, responses):
        return self.combine(self.member_scores(prompts, responses))
