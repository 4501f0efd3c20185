"""The demo killed with SIGKILL half-way through one of its model saves (drawn from SENTINEL_KILL_SEED among the
ten a tiny demo writes: the lab's base model, SFT, noisy SFT, the reward model, PPO and DPO, checkpoints and finished
folders), then run again: it ends with the report of a demo never killed, and nothing half-built or locked is left."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from kill_points import kill_seed, killed  # tests/helpers/kill_points.py

from sentinel.cli.main import main

# `sentinel demo` in about 40 s on one core: every stage, a few steps each
TINY_DEMO = ["--sft-steps", "2", "--onpolicy-prompts", "4", "--rm-steps", "2", "--ppo-steps", "2", "--ppo-seeds", "1",
             "--no-mitigations", "--dpo-steps", "2", "--eval-prompts", "4", "--audit-cases", "4", "--heldout-prompts",
             "0", "--workers", "1"]
DEMO_SAVES = 10  # the models the tiny demo writes: lab base, SFT, noisy SFT, reward model (checkpoints and finished
# folders), PPO, DPO


def _report(out: Path) -> dict:
    """report.json without what names the run's folder, time or code revision (a commit between the two runs)."""
    report = json.loads((out / "report.json").read_text())
    return {k: v for k, v in report.items() if k not in ("created", "model", "package")}


@pytest.mark.slow
def test_the_demo_killed_in_a_save_runs_again_to_the_same_report(tmp_path):
    seed = kill_seed()
    point = f"save:{random.Random(f'{seed}/demo').randint(1, DEMO_SAVES)}"
    where = f"demo, SENTINEL_KILL_SEED={seed}: killed in model save {point.split(':')[1]} of {DEMO_SAVES}"
    assert main(["-q", "demo", "--out", str(tmp_path / "straight"), *TINY_DEMO]) == 0
    out = tmp_path / "out"
    killed(["-q", "demo", "--out", str(out), *TINY_DEMO], point, tmp_path, where)
    assert not (out / "report.json").exists(), where
    assert main(["-q", "demo", "--out", str(out), *TINY_DEMO]) == 0, where
    assert _report(out) == _report(tmp_path / "straight"), where
    assert sorted(p.name for p in out.rglob(".*")) == [], where  # no half-built folder, no lock left anywhere
