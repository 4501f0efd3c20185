"""Reading a training log into per-metric series: from metrics.jsonl, a TRL `log_history`, a trainer, or PPO stats.

A log is a list of dicts, one per logging step, with TRL's metric names and a `step` key. Every row keeps where
it came from (file line or list index) so that a bad value is reported at its line.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError

# Metric names, most specific first; the first name present in the log is used for each signal.
ALIASES: dict[str, tuple[str, ...]] = {
    # raw score of the reward model being optimised (not the KL-penalised reward): what hacking inflates
    "reward": ("objective/scores", "objective/rlhf_reward", "env/reward_mean", "reward", "rewards/mean",
               "train/reward"),
    "length": ("response_length/mean", "completions/mean_length", "env/response_length", "tokens/responses_len_mean",
               "response_length"),
    "kl": ("objective/kl", "kl", "objective/kl_mean"),
    "approxkl": ("policy/approxkl_avg", "approxkl", "policy/approxkl"),
    "kl_coef": ("objective/kl_coef", "kl_coef"),
    "entropy": ("objective/entropy", "entropy", "policy/entropy_avg"),
    "clipfrac": ("policy/clipfrac_avg", "clipfrac", "policy/clipfrac", "clip_ratio/region_mean"),
    "ratio": ("val/ratio", "policy/ratio_mean", "ratio"),
    "value_loss": ("loss/value_avg", "loss/value", "value_loss"),
    # a watched reward, logged but never optimised: our PPO's gold/score, a GRPO/RLOO reward function named "gold"
    "gold": ("gold/score", "rewards/gold/mean", "gold_reward", "eval/gold"),
}

# A key only the group-relative trainers (TRL's GRPO and RLOO) log: the share of prompts whose replies all got the
# same reward. Its presence tells a check why a PPO metric is absent (no value model, no importance-ratio mean).
GROUP_KEY = "frac_reward_zero_std"


@dataclass
class Series:
    """One metric over the run: `steps[i]` (training step) and `values[i]` (float, NaN kept); `key` is the name used."""

    key: str
    steps: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.steps)


@dataclass
class TrainingLog:
    """Rows of a training log sorted by step, with their origins (`"line 12"`, `"row 3"`) for messages."""

    rows: list[dict[str, Any]]
    origins: list[str]
    source: str
    notes: list[str] = field(default_factory=list)
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)  # per-log overrides of ALIASES

    @property
    def group_relative(self) -> bool:
        """Whether the log comes from a group-relative trainer (GRPO, RLOO): see GROUP_KEY."""
        return any(GROUP_KEY in r for r in self.rows)

    def keys(self) -> list[str]:
        seen: dict[str, None] = {}
        for r in self.rows:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def series(self, signal: str) -> Series | None:
        """The series of `signal` (a key of ALIASES or a literal metric name); None when the log lacks it."""
        for key in self.names(signal):
            pts = [(r["step"], r[key]) for r in self.rows if key in r and r[key] is not None]
            if pts:
                steps, values = zip(*pts)
                return Series(key, np.asarray(steps, dtype=float), np.asarray(values, dtype=float))
        return None

    def names(self, signal: str) -> tuple[str, ...]:
        return self.aliases.get(signal) or ALIASES.get(signal, (signal,))

    def looked_for(self, signal: str) -> str:
        return " / ".join(f"'{k}'" for k in self.names(signal))


def _number(value: Any, where: str, key: str, source: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        if hasattr(value, "item"):  # a 0-d tensor from PPO stats
            return float(value.item())
        if isinstance(value, str):
            try:  # "nan" / "inf" written as strings by some loggers
                return float(value)
            except ValueError:
                pass
        raise DataError(f"expected a number, got {value!r:.60}", path=source, field=key,
                        **_loc(where))
    return float(value)


def _loc(where: str) -> dict[str, int]:
    unit, _, n = where.partition(" ")
    return {unit: int(n)} if unit in ("line", "row") else {}


def _clean(raw: list[dict[str, Any]], origins: list[str], source: str) -> TrainingLog:
    """Keep numeric metrics, coerce the step, and sort by step. Non-metric fields (strings) are left out knowingly."""
    if not raw:
        raise DataError("the training log is empty; expected at least one logged step", path=source)
    known = {k for names in ALIASES.values() for k in names}
    have_step = [("step" in r) for r in raw]
    notes = []
    if any(have_step) and not all(have_step):
        i = have_step.index(False)
        raise DataError("missing 'step' (other rows have one); expected every logged row to carry its step",
                        path=source, field="step", **_loc(origins[i]))
    rows = []
    for i, r in enumerate(raw):
        if not isinstance(r, dict):
            raise DataError(f"expected a dict of metrics, got {type(r).__name__}", path=source, **_loc(origins[i]))
        out: dict[str, Any] = {}
        for k, v in r.items():
            if k == "step":
                continue
            if k in known:
                out[k] = _number(v, origins[i], k, source)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out[k] = float(v)
        step = _number(r["step"], origins[i], "step", source) if "step" in r else float(i + 1)
        if step is None or not math.isfinite(step):
            raise DataError(f"step must be a finite number, got {r.get('step')!r}", path=source, field="step",
                            **_loc(origins[i]))
        out["step"] = step
        rows.append(out)
    if not any(have_step):
        notes.append("the log has no 'step' key; rows were numbered 1, 2, ... in the order given")
    order = sorted(range(len(rows)), key=lambda i: rows[i]["step"])
    log = TrainingLog([rows[i] for i in order], [origins[i] for i in order], source, notes)
    if known.isdisjoint(log.keys()):
        raise DataError(
            "none of the training metrics this check reads are in the log "
            f"(found: {', '.join(sorted(log.keys())[:12])}); "
            "expected TRL names such as 'objective/scores' or 'objective/rlhf_reward', 'objective/kl', "
            "'objective/entropy', 'response_length/mean'", path=source)
    return log


def read_training_log(run: Any) -> TrainingLog:
    """A metrics.jsonl path (or a folder holding one, or a trainer_state.json), a list of dicts (TRL
    `log_history`, PPO stats), or a trainer with `.state.log_history` -> `TrainingLog`."""
    if isinstance(run, TrainingLog):
        return run
    if isinstance(run, (str, os.PathLike)):
        path = Path(run)
        if path.is_dir():
            for name in ("metrics.jsonl", "trainer_state.json"):
                if (path / name).is_file():
                    path = path / name
                    break
            else:
                raise DataError("folder holds neither metrics.jsonl nor trainer_state.json", path=path)
        if not path.exists():
            raise DataError("no such file", path=path)
        if path.name.endswith(".json") and not path.name.endswith(".jsonl"):
            from ...data import read_json

            state = read_json(path)
            if not isinstance(state, dict) or "log_history" not in state:
                raise DataError("expected a trainer_state.json with a 'log_history' list", path=path,
                                field="log_history")
            hist = state["log_history"]
            return _clean(hist, [f"row {i + 1}" for i in range(len(hist))], str(path))
        from ...data import read_rows

        rows = read_rows(path)  # names the line of any malformed JSON
        return _clean(rows.rows, [f"{rows.unit} {n}" for n in rows.locations], rows.source)
    state = getattr(run, "state", None)
    if state is not None and hasattr(state, "log_history"):
        run = state.log_history
    if isinstance(run, (list, tuple)):
        return _clean(list(run), [f"row {i + 1}" for i in range(len(run))], "<log>")
    raise DataError(f"cannot read a training log from a {type(run).__name__}; give a metrics.jsonl path, a list of "
                    "dicts (TRL log_history) or a trainer")
