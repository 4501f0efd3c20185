"""`report_to: [tensorboard]`: TensorBoard event files beside metrics.jsonl in the finished folder, for a TRL stage
(SFT) and for our PPO, holding the same metrics as metrics.jsonl."""

from __future__ import annotations

import json

import pytest
from ppo_tiny import small_config, tiny_policy_files  # tests/helpers/ppo_tiny.py

pytest.importorskip("tensorboard", reason="tensorboard is in the [trackers] extra (installed by make)")


def _scalars(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    files = sorted(folder.rglob("events.out.tfevents.*"))
    assert files, f"no event files under {folder}"
    tags = {}
    for f in files:
        acc = EventAccumulator(str(f.parent))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            tags[tag] = [e.value for e in acc.Scalars(tag)]
    return tags


def test_sft_writes_tensorboard_events_into_the_finished_folder(tiny_sft_files):
    from sentinel.train import SFTConfig, sft

    tmp_path = tiny_sft_files
    out = tmp_path / "sft"
    sft(SFTConfig(model=str(tmp_path / "base"), train_file=str(tmp_path / "sft.jsonl"), output_dir=str(out),
                  max_steps=4, logging_steps=1, per_device_train_batch_size=8, quiet=True, report_to=["tensorboard"]))
    tags = _scalars(out / "runs")
    logged = [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert tags["train/loss"] == pytest.approx(logged, rel=1e-5)  # the same values as metrics.jsonl
    assert not (out / "checkpoints").exists()


def test_ppo_writes_tensorboard_events_with_its_step_metrics(tiny_tokenizer, tmp_path):
    from sentinel.errors import ConfigError
    from sentinel.train.ppo import PPOTrainer

    policy, prompts = tiny_policy_files(tiny_tokenizer, tmp_path)
    out = tmp_path / "ppo"
    trainer = PPOTrainer(config=small_config(output_dir=str(out), report_to=["tensorboard"]), model=str(policy),
                         reward_model=lambda p, r: [float(x.count("5")) for x in r])
    history = trainer.train(str(prompts))
    tags = _scalars(out / "runs")
    assert tags["objective/kl"] == pytest.approx([h["objective/kl"] for h in history], rel=1e-5, abs=1e-7)
    assert (out / "model.safetensors").is_file() and (out / "metrics.jsonl").is_file()
    with pytest.raises(ConfigError, match="output_dir"):
        small_config(report_to=["tensorboard"])
