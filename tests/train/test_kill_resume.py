"""Kill-and-resume for every `sentinel train` stage built on Trainer (PPO has its own, tests/train/test_ppo.py).

Each stage runs as a process on a tiny configuration and is killed with SIGKILL at a seeded random point while it
trains (after an optimizer step, or half-way through writing a checkpoint), resumed in a second process that is
killed half-way through its final save, then resumed to the end. The result must equal a run never killed: the same
logged metrics and bit-identical weights (every stage is deterministic on CPU; wall-clock metrics such as
`step_time` and Trainer's end-of-run summary row are left out of the comparison, see `_metrics`). Between kills
the folder never looks finished. SENTINEL_KILL_SEED picks other kill points; a failure names the seed and the
points.

The process kills itself at the chosen point (tests/helpers/kill_points.py), so the point is exact and no test waits
on timing. The demo has its own: tests/lab/test_demo_kill_resume.py.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from kill_points import kill_seed, killed  # tests/helpers/kill_points.py

from sentinel.cli.main import main

STEPS = 4


def _clock(key: str) -> bool:
    """Whether a metric measures wall-clock time, not the run (`train_runtime`, `eval_samples_per_second`, ...)."""
    return key.endswith(("_runtime", "_per_second")) or key == "step_time" or key.startswith("time/")


def _files(root: Path, tok) -> dict[str, Path]:
    """A tiny causal LM, a tiny reward model and every data file the stages read, under `root`."""
    from sentinel.models import TinyConfig, build_causal_lm, build_reward_model

    tiny = TinyConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1)
    for name, build in (("lm", build_causal_lm), ("rm", build_reward_model)):
        torch.manual_seed(0)
        build(tok, tiny).save_pretrained(root / name)
        tok.save_pretrained(root / name)
    sums = [(a, b) for a in range(5) for b in range(5)]
    rows = [{"prompt": f"What is {a} + {b}?", "completion": f"The answer is {a + b}."} for a, b in sums]
    pairs = [{"prompt": f"What is {a} + {b}?", "chosen": f"The answer is {a + b}.", "rejected": "I am not sure."}
             for a, b in sums]
    (root / "sft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs))
    (root / "prompts.jsonl").write_text("".join(json.dumps({"prompt": r["prompt"]}) + "\n" for r in rows))
    (root / "docs").mkdir()
    for i in range(6):
        (root / "docs" / f"{i}.txt").write_text(" ".join(f"{a} + {b} = {a + b}." for a, b in sums[i::6]))
    (root / "kill_rules.py").write_text("def fives(prompts, responses):\n"
                                        "    return [float(r.count('5')) for r in responses]\n")
    return {"lm": root / "lm", "rm": root / "rm"}


def _stage_flags(stage: str, root: Path) -> list[str]:
    batch = ["--per-device-train-batch-size", "4"]
    online = ["--model", str(root / "lm"), "--train-file", str(root / "prompts.jsonl"), "--reward-model",
              "kill_rules:fives", "--num-generations", "4", "--max-completion-length", "6",
              "--per-device-train-batch-size", "8"]
    return {
        "sft": ["--model", str(root / "lm"), "--train-file", str(root / "sft.jsonl"), *batch],
        "reward": ["--model", str(root / "rm"), "--train-file", str(root / "pairs.jsonl"), *batch],
        "dpo": ["--model", str(root / "lm"), "--train-file", str(root / "pairs.jsonl"), *batch],
        "grpo": online,
        "rloo": online,
        "domain": ["--model", str(root / "lm"), "--train-file", str(root / "docs"), "--block-size", "16", *batch],
    }[stage]


def _argv(stage: str, root: Path, out: Path, *more: str) -> list[str]:
    return ["train", stage, *_stage_flags(stage, root), "--output-dir", str(out), "--max-steps", str(STEPS),
            "--save-steps", "1", "--logging-steps", "1", "--seed", "0", "--quiet", *more]


def _metrics(out: Path) -> list[dict]:
    """The rows of metrics.jsonl without wall-clock values and without Trainer's end-of-run summary row: its
    `train_loss` averages only the steps the last process trained, and a run resumed from its last step's checkpoint
    trains none and writes no such row."""
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not _clock(k)} for r in rows if "train_loss" not in r]


def _weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(out / "model.safetensors")


def _looks_unfinished(out: Path, where: str) -> None:
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert left in ([], ["checkpoints"]), f"{where}: the killed run's folder holds {left}"


def kill_points(stage: str) -> tuple[str, str]:
    """(the point in training, the point in the final save) for `stage`, drawn from SENTINEL_KILL_SEED."""
    rng = random.Random(f"{kill_seed()}/{stage}")
    return f"{rng.choice(['step', 'checkpoint'])}:{rng.randint(1, STEPS - 1)}", "final"


STAGES = ["sft", "reward", "dpo", "grpo", "rloo", "domain"]
HEAVY = {"reward", "rloo", "domain"}  # the same Trainer paths as sft and grpo: run with the slow tests


@pytest.mark.parametrize("stage", [pytest.param(s, marks=pytest.mark.slow) if s in HEAVY else s for s in STAGES])
def test_a_stage_killed_in_training_and_in_its_final_save_resumes_to_the_same_result(stage, tmp_path, tiny_tokenizer,
                                                                                     monkeypatch):
    _files(tmp_path, tiny_tokenizer)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(_argv(stage, tmp_path, tmp_path / "straight")) == 0
    out = tmp_path / "out"
    training, final = kill_points(stage)
    where = f"{stage}, SENTINEL_KILL_SEED={kill_seed()}: killed at {training}"
    killed(_argv(stage, tmp_path, out), training, tmp_path, where)
    _looks_unfinished(out, where)
    where += f", resumed and killed at {final}"
    killed(_argv(stage, tmp_path, out, "--resume"), final, tmp_path, where)
    _looks_unfinished(out, where)
    assert main(_argv(stage, tmp_path, out, "--resume")) == 0, where
    assert _metrics(out) == _metrics(tmp_path / "straight"), where
    a, b = _weights(tmp_path / "straight"), _weights(out)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), where
    assert sorted(p.name for p in tmp_path.glob(".out*")) == [], where  # no partial folder, no lock file left

