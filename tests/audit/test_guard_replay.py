"""The guard replayed on recorded lab PPO runs (`benchmarks/guard_roc.py --export`, tests/data/guard_runs): runs whose
gold over-optimised and runs whose gold held, judged as the demo's guard judges them (checks every 5 steps), with
the gold reward watched and with it removed. Replaying a log raises the same alarms at the same steps as watching
the run live, so these pin the guard's verdicts on real runs (docs/validation.md gives the rates over all of them)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sentinel.audit.guard import SentinelCallback

RUNS = Path(__file__).resolve().parents[1] / "data" / "guard_runs"
INDEX = json.loads((RUNS / "index.json").read_text())
POSITIVE = sorted(n for n, x in INDEX.items() if x["positive"])
NEGATIVE = sorted(n for n, x in INDEX.items() if not x["positive"])


def _replay(name: str, gold: bool, **overrides) -> SentinelCallback:
    guard = SentinelCallback(every_n_steps=5, **overrides)
    with gzip.open(RUNS / f"{name}.jsonl.gz", "rt") as f:
        rows = [json.loads(line) for line in f]
    for row in rows:
        row.pop("step")  # rows are steps 1..n in order
    guard.replay(rows if gold else [{k: v for k, v in r.items() if not k.startswith(("gold/", "heldout/"))}
                                    for r in rows])
    return guard


def _high(guard: SentinelCallback) -> dict[str, int]:
    return {a.id: guard.raised_at[a.id] for a in guard.alarms if a.severity >= "high"}


def test_the_recorded_runs_hold_both_kinds():
    assert len(POSITIVE) >= 2 and len(NEGATIVE) >= 2, INDEX


@pytest.mark.parametrize("name", POSITIVE)
def test_gold_watched_an_over_optimised_run_raises_over_optimisation_after_the_peak(name):
    high = _high(_replay(name, gold=True))
    assert "over-optimisation" in high, high
    # raised once the fall is there to see: not before the best full window of gold began
    label = INDEX[name]
    assert high["over-optimisation"] >= label["peak_step"] - label["window"] + 1


@pytest.mark.parametrize("name", NEGATIVE)
def test_gold_watched_a_run_whose_gold_held_raises_no_high_alarm(name):
    assert _high(_replay(name, gold=True)) == {}


@pytest.mark.parametrize("name", POSITIVE + NEGATIVE)
def test_gold_removed_over_optimisation_says_it_cannot_be_computed(name):
    guard = _replay(name, gold=False)
    assert "over-optimisation" not in {a.id for a in guard.alarms}
    status = guard.report.metrics["checks"]["over-optimisation"]
    assert status.startswith("not computable") and "gold" in status


@pytest.mark.parametrize("name", POSITIVE)
def test_over_optimisations_fall_threshold_is_the_configs(name):
    """`gold_fall_z` decides: the fall each positive run shows, in standard errors, passes a bar just below it and
    fails one far above it (checks every 5 steps: an earlier check may have seen a larger fall than the alarm kept);
    benchmarks/guard_roc.py sweeps this threshold."""
    found = next(a for a in _replay(name, gold=True).alarms if a.id == "over-optimisation")
    z = found.data["gold_fall_z"]
    assert z > 3.0
    assert "over-optimisation" in {a.id for a in _replay(name, gold=True, gold_fall_z=z * 0.95).alarms}
    assert "over-optimisation" not in {a.id for a in _replay(name, gold=True, gold_fall_z=z * 10).alarms}
