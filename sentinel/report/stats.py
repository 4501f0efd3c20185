"""Statistics shared by the auditors: confidence intervals and multiple-testing correction.

Pure numpy/scipy; every function is deterministic for a given seed. The Wilson interval is scipy's
(`binomtest(...).proportion_ci(method="wilson")`). Written here, because scipy has no equivalent that gives the same
results: Holm's step-down correction and its weighted form (scipy.stats has only Benjamini-Hochberg), the sign-flip
test (`scipy.stats.permutation_test` enumerates every sign pattern exactly below 2^n resamples, so its p-values, and
every audit verdict pinned by the tests, would change for small case counts) and the percentile bootstrap
(`scipy.stats.bootstrap` draws another random stream, which would move every published interval, and loops in
Python over a statistic that is not vectorised).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


def bootstrap_ci(
    values: Sequence[float],
    stat: Callable[[np.ndarray], float] = np.mean,
    *,
    n_resamples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Point estimate and percentile bootstrap (1 - alpha) CI of `stat` over `values`.

    Returns (estimate, low, high); NaNs when `values` is empty. One value gives a zero-width interval.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    est = float(stat(x))
    if x.size == 1:
        return (est, est, est)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_resamples, x.size))
    boots = x[idx].mean(axis=1) if stat is np.mean else np.array([stat(x[i]) for i in idx])
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return (est, float(lo), float(hi))


def wilson_ci(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float, float]:
    """Rate and Wilson score (1 - alpha) interval for a binomial proportion; NaNs when n == 0."""
    if n == 0:
        return (math.nan, math.nan, math.nan)
    from scipy.stats import binomtest

    ci = binomtest(successes, n).proportion_ci(confidence_level=1 - alpha, method="wilson")
    return (successes / n, max(0.0, float(ci.low)), min(1.0, float(ci.high)))


def holm_bonferroni(p_values: Sequence[float] | np.ndarray, alpha: float = 0.05) -> list[bool]:
    """Which hypotheses are rejected under Holm's step-down correction (family-wise error rate `alpha`)."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    passes = p[order] <= alpha / (m - np.arange(m))
    k = m if passes.all() else int(np.argmin(passes))  # the first hypothesis that fails stops the procedure
    rejected = np.zeros(m, dtype=bool)
    rejected[order[:k]] = True
    return rejected.tolist()


def weighted_holm(p_values: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray,
                  alpha: float = 0.05) -> np.ndarray:
    """Which hypotheses the weighted Holm procedure rejects (Holm 1979): in increasing order of p / w, hypothesis i is
    rejected while p_i <= alpha * w_i / (the sum of the weights not yet rejected). The family-wise error rate is
    `alpha` for any non-negative weights fixed before the p-values are seen; equal weights give Holm's procedure."""
    p = np.asarray(p_values, dtype=float)
    w = np.asarray(weights, dtype=float)
    rejected = np.zeros(len(p), dtype=bool)
    if not len(p):
        return rejected
    with np.errstate(divide="ignore"):
        order = np.argsort(np.where(w > 0, p / w, np.inf), kind="stable")
    ws = w[order]
    remaining = ws.sum() - np.cumsum(ws) + ws
    passes = p[order] <= alpha * ws / np.maximum(remaining, 1e-300)
    k = len(p) if passes.all() else int(np.argmin(passes))
    rejected[order[:k]] = True
    return rejected


def power_weights(effects: Sequence[float] | np.ndarray, alpha: float = 0.05, floor: float = 1e-3) -> np.ndarray:
    """Weights (mean 1) for `weighted_holm` that maximise the expected number of one-sided z-test rejections when
    hypothesis i, if false, has mean z `effects[i]` (Roeder & Wasserman 2009): w_i = (m / alpha) *
    P(Z > effects_i / 2 + c / effects_i), c set so the weights average 1. A weight is at least `floor` (then all are
    rescaled), so no hypothesis is left out entirely."""
    xi = np.maximum(np.asarray(effects, dtype=float), 1e-9)
    m = len(xi)
    if m == 0:
        return xi
    from scipy.stats import norm

    lo, hi = -1e3, 1e3
    for _ in range(200):  # the weights' sum falls as c grows
        c = (lo + hi) / 2
        if (m / alpha * norm.sf(xi / 2 + c / xi)).sum() > m:
            lo = c
        else:
            hi = c
    w = np.maximum(m / alpha * norm.sf(xi / 2 + hi / xi), floor)
    return w * m / w.sum()


def sign_flip_p_value(diffs: Sequence[float], *, n_resamples: int = 5000, seed: int = 0) -> float:
    """Two-sided p-value that the mean of paired differences is zero (sign-flip permutation test)."""
    d = np.asarray(diffs, dtype=float)
    if d.size == 0 or np.allclose(d, 0):
        return 1.0
    rng = np.random.default_rng(seed)
    observed = abs(d.mean())
    signs = rng.choice([-1.0, 1.0], size=(n_resamples, d.size))
    null = np.abs((signs * d).mean(axis=1))
    return float((1 + np.sum(null >= observed - 1e-12)) / (n_resamples + 1))


def moving_average(values: Sequence[float | None], window: int) -> list[float]:
    """Centred moving average over `window` points (shrinking at both ends); None/NaN points are left out of every
    mean, and a point whose window holds no finite value is NaN. window 1 returns the finite values unchanged."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    x = [float(v) if v is not None and math.isfinite(float(v)) else math.nan for v in values]
    half_lo, half_hi = (window - 1) // 2, window // 2
    out = []
    for i in range(len(x)):
        part = [v for v in x[max(0, i - half_lo) : i + half_hi + 1] if not math.isnan(v)]
        out.append(sum(part) / len(part) if part else math.nan)
    return out
