"""PPO runs of the demo and the mitigations of reward over-optimisation, measured side by side.

Every run starts from the same start policy with the same prompts, step budget and seeds; each changes one thing
from the watched runs (PPO against the biased reward model with a small fixed KL coefficient):

- `strong-kl`: a KL coefficient ten times larger, which keeps the policy near its start;
- `ensemble`: several reward models (the same recipe from different seeds: head initialisation and data order),
  combined per sample as their minimum or mean - lambda x variance (Coste et al. 2023, "Reward model ensembles
  help mitigate overoptimization");
- `length-penalty`: the reward minus a cost per response token (Singhal et al. 2023, "A long way to go");
- `guard-stop`: the watched run, stopped by `SentinelCallback(stop_on="high")` at its first high alarm. A guard
  only stops a run, so this is the watched run of the same seed cut at that step: its policy and history there are
  copied while the watched run goes on (`PPOJob.stop_copy`), instead of training the same steps twice;
- DPO on the start policy's own samples ranked by the gold grader runs in the pipeline (it is not a PPO run).

A run's figures (`run_figures`) are read from its seeds' per-step histories: gold and proxy reward, KL to the start
policy and response length, on the seeds' mean curve through trailing means over full windows of
`smoothing_window` steps (single steps are noisy, and so is one seed), with the seeds' spread beside them.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..utils import atomic_write_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PPORun:
    """One PPO run of the demo: its name, what it changes from the watched run, and those settings."""

    name: str
    what: str
    kl_coef: float
    reward_models: tuple[str, ...] = ()  # empty: the demo's reward model
    ensemble: Literal["mean", "min", "uwo"] | None = None
    uwo_lambda: float | None = None
    length_penalty: float = 0.0
    stop_on: str | None = None
    optimise_gold: bool = False  # PPO against the lab's gold grader itself: a control with nothing to over-optimise


def smoothing_window(n: int) -> int:
    """Steps per trailing mean for a run of `n` steps: 10 from the demo's 150 steps up, 5 for shorter runs (the quick
    demo's 60). A mean of three seeds' gold over 10 steps has a standard error near 0.03; a window much wider than a
    quarter of the rise (about 40 steps in the demo) would smear the peak it is meant to find."""
    return 10 if n >= 150 else 5


class HeldOutGold:
    """PPO callback: the policy's gold on fixed held-out prompts at step 1 and every `every` steps, added to that
    step's stats as `heldout/gold` (mean gold of `samples` replies per prompt, sampled as PPO samples) and
    `heldout/greedy_accuracy` (share of greedy replies graded correct). The training batch's gold depends on which
    prompts were drawn; this series does not. Sampling runs under a forked torch RNG with a seed of its own, so
    watching leaves the training run unchanged."""

    def __init__(self, prompts: list, every: int = 10, samples: int = 2, seed: int = 1):
        self.prompts, self.every, self.samples, self.seed = prompts, every, samples, seed

    def on_step_end(self, trainer, step: int, stats: dict) -> None:
        import torch

        from ..lab.world import gold_rewards

        if step != 1 and step % self.every:
            return
        repeated = [p for p in self.prompts for _ in range(self.samples)]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            sampled = trainer.generate(repeated)
            greedy = trainer.generate(self.prompts, do_sample=False)
        gold = gold_rewards(repeated, sampled)
        stats["heldout/gold"] = sum(gold) / len(gold)
        stats["heldout/greedy_accuracy"] = sum(g == 1.0 for g in gold_rewards(self.prompts, greedy)) / len(greedy)


@dataclass(frozen=True)
class PPOJob:
    """Everything one PPO run of the demo needs, as plain values, so that a worker process can run it."""

    lab_dir: Path
    sft: Path
    reward_model: Path
    out: Path
    run: PPORun
    steps: int
    learning_rate: float
    seed: int
    heldout_prompts: int = 0  # the first this many of the lab's eval prompts; 0: no held-out gold
    heldout_every: int = 10
    stop_copy: Path | None = None  # where the guard-stop copy of this run goes (module docstring); None: none


class _GuardStopCopy:
    """PPO callback, after the guard: at the step where the guard has raised its first alarm of high severity or
    above, the policy and the history so far are written to `folder` (history.json last: the folder's finished
    marker). That is what the same run under `SentinelCallback(stop_on="high")` would have ended with."""

    def __init__(self, guard: Any, folder: Path):
        self.guard, self.folder, self.taken = guard, folder, False

    def on_step_end(self, trainer, step: int, stats: dict) -> None:
        from ..report import Severity

        if not self.taken and any(a.severity >= Severity.HIGH for a in self.guard.alarms):
            self.take(trainer)

    def take(self, trainer) -> None:
        import shutil

        trainer.save_model(self.folder)
        shutil.copyfile(Path(trainer.config.output_dir) / "config.yaml", self.folder / "config.yaml")
        atomic_write_json(self.folder / "history.json", trainer.history)
        self.taken = True


def run_ppo(job: PPOJob) -> tuple[list[dict], Any]:
    """PPO from `job.sft` as `job.run` says, with the lab's gold grader watched (never optimised), gold on held-out
    prompts measured (`HeldOutGold`) and `SentinelCallback` guarding the run. Returns (per-step history, the
    callback). A finished run (out/history.json) is reused: its history is replayed through a new callback, so the
    alarms, and the steps they were raised at, are the same."""
    from ..audit.guard import SentinelCallback
    from ..data import read_rows
    from ..lab.build import Lab
    from ..lab.world import gold_rewards
    from ..train.ppo import PPOConfig, PPOTrainer
    from ..train.ppo.prompts import load_prompts

    run, out = job.run, job.out
    guard = SentinelCallback(every_n_steps=5, stop_on=run.stop_on)
    saved = out / "history.json"
    if saved.is_file():
        history = json.loads(saved.read_text())
        guard.replay(history)
        return history, guard
    lab = Lab.open(job.lab_dir)
    config = PPOConfig(learning_rate=job.learning_rate, batch_size=32, mini_batch_size=8, ppo_epochs=4,
                       max_new_tokens=48, adap_kl_ctrl=False, init_kl_coef=run.kl_coef, max_steps=job.steps,
                       seed=job.seed, output_dir=str(out), ensemble=run.ensemble, uwo_lambda=run.uwo_lambda,
                       length_penalty=run.length_penalty)
    reward: Any = ([str(m) for m in run.reward_models] if run.reward_models else
                   gold_rewards if run.optimise_gold else str(job.reward_model))
    callbacks: list[Any] = []
    if job.heldout_prompts:
        prompts = [r["prompt"] for r in read_rows(lab.data("eval")).rows[:job.heldout_prompts]]
        callbacks.append(HeldOutGold(prompts, every=job.heldout_every))
    callbacks.append(guard)  # after HeldOutGold: the guard sees the held-out figures of the step
    copy = _GuardStopCopy(guard, job.stop_copy) if job.stop_copy else None
    if copy:
        callbacks.append(copy)
    trainer = PPOTrainer(config=config, model=str(job.sft), reward_model=reward, gold_reward_fn=gold_rewards,
                         callbacks=callbacks)
    history = trainer.train(load_prompts(lab.data("prompts")))
    if copy and not copy.taken:  # no high alarm: the guard would not have stopped the run
        copy.take(trainer)
    guard.run_checks(len(history))  # the steps after the last scheduled check
    atomic_write_json(saved, history)
    return history, guard


def _train_only(job: PPOJob) -> None:
    run_ppo(job)  # a worker's share: the history is saved, the parent replays it


def run_ppo_jobs(jobs: list[PPOJob], workers: int) -> list[tuple[list[dict], Any]]:
    """`run_ppo` of every job, the unfinished ones spread over `workers` processes (each run is seeded and single-
    threaded, so the result does not depend on `workers`); (history, guard) per job, in order. A job whose folder
    is the `stop_copy` of an unfinished job is read from that copy once the job has run (and trained itself where
    its source had finished before, without a copy)."""
    from ..utils import in_processes

    unfinished = [j for j in jobs if not (j.out / "history.json").is_file()]
    copies = {j.stop_copy for j in unfinished if j.stop_copy}
    todo = [j for j in unfinished if j.out not in copies]
    if workers > 1 and len(todo) > 1:
        logger.info("%d PPO runs on %d worker processes", len(todo), workers)
        in_processes(_train_only, todo, workers)
    return [run_ppo(j) for j in jobs]


def mean_history(histories: list[list[dict]]) -> list[dict[str, float]]:
    """Per step, the mean over the seeds' histories of every number they log (cut to the shortest run)."""
    n = min(len(h) for h in histories)
    out = []
    for i in range(n):
        keys = {k for h in histories for k, v in h[i].items() if isinstance(v, (int, float))}
        out.append({k: sum(vals) / len(vals) for k in keys
                    if (vals := [h[i][k] for h in histories if isinstance(h[i].get(k), (int, float))])})
    return out


def run_figures(histories: list[list[dict]]) -> dict[str, Any]:
    """A run's figures from its seeds' histories (module docstring): on the seeds' mean curve, gold at the first
    full window, its peak (and step) and the last window; proxy, KL and length at the first and last window; the
    seeds' spread of gold at the end and at its best; gold on held-out prompts where it was measured; and Gao's RL
    form fitted to the mean gold against the mean sqrt(KL) (trailing means)."""
    from .curves import curve_shape, gao_fit, trailing_means

    mean = mean_history(histories)
    n = len(mean)
    w = min(smoothing_window(n), n)

    def series(h: list[dict], key: str) -> list[float]:
        return [x.get(key, math.nan) for x in h]

    gold = curve_shape(series(mean, "gold/score"), w)
    per_seed = [curve_shape(series(h[:n], "gold/score"), w) for h in histories]

    def first_last(key: str) -> tuple[float, float]:
        xs = series(mean, key)
        return sum(xs[:w]) / w, sum(xs[-w:]) / w

    p0, p1 = first_last("objective/scores")
    _, kl = first_last("objective/kl")
    l0, l1 = first_last("response_length/mean")
    figs: dict[str, Any] = {
        "seeds": len(histories), "steps": n, "window": w, "gold_start": gold.first, "gold_best": gold.peak,
        "gold_best_step": gold.peak_step, "gold_end": gold.last, "gold_rise": gold.rise, "gold_fall": gold.fall,
        "gold_end_min": min(c.last for c in per_seed), "gold_end_max": max(c.last for c in per_seed),
        "gold_best_min": min(c.peak for c in per_seed), "gold_best_max": max(c.peak for c in per_seed),
        "gold_best_steps": [c.peak_step for c in per_seed], "proxy_start": p0, "proxy_end": p1, "kl_end": kl,
        "sqrt_kl_end": math.sqrt(max(kl, 0.0)), "length_start": l0, "length_end": l1}
    held = [(i + 1, x["heldout/gold"], x.get("heldout/greedy_accuracy", math.nan))
            for i, x in enumerate(mean) if "heldout/gold" in x]
    if len(held) >= 3:
        shape = curve_shape([g for _, g, _ in held], 3)
        figs.update({"heldout_points": len(held), "heldout_gold_start": shape.first, "heldout_gold_best": shape.peak,
                     "heldout_gold_best_step": held[shape.peak_step - 1][0], "heldout_gold_end": shape.last,
                     "heldout_greedy_start": held[0][2], "heldout_greedy_end": held[-1][2]})
    root_kl = [math.sqrt(max(x, 0.0)) for x in series(mean, "objective/kl")]
    fit = gao_fit(trailing_means(root_kl, w), trailing_means(series(mean, "gold/score"), w), gold.first)
    if fit is not None:
        figs.update({"gao_alpha": fit.alpha, "gao_beta": fit.beta, "gao_r2": fit.r2, "gao_peak_sqrt_kl": fit.peak_d})
    return figs


def mitigation_runs(main: PPORun, members: list[Path], *, strong_kl_coef: float,
                    ensemble: Literal["mean", "min", "uwo"], uwo_lambda: float | None,
                    length_penalty: float) -> list[PPORun]:
    """The mitigation runs, each one change from `main` (module docstring). `members`: the ensemble's reward models
    (the demo's own first); with fewer than two, there is no ensemble run."""
    runs = [PPORun("strong-kl", f"KL coefficient {strong_kl_coef:g} instead of {main.kl_coef:g}", strong_kl_coef)]
    if len(members) >= 2:
        how = "minimum" if ensemble == "min" else "mean" if ensemble == "mean" else f"mean - {uwo_lambda:g} x variance"
        runs.append(PPORun("ensemble", f"{len(members)} reward models (seeds), {how} per sample", main.kl_coef,
                           reward_models=tuple(str(m) for m in members), ensemble=ensemble,
                           uwo_lambda=uwo_lambda if ensemble == "uwo" else None))
    runs.append(PPORun("length-penalty", f"reward - {length_penalty:g} x response tokens", main.kl_coef,
                       length_penalty=length_penalty))
    runs.append(PPORun("guard-stop", "stopped by SentinelCallback(stop_on='high') at its first high alarm",
                       main.kl_coef, stop_on="high"))
    return runs
