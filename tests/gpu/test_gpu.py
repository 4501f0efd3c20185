"""What only a GPU machine can check (`make gpu-check`): the CUDA device, bf16 mixed precision, SFT, PPO and GRPO
steps on the GPU, and two processes under `accelerate launch` where two GPUs exist. Each test skips, saying why,
on a machine without what it needs, so the whole file is a no-op on CPU."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device (torch.cuda.is_available())")]


def test_the_cuda_device_computes_in_bf16():
    from sentinel.train import SFTConfig
    from sentinel.train.stage import on_gpu, training_kwargs

    assert torch.cuda.is_bf16_supported(), f"{torch.cuda.get_device_name()} has no bf16"
    x = torch.randn(64, 64, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        y = x @ x
    assert y.dtype == torch.bfloat16 and torch.isfinite(y).all()
    cfg = SFTConfig(model="m", output_dir="o", train_file=__file__)
    assert on_gpu(cfg) and training_kwargs(cfg)["bf16"] is True  # the GPU defaults: bf16 on


def test_sft_steps_on_the_gpu_in_bf16(tiny_sft_files):
    from sentinel.train import SFTConfig, sft

    out = tiny_sft_files / "out"
    result = sft(SFTConfig(model=str(tiny_sft_files / "base"), train_file=str(tiny_sft_files / "sft.jsonl"),
                           output_dir=str(out), max_steps=3, logging_steps=1, quiet=True, device="cuda"))
    assert result.global_step == 3 and math.isfinite(result.metrics["loss"])
    assert (out / "model.safetensors").is_file()


def test_ppo_steps_on_the_gpu(tiny_tokenizer, tmp_path):
    from ppo_tiny import PROMPTS, small_config, tiny_policy_files

    from sentinel.train.ppo import PPOTrainer

    policy, _ = tiny_policy_files(tiny_tokenizer, tmp_path)
    trainer = PPOTrainer(config=small_config(max_steps=2, device="cuda", output_dir=str(tmp_path / "out")),
                         model=str(policy), reward_model=lambda p, r: [float(x.count("5")) for x in r])
    history = trainer.train(PROMPTS)
    assert next(trainer.model.parameters()).device.type == "cuda"
    assert len(history) == 2 and all(math.isfinite(v) for h in history for v in h.values())
    assert (tmp_path / "out" / "model.safetensors").is_file()


def count_fives(prompts, responses):
    return [float(r.count("5")) for r in responses]


def test_grpo_steps_on_the_gpu(tiny_tokenizer, tmp_path):
    from ppo_tiny import tiny_policy_files

    from sentinel.train.online_rl import GRPOConfig, grpo

    policy, prompts = tiny_policy_files(tiny_tokenizer, tmp_path)
    result = grpo(GRPOConfig(model=str(policy), train_file=str(prompts), output_dir=str(tmp_path / "out"),
                             max_steps=2, per_device_train_batch_size=8, num_generations=4, max_completion_length=8,
                             logging_steps=1, quiet=True, device="cuda"),
                  rewards=[count_fives])
    assert result.global_step == 2 and math.isfinite(result.metrics["reward"])


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason=f"needs two GPUs, found {torch.cuda.device_count()}")
def test_sft_under_accelerate_launch_on_two_gpus(tiny_sft_files, free_port):
    out = tiny_sft_files / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
         "--num_machines", "1", "--mixed_precision", "bf16", "--dynamo_backend", "no", "--main_process_port",
         free_port, "-m", "sentinel", "-q", "train", "sft", "--model", str(tiny_sft_files / "base"),
         "--train-file", str(tiny_sft_files / "sft.jsonl"), "--output-dir", str(out), "--max-steps", "3",
         "--logging-steps", "1"],
        capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "data_summary.json").read_text())["processes"] == 2
