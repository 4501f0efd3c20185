"""The shape of gold and proxy curves over several PPO seeds: the seeds' mean with its band, the peak taken from full
smoothing windows only, Gao et al.'s RL form fitted to gold against sqrt(KL), and gold binned on a monotone KL grid.

One seed's curve is noise: a flat gold curve passes a one-seed "rose, then fell" test often enough to fool a reader.
The demo's claims are therefore made on the mean of several seeds, with windows that are full (a trailing mean over
the first `w - 1` steps would average fewer steps and be noisier than the rest).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def trailing_means(values: Sequence[float], window: int) -> list[float]:
    """Means of `values[i - window + 1 .. i]` for every full window: `len(values) - window + 1` of them."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    return [sum(values[i - window + 1:i + 1]) / window for i in range(window - 1, len(values))]


@dataclass(frozen=True)
class CurveShape:
    """A curve read through full trailing windows: first window, peak (and the step it ends at), last window."""

    first: float
    peak: float
    peak_step: int  # 1-based step at which the peak window ends
    last: float
    window: int

    @property
    def rise(self) -> float:
        return self.peak - self.first

    @property
    def fall(self) -> float:
        return self.peak - self.last

    def as_dict(self) -> dict[str, float]:
        return {"first": self.first, "peak": self.peak, "peak_step": self.peak_step, "last": self.last,
                "rise": self.rise, "fall": self.fall, "window": self.window}


def curve_shape(values: Sequence[float], window: int) -> CurveShape:
    """The `CurveShape` of `values` (at least `window` of them; NaN never peaks)."""
    if len(values) < window:
        raise ValueError(f"a curve of {len(values)} steps has no full window of {window}")
    s = trailing_means(values, window)
    peak = max(range(len(s)), key=lambda i: -math.inf if math.isnan(s[i]) else s[i])
    return CurveShape(s[0], s[peak], peak + window, s[-1], window)


def seed_band(curves: Sequence[Sequence[float]]) -> tuple[list[float], list[float], list[float]]:
    """(mean, low, high) per step over the seeds' curves, cut to the shortest; low/high: the seeds' min and max."""
    if not curves:
        raise ValueError("no curves")
    n = min(len(c) for c in curves)
    cols = [[c[i] for c in curves] for i in range(n)]
    return [sum(x) / len(x) for x in cols], [min(x) for x in cols], [max(x) for x in cols]


@dataclass(frozen=True)
class GaoFit:
    """gold(d) - gold(0) = d (alpha - beta log d), d = sqrt(KL to the start policy) (Gao et al. 2022, RL form)."""

    alpha: float
    beta: float
    r2: float
    points: int

    def predict(self, d: float) -> float:
        return 0.0 if d <= 0 else d * (self.alpha - self.beta * math.log(d))

    @property
    def peak_d(self) -> float | None:
        """sqrt(KL) at which the fitted curve peaks (d = exp(alpha / beta - 1)); None when it never turns down (beta
        <= 0, or a peak beyond any reachable KL)."""
        if self.beta <= 0 or self.alpha / self.beta - 1.0 > 50:
            return None
        return math.exp(self.alpha / self.beta - 1.0)


def gao_fit(sqrt_kl: Sequence[float], gold: Sequence[float], gold_start: float) -> GaoFit | None:
    """Least-squares fit of Gao's RL form to (sqrt(KL), gold - `gold_start`) points with d > 0; None with fewer than
    three such points or a degenerate design. R-squared is about the mean of the gold gains."""
    import numpy as np

    pts = [(d, g - gold_start) for d, g in zip(sqrt_kl, gold) if d > 0 and math.isfinite(d) and math.isfinite(g)]
    if len(pts) < 3:
        return None
    d = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    design = np.stack([d, -d * np.log(d)], axis=1)
    coef, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    if rank < 2:
        return None
    resid = y - design @ coef
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid ** 2).sum()) / total if total > 0 else float("nan")
    return GaoFit(float(coef[0]), float(coef[1]), r2, len(pts))


def binned_by_kl(sqrt_kl: Sequence[float], gold: Sequence[float], bins: int = 10) -> list[tuple[float, float, int]]:
    """Gold averaged in `bins` equal-width bins of sqrt(KL) (a monotone grid: no line runs back as KL wobbles):
    (bin centre, mean gold, points) for the non-empty bins, in order of KL."""
    pts = [(d, g) for d, g in zip(sqrt_kl, gold) if math.isfinite(d) and math.isfinite(g)]
    if not pts:
        return []
    lo, hi = min(d for d, _ in pts), max(d for d, _ in pts)
    width = (hi - lo) / bins or 1.0
    sums: dict[int, list[float]] = {}
    for d, g in pts:
        sums.setdefault(min(int((d - lo) / width), bins - 1), []).append(g)
    return [(lo + (b + 0.5) * width, sum(v) / len(v), len(v)) for b, v in sorted(sums.items())]
