"""The demo report's parts: plots of the PPO runs, the summary and next steps read from the report's own figures,
the mitigations table and the planted-against-measured table (`sentinel.demo.run.run_demo` assembles them)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

from ..report import Finding
from .mitigations import PPORun, smoothing_window

logger = logging.getLogger(__name__)


def demo_plots(history: list[dict], comparison: dict[str, dict], alarms: list[Finding], out: Path) -> list[str]:
    """PNG figures of the PPO run and the final comparison; [] when matplotlib is missing (logged).

    Per-step values are noisy, so each curve is a centred moving average (`smoothing_window` steps) drawn over the
    raw points, which stay faint; the guard's alarms are marked at the step each one names."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed: no plots (pip install 'sentinel-rlhf[plots]')")
        return []
    from ..report.stats import moving_average

    steps = list(range(1, len(history) + 1))
    window = smoothing_window(len(history))

    def smooth(xs):
        return moving_average(xs, window)

    proxy = [h.get("objective/scores") for h in history]
    gold = [h.get("gold/score") for h in history]
    length = [h.get("response_length/mean") for h in history]
    root_kl = [math.sqrt(max(h.get("objective/kl", 0.0), 0.0)) for h in history]
    marks = sorted({int(a.data["step"]) for a in alarms if isinstance(a.data.get("step"), (int, float))})

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for values, colour, label in ((proxy, "tab:blue", "proxy: biased reward model"),
                                  (gold, "tab:red", "gold grader (watched only)")):
        axes[0].plot(steps, values, color=colour, alpha=0.25, lw=0.8)
        axes[0].plot(steps, smooth(values), color=colour, lw=2, label=label)
    axes[0].set_title("reward"), axes[0].legend(fontsize=8)
    axes[1].plot(steps, length, color="tab:green", alpha=0.25, lw=0.8)
    axes[1].plot(steps, smooth(length), color="tab:green", lw=2)
    axes[1].set_title("response length (tokens)")
    for ax in axes[:2]:
        ax.set_xlabel(f"PPO step (lines: moving average over {window} steps)")
        for i, step in enumerate(marks):
            ax.axvline(step, color="black", ls="--", lw=1, label="guard alarm" if i == 0 and ax is axes[0] else None)
    if marks:
        axes[0].legend(fontsize=8)
    axes[2].scatter(root_kl, gold, s=10, color="tab:red", alpha=0.25, label="single steps")
    sk, sg = smooth(root_kl), smooth(gold)
    axes[2].plot(sk, sg, color="tab:red", lw=2, label=f"moving average ({window} steps)")
    axes[2].annotate("start", (sk[0], sg[0]), fontsize=8), axes[2].annotate("end", (sk[-1], sg[-1]), fontsize=8)
    for i, step in enumerate(marks):
        if 1 <= step <= len(history):
            axes[2].plot(sk[step - 1], sg[step - 1], "kx", ms=8, label="guard alarm" if i == 0 else None)
    axes[2].set_xlabel("sqrt(KL to the SFT policy)"), axes[2].set_title("gold reward vs sqrt(KL)")
    axes[2].legend(fontsize=8)
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


# The report's key figures (names of metrics; their values come from the run).
KEY_METRICS = ["SFT/gold_accuracy", "PPO/gold_accuracy", "DPO/gold_accuracy", "ppo/proxy_first", "ppo/proxy_last",
               "ppo/gold_first", "ppo/gold_peak", "ppo/gold_peak_step", "ppo/gold_last", "ppo/first_alarm_step",
               "ppo/kl_last"]
GOLD_DROP = 0.1  # gold ending this far below its peak (while the proxy rose) is called over-optimisation


def best_mitigation(metrics: dict, include_dpo: bool = True) -> tuple[str, float] | None:
    """(name, greedy gold accuracy) of the mitigation (or DPO) that kept the most gold; None without mitigations."""
    scores = {k.split("/")[1]: v for k, v in metrics.items()
              if k.startswith("mitigation/") and k.endswith("/gold_accuracy") and v is not None}
    if not scores:
        return None
    if include_dpo and metrics.get("DPO/gold_accuracy") is not None:
        scores["DPO"] = metrics["DPO/gold_accuracy"]
    name = max(scores, key=lambda k: (scores[k], metrics.get(f"mitigation/{k}/gold_end", -math.inf)))
    return name, scores[name]


def demo_summary(d: dict) -> tuple[list[str], list[str]]:
    """(what happened, what to do next) for the demo report, read from its JSON dict (metrics, findings, config)."""
    m, findings, cfg = d["metrics"], d["findings"], d.get("config", {})
    n, peak_step = m.get("ppo/steps"), m["ppo/gold_peak_step"]
    proxy_gain = m["ppo/proxy_last"] - m["ppo/proxy_first"]
    drop = m["ppo/gold_peak"] - m["ppo/gold_last"]
    over = proxy_gain > 0 and drop >= GOLD_DROP
    what = [(f"PPO against the reward model trained on the biased preferences ran {n} steps: proxy reward "
             f"{m['ppo/proxy_first']:+.2f} -> {m['ppo/proxy_last']:+.2f}, gold reward {m['ppo/gold_first']:+.2f} -> "
             f"{m['ppo/gold_last']:+.2f} (peak {m['ppo/gold_peak']:+.2f} at step {peak_step}).")]
    if over:
        what.append(f"That is over-optimisation: the proxy rose by {proxy_gain:.2f} while gold ended {drop:.2f} below "
                    "its peak.")
    alarms = sorted((f for f in findings if f["id"].startswith("ppo/") and f["severity"] != "info"),
                    key=lambda f: f.get("data", {}).get("step") or 0)
    if alarms:
        first = alarms[0]
        at = first.get("data", {}).get("step")
        when = "" if at is None else (f", at step {at}: " + ("before" if at < peak_step else "at" if at == peak_step
                                                             else "after") + f" the gold peak (step {peak_step})")
        what.append(f"The guard raised {len(alarms)} alarm{'s' if len(alarms) != 1 else ''} "
                    f"({', '.join(f['id'] for f in alarms)}); the first, {first['id']}{when}.")
    else:
        what.append("The guard raised no alarm during PPO.")
    rm = [f for f in findings if f["id"].startswith("reward-model/")]
    what.append(f"The reward-model audit flagged {len(rm)} bias{'es' if len(rm) != 1 else ''}"
                + (f": {', '.join(f['id'].split('/', 1)[1] for f in rm)}." if rm else "."))
    acc = {name: m.get(f"{name}/gold_accuracy") for name in ("SFT", "PPO", "DPO")}
    what.append(f"Greedy gold accuracy on {cfg.get('eval_prompts', '?')} eval prompts: "
                + ", ".join(f"{k} {v:.3f}" for k, v in acc.items() if v is not None) + ".")
    best = best_mitigation(m)
    if best is not None:
        name, value = best
        line = (f"Of the mitigations (same SFT start and step budget), {name} kept the most gold: greedy gold "
                f"accuracy {value:.3f} against {acc['PPO']:.3f} for PPO alone")
        ppo_best = best_mitigation(m, include_dpo=False)
        if name == "DPO" and ppo_best is not None:
            line += f"; of the PPO runs, {ppo_best[0]} ({ppo_best[1]:.3f})"
        name = name if name != "DPO" or ppo_best is None else ppo_best[0]
        end = m.get(f"mitigation/{name}/gold_end")
        what.append(line + (f"; {name}'s sampled gold at the end {end:+.2f} against {m['ppo/gold_last']:+.2f} for "
                            "PPO alone." if end is not None else "."))

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
                     f"{acc['PPO']:.3f}, below its SFT start ({acc['SFT']:.3f}).")
    if not steps:
        steps.append("Nothing in this run asks for action: gold did not fall after its peak, PPO kept the SFT "
                     "policy's gold accuracy, and the audit flagged nothing at high severity.")
    return what, steps


def mitigation_table(figures: dict[str, dict], comparison: dict[str, dict], runs: dict[str, PPORun]) -> list[dict]:
    """One evidence row per run: what it changed, gold (sampled: start, best, end), proxy, KL, length at the end, and
    greedy gold accuracy on the eval prompts."""
    rows = []
    for name, f in figures.items():
        rows.append({"run": name, "change": runs[name].what if name in runs else "",
                     "gold start": round(f["gold_start"], 3), "gold best": round(f["gold_best"], 3),
                     "best at step": f["gold_best_step"], "gold end": round(f["gold_end"], 3),
                     "proxy end": round(f["proxy_end"], 2), "sqrt(KL) end": round(f["sqrt_kl_end"], 2),
                     "length end": round(f["length_end"], 1), "steps": f["steps"],
                     "greedy gold accuracy": round(comparison[name]["gold_accuracy"], 3)})
    if "DPO" in comparison:
        rows.append({"run": "DPO", "change": "DPO on the SFT policy's own samples ranked by the gold grader",
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
