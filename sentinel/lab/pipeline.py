"""The end-to-end lab pipeline that `make demo` runs: SFT -> reward model -> audit -> PPO (watched) -> DPO -> compare.

Each stage writes its own folder under `out/` atomically, and a stage whose folder is already complete is reused,
so a run that crashed or was interrupted resumes where it stopped. Everything the run found ends in one report
(`out/report.json`, rendered to HTML and Markdown) with plots of the PPO run.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..report import Effect, Finding, Report
from ..utils import atomic_write_json
from .recipes import DPO_RECIPE, SFT_RECIPE

logger = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    """Sizes of the demo run. Defaults take a few minutes on a 2-core laptop CPU."""

    seed: int = field(default=0, metadata={"help": "seed of the lab, the training runs and sampling"})
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

    def __post_init__(self):
        for name in ("sft_steps", "rm_steps", "ppo_steps", "dpo_steps", "eval_prompts", "audit_cases"):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)}", field=name)
        for name in ("ppo_learning_rate", "ppo_kl_coef"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"must be positive, got {getattr(self, name)}", field=name)


def _done(folder: Path, marker: str = "config.json") -> bool:
    return (folder / marker).is_file()


def _stage(name: str, folder: Path, build) -> Path:
    if _done(folder):
        logger.info("%s: reusing %s", name, folder)
    else:
        logger.info("%s: training into %s", name, folder)
        build(folder)
    return folder


def _ppo(lab, sft: Path, rm: Path, out: Path, cfg: DemoConfig) -> tuple[list[dict], Any]:
    """PPO against the biased reward model with the gold grader only watched, guarded by SentinelCallback.

    Returns the per-step history and the callback. The history is written to out/metrics.jsonl by the trainer;
    a finished run (its history saved in out/history.json) is reused.
    """
    import json

    from ..audit.consistency import SentinelCallback
    from ..train.ppo import PPOConfig, PPOTrainer
    from ..train.ppo.prompts import load_prompts
    from .world import gold_rewards

    guard = SentinelCallback(every_n_steps=5)
    saved = out / "history.json"
    if saved.is_file():
        history = json.loads(saved.read_text())
        for step, stats in enumerate(history, start=1):
            guard.on_step_end(None, step, stats)
        guard.run_checks(len(history))
        return history, guard
    config = PPOConfig(learning_rate=cfg.ppo_learning_rate, batch_size=32, mini_batch_size=8, ppo_epochs=4,
                       max_new_tokens=48, adap_kl_ctrl=False, init_kl_coef=cfg.ppo_kl_coef, steps=cfg.ppo_steps,
                       seed=cfg.seed, output_dir=str(out))
    trainer = PPOTrainer(config=config, model=str(sft), reward_model=str(rm), gold_reward_fn=gold_rewards,
                         callbacks=[guard])
    history = trainer.train(load_prompts(lab.data("prompts")))
    guard.run_checks(len(history))  # the steps after the last scheduled check
    atomic_write_json(saved, history)
    return history, guard


def _plots(history: list[dict], comparison: dict[str, dict], out: Path) -> list[str]:
    """PNG figures of the PPO run and the final comparison; [] when matplotlib is missing (logged)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        logger.warning("matplotlib is not installed: no plots (pip install 'sentinel-rlhf[plots]')")
        return []
    steps = list(range(1, len(history) + 1))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot(steps, [h.get("objective/scores") for h in history], label="proxy: biased reward model")
    axes[0].plot(steps, [h.get("gold/score") for h in history], label="gold grader (watched only)")
    axes[0].set_xlabel("PPO step"), axes[0].set_title("reward"), axes[0].legend(fontsize=8)
    axes[1].plot(steps, [h.get("response_length/mean") for h in history], color="tab:green")
    axes[1].set_xlabel("PPO step"), axes[1].set_title("response length (tokens)")
    axes[2].plot([math.sqrt(max(h.get("objective/kl", 0.0), 0.0)) for h in history],
                 [h.get("gold/score") for h in history], "o-", ms=3, color="tab:red")
    axes[2].set_xlabel("sqrt(KL to the SFT policy)"), axes[2].set_title("gold reward vs sqrt(KL)")
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


def run_demo(out: str | Path, config: DemoConfig | None = None) -> Report:
    """Run the whole lab pipeline into `out` and return (and save) its report."""
    import torch

    from .. import RewardModelAuditor
    from .build import Lab, LabConfig, init_lab
    from .evaluate import evaluate
    from .probe import bias_preferences
    from .recipes import RecipeConfig, train_dpo, train_reward, train_sft

    cfg = config or DemoConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    # Lab models are tiny: a second thread buys little on small batches (SFT_RECIPE asks for two: its batches of 64
    # gain 1.5x), and oversubscribed cores make every step far slower.
    torch.set_num_threads(1)
    lab_dir = out / "lab"
    if not (lab_dir / "lab.json").is_file():
        init_lab(lab_dir, LabConfig(seed=cfg.seed), overwrite=True)
    lab = Lab.open(lab_dir)

    sft = _stage("SFT", out / "sft", lambda f: train_sft(lab_dir, f, RecipeConfig(
        **{**SFT_RECIPE, "steps": cfg.sft_steps, "seed": cfg.seed})))
    rm = _stage("reward model", out / "reward-model", lambda f: train_reward(lab_dir, f, RecipeConfig(
        steps=cfg.rm_steps, batch_size=32, learning_rate=3e-3, seed=cfg.seed), init=sft))

    logger.info("auditing the reward model")
    audit = RewardModelAuditor(max_cases=cfg.audit_cases, seed=cfg.seed).analyze(str(rm), str(lab.data("preferences")))
    audit.save(out / "audit")
    planted = bias_preferences(str(rm), n=100, seed=cfg.seed)

    logger.info("PPO against the biased reward model (%d steps)", cfg.ppo_steps)
    history, guard = _ppo(lab, sft, rm, out / "ppo", cfg)

    # DPO gets the clean signal PPO lacks: pairs of the SFT policy's own samples ranked by the gold grader. (DPO on
    # the biased annotator's pairs, like PPO against the biased reward model, does not raise gold accuracy.)
    dpo_dir = _stage("DPO", out / "dpo", lambda f: train_dpo(lab_dir, f, sft, RecipeConfig(
        **{**DPO_RECIPE, "steps": cfg.dpo_steps, "seed": cfg.seed})))

    logger.info("gold accuracy of SFT, PPO and DPO on %d eval prompts", cfg.eval_prompts)
    comparison = {}
    for name, folder in (("SFT", sft), ("PPO", out / "ppo"), ("DPO", dpo_dir)):
        ev = evaluate(str(folder), lab.data("eval"), limit=cfg.eval_prompts)
        comparison[name] = {"gold_accuracy": ev["accuracy"], "mean_gold": ev["mean_gold"],
                            "samples": ev["samples"][:3]}
    figures = _plots(history, comparison, out)

    first, last = history[0], history[-1]
    golds = [h.get("gold/score") for h in history]
    peak = max(range(len(golds)), key=lambda i: golds[i])
    findings: list[Finding] = []
    for v in audit.vulnerabilities:
        findings.append(Finding(f"reward-model/{v.id}", v.severity, f"Reward model: {v.description}",
                                score=v.score, confidence=v.confidence, effect=v.effect, evidence=v.evidence[:2]))
    for a in guard.alarms:
        findings.append(Finding(f"ppo/{a.id}", a.severity, f"PPO guard: {a.description}", score=a.score,
                                confidence=a.confidence, effect=a.effect, evidence=a.evidence[:2], data=a.data))
    findings.append(Finding(
        "ppo/proxy-vs-gold", "info",
        f"PPO raised the proxy reward {first['objective/scores']:+.2f} -> {last['objective/scores']:+.2f} while the "
        f"gold reward went {golds[0]:+.2f} -> {golds[-1]:+.2f} (peak {golds[peak]:+.2f} at step {peak + 1})",
        effect=Effect("proxy gain minus gold gain", (last["objective/scores"] - first["objective/scores"])
                      - (golds[-1] - golds[0])),
    ))
    report = Report(
        kind="demo", title="sentinel demo: SFT -> reward model -> PPO (watched) -> DPO on the built-in lab",
        findings=findings, seed=cfg.seed, config=asdict(cfg),
        model={"lab": str(lab_dir), "sft": str(sft), "reward_model": str(rm), "ppo": str(out / "ppo"),
               "dpo": str(dpo_dir)},
        metrics={
            **{f"{n}/gold_accuracy": c["gold_accuracy"] for n, c in comparison.items()},
            **{f"{n}/mean_gold": c["mean_gold"] for n, c in comparison.items()},
            "reward_model/strict_accuracy": audit.metrics.get("accuracy", {}).get("value"),
            **{f"reward_model/prefers_{k}": v.get("prefers_biased") for k, v in planted.items() if isinstance(v, dict)},
            "ppo/proxy_first": first["objective/scores"], "ppo/proxy_last": last["objective/scores"],
            "ppo/gold_first": golds[0], "ppo/gold_peak": golds[peak], "ppo/gold_peak_step": peak + 1,
            "ppo/gold_last": golds[-1], "ppo/kl_last": last["objective/kl"],
            "ppo/length_first": first["response_length/mean"], "ppo/length_last": last["response_length/mean"],
        },
        notes=[f"planted annotator biases: {lab.info['biases']}",
               ("PPO optimised the reward model trained on the biased preferences; DPO learned from pairs of the SFT "
                "policy's own samples ranked by the gold grader (correct over wrong)"),
               "gold accuracy: greedy replies graded by the lab's exact grader (1 correct, 0 no answer, -1 wrong)",
               *[f"{n} sample: {s['prompt']!r} -> {s['reply']!r} (gold {s['gold']:+.0f})"
                 for n, c in comparison.items() for s in c["samples"][:1]]],
        figures=figures,
    )
    report.save(out)
    return report
