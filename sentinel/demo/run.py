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
from ..utils import atomic_write_json, folder_lock
from .mitigations import PPOJob, PPORun, mitigation_runs, run_figures, run_ppo_jobs
from .tables import (
    KEY_METRICS,
    clear_winner,
    demo_plots,
    demo_summary,
    mitigation_table,
    mitigations_plot,
    planted_table,
)

if TYPE_CHECKING:
    from ..audit.guard.callback import SentinelCallback
    from ..audit.reward_model import RewardModelAuditResult
    from ..lab.build import Lab

logger = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    """Sizes of the demo run (docs/lab/demo.md gives its time on a 2-core laptop CPU)."""

    seed: int = field(default=0, metadata={"help": "seed of the lab, the training runs and sampling"})
    gold_weight: float = field(default=4.0, metadata={
        "help": "weight of the gold grade in the lab annotator's utility (the lab's own default is 2); at 4, "
                "correctness outweighs one or two planted biases but not all of them, so a reward model learns "
                "both (docs/benchmarks.md, 'The curve against a learned reward model')"})
    base_model: str | None = field(default=None, metadata={
        "help": "causal-LM folder to start SFT from instead of the lab's untrained base: the lab's base adapted "
                "on domain text (sentinel train domain --model OUT/lab/base ...), so the run goes domain -> "
                "instruction -> preference; it must keep the lab's tokenizer (a lab of the same seed has the same "
                "one)"})
    sft_steps: int = field(default=1000, metadata={
        "help": "SFT optimiser steps (the lab's SFT recipe otherwise: batches of 64, learning rate 1e-2)"})
    noisy_share: float = field(default=0.4, metadata={
        "help": "the SFT policy is then fine-tuned on demonstrations of which this share give a wrong answer "
                "(`noisy_sft`): a start with room to improve, as a real SFT policy has; 0: none"})
    onpolicy_prompts: int = field(default=2000, metadata={
        "help": "prompts (4 samples each, two pairs) of the start policy's own samples that the annotator labels "
                "for the reward model; as many templated pairs are added (`annotated_onpolicy_pairs`)"})
    rm_steps: int = field(default=750, metadata={
        "help": "reward-model optimiser steps (batches of 128, lr 4e-3, two fresh blocks on the start policy's "
                "trunk: `DEMO_RM`)"})
    ppo_steps: int = field(default=150, metadata={"help": "PPO steps against the biased reward model"})
    ppo_seeds: int = field(default=3, metadata={
        "help": "PPO runs against the biased reward model, seeds seed .. seed + n - 1: the report's curve is their "
                "mean, with their band (one seed's curve is noise)"})
    ppo_learning_rate: float = field(default=2e-4, metadata={
        "help": "PPO learning rate: high enough that the policy finds the reward model's hacks in a short run"})
    ppo_kl_coef: float = field(default=0.01, metadata={
        "help": "fixed KL coefficient; small, so the policy may drift from its start and over-optimise"})
    heldout_prompts: int = field(default=64, metadata={
        "help": "the lab's first eval prompts on which each PPO run's gold is also measured every "
                "--heldout-every steps (2 samples each, and greedy accuracy); 0: none"})
    heldout_every: int = field(default=10, metadata={"help": "PPO steps between held-out gold measurements"})
    dpo_steps: int = field(default=DPO_RECIPE["steps"], metadata={
        "help": "DPO optimiser steps on gold-labelled pairs of the start policy's own samples (`sentinel lab pairs`)"})
    eval_prompts: int = field(default=120, metadata={"help": "eval prompts for gold accuracy and the comparison"})
    audit_cases: int = field(default=150, metadata={"help": "preference pairs used by the reward-model audit"})
    mitigations: bool = field(default=True, metadata={
        "help": "also run the mitigations of over-optimisation from the same start policy and step budget, side "
                "by side (stronger KL, reward-model ensemble, length penalty, guard stop)"})
    mitigation_seeds: int = field(default=1, metadata={
        "help": "seeds of each mitigation run (the first of the PPO seeds); with one, the report names no winner "
                "(benchmarks/mitigations.py runs three)"})
    strong_kl_coef: float = field(default=0.1, metadata={"help": "KL coefficient of the strong-KL mitigation"})
    ensemble_size: int = field(default=2, metadata={
        "help": "reward models in the ensemble mitigation (the demo's own plus ones from other seeds, trained beside "
                "it); < 2: no ensemble run"})
    ensemble: Literal["mean", "min", "uwo"] = field(default="min", metadata={
        "help": "how the ensemble combines its members per sample: min, mean or uwo (mean - uwo_lambda x variance)"})
    uwo_lambda: float = field(default=1.0, metadata={"help": "variance weight of ensemble=uwo"})
    length_penalty: float = field(default=0.1, metadata={
        "help": "cost per response token of the length-penalty mitigation, in reward units"})
    workers: int = field(default=2, metadata={
        "help": "processes for the independent runs (reward models, PPO runs), one thread each; results do not "
                "depend on it. The workers are spawned: a script that calls run_demo does so under "
                "`if __name__ == '__main__':`"})

    def __post_init__(self):
        for name in ("sft_steps", "rm_steps", "ppo_steps", "ppo_seeds", "dpo_steps", "eval_prompts", "audit_cases",
                     "onpolicy_prompts", "heldout_every", "mitigation_seeds", "workers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)}", field=name)
        if self.heldout_prompts < 0:
            raise ConfigError(f"must be 0 or more, got {self.heldout_prompts}", field="heldout_prompts")
        if not 0 <= self.noisy_share < 1:
            raise ConfigError(f"expected a share in [0, 1), got {self.noisy_share}", field="noisy_share")
        for name in ("gold_weight", "ppo_learning_rate", "ppo_kl_coef", "strong_kl_coef", "length_penalty"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"must be positive, got {getattr(self, name)}", field=name)
        if self.ensemble not in ("min", "mean", "uwo"):
            raise ConfigError(f"expected min, mean or uwo, got {self.ensemble!r}", field="ensemble")


# `sentinel demo --quick`: a first look in under three minutes on two cores (docs/benchmarks.md gives the time). One
# PPO seed (its curve is noise, and the report says so), a shorter SFT, a small reward model, no mitigation runs.
QUICK_DEMO = {"sft_steps": 250, "onpolicy_prompts": 300, "rm_steps": 60, "ppo_steps": 60, "ppo_seeds": 1,
              "mitigations": False, "dpo_steps": 40, "eval_prompts": 60, "audit_cases": 60}


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
    """The PPO runs against the biased reward model ("PPO", one per seed) and the mitigation runs beside them: per
    run name, one history, guard and folder per seed."""

    histories: dict[str, list[list[dict]]]
    guards: dict[str, list[SentinelCallback]]
    folders: dict[str, list[Path]]
    runs: dict[str, PPORun]
    seeds: list[int]

    @property
    def guard(self) -> SentinelCallback:
        """The guard of the first "PPO" seed (its alarms go into the report as findings)."""
        return self.guards["PPO"][0]


@dataclass
class _Stages:
    """What the stages produced: the lab, model folders, the audit, the PPO runs, every policy's gold accuracy."""

    lab_dir: Path
    lab: Lab
    sft: Path
    start: Path  # the PPO, reward-model and DPO start: `sft`, fine-tuned on noisy demonstrations unless noisy_share 0
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
    # Independent runs go to `cfg.workers` processes instead.
    torch.set_num_threads(1)


def _open_lab(lab_dir: Path, cfg: DemoConfig) -> Lab:
    """The demo's lab, built into `lab_dir` on the first run."""
    from ..lab.build import Lab, LabConfig, init_lab

    if not (lab_dir / "lab.json").is_file():
        init_lab(lab_dir, LabConfig(seed=cfg.seed, gold_weight=cfg.gold_weight), overwrite=True)
    return Lab.open(lab_dir)


def _train_sft(lab_dir: Path, out: Path, cfg: DemoConfig) -> tuple[Path, Path]:
    """(the SFT policy, the start policy): the lab's SFT recipe from the lab's base or `cfg.base_model` into
    out/sft, then fine-tuned on demonstrations of which `cfg.noisy_share` are wrong into out/sft-noisy (the start,
    with room to improve; the SFT policy itself when the share is 0)."""
    from ..lab.recipes import RecipeConfig, noisy_sft, train_sft

    sft = _stage("SFT", out / "sft", lambda f: train_sft(lab_dir, f, RecipeConfig(
        **{**SFT_RECIPE, "steps": cfg.sft_steps, "seed": cfg.seed, "threads": 1}), init=cfg.base_model))
    if not cfg.noisy_share:
        return sft, sft
    return sft, _stage(f"SFT on {cfg.noisy_share:.0%} wrong demonstrations", out / "sft-noisy",
                       lambda f: noisy_sft(lab_dir, sft, f, share=cfg.noisy_share))


def _reward_pairs(lab_dir: Path, start: Path, folder: Path, cfg: DemoConfig) -> Path:
    """The reward models' training pairs in folder/pairs.jsonl: annotator-labelled pairs of the start policy's own
    samples (`annotated_onpolicy_pairs`, their annotations in folder/annotations.jsonl) and as many of the lab's
    templated pairs (the last 500 stay held out), shuffled."""
    import random

    from ..data import read_rows, write_rows
    from ..lab.recipes import annotated_onpolicy_pairs

    def build(f: Path) -> None:
        f.mkdir(parents=True, exist_ok=True)
        onpolicy, notes = annotated_onpolicy_pairs(lab_dir, start, n_prompts=cfg.onpolicy_prompts, k=4,
                                                   seed=cfg.seed)
        templated = read_rows(lab_dir / "data" / "preferences.jsonl").rows[:-500]
        pairs = templated[:len(onpolicy)] + onpolicy
        random.Random(cfg.seed).shuffle(pairs)
        write_rows(notes, f / "annotations.jsonl")
        write_rows(pairs, f / "pairs.jsonl")
        atomic_write_json(f / "config.json", {"onpolicy_pairs": len(onpolicy), "templated_pairs": len(onpolicy),
                                              "onpolicy_prompts": cfg.onpolicy_prompts, "policy": str(start)})

    return _stage("annotated pairs of the start policy's samples", folder, build)


# The demo's reward model: on its ~6,800 pairs (half the start policy's own samples), batches of 128 at lr 4e-3 for
# 750 steps rank more of the policy's gold-ranked pairs correctly than batches of 32 at 2e-3 for 3000 steps (0.738
# against 0.707 of 638; docs/benchmarks.md, "A reward model of the policy's own samples") in the same time.
DEMO_RM: dict[str, Any] = {"batch_size": 128, "learning_rate": 4e-3, "threads": 1}


@dataclass(frozen=True)
class _RMJob:
    lab_dir: Path
    start: Path
    pairs: Path
    folder: Path
    seed: int
    steps: int


def _train_rm(job: _RMJob) -> Path:
    """One reward model: two fresh blocks on the start policy's trunk, trained on the job's pairs."""
    from ..data import read_rows
    from ..lab.recipes import RecipeConfig, train_reward

    return _stage(f"reward model (seed {job.seed})", job.folder, lambda f: train_reward(
        job.lab_dir, f, RecipeConfig(**{**DEMO_RM, "steps": job.steps, "seed": job.seed}),
        pairs=read_rows(job.pairs).rows, init=job.start, blocks=2))


def _train_reward_models(lab_dir: Path, start: Path, pairs: Path, out: Path, cfg: DemoConfig) -> list[Path]:
    """The demo's reward model (out/reward-model) and, for the ensemble mitigation, the same recipe from other
    seeds (out/reward-model-<i>), trained side by side on `cfg.workers` processes."""
    from ..utils import in_processes

    members = cfg.ensemble_size if cfg.mitigations else 1
    jobs = [_RMJob(lab_dir, start, pairs / "pairs.jsonl", out / ("reward-model" if i == 0 else f"reward-model-{i}"),
                   cfg.seed + i, cfg.rm_steps) for i in range(max(1, members))]
    todo = [j for j in jobs if not _done(j.folder)]
    if todo:
        in_processes(_train_rm, todo, cfg.workers)
    return [j.folder for j in jobs]


def _audit(out: Path, lab: Lab, rm: Path,
           cfg: DemoConfig) -> tuple[RewardModelAuditResult, dict[str, dict[str, float]]]:
    """The reward-model audit (saved to `out/audit`) and the lab's probe of the planted biases."""
    from .. import RewardModelAuditor
    from ..lab.reward_checks import bias_preferences

    logger.info("auditing the reward model")
    audit = RewardModelAuditor(max_rows=cfg.audit_cases, seed=cfg.seed).analyze(str(rm), str(lab.data("preferences")))
    audit.save(out / "audit")
    return audit, bias_preferences(str(rm), n=100, seed=cfg.seed)


def _ppo_and_mitigations(out: Path, lab_dir: Path, start: Path, rms: list[Path], cfg: DemoConfig) -> _PPOStage:
    """PPO against the biased reward model, one run per seed into out/ppo/seed-<s>, then each mitigation into
    out/mitigations/<name>/seed-<s> (its first `cfg.mitigation_seeds` seeds), all on `cfg.workers` processes."""
    seeds = [cfg.seed + i for i in range(cfg.ppo_seeds)]
    main = PPORun("PPO", "none: PPO against the biased reward model, fixed KL coefficient "
                  f"{cfg.ppo_kl_coef:g}", cfg.ppo_kl_coef)
    runs = {"PPO": main}
    if cfg.mitigations:
        runs.update({r.name: r for r in mitigation_runs(
            main, rms, strong_kl_coef=cfg.strong_kl_coef, ensemble=cfg.ensemble, uwo_lambda=cfg.uwo_lambda,
            length_penalty=cfg.length_penalty)})
    folders = {name: [(out / "ppo" if name == "PPO" else out / "mitigations" / name) / f"seed-{s}"
                      for s in (seeds if name == "PPO" else seeds[:cfg.mitigation_seeds])] for name in runs}
    # Gold on held-out prompts is measured on the watched runs (and so on guard-stop, a copy of one of them).
    stop_copies = {f.name: f for f in folders.get("guard-stop", [])}
    jobs = [(name, PPOJob(lab_dir, start, rms[0], folder, runs[name], cfg.ppo_steps, cfg.ppo_learning_rate,
                          int(folder.name.split("-")[1]), cfg.heldout_prompts if name == "PPO" else 0,
                          cfg.heldout_every, stop_copies.get(folder.name) if name == "PPO" else None))
            for name in runs for folder in folders[name]]
    logger.info("PPO against the biased reward model (%d steps, seeds %s) and %d mitigation runs", cfg.ppo_steps,
                seeds, len(jobs) - len(seeds))
    results = run_ppo_jobs([j for _, j in jobs], cfg.workers)
    stage = _PPOStage({n: [] for n in runs}, {n: [] for n in runs}, folders, runs, seeds)
    for (name, _), (history, guard) in zip(jobs, results):
        stage.histories[name].append(history)
        stage.guards[name].append(guard)
    return stage


def _train_dpo(lab_dir: Path, start: Path, folder: Path, cfg: DemoConfig) -> Path:
    """DPO from `start` on pairs of its own samples ranked by the gold grader (the lab's DPO recipe)."""
    from ..lab.recipes import RecipeConfig, train_dpo

    # DPO gets the clean signal PPO lacks: pairs of the start policy's own samples ranked by the gold grader. (DPO on
    # the biased annotator's pairs, like PPO against the biased reward model, does not raise gold accuracy.)
    return _stage("DPO", folder, lambda f: train_dpo(lab_dir, f, start, RecipeConfig(
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


def _first_high_alarms(stage: _PPOStage) -> dict[int, int | None]:
    """Per "PPO" seed, the step at which its guard raised its first alarm of high severity or above (None: none)."""
    out: dict[int, int | None] = {}
    for seed, guard in zip(stage.seeds, stage.guards["PPO"]):
        steps = [guard.raised_at[a.id] for a in guard.alarms if a.severity >= Severity.HIGH]
        out[seed] = min(steps, default=None)
    return out


def _figures(out: Path, s: _Stages, run_figs: dict[str, dict[str, Any]]) -> list[str]:
    """Plots of the PPO seeds and the three policies, and gold of every run when mitigations ran."""
    histories = s.ppo.histories
    alarms = [a for a in _first_high_alarms(s.ppo).values() if a is not None]
    figures = demo_plots(histories["PPO"], run_figs["PPO"], s.main_three, alarms, out)
    if len(histories) > 1 and mitigations_plot(histories, run_figs["PPO"]["window"], out / "mitigations.png"):
        figures.append("mitigations.png")
    return figures


def _guard_table(s: _Stages, run_figs: dict[str, dict[str, Any]]) -> list[dict]:
    """Per "PPO" seed: its own gold peak step, and the steps at which its guard raised each alarm."""
    rows = []
    for seed, guard, peak in zip(s.ppo.seeds, s.ppo.guards["PPO"], run_figs["PPO"]["gold_best_steps"]):
        rows.append({"seed": seed, "gold peak step (this seed)": peak,
                     "gold peak step (mean curve)": run_figs["PPO"]["gold_best_step"],
                     "alarms (raised at step)": ", ".join(f"{a.id} [{a.severity.value}] {guard.raised_at[a.id]}"
                                                          for a in guard.alarms) or "none"})
    return rows


def _findings(s: _Stages, run_figs: dict[str, dict[str, Any]], cfg: DemoConfig) -> list[Finding]:
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
        findings.append(Finding(f"ppo/{a.id}", a.severity, f"PPO guard (seed {s.ppo.seeds[0]}): {a.description}",
                                score=a.score, confidence=a.confidence, effect=a.effect, evidence=a.evidence[:2],
                                data={**a.data, "raised_at_step": s.ppo.guard.raised_at[a.id]}))
    findings.append(Finding(
        "demo/guard-vs-peak", Severity.INFO,
        "When each PPO seed's guard raised its alarms, against the gold peak (steps at which they were raised)",
        evidence=_guard_table(s, run_figs)))
    findings.append(Finding(
        "ppo/proxy-vs-gold", Severity.INFO,
        f"PPO raised the proxy reward {f['proxy_start']:+.2f} -> {f['proxy_end']:+.2f} while the gold reward went "
        f"{f['gold_start']:+.2f} -> {f['gold_end']:+.2f} (best {f['gold_best']:+.2f} at step {f['gold_best_step']}; "
        f"mean of {f['seeds']} seed{'s' if f['seeds'] > 1 else ''}, trailing means over {f['window']} steps)",
        effect=Effect("proxy gain minus gold gain",
                      (f["proxy_end"] - f["proxy_start"]) - (f["gold_end"] - f["gold_start"])),
    ))
    if len(s.ppo.histories) > 1:
        findings.append(Finding(
            "demo/mitigations", Severity.INFO,
            "Mitigations of over-optimisation, side by side from the same start policy and step budget"
            f" ({cfg.ppo_steps} PPO steps; sampled gold and proxy: the seeds' mean, trailing means over "
            f"{f['window']} steps)",
            evidence=mitigation_table(run_figs, s.comparison, s.ppo.runs)))
    return findings


_PPO_METRICS = {"proxy_first": "proxy_start", "proxy_last": "proxy_end", "gold_first": "gold_start",
                "gold_peak": "gold_best", "gold_peak_step": "gold_best_step", "gold_last": "gold_end",
                "gold_rise": "gold_rise", "gold_fall": "gold_fall", "kl_last": "kl_end",
                "length_first": "length_start", "length_last": "length_end", "steps": "steps", "window": "window",
                "seeds": "seeds", "heldout_gold_first": "heldout_gold_start", "heldout_gold_peak": "heldout_gold_best",
                "heldout_gold_peak_step": "heldout_gold_best_step", "heldout_gold_last": "heldout_gold_end",
                "heldout_greedy_first": "heldout_greedy_start", "heldout_greedy_last": "heldout_greedy_end",
                "gao_alpha": "gao_alpha", "gao_beta": "gao_beta", "gao_r2": "gao_r2"}


def _metrics(s: _Stages, run_figs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Gold accuracy per policy, the reward model's accuracy and bias preferences, the PPO seeds' mean curve, when
    each seed's guard first raised a high alarm, the mitigations."""
    f = run_figs["PPO"]
    first_high = _first_high_alarms(s.ppo)
    mitigations = {k: v for k, v in run_figs.items() if k != "PPO"}
    winner, why = clear_winner(run_figs) if mitigations else (None, "")
    return {
        **{f"{n}/gold_accuracy": c["gold_accuracy"] for n, c in s.main_three.items()},
        **{f"{n}/mean_gold": c["mean_gold"] for n, c in s.main_three.items()},
        "reward_model/strict_accuracy": s.audit.metrics.get("accuracy", {}).get("value"),
        **{f"reward_model/prefers_{k}": v.get("prefers_biased") for k, v in s.planted.items() if isinstance(v, dict)},
        **{f"ppo/{k}": f.get(v) for k, v in _PPO_METRICS.items()},
        "ppo/seed_list": s.ppo.seeds,
        **{f"ppo/seed_{seed}/first_high_alarm_step": at for seed, at in first_high.items()},
        "ppo/first_high_alarm_step": min((a for a in first_high.values() if a is not None), default=None),
        **{f"mitigation/{name}/{k}": v for name, fig in mitigations.items() for k, v in fig.items()
           if not isinstance(v, list)},
        **{f"mitigation/{name}/gold_accuracy": s.comparison[name]["gold_accuracy"] for name in mitigations},
        **({"mitigation/winner": winner, "mitigation/winner_reason": why} if mitigations else {}),
    }


def _notes(s: _Stages, run_figs: dict[str, dict[str, Any]], cfg: DemoConfig) -> list[str]:
    """What the biases, the training signals and the figures are, and one sample reply per policy."""
    from ..data import as_messages, prompt_text

    window = run_figs["PPO"]["window"]
    start = (f"the SFT policy fine-tuned on demonstrations of which {cfg.noisy_share:.0%} give a wrong answer (a "
             "start with room to improve)" if cfg.noisy_share else "the SFT policy")
    return [f"planted annotator biases: {s.lab.info['biases']}; gold weight {cfg.gold_weight:g}",
            f"SFT in the comparison: {start}; PPO, the reward models and DPO start from it",
            ("the reward model learned from the annotator's labels (never gold) on pairs of the start policy's own "
             f"samples ({cfg.onpolicy_prompts} prompts) and as many of the lab's templated pairs; PPO optimised it; "
             "DPO learned from pairs of the start policy's samples ranked by the gold grader (correct over wrong)"),
            "gold accuracy: greedy replies graded by the lab's exact grader (1 correct, 0 no answer, -1 wrong)",
            (f"PPO gold and proxy: means of the batch's sampled replies, averaged over the seeds; start and end are "
             f"trailing means over the first and last full windows of {window} steps, the peak the best full window"),
            *[f"{n} sample: {prompt_text(as_messages(x['prompt']))!r} -> {x['reply']!r} (gold {x['gold']:+.0f})"
              for n, c in s.main_three.items() for x in c["samples"][:1]]]


def _report(out: Path, s: _Stages, cfg: DemoConfig) -> Report:
    """The demo's report (figures written into `out`), its summary and next steps read from its numbers."""
    run_figs = {name: run_figures(h) for name, h in s.ppo.histories.items()}
    figures = _figures(out, s, run_figs)
    report = Report(
        kind="demo", title="sentinel demo: SFT -> reward model -> PPO (watched) -> mitigations on the built-in lab",
        findings=_findings(s, run_figs, cfg), seed=cfg.seed, config=asdict(cfg),
        model={"lab": str(s.lab_dir), "sft": str(s.sft), "start": str(s.start), "reward_model": str(s.rm),
               "ppo": [str(f) for f in s.ppo.folders["PPO"]], "dpo": str(s.dpo)},
        metrics=_metrics(s, run_figs), key_metrics=KEY_METRICS, notes=_notes(s, run_figs, cfg),
        figures=figures,
    )
    report.summary, report.next_steps = demo_summary(report.to_dict())
    return report


def run_demo(out: str | Path, config: DemoConfig | None = None) -> Report:
    """Run the whole lab pipeline into `out` and return (and save) its report. A second demo writing into `out`
    while this one runs is refused (`FolderBusyError`)."""
    cfg = config or DemoConfig()
    out = Path(out)
    with folder_lock(out):
        return _run(out, cfg)


def _run(out: Path, cfg: DemoConfig) -> Report:
    _prepare(out, cfg)
    lab_dir = out / "lab"
    lab = _open_lab(lab_dir, cfg)
    sft, start = _train_sft(lab_dir, out, cfg)
    pairs = _reward_pairs(lab_dir, start, out / "reward-pairs", cfg)
    rms = _train_reward_models(lab_dir, start, pairs, out, cfg)
    audit, planted = _audit(out, lab, rms[0], cfg)
    ppo = _ppo_and_mitigations(out, lab_dir, start, rms, cfg)
    dpo = _train_dpo(lab_dir, start, out / "dpo", cfg)
    policies = [("SFT", start), *((name, folders[0]) for name, folders in ppo.folders.items()), ("DPO", dpo)]
    comparison = _gold_accuracy(lab, policies, cfg)
    stages = _Stages(lab_dir, lab, sft, start, rms[0], audit, planted, ppo, dpo, comparison)
    report = _report(out, stages, cfg)
    report.save(out)
    return report
