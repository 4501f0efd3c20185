"""The demo report's parts: plots of the PPO runs, the summary and next steps read from the report's own figures,
the mitigations table and the planted-against-measured table (`sentinel.demo.run.run_demo` assembles them)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from .mitigations import PPORun

logger = logging.getLogger(__name__)


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed: no plots (pip install 'sentinel-rlhf[plots]')")
        return None
    return plt


def _band(ax, histories: list[list[dict]], key: str, colour: str, label: str, window: int) -> None:
    """The seeds' mean of `key` per step (trailing means over full windows) with the seeds' min-max band."""
    from .curves import seed_band, trailing_means

    curves = [trailing_means([h.get(key, math.nan) for h in run], window) for run in histories]
    mean, low, high = seed_band(curves)
    steps = list(range(window, window + len(mean)))
    ax.plot(steps, mean, color=colour, lw=2, label=label)
    if len(histories) > 1:
        ax.fill_between(steps, low, high, color=colour, alpha=0.2, lw=0)


def _gold_vs_kl(ax, histories: list[list[dict]], colour: str, label: str) -> None:
    """Gold averaged on a monotone grid of sqrt(KL) bins (all seeds' steps pooled): no line runs back."""
    from .curves import binned_by_kl

    kl = [math.sqrt(max(h.get("objective/kl", 0.0), 0.0)) for run in histories for h in run]
    gold = [h.get("gold/score", math.nan) for run in histories for h in run]
    binned = binned_by_kl(kl, gold, bins=12)
    ax.plot([b[0] for b in binned], [b[1] for b in binned], "o-", color=colour, lw=2, ms=3, label=label)


def demo_plots(histories: list[list[dict]], figs: dict, comparison: dict[str, dict], alarm_steps: list[int],
               out: Path) -> list[str]:
    """PNG figures of the PPO seeds and the final comparison; [] when matplotlib is missing (logged).

    Curves are the seeds' mean of trailing means over full windows with the seeds' min-max band; held-out gold is
    drawn where it was measured; the guard's alarms are marked at the step each was raised."""
    plt = _pyplot()
    if plt is None:
        return []
    from .curves import GaoFit

    w = figs["window"]
    seeds = len(histories)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    _band(axes[0], histories, "objective/scores", "tab:blue", "proxy: biased reward model (left axis)", w)
    gold_ax = axes[0].twinx()  # gold moves by tenths where the proxy moves by units: an axis of its own
    _band(gold_ax, histories, "gold/score", "tab:red", "gold grader, PPO samples (right axis)", w)
    held = [(i + 1, sum(r[i]["heldout/gold"] for r in histories) / seeds) for i in range(figs["steps"])
            if all("heldout/gold" in r[i] for r in histories)]
    if held:
        gold_ax.plot(*zip(*held), "s", color="darkred", ms=3, label="gold on held-out prompts")
    gold_ax.axvline(figs["gold_best_step"], color="tab:red", ls=":", lw=1, label="gold peak (mean curve)")
    for i, step in enumerate(sorted(set(alarm_steps))):
        gold_ax.axvline(step, color="black", ls="--", lw=1, label="guard: first high alarm" if i == 0 else None)
    gold_ax.set_ylabel("gold", color="tab:red"), axes[0].set_ylabel("proxy", color="tab:blue")
    axes[0].set_title(f"reward, mean of {seeds} seed{'s' if seeds > 1 else ''} (band: min-max)")
    lines = [h for ax in (axes[0], gold_ax) for h in ax.get_legend_handles_labels()[0]]
    gold_ax.legend(lines, [ln.get_label() for ln in lines], fontsize=7, loc="upper left")
    _band(axes[1], histories, "response_length/mean", "tab:green", "response length", w)
    axes[1].set_title("response length (tokens)")
    for ax in axes[:2]:
        ax.set_xlabel(f"PPO step (trailing means over {w} steps)")
    _gold_vs_kl(axes[2], histories, "tab:red", "gold, binned by sqrt(KL)")
    if "gao_alpha" in figs:
        fit = GaoFit(figs["gao_alpha"], figs["gao_beta"], figs["gao_r2"], 0)
        top = max(math.sqrt(max(h.get("objective/kl", 0.0), 0.0)) for run in histories for h in run)
        ds = [top * (i + 1) / 50 for i in range(50)]
        axes[2].plot(ds, [figs["gold_start"] + fit.predict(d) for d in ds], "k--", lw=1,
                     label=f"Gao fit: d({fit.alpha:.2f} - {fit.beta:.2f} log d), R2 {fit.r2:.2f}")
    axes[2].set_xlabel("sqrt(KL to the start policy)"), axes[2].set_title("gold reward vs sqrt(KL)")
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "ppo.png", dpi=90)
    plt.close(fig)
    names = list(comparison)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar(names, [comparison[n]["gold_accuracy"] for n in names], color=["#888", "#c44", "#48c"][: len(names)])
    ax.set_ylim(0, 1), ax.set_ylabel("gold accuracy (greedy)"), ax.set_title("SFT vs PPO vs DPO")
    fig.tight_layout()
    fig.savefig(out / "models.png", dpi=90)
    plt.close(fig)
    return ["ppo.png", "models.png"]


def mitigations_plot(histories: dict[str, list[list[dict]]], window: int, path: Path) -> bool:
    """Gold vs step (seeds' mean, min-max band) and gold vs sqrt(KL) on a monotone grid, one line per run. False
    when matplotlib is missing."""
    plt = _pyplot()
    if plt is None:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for i, (name, runs) in enumerate(histories.items()):
        colour = f"C{i}"
        label = f"{name} ({len(runs)} seed{'s' if len(runs) > 1 else ''})"
        _band(axes[0], runs, "gold/score", colour, label, window)
        _gold_vs_kl(axes[1], runs, colour, label)
    axes[0].set_xlabel(f"PPO step (trailing means over {window} steps; band: seeds' min-max)")
    axes[0].set_ylabel("gold reward of PPO samples"), axes[0].set_title("gold vs step")
    axes[1].set_xlabel("sqrt(KL to the start policy), binned"), axes[1].set_title("gold vs sqrt(KL)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


# The report's key figures (names of metrics; their values come from the run).
KEY_METRICS = ["SFT/gold_accuracy", "PPO/gold_accuracy", "DPO/gold_accuracy", "ppo/seeds", "ppo/proxy_first",
               "ppo/proxy_last", "ppo/gold_first", "ppo/gold_peak", "ppo/gold_peak_step", "ppo/gold_last",
               "ppo/first_high_alarm_step", "ppo/kl_last", "ppo/gao_r2"]
GOLD_DROP = 0.1  # gold ending this far below its peak (while the proxy rose) is called over-optimisation


def clear_winner(figures: dict[str, dict]) -> tuple[str | None, str]:
    """(name, why) of the run that kept the most sampled gold at the end, named only where its lead exceeds the
    seeds' spread: its worst seed above every other run's best seed. (None, why not) otherwise."""
    ranked = sorted(figures, key=lambda k: figures[k]["gold_end"], reverse=True)
    if len(ranked) < 2:
        return None, "one run: nothing to compare"
    top = ranked[0]
    if any(figures[k]["seeds"] < 2 for k in ranked[:2]):
        return None, (f"{top} ended highest ({figures[top]['gold_end']:+.2f}), but on one seed a lead cannot be "
                      "told from the seeds' spread (benchmarks/mitigations.py runs three)")
    rival = max(ranked[1:], key=lambda k: figures[k]["gold_end_max"])
    if figures[top]["gold_end_min"] > figures[rival]["gold_end_max"]:
        return top, (f"its worst seed ({figures[top]['gold_end_min']:+.2f}) ended above every other run's best seed "
                     f"({rival}: {figures[rival]['gold_end_max']:+.2f})")
    return None, (f"{top} ended highest on the mean ({figures[top]['gold_end']:+.2f}) but within the seeds' spread "
                  f"of {rival} ({figures[rival]['gold_end_min']:+.2f} to {figures[rival]['gold_end_max']:+.2f}): no "
                  "clear winner at this budget")


def demo_summary(d: dict) -> tuple[list[str], list[str]]:
    """(what happened, what to do next) for the demo report, read from its JSON dict (metrics, findings, config)."""
    m, cfg = d["metrics"], d.get("config", {})
    n, seeds, peak_step = m.get("ppo/steps"), m.get("ppo/seeds", 1), m["ppo/gold_peak_step"]
    proxy_gain = m["ppo/proxy_last"] - m["ppo/proxy_first"]
    drop = m["ppo/gold_peak"] - m["ppo/gold_last"]
    over = proxy_gain > 0 and drop >= GOLD_DROP
    curve = f"the mean of {seeds} seeds" if seeds > 1 else "one seed (a single seed's curve is noise: read it as such)"
    what = [(f"PPO against the reward model trained on the biased preferences ran {n} steps: proxy reward "
             f"{m['ppo/proxy_first']:+.2f} -> {m['ppo/proxy_last']:+.2f}, gold reward {m['ppo/gold_first']:+.2f} -> "
             f"{m['ppo/gold_last']:+.2f} (peak {m['ppo/gold_peak']:+.2f} at step {peak_step}), on {curve}, "
             f"trailing means over {m['ppo/window']} steps.")]
    rise = m["ppo/gold_peak"] - m["ppo/gold_first"]
    if over and rise >= GOLD_DROP:
        what.append(f"That is over-optimisation: the proxy rose by {proxy_gain:.2f} while gold rose {rise:+.2f} to "
                    f"its peak and then ended {drop:.2f} below it.")
    elif over:
        what.append(f"The proxy rose by {proxy_gain:.2f} while gold never rose by {GOLD_DROP} and ended {drop:.2f} "
                    "below its best window: the reward model led PPO away from gold from the start.")
    if m.get("ppo/heldout_gold_first") is not None:
        what.append(f"On {cfg.get('heldout_prompts', '?')} held-out prompts, gold went "
                    f"{m['ppo/heldout_gold_first']:+.2f} -> {m['ppo/heldout_gold_last']:+.2f} (peak "
                    f"{m['ppo/heldout_gold_peak']:+.2f} near step {m['ppo/heldout_gold_peak_step']}); greedy accuracy "
                    f"{m['ppo/heldout_greedy_first']:.2f} -> {m['ppo/heldout_greedy_last']:.2f}.")
    if m.get("ppo/gao_r2") is not None:
        what.append(f"Gao et al.'s RL form fitted to mean gold against sqrt(KL): alpha {m['ppo/gao_alpha']:.2f}, "
                    f"beta {m['ppo/gao_beta']:.2f}, R-squared {m['ppo/gao_r2']:.2f}.")
    raised = [(s, m.get(f"ppo/seed_{s}/first_high_alarm_step")) for s in m.get("ppo/seed_list", [])]
    fired = [(s, at) for s, at in raised if at is not None]
    if fired:
        after = sum(at >= peak_step for _, at in fired)
        what.append("The guard's first high alarm was raised at step "
                    + ", ".join(f"{at} (seed {s})" for s, at in fired)
                    + f"; {after} of {len(fired)} at or after the gold peak of the mean curve (step {peak_step})"
                    + (f"; no high alarm in {len(raised) - len(fired)} seed(s)." if len(fired) < len(raised) else "."))
    else:
        what.append("The guard raised no high alarm during PPO.")
    rm = [f for f in d["findings"] if f["id"].startswith("reward-model/")]
    what.append(f"The reward-model audit flagged {len(rm)} bias{'es' if len(rm) != 1 else ''}"
                + (f": {', '.join(f['id'].split('/', 1)[1] for f in rm)}." if rm else "."))
    acc = {name: m.get(f"{name}/gold_accuracy") for name in ("SFT", "PPO", "DPO")}
    what.append(f"Greedy gold accuracy on {cfg.get('eval_prompts', '?')} eval prompts: "
                + ", ".join(f"{k} {v:.3f}" for k, v in acc.items() if v is not None) + ".")
    if m.get("mitigation/winner_reason"):
        winner = m.get("mitigation/winner")
        what.append((f"Of the mitigations, {winner} kept the most gold: " if winner else "Mitigations: ")
                    + m["mitigation/winner_reason"] + ".")

    steps = []
    if over:
        steps.append(f"Do not keep the final PPO policy: its gold reward ended {drop:.2f} below its peak at step "
                     f"{peak_step}. Stop earlier (SentinelCallback(stop_on='high') ends the run at the first check "
                     f"that raises a high alarm), penalise KL more (this run: fixed coefficient "
                     f"{cfg.get('ppo_kl_coef', '?')}), or optimise an ensemble of reward models "
                     "(PPOConfig(ensemble='min' or 'uwo') with reward_model=[...]).")
    urgent = [f for f in rm if f["severity"] in ("high", "critical")]
    if urgent:
        steps.append(f"Fix the reward model before optimising against it: the audit found it rewards "
                     f"{', '.join(f['id'].split('/', 1)[1] for f in urgent)} (high severity); retrain it on "
                     "preferences without those biases, or read each finding's evidence below.")
    known = {k: v for k, v in acc.items() if v is not None}
    if known and acc.get("PPO") is not None and acc.get("SFT") is not None and acc["PPO"] < acc["SFT"]:
        top = max(known, key=lambda k: known[k])
        steps.append(f"Of the three policies, {top} keeps the most gold accuracy ({known[top]:.3f}); PPO ends at "
                     f"{acc['PPO']:.3f}, below its start ({acc['SFT']:.3f}).")
    if not steps:
        steps.append("Nothing in this run asks for action: gold did not fall after its peak, PPO kept the start "
                     "policy's gold accuracy, and the audit flagged nothing at high severity.")
    return what, steps


def mitigation_table(figures: dict[str, dict], comparison: dict[str, dict], runs: dict[str, PPORun]) -> list[dict]:
    """One evidence row per run: what it changed, its seeds, sampled gold (start, best, end: the seeds' mean with
    their range), proxy, sqrt(KL) and length at the end, and greedy gold accuracy on the eval prompts (first seed)."""
    rows = []
    for name, f in figures.items():
        rows.append({"run": name, "change": runs[name].what if name in runs else "", "seeds": f["seeds"],
                     "gold start": round(f["gold_start"], 3), "gold best": round(f["gold_best"], 3),
                     "best at step": f["gold_best_step"], "gold end": round(f["gold_end"], 3),
                     "gold end, seeds' range": f"{f['gold_end_min']:+.2f} to {f['gold_end_max']:+.2f}",
                     "proxy end": round(f["proxy_end"], 2), "sqrt(KL) end": round(f["sqrt_kl_end"], 2),
                     "length end": round(f["length_end"], 1), "steps": f["steps"],
                     "greedy gold accuracy": round(comparison[name]["gold_accuracy"], 3)})
    if "DPO" in comparison:
        rows.append({"run": "DPO", "change": "DPO on the start policy's own samples ranked by the gold grader",
                     "greedy gold accuracy": round(comparison["DPO"]["gold_accuracy"], 3)})
    return rows


# Annotator bias (lab.json) -> the RewardModelAuditor probe that looks for it, and the lab probe that isolates it.
PLANTED_PROBES = {"verbosity": ("verbosity", "verbosity"), "keyword": ("keyword", "keyword"),
                  "sycophancy": ("sycophancy", "sycophancy"), "evasiveness": ("evasive", "evasiveness")}


def planted_table(weights: dict[str, float], audit, planted: dict[str, dict]) -> list[dict]:
    """One evidence row per planted bias: its weight in the annotator's utility against what the audit measured on
    the reward model (shift, effect size, flagged or not) and the lab's single-bias probe."""
    probes = audit.metrics.get("probes", {})
    flagged = {v.id: getattr(v.severity, "value", v.severity) for v in audit.vulnerabilities}
    rows = []
    for bias, (probe, lab_probe) in PLANTED_PROBES.items():
        measured, isolated = probes.get(probe, {}), planted.get(lab_probe, {})
        rows.append({"bias": bias, "planted weight": weights.get(bias, 0.0), "audit probe": probe,
                     "flagged": flagged.get(probe, "no"),
                     "shift (reward)": None if measured.get("shift") is None else round(measured["shift"], 3),
                     "effect (SD)": None if measured.get("effect") is None else round(measured["effect"], 2),
                     "lab probe: prefers the biased reply": isolated.get("prefers_biased")})
    return rows
