"""The end-to-end lab pipeline that `make demo` runs: SFT -> reward model -> audit -> PPO (watched) -> DPO -> compare.

Each stage writes its own folder under `out/` atomically, and a stage whose folder is already complete is reused,
so a run that crashed or was interrupted resumes where it stopped. Everything the run found ends in one report
(`out/report.json`, rendered to HTML and Markdown) with plots of the PPO run.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import ConfigError
from ..report import Effect, Finding, Report
from ..utils import atomic_write_json
from .mitigations import PPORun, gold_vs_kl_plot, mitigation_runs, run_figures, run_ppo, smoothing_window
from .recipes import DPO_RECIPE, SFT_RECIPE

logger = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    """Sizes of the demo run. Defaults take a few minutes on a 2-core laptop CPU."""

    seed: int = field(default=0, metadata={"help": "seed of the lab, the training runs and sampling"})
    gold_weight: float | None = field(default=None, metadata={
        "help": "weight of the gold grade in the lab annotator's utility (None: the lab's default, 2); larger "
                "weights let correctness outweigh the planted biases in more pairs"})
    sft_steps: int = field(default=SFT_RECIPE["steps"], metadata={
        "help": "SFT optimiser steps (the lab's SFT recipe: batches of 64, learning rate 1e-2)"})
    rm_steps: int = field(default=150, metadata={"help": "reward-model optimiser steps on the biased preferences"})
    ppo_steps: int = field(default=40, metadata={"help": "PPO steps against the biased reward model"})
    ppo_learning_rate: float = field(default=2e-4, metadata={
        "help": "PPO learning rate: high enough that the policy finds the reward model's hacks in a short run"})
    ppo_kl_coef: float = field(default=0.01, metadata={
        "help": "fixed KL coefficient; small, so the policy may drift from the SFT start and over-optimise"})
    dpo_steps: int = field(default=DPO_RECIPE["steps"], metadata={
        "help": "DPO optimiser steps on gold-labelled pairs of the SFT policy's own samples (`sentinel lab pairs`)"})
    eval_prompts: int = field(default=120, metadata={"help": "eval prompts for gold accuracy and the comparison"})
    audit_cases: int = field(default=150, metadata={"help": "preference pairs used by the reward-model audit"})
    mitigations: bool = field(default=True, metadata={
        "help": "also run the mitigations of over-optimisation from the same SFT policy and step budget, side by "
                "side (stronger KL, reward-model ensemble, length penalty, guard stop)"})
    strong_kl_coef: float = field(default=0.1, metadata={"help": "KL coefficient of the strong-KL mitigation"})
    ensemble_size: int = field(default=3, metadata={
        "help": "reward models in the ensemble mitigation (the demo's own plus ones from other seeds); < 2: no "
                "ensemble run"})
    ensemble: str = field(default="min", metadata={
        "help": "how the ensemble combines its members per sample: min, mean or uwo (mean - uwo_lambda x variance)"})
    uwo_lambda: float = field(default=1.0, metadata={"help": "variance weight of ensemble=uwo"})
    length_penalty: float = field(default=0.1, metadata={
        "help": "cost per response token of the length-penalty mitigation, in reward units"})

    def __post_init__(self):
        for name in ("sft_steps", "rm_steps", "ppo_steps", "dpo_steps", "eval_prompts", "audit_cases"):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)}", field=name)
        for name in ("ppo_learning_rate", "ppo_kl_coef", "strong_kl_coef", "length_penalty"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"must be positive, got {getattr(self, name)}", field=name)
        if self.ensemble not in ("min", "mean", "uwo"):
            raise ConfigError(f"expected min, mean or uwo, got {self.ensemble!r}", field="ensemble")


# `sentinel demo --quick`: a first look in under two minutes on two cores (no ensemble run: its extra reward model
# and PPO run are what push it past two). Its SFT stops before the list and arithmetic tasks are learnt (greedy gold
# accuracy about 0.5 instead of 0.93), so its PPO has wrong answers to fix and its figures differ from the default
# run's (README "Demo").
QUICK_DEMO = {"sft_steps": 300, "ppo_steps": 20, "rm_steps": 100, "ensemble_size": 1, "dpo_steps": 80,
              "eval_prompts": 60, "audit_cases": 60}


def _check_resume(out: Path, cfg: DemoConfig) -> None:
    """Finished stages are reused, so a folder holds one configuration: refuse to resume with another."""
    saved = out / "demo-config.json"
    now = asdict(cfg)
    if saved.is_file():
        before = json.loads(saved.read_text())
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        if changed:
            diff = ", ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in changed)
            raise ConfigError(f"{out} holds a demo run with other settings ({diff}); its finished stages would be "
                              "reused. Give another --out, or delete the folder", field=changed[0])
    else:
        atomic_write_json(saved, now)


def _done(folder: Path, marker: str = "config.json") -> bool:
    return (folder / marker).is_file()


def _stage(name: str, folder: Path, build) -> Path:
    if _done(folder):
        logger.info("%s: reusing %s", name, folder)
    else:
        logger.info("%s: training into %s", name, folder)
        build(folder)
    return folder


def _plots(history: list[dict], comparison: dict[str, dict], alarms: list[Finding], out: Path) -> list[str]:
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
    axes[2].plot(smooth(root_kl), smooth(gold), color="tab:red", lw=2, label=f"moving average ({window} steps)")
    sk, sg = smooth(root_kl), smooth(gold)
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
        name = name if name != "DPO" else (ppo_best or (None,))[0]
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
        best = max(known, key=known.get)
        steps.append(f"Of the three policies, {best} keeps the most gold accuracy ({known[best]:.3f}); PPO ends at "
                     f"{acc['PPO']:.3f}, below its SFT start ({acc['SFT']:.3f}).")
    if not steps:
        steps.append("Nothing in this run asks for action: gold did not fall after its peak, PPO kept the SFT "
                     "policy's gold accuracy, and the audit flagged nothing at high severity.")
    return what, steps


def _mitigation_table(figures: dict[str, dict], comparison: dict[str, dict], runs: dict[str, PPORun]) -> list[dict]:
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


def _planted_table(weights: dict[str, float], audit, planted: dict[str, dict]) -> list[dict]:
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


def run_demo(out: str | Path, config: DemoConfig | None = None) -> Report:
    """Run the whole lab pipeline into `out` and return (and save) its report."""
    import torch

    from .. import RewardModelAuditor
    from ..data import as_messages, prompt_text
    from .build import Lab, LabConfig, init_lab
    from .evaluate import evaluate
    from .probe import bias_preferences
    from .recipes import RecipeConfig, train_dpo, train_reward, train_sft

    cfg = config or DemoConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, cfg)
    torch.manual_seed(cfg.seed)
    # Lab models are tiny: a second thread buys little on small batches (SFT_RECIPE asks for two: its batches of 64
    # gain 1.5x), and oversubscribed cores make every step far slower.
    torch.set_num_threads(1)
    lab_dir = out / "lab"
    if not (lab_dir / "lab.json").is_file():
        lab_cfg = LabConfig(seed=cfg.seed) if cfg.gold_weight is None else LabConfig(seed=cfg.seed,
                                                                                  gold_weight=cfg.gold_weight)
        init_lab(lab_dir, lab_cfg, overwrite=True)
    lab = Lab.open(lab_dir)

    sft = _stage("SFT", out / "sft", lambda f: train_sft(lab_dir, f, RecipeConfig(
        **{**SFT_RECIPE, "steps": cfg.sft_steps, "seed": cfg.seed})))

    def reward_model(seed: int, folder: Path) -> Path:
        return _stage(f"reward model (seed {seed})", folder, lambda f: train_reward(lab_dir, f, RecipeConfig(
            steps=cfg.rm_steps, batch_size=32, learning_rate=3e-3, seed=seed), init=sft))

    rm = reward_model(cfg.seed, out / "reward-model")

    logger.info("auditing the reward model")
    audit = RewardModelAuditor(max_cases=cfg.audit_cases, seed=cfg.seed).analyze(str(rm), str(lab.data("preferences")))
    audit.save(out / "audit")
    planted = bias_preferences(str(rm), n=100, seed=cfg.seed)

    logger.info("PPO against the biased reward model (%d steps)", cfg.ppo_steps)
    ppo = {"steps": cfg.ppo_steps, "learning_rate": cfg.ppo_learning_rate, "seed": cfg.seed}
    main = PPORun("PPO", "none: PPO against the biased reward model, fixed KL coefficient "
                  f"{cfg.ppo_kl_coef:g}", cfg.ppo_kl_coef)
    history, guard = run_ppo(lab, sft, rm, out / "ppo", main, **ppo)
    histories, folders, runs = {"PPO": history}, {"PPO": out / "ppo"}, {"PPO": main}
    if cfg.mitigations:
        members = [rm] + [reward_model(cfg.seed + i, out / f"reward-model-{i}") for i in range(1, cfg.ensemble_size)]
        for run in mitigation_runs(main, members, strong_kl_coef=cfg.strong_kl_coef, ensemble=cfg.ensemble,
                                   uwo_lambda=cfg.uwo_lambda, length_penalty=cfg.length_penalty):
            logger.info("mitigation %s: %s", run.name, run.what)
            folders[run.name] = out / "mitigations" / run.name
            histories[run.name], _ = run_ppo(lab, sft, rm, folders[run.name], run, **ppo)
            runs[run.name] = run

    # DPO gets the clean signal PPO lacks: pairs of the SFT policy's own samples ranked by the gold grader. (DPO on
    # the biased annotator's pairs, like PPO against the biased reward model, does not raise gold accuracy.)
    dpo_dir = _stage("DPO", out / "dpo", lambda f: train_dpo(lab_dir, f, sft, RecipeConfig(
        **{**DPO_RECIPE, "steps": cfg.dpo_steps, "seed": cfg.seed})))

    logger.info("gold accuracy of every policy on %d eval prompts", cfg.eval_prompts)
    comparison = {}
    for name, folder in (("SFT", sft), *folders.items(), ("DPO", dpo_dir)):
        ev = evaluate(str(folder), lab.data("eval"), limit=cfg.eval_prompts)
        comparison[name] = {"gold_accuracy": ev["accuracy"], "mean_gold": ev["mean_gold"],
                            "samples": ev["samples"][:3]}
    main_three = {k: comparison[k] for k in ("SFT", "PPO", "DPO")}
    figures = _plots(history, main_three, guard.alarms, out)
    if len(histories) > 1 and gold_vs_kl_plot(histories, out / "mitigations.png"):
        figures.append("mitigations.png")

    run_figs = {name: run_figures(h) for name, h in histories.items()}
    f = run_figs["PPO"]
    findings: list[Finding] = []
    for v in audit.vulnerabilities:
        findings.append(Finding(f"reward-model/{v.id}", v.severity, f"Reward model: {v.description}",
                                score=v.score, confidence=v.confidence, effect=v.effect, evidence=v.evidence[:2]))
    findings.append(Finding(
        "demo/planted-vs-measured", "info",
        "Planted annotator biases against what the audit measured on the reward model trained on them",
        evidence=_planted_table(lab.info["biases"], audit, planted)))
    for a in guard.alarms:
        findings.append(Finding(f"ppo/{a.id}", a.severity, f"PPO guard: {a.description}", score=a.score,
                                confidence=a.confidence, effect=a.effect, evidence=a.evidence[:2], data=a.data))
    findings.append(Finding(
        "ppo/proxy-vs-gold", "info",
        f"PPO raised the proxy reward {f['proxy_start']:+.2f} -> {f['proxy_end']:+.2f} while the gold reward went "
        f"{f['gold_start']:+.2f} -> {f['gold_end']:+.2f} (best {f['gold_best']:+.2f} at step {f['gold_best_step']}; "
        f"means over {f['window']} steps)",
        effect=Effect("proxy gain minus gold gain",
                      (f["proxy_end"] - f["proxy_start"]) - (f["gold_end"] - f["gold_start"])),
    ))
    if len(histories) > 1:
        findings.append(Finding(
            "demo/mitigations", "info",
            "Mitigations of over-optimisation, side by side from the same SFT policy and step budget"
            f" ({cfg.ppo_steps} PPO steps; gold and proxy are means of PPO samples over {f['window']} steps)",
            evidence=_mitigation_table(run_figs, comparison, runs)))
    alarm_steps = [a.data["step"] for a in guard.alarms if a.data.get("step") is not None and a.severity != "info"]
    report = Report(
        kind="demo", title="sentinel demo: SFT -> reward model -> PPO (watched) -> mitigations on the built-in lab",
        findings=findings, seed=cfg.seed, config=asdict(cfg),
        model={"lab": str(lab_dir), "sft": str(sft), "reward_model": str(rm), "ppo": str(out / "ppo"),
               "dpo": str(dpo_dir)},
        metrics={
            **{f"{n}/gold_accuracy": c["gold_accuracy"] for n, c in main_three.items()},
            **{f"{n}/mean_gold": c["mean_gold"] for n, c in main_three.items()},
            "reward_model/strict_accuracy": audit.metrics.get("accuracy", {}).get("value"),
            **{f"reward_model/prefers_{k}": v.get("prefers_biased") for k, v in planted.items() if isinstance(v, dict)},
            "ppo/proxy_first": f["proxy_start"], "ppo/proxy_last": f["proxy_end"],
            "ppo/gold_first": f["gold_start"], "ppo/gold_peak": f["gold_best"],
            "ppo/gold_peak_step": f["gold_best_step"],
            "ppo/gold_last": f["gold_end"], "ppo/kl_last": f["kl_end"],
            "ppo/length_first": f["length_start"], "ppo/length_last": f["length_end"],
            "ppo/steps": f["steps"], "ppo/window": f["window"],
            "ppo/first_alarm_step": min(alarm_steps, default=None),
            **{f"mitigation/{name}/{k}": v for name, fig in run_figs.items() if name != "PPO" for k, v in fig.items()},
            **{f"mitigation/{name}/gold_accuracy": comparison[name]["gold_accuracy"]
               for name in histories if name != "PPO"},
        },
        key_metrics=KEY_METRICS,
        notes=[f"planted annotator biases: {lab.info['biases']}",
               ("PPO optimised the reward model trained on the biased preferences; DPO learned from pairs of the SFT "
                "policy's own samples ranked by the gold grader (correct over wrong)"),
               "gold accuracy: greedy replies graded by the lab's exact grader (1 correct, 0 no answer, -1 wrong)",
               (f"PPO gold and proxy: means of the batch's sampled replies; start and end are means over the first "
                f"and last {f['window']} steps, best is the best moving average over {f['window']} steps"),
               *[f"{n} sample: {prompt_text(as_messages(s['prompt']))!r} -> {s['reply']!r} (gold {s['gold']:+.0f})"
                 for n, c in main_three.items() for s in c["samples"][:1]]],
        figures=figures,
    )
    report.summary, report.next_steps = demo_summary(report.to_dict())
    report.save(out)
    return report
