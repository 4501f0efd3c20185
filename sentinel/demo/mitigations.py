"""PPO runs of the demo and the mitigations of reward over-optimisation, measured side by side.

Every run starts from the same SFT policy with the same prompts, seed and step budget; each changes one thing from
the watched run (PPO against the biased reward model with a small fixed KL coefficient):

- `strong-kl`: a KL coefficient ten times larger, which keeps the policy near its SFT start;
- `ensemble`: several reward models (the same recipe from different seeds: head initialisation and data order),
  combined per sample as their minimum or mean - lambda x variance (Coste et al. 2023, "Reward model ensembles
  help mitigate overoptimization");
- `length-penalty`: the reward minus a cost per response token (Singhal et al. 2023, "A long way to go");
- `guard-stop`: the watched run, stopped by `SentinelCallback(stop_on="high")` at its first high alarm;
- DPO on the SFT policy's own samples ranked by the gold grader runs in the pipeline (it is not a PPO run).

A run's figures (`run_figures`) are read from its per-step history: gold and proxy reward, KL to the SFT policy and
response length, as means over the first and last steps (a window of `smoothing_window` steps: single steps are
noisy) and the best moving average of gold.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..utils import atomic_write_json

if TYPE_CHECKING:
    from .models.protocols import RewardSource

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


def smoothing_window(n: int) -> int:
    """Steps per moving average for a run of `n` steps."""
    return max(3, n // 8)


def run_ppo(lab, sft: Path, reward_model: RewardSource, out: Path, run: PPORun, *, steps: int, learning_rate: float,
            seed: int) -> tuple[list[dict], Any]:
    """PPO from `sft` as `run` says, with the lab's gold grader watched (never optimised) and `SentinelCallback`
    guarding the run. `reward_model`: a folder or anything `as_reward_fn` accepts (`run.reward_models`, when given,
    replace it). Returns (per-step history, the callback). A finished run (out/history.json) is reused: its
    history is replayed through a new callback, so the alarms are the same."""
    from ..audit.consistency import SentinelCallback
    from ..lab.world import gold_rewards
    from ..train.ppo import PPOConfig, PPOTrainer
    from ..train.ppo.prompts import load_prompts

    guard = SentinelCallback(every_n_steps=5, stop_on=run.stop_on)
    saved = out / "history.json"
    if saved.is_file():
        history = json.loads(saved.read_text())
        for step, stats in enumerate(history, start=1):
            guard.on_step_end(None, step, stats)
        guard.run_checks(len(history))
        return history, guard
    config = PPOConfig(learning_rate=learning_rate, batch_size=32, mini_batch_size=8, ppo_epochs=4, max_new_tokens=48,
                       adap_kl_ctrl=False, init_kl_coef=run.kl_coef, steps=steps, seed=seed, output_dir=str(out),
                       ensemble=run.ensemble, uwo_lambda=run.uwo_lambda, length_penalty=run.length_penalty)
    reward = [str(m) for m in run.reward_models] if run.reward_models else (
        str(reward_model) if isinstance(reward_model, Path) else reward_model)
    trainer = PPOTrainer(config=config, model=str(sft), reward_model=reward, gold_reward_fn=gold_rewards,
                         callbacks=[guard])
    history = trainer.train(load_prompts(lab.data("prompts")))
    guard.run_checks(len(history))  # the steps after the last scheduled check
    atomic_write_json(saved, history)
    return history, guard


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def run_figures(history: list[dict]) -> dict[str, float]:
    """Start, best and end of a PPO run's gold reward, and its proxy, KL and length at the end (module docstring)."""
    from ..report.stats import moving_average

    n = len(history)
    w = min(smoothing_window(n), n)
    gold = [h.get("gold/score", math.nan) for h in history]
    smooth = moving_average(gold, w)
    best = max(range(n), key=lambda i: smooth[i])

    def first_last(key: str, transform=lambda x: x) -> tuple[float, float]:
        xs = [transform(h.get(key, math.nan)) for h in history]
        return _mean(xs[:w]), _mean(xs[-w:])

    g0, g1 = first_last("gold/score")
    p0, p1 = first_last("objective/scores")
    _, kl = first_last("objective/kl")
    l0, l1 = first_last("response_length/mean")
    return {"steps": n, "window": w, "gold_start": g0, "gold_best": smooth[best], "gold_best_step": best + 1,
            "gold_end": g1, "proxy_start": p0, "proxy_end": p1, "kl_end": kl,
            "sqrt_kl_end": math.sqrt(max(kl, 0.0)), "length_start": l0, "length_end": l1}


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


def gold_vs_kl_plot(curves: dict[str, list[dict]], path: Path) -> bool:
    """One figure: each run's gold reward against sqrt(KL to the SFT policy), both as moving averages. False when
    matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    from ..report.stats import moving_average

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, history in curves.items():
        w = min(smoothing_window(len(history)), len(history))
        kl = moving_average([math.sqrt(max(h.get("objective/kl", 0.0), 0.0)) for h in history], w)
        gold = moving_average([h.get("gold/score", math.nan) for h in history], w)
        line, = ax.plot(kl, gold, lw=2, label=name)
        ax.plot(kl[-1], gold[-1], "o", color=line.get_color())
    ax.set_xlabel("sqrt(KL to the SFT policy)  (moving averages; dot: end of run)")
    ax.set_ylabel("gold reward of PPO samples")
    ax.set_title("gold vs KL: the watched run and the mitigations")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True
