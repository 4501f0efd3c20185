"""The demo's curve arithmetic: full windows, the seeds' band, Gao's RL form and gold on a monotone KL grid."""

from __future__ import annotations

import math
import random

import pytest


def test_curve_shape_uses_full_windows_only():
    from sentinel.demo.curves import curve_shape, trailing_means

    assert trailing_means([1, 2, 3, 4], 2) == [1.5, 2.5, 3.5]
    # a spike in the first step is averaged with its window, never read alone
    shape = curve_shape([5.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0], 3)
    assert shape.first == pytest.approx(5 / 3) and shape.peak == pytest.approx(5 / 3) and shape.peak_step == 3
    shape = curve_shape([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0], 3)
    assert (shape.first, shape.peak, shape.peak_step, shape.last) == (0.0, 1.0, 6, pytest.approx(1 / 3))
    assert shape.rise == 1.0 and shape.fall == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="no full window"):
        curve_shape([1.0, 2.0], 3)


def test_seed_band_is_mean_min_max_cut_to_the_shortest():
    from sentinel.demo.curves import seed_band

    mean, low, high = seed_band([[0.0, 1.0, 2.0], [2.0, 3.0]])
    assert (mean, low, high) == ([1.0, 2.0], [0.0, 1.0], [2.0, 3.0])


def test_gao_fit_recovers_the_rl_form_from_noisy_points():
    from sentinel.demo.curves import gao_fit

    rng = random.Random(0)
    alpha, beta, start = 1.0, 0.8, -0.2
    ds = [0.02 * i for i in range(1, 101)]
    gold = [start + d * (alpha - beta * math.log(d)) + rng.gauss(0, 0.02) for d in ds]
    fit = gao_fit(ds, gold, start)
    assert fit.alpha == pytest.approx(alpha, abs=0.05) and fit.beta == pytest.approx(beta, abs=0.05)
    assert fit.r2 > 0.9 and fit.points == 100
    assert fit.peak_d == pytest.approx(math.exp(alpha / beta - 1), rel=0.1)
    # gold that only rises has no turning point (beta <= 0) and too few points give no fit
    rising = gao_fit(ds, [start + d for d in ds], start)
    assert rising.peak_d is None or rising.peak_d > max(ds)
    assert gao_fit([0.0, 0.1], [0.0, 0.1], 0.0) is None


def test_gold_on_a_monotone_kl_grid():
    from sentinel.demo.curves import binned_by_kl

    # KL that wobbles back and forth: the binned line still runs left to right
    kl = [0.1, 0.5, 0.3, 0.9, 0.2, 1.0, 0.6]
    gold = [0.0, 1.0, 0.5, -1.0, 0.2, -1.0, 0.8]
    binned = binned_by_kl(kl, gold, bins=3)
    centres = [b[0] for b in binned]
    assert centres == sorted(centres) and sum(b[2] for b in binned) == len(kl)
    assert binned[0][1] == pytest.approx((0.0 + 0.5 + 0.2) / 3)  # 0.1, 0.3, 0.2 share the first third
    assert binned_by_kl([], []) == []
