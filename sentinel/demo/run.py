"""The end-to-end lab pipeline that `make demo` runs: SFT -> reward model -> audit -> PPO (watched) -> DPO -> compare.

Each stage writes its own folder under `out/` atomically, and a stage whose folder is already complete is reused,
so a run that crashed or was interrupted resumes where it stopped. Everything the run found ends in one report
(`out/report.json`, rendered to HTML and Markdown) with plots of the PPO run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError
from ..lab.recipes import DPO_RECIPE, SFT_RECIPE
from ..report import Effect, Finding, Report, Severity
from ..utils import atomic_write_json
from .mitigations import PPORun, gold_vs_kl_plot, mitigation_runs, run_figures, run_ppo
from .tables import KEY_METRICS, demo_plots, demo_summary, mitigation_table, planted_table

if TYPE_CHECKING:
    from ..audit.consistency.callback import SentinelCallback
    from ..audit.reward_model import RewardModelAuditResult
    from ..lab.build import Lab

logger = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    """Sizes of the demo run. Defaults take a few minutes on a 2-core laptop CPU."""

    seed: int = field(default=0, metadata={"help": "seed of the lab, the training runs and sampling"})
    gold_weight: float | None = field(default=None, metadata={
        "help": "weight of the gold grade in the lab annotator's utility (None: the lab's default, 2); larger "
                "weights let correctness outweigh the planted biases in more pairs"})
    base_model: str | None = field(default=None, metadata={
        "help": "causal-LM folder to start SFT from instead of the lab's untrained base: the lab's base adapted on "
                "domain text (sentinel train lm --model OUT/lab/base ...), so the run goes domain -> instruction -> "
                "preference; it must keep the lab's tokenizer (a lab of the same seed has the same one)"})
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
    ensemble: Literal["mean", "min", "uwo"] = field(default="min", metadata={
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
# run's (docs/lab/demo.md).
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
    """Whether `folder` holds a finished stage (its `marker` file exists)."""
    return (folder / marker).is_file()


def _stage(name: str, folder: Path, build: Callable[[Path], object]) -> Path:
    """`folder`, after `build(folder)` unless a finished stage is already there."""
    if _done(folder):
        logger.info("%s: reusing %s", name, folder)
    else:
        logger.info("%s: training into %s", name, folder)
        build(folder)
    return folder


@dataclass
class _PPOStage:
    """The PPO run against the biased reward model ("PPO") and the mitigation runs beside it, keyed by run name."""

    guard: SentinelCallback  # the "PPO" run's guard, with its alarms
    histories: dict[str, list[dict]]
    folders: dict[str, Path]
    runs: dict[str, PPORun]


@dataclass
class _Stages:
    """What the stages produced: the lab, model folders, the audit, the PPO runs, every policy's gold accuracy."""

    lab_dir: Path
    lab: Lab
    sft: Path
    rm: Path
    audit: RewardModelAuditResult
    planted: dict[str, dict[str, float]]  # the lab's probe of the planted biases, `bias_preferences`
    ppo: _PPOStage
    dpo: Path
    comparison: dict[str, dict[str, Any]]  # per policy: gold_accuracy, mean_gold, samples

    @property
    def main_three(self) -> dict[str, dict[str, Any]]:
        """The comparison of SFT, PPO and DPO (the mitigations left out)."""
        return {k: self.comparison[k] for k in ("SFT", "PPO", "DPO")}


def _prepare(out: Path, cfg: DemoConfig) -> None:
    """Create `out` (refusing one that holds other settings), seed torch and use one thread."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, cfg)
    torch.manual_seed(cfg.seed)
    # Lab models are tiny: a second thread buys little on small batches (SFT_RECIPE asks for two for its batches of
    # 64; benchmarks/lab_pipeline.py --sft-threads measures it), and oversubscribed cores make every step far slower.
    torch.set_num_threads(1)


def _open_lab(lab_dir: Path, cfg: DemoConfig) -> Lab:
    """The demo's lab, built into `lab_dir` on the first run."""
    from ..lab.build import Lab, LabConfig, init_lab

    if not (lab_dir / "lab.json").is_file():
        lab_cfg = LabConfig(seed=cfg.seed) if cfg.gold_weight is None else LabConfig(seed=cfg.seed,
                                                                                  gold_weight=cfg.gold_weight)
        init_lab(lab_dir, lab_cfg, overwrite=True)
    return Lab.open(lab_dir)


def _train_sft(lab_dir: Path, folder: Path, cfg: DemoConfig) -> Path:
    """The SFT policy (the lab's SFT recipe), from the lab's base or `cfg.base_model`."""
    from ..lab.recipes import RecipeConfig, train_sft

    return _stage("SFT", folder, lambda f: train_sft(lab_dir, f, RecipeConfig(
        **{**SFT_RECIPE, "steps": cfg.sft_steps, "seed": cfg.seed}), init=cfg.base_model))


def _train_reward_model(lab_dir: Path, sft: Path, folder: Path, seed: int, cfg: DemoConfig) -> Path:
    """A reward model trained from `sft` on the lab's biased preferences, with `seed`."""
    from ..lab.recipes import RecipeConfig, train_reward

    return _stage(f"reward model (seed {seed})", folder, lambda f: train_reward(lab_dir, f, RecipeConfig(
        steps=cfg.rm_steps, batch_size=32, learning_rate=3e-3, seed=seed), init=sft))


def _audit(out: Path, lab: Lab, rm: Path,
           cfg: DemoConfig) -> tuple[RewardModelAuditResult, dict[str, dict[str, float]]]:
    """The reward-model audit (saved to `out/audit`) and the lab's probe of the planted biases."""
    from .. import RewardModelAuditor
    from ..lab.reward_checks import bias_preferences

    logger.info("auditing the reward model")
    audit = RewardModelAuditor(max_cases=cfg.audit_cases, seed=cfg.seed).analyze(str(rm), str(lab.data("preferences")))
    audit.save(out / "audit")
    return audit, bias_preferences(str(rm), n=100, seed=cfg.seed)


def _ppo_and_mitigations(out: Path, lab: Lab, lab_dir: Path, sft: Path, rm: Path, cfg: DemoConfig) -> _PPOStage:
    """PPO against the biased reward model into `out/ppo`, then each mitigation into `out/mitigations/<name>`."""
    logger.info("PPO against the biased reward model (%d steps)", cfg.ppo_steps)
    ppo: dict[str, Any] = {"steps": cfg.ppo_steps, "learning_rate": cfg.ppo_learning_rate, "seed": cfg.seed}
    main = PPORun("PPO", "none: PPO against the biased reward model, fixed KL coefficient "
                  f"{cfg.ppo_kl_coef:g}", cfg.ppo_kl_coef)
    history, guard = run_ppo(lab, sft, rm, out / "ppo", main, **ppo)
    stage = _PPOStage(guard, {"PPO": history}, {"PPO": out / "ppo"}, {"PPO": main})
    if not cfg.mitigations:
        return stage
    members = [rm] + [_train_reward_model(lab_dir, sft, out / f"reward-model-{i}", cfg.seed + i, cfg)
                      for i in range(1, cfg.ensemble_size)]
    for run in mitigation_runs(main, members, strong_kl_coef=cfg.strong_kl_coef, ensemble=cfg.ensemble,
                               uwo_lambda=cfg.uwo_lambda, length_penalty=cfg.length_penalty):
        logger.info("mitigation %s: %s", run.name, run.what)
        stage.folders[run.name] = out / "mitigations" / run.name
        stage.histories[run.name], _ = run_ppo(lab, sft, rm, stage.folders[run.name], run, **ppo)
        stage.runs[run.name] = run
    return stage


def _train_dpo(lab_dir: Path, sft: Path, folder: Path, cfg: DemoConfig) -> Path:
    """DPO from `sft` on pairs of its own samples ranked by the gold grader (the lab's DPO recipe)."""
    from ..lab.recipes import RecipeConfig, train_dpo

    # DPO gets the clean signal PPO lacks: pairs of the SFT policy's own samples ranked by the gold grader. (DPO on
    # the biased annotator's pairs, like PPO against the biased reward model, does not raise gold accuracy.)
    return _stage("DPO", folder, lambda f: train_dpo(lab_dir, f, sft, RecipeConfig(
        **{**DPO_RECIPE, "steps": cfg.dpo_steps, "seed": cfg.seed})))


def _gold_accuracy(lab: Lab, policies: list[tuple[str, Path]], cfg: DemoConfig) -> dict[str, dict[str, Any]]:
    """Per policy: gold accuracy, mean gold grade and three samples of greedy replies to the lab's eval prompts."""
    from ..lab.evaluate import evaluate

    logger.info("gold accuracy of every policy on %d eval prompts", cfg.eval_prompts)
    comparison = {}
    for name, folder in policies:
        ev = evaluate(str(folder), lab.data("eval"), limit=cfg.eval_prompts)
        comparison[name] = {"gold_accuracy": ev["accuracy"], "mean_gold": ev["mean_gold"],
                            "samples": ev["samples"][:3]}
    return comparison


def _figures(out: Path, s: _Stages) -> list[str]:
    """Plots of the PPO run and the three policies, and gold vs KL of every run when mitigations ran."""
    histories = s.ppo.histories
    figures = demo_plots(histories["PPO"], s.main_three, s.ppo.guard.alarms, out)
    if len(histories) > 1 and gold_vs_kl_plot(histories, out / "mitigations.png"):
        figures.append("mitigations.png")
    return figures


def _findings(s: _Stages, run_figs: dict[str, dict[str, float]], cfg: DemoConfig) -> list[Finding]:
    """The audit's findings, planted vs measured biases, the PPO guard's alarms, proxy vs gold, the mitigations."""
    f = run_figs["PPO"]
    findings: list[Finding] = []
    for v in s.audit.vulnerabilities:
        findings.append(Finding(f"reward-model/{v.id}", v.severity, f"Reward model: {v.description}",
                                score=v.score, confidence=v.confidence, effect=v.effect, evidence=v.evidence[:2]))
    findings.append(Finding(
        "demo/planted-vs-measured", Severity.INFO,
        "Planted annotator biases against what the audit measured on the reward model trained on them",
        evidence=planted_table(s.lab.info["biases"], s.audit, s.planted)))
    for a in s.ppo.guard.alarms:
        findings.append(Finding(f"ppo/{a.id}", a.severity, f"PPO guard: {a.description}", score=a.score,
                                confidence=a.confidence, effect=a.effect, evidence=a.evidence[:2], data=a.data))
    findings.append(Finding(
        "ppo/proxy-vs-gold", Severity.INFO,
        f"PPO raised the proxy reward {f['proxy_start']:+.2f} -> {f['proxy_end']:+.2f} while the gold reward went "
        f"{f['gold_start']:+.2f} -> {f['gold_end']:+.2f} (best {f['gold_best']:+.2f} at step {f['gold_best_step']}; "
        f"means over {f['window']} steps)",
        effect=Effect("proxy gain minus gold gain",
                      (f["proxy_end"] - f["proxy_start"]) - (f["gold_end"] - f["gold_start"])),
    ))
    if len(s.ppo.histories) > 1:
        findings.append(Finding(
            "demo/mitigations", Severity.INFO,
            "Mitigations of over-optimisation, side by side from the same SFT policy and step budget"
            f" ({cfg.ppo_steps} PPO steps; gold and proxy are means of PPO samples over {f['window']} steps)",
            evidence=mitigation_table(run_figs, s.comparison, s.ppo.runs)))
    return findings


def _metrics(s: _Stages, run_figs: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Gold accuracy per policy, the reward model's accuracy and bias preferences, the PPO run, the mitigations."""
    f = run_figs["PPO"]
    main_three = s.main_three
    alarm_steps = [a.data["step"] for a in s.ppo.guard.alarms
                   if a.data.get("step") is not None and a.severity != "info"]
    return {
        **{f"{n}/gold_accuracy": c["gold_accuracy"] for n, c in main_three.items()},
        **{f"{n}/mean_gold": c["mean_gold"] for n, c in main_three.items()},
        "reward_model/strict_accuracy": s.audit.metrics.get("accuracy", {}).get("value"),
        **{f"reward_model/prefers_{k}": v.get("prefers_biased") for k, v in s.planted.items() if isinstance(v, dict)},
        "ppo/proxy_first": f["proxy_start"], "ppo/proxy_last": f["proxy_end"],
        "ppo/gold_first": f["gold_start"], "ppo/gold_peak": f["gold_best"],
        "ppo/gold_peak_step": f["gold_best_step"],
        "ppo/gold_last": f["gold_end"], "ppo/kl_last": f["kl_end"],
        "ppo/length_first": f["length_start"], "ppo/length_last": f["length_end"],
        "ppo/steps": f["steps"], "ppo/window": f["window"],
        "ppo/first_alarm_step": min(alarm_steps, default=None),
        **{f"mitigation/{name}/{k}": v for name, fig in run_figs.items() if name != "PPO" for k, v in fig.items()},
        **{f"mitigation/{name}/gold_accuracy": s.comparison[name]["gold_accuracy"]
           for name in s.ppo.histories if name != "PPO"},
    }


def _notes(s: _Stages, run_figs: dict[str, dict[str, float]]) -> list[str]:
    """What the biases, the training signals and the figures are, and one sample reply per policy."""
    from ..data import as_messages, prompt_text

    window = run_figs["PPO"]["window"]
    return [f"planted annotator biases: {s.lab.info['biases']}",
            ("PPO optimised the reward model trained on the biased preferences; DPO learned from pairs of the SFT "
             "policy's own samples ranked by the gold grader (correct over wrong)"),
            "gold accuracy: greedy replies graded by the lab's exact grader (1 correct, 0 no answer, -1 wrong)",
            (f"PPO gold and proxy: means of the batch's sampled replies; start and end are means over the first "
             f"and last {window} steps, best is the best moving average over {window} steps"),
            *[f"{n} sample: {prompt_text(as_messages(x['prompt']))!r} -> {x['reply']!r} (gold {x['gold']:+.0f})"
              for n, c in s.main_three.items() for x in c["samples"][:1]]]


def _report(out: Path, s: _Stages, cfg: DemoConfig) -> Report:
    """The demo's report (figures written into `out`), its summary and next steps read from its numbers."""
    figures = _figures(out, s)
    run_figs = {name: run_figures(h) for name, h in s.ppo.histories.items()}
    report = Report(
        kind="demo", title="sentinel demo: SFT -> reward model -> PPO (watched) -> mitigations on the built-in lab",
        findings=_findings(s, run_figs, cfg), seed=cfg.seed, config=asdict(cfg),
        model={"lab": str(s.lab_dir), "sft": str(s.sft), "reward_model": str(s.rm), "ppo": str(out / "ppo"),
               "dpo": str(s.dpo)},
        metrics=_metrics(s, run_figs), key_metrics=KEY_METRICS, notes=_notes(s, run_figs),
        figures=figures,
    )
    report.summary, report.next_steps = demo_summary(report.to_dict())
    return report


def run_demo(out: str | Path, config: DemoConfig | None = None) -> Report:
    """Run the whole lab pipeline into `out` and return (and save) its report."""
    cfg = config or DemoConfig()
    out = Path(out)
    _prepare(out, cfg)
    lab_dir = out / "lab"
    lab = _open_lab(lab_dir, cfg)
    sft = _train_sft(lab_dir, out / "sft", cfg)
    rm = _train_reward_model(lab_dir, sft, out / "reward-model", cfg.seed, cfg)
    audit, planted = _audit(out, lab, rm, cfg)
    ppo = _ppo_and_mitigations(out, lab, lab_dir, sft, rm, cfg)
    dpo = _train_dpo(lab_dir, sft, out / "dpo", cfg)
    comparison = _gold_accuracy(lab, [("SFT", sft), *ppo.folders.items(), ("DPO", dpo)], cfg)
    stages = _Stages(lab_dir, lab, sft, rm, audit, planted, ppo, dpo, comparison)
    report = _report(out, stages, cfg)
    report.save(out)
    return report
