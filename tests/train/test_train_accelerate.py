"""Every stage runs under `accelerate launch`: two CPU processes (DDP over gloo) train one model and save it once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sentinel.train import read_metrics

pytestmark = pytest.mark.slow


def test_sft_under_accelerate_launch_two_processes(tmp_path, tiny_tokenizer, free_port):
    from sentinel.models import build_causal_lm

    build_causal_lm(tiny_tokenizer).save_pretrained(tmp_path / "base")
    tiny_tokenizer.save_pretrained(tmp_path / "base")
    (tmp_path / "sft.jsonl").write_text("".join(
        json.dumps({"prompt": f"What is {a} + {b}?", "completion": f"The answer is {a + b}."}) + "\n"
        for a in range(8) for b in range(8)))
    out = tmp_path / "out"
    (tmp_path / "sft.yaml").write_text(
        f"model: {tmp_path / 'base'}\ntrain_file: {tmp_path / 'sft.jsonl'}\noutput_dir: {out}\n"
        "max_steps: 4\nlogging_steps: 1\nsave_steps: 2\nper_device_train_batch_size: 4\nlearning_rate: 0.001\n")
    # Two real CPU processes through `accelerate launch`. On a machine without GPUs, `--multi_gpu` is the switch that
    # makes accelerate start its torchrun launcher (the processes then run DDP over gloo on the CPU, as
    # `PartialState` reports MULTI_CPU); accelerate 1.15's `--cpu` flag selects its single-process launcher instead.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", free_port,
         "-m", "sentinel", "-q", "train", "sft", "--config", str(tmp_path / "sft.yaml")],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Saved once, by the main process: one finished folder, no leftover temporary folders beside it.
    assert (out / "model.safetensors").exists() and (out / "config.yaml").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    rows = [r for r in read_metrics(out / "metrics.jsonl") if "loss" in r]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]  # logged by one process only, each step once
    summary = json.loads((out / "data_summary.json").read_text())
    assert summary["train_examples_used"] == 64
    assert summary["processes"] == 2 and summary["examples_per_step"] == 8
    import torch
    from safetensors.torch import load_file

    before, after = load_file(tmp_path / "base" / "model.safetensors"), load_file(out / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)
