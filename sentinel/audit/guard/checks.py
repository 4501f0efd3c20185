"""Training-run checks: the signals of reward hacking and unstable RL in a metrics log (REFERENCE.md, section 2).

Each check is a small class registered in `TRAINING_CHECKS`; `run(log, cfg)` returns its findings and a status
(`"ok"`, `"alarm"` or `"not computable: <reason>"`). Every alarm names the step where it began (`data["step"]`).
Statistics that need more steps or metrics than the log has are reported as not computable, never as zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...registry import Registry
from ...report import Effect, Finding, Report, Severity
from ..consistency.thresholds import ConsistencyConfig
from .series import GROUP_KEY, Series, TrainingLog, read_training_log

TRAINING_CHECKS: Registry = Registry("training check")


@dataclass
class CheckResult:
    status: str = "ok"
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)


def not_computable(reason: str, **metrics) -> CheckResult:
    return CheckResult(status=f"not computable: {reason}", metrics=metrics)


def finite_series(log: TrainingLog, signal: str, what: str, cfg: ConsistencyConfig, why: str = ""
                  ) -> tuple[str, np.ndarray, np.ndarray] | CheckResult:
    """(metric name used, steps, values) of `signal`'s finite values, or a not-computable result when the log
    lacks it or has fewer than `cfg.min_steps` of them."""
    s = log.series(signal)
    if s is None:
        return not_computable(f"no {what} in the log (looked for {log.looked_for(signal)}){why}")
    ok = np.isfinite(s.values)
    if ok.sum() < cfg.min_steps:
        return not_computable(f"{int(ok.sum())} finite values of {s.key}; need at least {cfg.min_steps}")
    return s.key, s.steps[ok], s.values[ok]


# ---------------------------------------------------------------------------------------------------- helpers
def trailing_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Mean of the last `w` values at each position (fewer at the start); keeps onsets causal."""
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    lo = np.maximum(0, idx - w)
    return (c[idx] - c[lo]) / (idx - lo)


MIN_PEAK_WINDOW = 3  # fewest steps in the gold peak's mean and in the run's end level (over-optimisation)


def window(n: int) -> int:
    """Smoothing window for a run of `n` logged steps: a tenth of the run, at least 1."""
    return max(1, n // 10)


def step_noise(x: np.ndarray, smooth: np.ndarray) -> float:
    """One logged value's noise: the larger of its spread around the trailing mean and the spread of successive
    differences / sqrt(2). With a window of one step the first is zero (each value is its own mean), so a run of ten
    steps would find any dip significant; the second measures the noise whatever the window."""
    if len(x) < 3:
        return 0.0
    return max(float(np.std(x - smooth)), float(np.std(np.diff(x))) / math.sqrt(2))


def head(n: int) -> int:
    """How many first/last logged steps make the 'start' and 'end' levels of a run: a fifth, at least 2."""
    return max(2, n // 5)


def sustained_onset(mask: np.ndarray, run: int = 3, to_end: bool = True) -> int | None:
    """First index from which `mask` holds for `run` consecutive points (or to the end, unless `to_end=False`:
    then a stretch cut short by the end of the log is not yet sustained); None if never."""
    n = len(mask)
    for i in range(n if to_end else n - run + 1):
        end = min(n, i + run)
        if mask[i:end].all():
            return i
    return None


def hinge_onset(x: np.ndarray) -> int:
    """Index where a flat-then-linear ("hinge") fit to `x` bends, by least squares over every candidate bend.

    Used to date the start of a trend more precisely than a threshold crossing, which lags by the time the
    trend takes to clear the noise. O(n^2) in the number of logged steps, fine for logs of a few thousand rows.
    """
    n = len(x)
    t = np.arange(n, dtype=float)
    best, best_k = math.inf, 0
    for k in range(0, max(1, n - 2)):
        h = np.maximum(0.0, t - k)
        A = np.stack([np.ones(n), h], axis=1)
        coef, *_ = np.linalg.lstsq(A, x, rcond=None)
        sse = float(((A @ coef - x) ** 2).sum())
        if sse < best - 1e-12:
            best, best_k = sse, k
    return best_k


def pearson_ci(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Pearson r with a Fisher-z 95% CI; NaNs when either series is constant or n < 4."""
    n = len(x)
    if n < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return (math.nan, math.nan, math.nan)
    r = float(np.corrcoef(x, y)[0, 1])
    z, se = math.atanh(max(min(r, 0.999999), -0.999999)), 1 / math.sqrt(n - 3)
    return (r, math.tanh(z - 1.96 * se), math.tanh(z + 1.96 * se))


def align(a: Series, b: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps both series have, with their values (finite only)."""
    common, ia, ib = np.intersect1d(a.steps, b.steps, return_indices=True)
    va, vb = a.values[ia], b.values[ib]
    ok = np.isfinite(va) & np.isfinite(vb)
    return common[ok], va[ok], vb[ok]


def spikes(values: np.ndarray, factor: float, floor: float, hard_max: float | None = None) -> list[int]:
    """Indices whose value jumps above the running median of the earlier values by `factor` scaled MADs
    (and to at least twice that median and `floor`); anything above `hard_max` counts as well."""
    out = []
    for i, v in enumerate(values):
        if not math.isfinite(v):
            continue
        if hard_max is not None and v > hard_max:
            out.append(i)
            continue
        past = values[max(0, i - 20):i]
        past = past[np.isfinite(past)]
        if len(past) < 3:
            continue
        med = float(np.median(past))
        mad = 1.4826 * float(np.median(np.abs(past - med)))
        if v > med + factor * max(mad, 1e-12) and v > 2 * abs(med) and v > floor:
            out.append(i)
    return out


def _step(s: float) -> int | float:
    return int(s) if float(s).is_integer() else float(s)


# ---------------------------------------------------------------------------------------------------- checks
@TRAINING_CHECKS.register("non-finite")
class NonFinite:
    """A logged metric is NaN or infinite: the run has diverged from that step on."""

    def run(self, log: TrainingLog, cfg: ConsistencyConfig) -> CheckResult:
        first: dict[str, tuple[float, str]] = {}
        for r, origin in zip(log.rows, log.origins):
            for k, v in r.items():
                if isinstance(v, float) and not math.isfinite(v) and k not in first:
                    first[k] = (r["step"], origin)
        if not first:
            return CheckResult()
        step = min(s for s, _ in first.values())
        keys = sorted(first, key=lambda k: first[k][0])
        ev = [f"'{k}' first non-finite at step {_step(first[k][0])} ({first[k][1]})" for k in keys]
        f = Finding("non-finite", Severity.CRITICAL,
                    f"NaN/inf in {', '.join(repr(k) for k in keys)} from step {_step(step)}: training has diverged",
                    evidence=ev, data={"step": _step(step), "metrics": keys})
        return CheckResult("alarm", [f], {"first_non_finite_step": _step(step)})


@TRAINING_CHECKS.register("length-hacking")
class LengthHacking:
    """Reward rising in lockstep with response length (Singhal et al. 2023): how much of the reward gain
    the length gain explains, from a least-squares fit of reward on length over the logged steps."""

    def run(self, log, cfg):
        rew, ln = log.series("reward"), log.series("length")
        if rew is None or ln is None:
            missing = "reward" if rew is None else "length"
            return not_computable(f"no {missing} metric in the log (looked for {log.looked_for(missing)})")
        steps, r, lens = align(rew, ln)
        n = len(steps)
        if n < cfg.min_steps:
            return not_computable(f"{n} steps with both reward and length; need at least {cfg.min_steps}")
        k = head(n)
        d_reward = float(r[-k:].mean() - r[:k].mean())
        d_length = float(lens[-k:].mean() - lens[:k].mean())
        corr, lo, hi = pearson_ci(lens, r)
        metrics = {"reward_gain": d_reward, "length_gain": d_length,
                   "reward_length_r": None if math.isnan(corr) else corr}
        # Did the reward rise? Its last fifth against its first, in standard errors of that difference. (A rank
        # correlation with time, used before, called a reward that saturated early and then held its plateau
        # "not rising", whatever its gain.)
        rise_se = math.sqrt(float(np.var(r[:k], ddof=1) + np.var(r[-k:], ddof=1)) / k)
        if not d_reward > 2 * rise_se:
            metrics["length_share_of_gain"] = None
            return CheckResult("ok", metrics=metrics | {"length_share_reason": "reward did not rise"})
        if math.isnan(corr):
            metrics["length_share_of_gain"] = None
            return CheckResult("ok", metrics=metrics | {"length_share_reason": "length is constant"})
        slope = float(np.polyfit(lens, r, 1)[0])
        share = slope * d_length / d_reward
        metrics["length_share_of_gain"] = share
        base = float(np.abs(lens[:k]).mean()) or 1.0
        rel_len = d_length / base
        metrics["length_relative_gain"] = rel_len
        if not (rel_len >= 0.1 and corr >= cfg.length_lockstep_r and share >= cfg.length_share_alarm):
            return CheckResult("ok", metrics=metrics)
        w = window(n)
        ls, rs = trailing_mean(lens, w), trailing_mean(r, w)
        thr = lens[:k].mean() + max(0.1 * base, 2 * float(lens[:k].std()))
        crossed = sustained_onset((ls > thr) & (rs > r[:k].mean()))
        # The bend of a hinge fit dates the start; the threshold crossing bounds it from above.
        i = min(hinge_onset(lens), crossed if crossed is not None else n - 1)
        sev = Severity.HIGH if share >= 0.8 and corr >= 0.9 else Severity.MEDIUM
        f = Finding(
            "length-hacking", sev,
            f"reward rose in lockstep with response length from step {_step(steps[i])}: length explains "
            f"{share:.0%} of the reward gain (r = {corr:.2f}); the policy is likely exploiting a length bias",
            score=float(min(1.0, max(0.0, share))), confidence=float(min(1.0, max(0.0, lo))),
            effect=Effect("reward-length Pearson r over steps", corr, lo, hi),
            evidence=[f"step {_step(steps[0])}: reward {r[0]:.3g}, length {lens[0]:.3g}",
                      f"step {_step(steps[i])}: reward {r[i]:.3g}, length {lens[i]:.3g} (onset)",
                      f"step {_step(steps[-1])}: reward {r[-1]:.3g}, length {lens[-1]:.3g}"],
            data={"step": _step(steps[i]), "share_of_gain": share, "reward_gain": d_reward, "length_gain": d_length,
                  "reward_key": rew.key, "length_key": ln.key})
        return CheckResult("alarm", [f], metrics)


@TRAINING_CHECKS.register("kl")
class KLCheck:
    """KL to the reference negative (a broken estimator or sampling mismatch, TRL #417) or above 1.5x the target
    (TRL's classic early-stop rule)."""

    def run(self, log, cfg):
        s = log.series("kl")
        if s is None:
            why = ("; GRPO and RLOO log 'kl' only when their KL coefficient beta is above 0, so this run had no KL "
                   "penalty and nothing held the policy near its reference" if log.group_relative else "")
            return not_computable(f"no KL metric in the log (looked for {log.looked_for('kl')}){why}")
        v, steps = s.values, s.steps
        ok = np.isfinite(v)
        v, steps = v[ok], steps[ok]
        if len(v) == 0:
            return not_computable("every KL value is NaN/inf")
        out, metrics = [], {"kl_max": float(v.max()), "kl_last": float(v[-1]), "kl_target": cfg.kl_target}
        neg = np.flatnonzero(v < -cfg.kl_negative_tolerance)
        if len(neg):
            # one or two dips are estimator noise worth a note; a run of them, or a mean that stays negative, is a
            # broken estimate (sampling that differs from the reference's, TRL #417)
            # Three consecutive points of the running mean, all inside the log: a dip at the last logged step
            # (the step a live check runs at) is not yet a mean that stays negative.
            sustained = sustained_onset(trailing_mean(v, window(len(v))) < -cfg.kl_negative_tolerance,
                                        to_end=False)
            if len(neg) < 3:
                sustained = None  # early in a run the trailing window is a step or two: one dip is not a run
            sev = Severity.HIGH if sustained is not None else Severity.MEDIUM if len(neg) >= 3 else Severity.LOW
            out.append(Finding(
                "kl-negative", sev,
                f"KL to the reference is below -{cfg.kl_negative_tolerance:g} at {len(neg)} of {len(v)} logged steps, "
                f"first at step {_step(steps[neg[0]])} (min {v.min():.3g})"
                + ("; its running mean stays negative: the KL estimate is broken" if sustained is not None else ""),
                score=len(neg) / len(v), evidence=[f"step {_step(steps[i])}: {s.key} = {v[i]:.4g}" for i in neg[:10]],
                data={"step": _step(steps[neg[0]]), "count": int(len(neg)), "key": s.key}))
        if cfg.kl_target is None:
            metrics["kl_above_target"] = "not computable: no kl_target given"
        else:
            above = np.flatnonzero(v > 1.5 * cfg.kl_target)
            metrics["kl_above_target"] = int(len(above))
            if len(above):
                sev = Severity.HIGH if len(above) >= 3 else Severity.MEDIUM
                out.append(Finding(
                    "kl-above-target", sev,
                    f"KL exceeded 1.5x its target ({1.5 * cfg.kl_target:.3g}) from step {_step(steps[above[0]])} "
                    f"({len(above)} logged steps, max {v.max():.3g}); the policy is drifting far from the reference",
                    score=float(min(1.0, len(above) / len(v) + 0.5)),
                    effect=Effect("max KL / target", float(v.max() / cfg.kl_target)),
                    evidence=[f"step {_step(steps[i])}: {s.key} = {v[i]:.4g}" for i in above[:10]],
                    data={"step": _step(steps[above[0]]), "count": int(len(above)), "key": s.key}))
        return CheckResult("alarm" if out else "ok", out, metrics)


@TRAINING_CHECKS.register("approxkl-above-target")
class ApproxKLCheck:
    """The per-update approximate KL above 1.5x PPO's `target_kl`: single updates move the policy too far
    (classic TRL stops the PPO epochs of a batch there)."""

    def run(self, log, cfg):
        if cfg.approxkl_target is None:
            return not_computable("no approxkl_target given")
        s = log.series("approxkl")
        if s is None:
            return not_computable(f"no approximate-KL metric in the log (looked for {log.looked_for('approxkl')})")
        limit = 1.5 * cfg.approxkl_target
        above = np.flatnonzero(np.isfinite(s.values) & (s.values > limit))
        if not len(above):
            return CheckResult("ok", metrics={"approxkl_above_target": 0})
        f = Finding("approxkl-above-target", Severity.HIGH if len(above) >= 3 else Severity.MEDIUM,
                    f"approximate KL per update exceeded 1.5x target_kl ({limit:.3g}) at {len(above)} logged steps, "
                    f"first at step {_step(s.steps[above[0]])} ({s.values[above[0]]:.3g})",
                    score=float(min(1.0, 0.5 + len(above) / len(s))),
                    evidence=[f"step {_step(s.steps[i])}: {s.key} = {s.values[i]:.4g}" for i in above[:10]],
                    data={"step": _step(s.steps[above[0]]), "count": int(len(above)), "key": s.key})
        return CheckResult("alarm", [f], {"approxkl_above_target": int(len(above))})


@TRAINING_CHECKS.register("importance-ratio")
class RatioCheck:
    """The PPO importance ratio pi/pi_old should stay near 1; far from it, updates are off-policy and unstable."""

    def run(self, log, cfg):
        s = log.series("ratio")
        if s is None:
            why = ("; GRPO and RLOO log the share of clipped tokens (clip_ratio/*, read by clipfrac-spike), not a "
                   "mean importance ratio" if log.group_relative else "")
            return not_computable(f"no importance-ratio metric in the log (looked for {log.looked_for('ratio')}){why}")
        v, steps = s.values, s.steps
        bad = np.flatnonzero(np.isfinite(v) & ((np.abs(v - 1) > cfg.ratio_tolerance) | (v > 10)))
        metrics = {"ratio_max_deviation": float(np.nanmax(np.abs(v - 1))) if np.isfinite(v).any() else None}
        if not len(bad):
            return CheckResult("ok", metrics=metrics)
        sev = Severity.HIGH if (v[bad] > 10).any() or len(bad) >= 3 else Severity.MEDIUM
        f = Finding("importance-ratio", sev,
                    f"importance ratio far from 1 (|ratio - 1| > {cfg.ratio_tolerance}) at {len(bad)} logged steps, "
                    f"first at step {_step(steps[bad[0]])} ({v[bad[0]]:.3g})",
                    score=float(min(1.0, len(bad) / len(v) + 0.5)),
                    evidence=[f"step {_step(steps[i])}: {s.key} = {v[i]:.4g}" for i in bad[:10]],
                    data={"step": _step(steps[bad[0]]), "count": int(len(bad)), "key": s.key})
        return CheckResult("alarm", [f], metrics)


class _SpikeCheck:
    signal = ""
    what = ""
    floor = 0.0
    group_relative_why = ""  # why a GRPO/RLOO log lacks the metric, when it never has it

    def hard_max(self, cfg):
        return None

    def run(self, log, cfg):
        s = log.series(self.signal)
        if s is None:
            why = f"; {self.group_relative_why}" if log.group_relative and self.group_relative_why else ""
            return not_computable(f"no {self.what} metric in the log (looked for {log.looked_for(self.signal)}){why}")
        if len(s) < 4:
            return not_computable(f"{len(s)} logged values of {s.key}; spikes need at least 4")
        idx = spikes(s.values, cfg.spike_factor, self.floor, self.hard_max(cfg))
        if not idx:
            return CheckResult("ok", metrics={f"{self.id}_count": 0})
        f = Finding(self.id, Severity.MEDIUM,
                    f"{self.what} spiked at {len(idx)} logged steps, first at step {_step(s.steps[idx[0]])} "
                    f"({s.key} = {s.values[idx[0]]:.3g}, running median before it "
                    f"{np.median(s.values[max(0, idx[0] - 20):idx[0]] if idx[0] else s.values[:1]):.3g})",
                    score=float(min(1.0, 0.5 + len(idx) / len(s))),
                    evidence=[f"step {_step(s.steps[i])}: {s.key} = {s.values[i]:.4g}" for i in idx[:10]],
                    data={"step": _step(s.steps[idx[0]]), "steps": [_step(s.steps[i]) for i in idx], "key": s.key})
        return CheckResult("alarm", [f], {f"{self.id}_count": len(idx)})


@TRAINING_CHECKS.register("clipfrac-spike")
class ClipfracSpike(_SpikeCheck):
    """A jump in the share of clipped tokens: one update moved the policy much further than the others."""

    # A clip fraction under 10% is within what healthy runs log (classic TRL PPO runs sit at 0.05-0.2), however
    # far above its own history: GRPO's token-level clip ratio idles near 0.01 and one batch at 0.05 is no alarm.
    signal, what, floor = "clipfrac", "clip fraction", 0.1

    def hard_max(self, cfg):
        return cfg.clipfrac_max


@TRAINING_CHECKS.register("value-loss-spike")
class ValueLossSpike(_SpikeCheck):
    """A jump in the value loss: the critic no longer predicts returns (often just before divergence)."""

    signal, what, floor = "value_loss", "value loss", 0.0
    group_relative_why = "GRPO and RLOO train no value model"


@TRAINING_CHECKS.register("entropy-collapse")
class EntropyCollapse:
    """Policy entropy falling to a small share of its start: the policy is collapsing onto a few outputs.

    Medium at most: on 54 lab PPO runs it was raised on none of the 30 that over-optimised and on 9 of the 24 that
    did not, 8 of them runs that optimised the gold reward itself (a policy that answers right grows certain), so it
    is a note on diversity, not a reason to stop a run (docs/benchmarks.md, "The guard as a detector").
    """

    def run(self, log, cfg):
        got = finite_series(log, "entropy", "entropy metric", cfg)
        if isinstance(got, CheckResult):
            return got
        key, steps, v = got
        start = float(v[:head(len(v))].mean())
        if start <= 0:
            return not_computable(f"starting entropy is {start:.3g}; "
                                  "a collapse is measured relative to a positive start")
        sm = trailing_mean(v, window(len(v)))
        ratio = float(sm[-1] / start)
        # raw values held below the line for 3 logs date the onset; the smoothed end confirms it stayed there
        i = sustained_onset(v < cfg.entropy_collapse * start)
        if i is None or sm[-1] >= cfg.entropy_collapse * start:
            return CheckResult("ok", metrics={"entropy_final_over_start": ratio})
        f = Finding("entropy-collapse", Severity.MEDIUM,
                    f"policy entropy fell below {cfg.entropy_collapse:.0%} of its start ({start:.3g}) from step "
                    f"{_step(steps[i])}; it ends at {ratio:.0%} of the start",
                    score=float(min(1.0, 1 - ratio)), effect=Effect("final / starting entropy", ratio),
                    evidence=[f"step {_step(steps[0])}: {key} = {v[0]:.4g}",
                              f"step {_step(steps[i])}: {key} = {v[i]:.4g}",
                              f"step {_step(steps[-1])}: {key} = {v[-1]:.4g}"],
                    data={"step": _step(steps[i]), "key": key})
        return CheckResult("alarm", [f], {"entropy_final_over_start": ratio})


def gao_rl_fit(d: np.ndarray, gold: np.ndarray) -> dict[str, float] | None:
    """Least-squares fit of Gao et al. (2022)'s RL form R(d) = d (a - b ln d), d = sqrt(KL) in sqrt-nats.

    Returns a, b and the d where the fitted gold reward peaks (exp(a/b - 1)), or None when it does not fit
    (fewer than 4 points with d > 0, or b <= 0: no peak). Gold is measured relative to its first value.
    """
    ok = (d > 0) & np.isfinite(gold)
    if ok.sum() < 4:
        return None
    dd, g = d[ok], gold[ok] - gold[0]
    A = np.stack([dd, -dd * np.log(dd)], axis=1)
    (a, b), *_ = np.linalg.lstsq(A, g, rcond=None)
    if b <= 0:
        return None
    return {"a": float(a), "b": float(b), "d_peak": float(math.exp(a / b - 1))}


@TRAINING_CHECKS.register("over-optimisation")
class OverOptimisation:
    """The proxy reward holds or extends its gains after the gold (held-out) reward has peaked and fallen
    (Gao et al. 2022).

    Three conditions, each against its own noise:
    1. gold fell: the peak window's mean (the highest of the run's full windows of at least 3 steps) against the
       mean of the run's last fifth, by more than `gold_fall_z` standard errors of that difference and by `gold_drop` of
       gold's range;
    2. the proxy was optimised: its last fifth above its first fifth by more than 2 standard errors (`gold-decline`
       takes the runs whose proxy did not rise, by its own start and end windows);
    3. the proxy did not fall with gold: its last fifth is not below its own peak-window mean by more than 2
       standard errors (a run whose proxy and gold fall together is collapsing, not over-optimising).
    The third asks that the proxy *hold*, not that it keep climbing: a policy that has saturated the reward model
    early and then drifts along the proxy's plateau while gold falls is the same failure (a rank correlation of the
    proxy with time after the peak, used before, missed such a run).

    What the first condition cannot see: a fall that is real but within the noise of the logged gold. A GRPO run of
    the lab against its biased reward model (ATEN_CPU_CAPABILITY=avx2; proxy +0.06 -> +3.42, gold 0.633 -> 0.338 over
    the first and last 15 of 150 logged steps) fell 0.29 from its peak window, 2.5 standard errors: each logged gold
    is the mean over the generation's 4 prompts, 0.35 of noise a step. A recorded PPO run whose gold was flat noise
    (tests/data/ppo_lab_gold_metrics.jsonl) reaches 2.5 standard errors too, and a threshold of 2 from the run's
    first window, tried as a second test, raised over-optimisation on it. No threshold on the gold series alone
    separates the two; the remedy is a less noisy gold, not a lower bar: gold measured on a fixed set of held-out
    prompts (for TRL's GRPO and RLOO, their evaluation loop, watched with `gold_metric="eval_rewards/gold/mean"`).
    On the lab's GRPO run, 16 such prompts sampled 8 times every 5 generations made the fall plain on every CPU
    setting tried (docs/guides/guard-training.md).
    """

    def run(self, log, cfg):
        proxy, gold = log.series("reward"), log.series("gold")
        if gold is None:
            return not_computable(f"no gold reward in the log (looked for {log.looked_for('gold')})")
        if proxy is None:
            return not_computable(f"no proxy reward in the log (looked for {log.looked_for('reward')})")
        steps, p, g = align(proxy, gold)
        n = len(steps)
        if n < cfg.min_steps:
            return not_computable(f"{n} steps with both proxy and gold reward; need at least {cfg.min_steps}")
        w = max(MIN_PEAK_WINDOW, window(n))
        ps, gs = trailing_mean(p, w), trailing_mean(g, w)
        # The peak among full windows only: before step w a "mean" holds fewer steps (the first is one noisy
        # step), and a lucky first batch must not be named as the peak.
        peak = w - 1 + int(np.argmax(gs[w - 1:]))
        tail = max(MIN_PEAK_WINDOW, head(n))
        g_end, p_end, p_start = float(np.mean(g[-tail:])), float(np.mean(p[-tail:])), float(np.mean(p[:tail]))
        fall = float(gs[peak] - g_end)  # the peak window's mean against the run's last steps
        proxy_gain = float(p_end - ps[peak])  # the proxy since the gold peak (negative: it fell back)
        proxy_rise = p_end - p_start  # the proxy over the run
        # standard errors of those differences; the peak is the highest of many windows, hence `gold_fall_z` (3), not 2
        noise = step_noise(g, gs) * math.sqrt(1 / w + 1 / tail)
        p_noise = step_noise(p, ps)
        scale = float(np.ptp(gs)) or 1e-12
        metrics = {"gold_peak_step": _step(steps[peak]), "gold_fall_after_peak": fall,
                   "gold_fall_standard_error": noise, "proxy_gain_after_peak": proxy_gain, "proxy_rise": proxy_rise}
        kl = log.series("kl")
        d_info: dict[str, Any] = {}
        if kl is not None:
            ks, kv, gk = align(kl, gold)
            d = np.sqrt(np.clip(kv, 0, None))
            fit = gao_rl_fit(d, gk)
            if len(ks):
                j = int(np.argmin(np.abs(ks - steps[peak])))
                d_info = {"sqrt_kl_at_gold_peak": float(d[j]), "sqrt_kl_at_end": float(d[-1])}
            if fit:
                d_info["gao_fit"] = fit
        metrics.update(d_info)
        gold_fell = fall > cfg.gold_drop * scale and fall > cfg.gold_fall_z * noise
        optimised = proxy_rise > 2 * p_noise * math.sqrt(2 / tail)
        held = proxy_gain > -2 * p_noise * math.sqrt(1 / w + 1 / tail)
        if not (gold_fell and optimised and held):
            decline = _gold_decline(steps, p, g)
            if decline is None:
                return CheckResult("ok", metrics=metrics)
            return CheckResult("alarm", [decline], {**metrics, "gold_decline": decline.data["fall"]})
        where = (f" (sqrt KL {d_info['sqrt_kl_at_gold_peak']:.3g} at the peak, "
                 f"{d_info['sqrt_kl_at_end']:.3g} at the end)"
                 if "sqrt_kl_at_gold_peak" in d_info else "")
        f = Finding("over-optimisation", Severity.HIGH,
                    f"the gold reward peaked at step {_step(steps[peak])} and fell by {fall:.3g} (its mean over {w} "
                    f"steps at the peak against its mean over the last {tail}; {fall / max(noise, 1e-12):.1f} "
                    f"standard errors) while the proxy reward held its gains ({proxy_gain:+.3g} since the "
                    f"peak, {proxy_rise:+.3g} over the run){where}: the policy is over-optimising the proxy",
                    score=float(min(1.0, fall / scale)),
                    effect=Effect("gold fall after peak / gold range", fall / scale),
                    evidence=[f"step {_step(steps[peak])}: proxy {ps[peak]:.3g}, gold {gs[peak]:.3g} (gold peak; "
                              f"means over {w} steps)",
                              f"steps {_step(steps[-tail])}-{_step(steps[-1])}: proxy {p_end:.3g}, gold "
                              f"{g_end:.3g} (means)"],
                    data={"step": _step(steps[peak]), "proxy_key": proxy.key, "gold_key": gold.key, "gold_fall": fall,
                          "gold_fall_z": fall / max(noise, 1e-12), **d_info})
        return CheckResult("alarm", [f], metrics)


def _gold_decline(steps: np.ndarray, proxy: np.ndarray, gold: np.ndarray) -> Finding | None:
    """Gold lower at the end of the run than at its start, beyond 3 standard errors, while the proxy did not rise
    (the over-optimisation pattern needs a rising proxy): the policy drifts away from what gold measures without
    gaining reward. None when gold held (or the proxy rose: that case is over-optimisation's)."""
    h = head(len(steps))
    g0, g1, p0, p1 = gold[:h], gold[-h:], proxy[:h], proxy[-h:]
    se = math.sqrt(float(np.var(g0, ddof=1) + np.var(g1, ddof=1)) / h)
    fall, proxy_gain = float(g0.mean() - g1.mean()), float(p1.mean() - p0.mean())
    proxy_se = math.sqrt(float(np.var(p0, ddof=1) + np.var(p1, ddof=1)) / h)
    if not (fall > 3 * max(se, 1e-12) and proxy_gain < 2 * proxy_se):
        return None
    return Finding("gold-decline", Severity.MEDIUM,
                   f"gold reward fell by {fall:.3g} (mean of the first {h} steps {g0.mean():.3g}, of the last {h} "
                   f"{g1.mean():.3g}; {fall / max(se, 1e-12):.1f} standard errors) while the proxy did not rise "
                   f"({proxy_gain:+.3g}): the policy drifts away from what the gold reward measures without gaining "
                   "proxy reward",
                   score=float(min(1.0, fall / (abs(g0.mean()) + abs(g1.mean()) + 1e-12))),
                   effect=Effect("gold fall, first to last steps", fall),
                   evidence=[f"steps {_step(steps[0])}-{_step(steps[h - 1])}: gold {g0.mean():.3g}, proxy "
                             f"{p0.mean():.3g}",
                             f"steps {_step(steps[-h])}-{_step(steps[-1])}: gold {g1.mean():.3g}, proxy "
                             f"{p1.mean():.3g}"],
                   data={"step": _step(steps[-h]), "fall": fall, "proxy_gain": proxy_gain, "standard_error": se})


@TRAINING_CHECKS.register("no-learning-signal")
class NoLearningSignal:
    """GRPO / RLOO: a reply's advantage is its reward against the other replies to the same prompt, so a prompt
    whose replies all got the same reward teaches nothing. When most groups are like that (a binary verifier on
    prompts that are all too easy or all too hard, a saturated reward model), the run spends its samples for no
    gradient (DAPO's dynamic sampling exists for this)."""

    def run(self, log, cfg):
        got = finite_series(log, GROUP_KEY, f"'{GROUP_KEY}'", cfg,
                            why="; only group-relative trainers (GRPO, RLOO) log it")
        if isinstance(got, CheckResult):
            return got
        _, steps, v = got
        smooth = trailing_mean(v, window(len(v)))
        metrics = {"zero_std_share_mean": float(v.mean()), "zero_std_share_last": float(smooth[-1])}
        onset = sustained_onset(smooth >= cfg.zero_std_alarm)
        if onset is None:
            return CheckResult("ok", metrics=metrics)
        while onset > 0 and v[onset - 1] >= cfg.zero_std_alarm:  # the trailing mean lags: date the raw start
            onset -= 1
        share = float(v[onset:].mean())
        sev = Severity.HIGH if share >= 0.99 else Severity.MEDIUM
        f = Finding(
            "no-learning-signal", sev,
            f"from step {_step(steps[onset])}, in {share:.0%} of the prompts every reply got the same reward: "
            "their advantages are zero and the update learns nothing from them (rewards that cannot tell the "
            "replies apart; prompts all too easy or all too hard for the policy)",
            score=share, effect=Effect(f"mean {GROUP_KEY} from the onset", share),
            evidence=[f"step {_step(steps[i])}: {GROUP_KEY} = {v[i]:.3g}" for i in (0, onset, len(v) - 1)],
            data={"step": _step(steps[onset]), "share": share, "key": GROUP_KEY})
        return CheckResult("alarm", [f], metrics)


# ---------------------------------------------------------------------------------------------------- entry point
def check_training(run: Any, cfg: ConsistencyConfig | None = None, checks: list[str] | None = None) -> Report:
    """Run the training checks over a log (see `read_training_log` for the forms accepted) -> Report."""
    cfg = cfg or ConsistencyConfig()
    log = read_training_log(run)
    if cfg.gold_metric:
        log.aliases["gold"] = (cfg.gold_metric,)
    findings, statuses, metrics = [], {}, {}
    for name in checks or TRAINING_CHECKS.names():
        result = TRAINING_CHECKS.get(name)().run(log, cfg)
        statuses[name] = result.status
        findings.extend(result.findings)
        metrics.update(result.metrics)
    steps = [r["step"] for r in log.rows]
    skipped = {k: v for k, v in statuses.items() if v.startswith("not computable")}
    notes = list(log.notes) + [f"{k}: {v}" for k, v in skipped.items()]
    # Nothing beyond the always-computable sanity checks was measured: say so, never a clean bill.
    trend = [k for k in statuses if k not in ("non-finite", "kl")]
    if trend and all(k in skipped for k in trend):
        from ...report.coverage import Coverage, inconclusive_finding

        reasons = "; ".join(f"{k}: {v.removeprefix('not computable: ')}" for k, v in skipped.items())
        findings.append(inconclusive_finding("training", Coverage(
            0, len(trend), len(trend), 1, False,
            f"inconclusive: none of the {len(trend)} trend checks could be computed ({reasons})")))
    findings.sort(key=lambda f: (-f.severity.rank, f.data.get("step", 0)))
    metrics = {"steps_logged": len(steps), "first_step": _step(steps[0]), "last_step": _step(steps[-1]),
               "checks": statuses, **metrics}
    return Report("training-consistency", f"training-run checks: {log.source}", findings, metrics,
                  config={"kl_target": cfg.kl_target, "approxkl_target": cfg.approxkl_target,
                          "min_steps": cfg.min_steps}, notes=notes)
