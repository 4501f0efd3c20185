"""A TRL YAML recipe (TRL's own field names: ModelConfig, ScriptArguments, the trainer's config) runs as it is
through `sentinel train`; what cannot be honoured is an error naming the field."""

from __future__ import annotations

import json

import pytest
import yaml

from sentinel.errors import ConfigError
from sentinel.train import DPOConfig, SFTConfig
from sentinel.train.trl_names import from_trl_names


@pytest.fixture
def tiny_base(tiny_sft_files):
    return tiny_sft_files


def test_trl_names_map_onto_the_stage(tmp_path):
    data = {"model_name_or_path": "m", "dataset_name": "d.jsonl", "use_peft": True, "lora_alpha": 32,
            "eval_strategy": "no", "optim": "adamw_torch", "warmup_steps": 3, "max_length": 64, "report_to": "none"}
    out = from_trl_names(SFTConfig, data)
    assert out["model"] == "m" and out["train_file"] == "d.jsonl" and out["lora_r"] == 16 and out["lora_alpha"] == 32
    assert out["trainer_args"] == {"eval_strategy": "no", "optim": "adamw_torch", "warmup_steps": 3}
    assert out["max_length"] == 64  # ours: not passed twice
    assert from_trl_names(SFTConfig, {"use_peft": True, "lora_r": 4})["lora_r"] == 4
    assert "lora_r" not in from_trl_names(SFTConfig, {"use_peft": False})
    with pytest.raises(ConfigError, match="load_in_4bit.*quantised"):
        from_trl_names(SFTConfig, {"load_in_4bit": True})
    with pytest.raises(ConfigError, match="either model_name_or_path .* or model"):
        from_trl_names(SFTConfig, {"model_name_or_path": "a", "model": "b"})
    assert from_trl_names(DPOConfig, {"beta": 0.2, "use_weighting": True})["trainer_args"] == {"use_weighting": True}


@pytest.mark.parametrize("stage, recipe", [
    ("sft", {"dataset_name": "sft.jsonl", "learning_rate": 1e-3, "packing": False, "completion_only_loss": True,
             "dataset_text_field": "text"}),
    ("dpo", {"dataset_name": "pairs.jsonl", "learning_rate": 1e-4, "beta": 0.1, "loss_type": ["sigmoid"],
             "max_length": 64}),
])
def test_a_trl_recipe_trains_as_it_is(tiny_base, stage, recipe, capsys):
    from sentinel.cli.main import main

    d = tiny_base
    out = d / f"out-{stage}"
    full = {"model_name_or_path": str(d / "base"), "output_dir": str(out), "max_steps": 3,
            "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "logging_steps": 1,
            "eval_strategy": "no", "warmup_ratio": 0.1, "lr_scheduler_type": "cosine", "report_to": "none",
            "use_peft": True, "lora_r": 4, "lora_target_modules": ["q_proj", "v_proj"], "seed": 3, **recipe}
    full["dataset_name"] = str(d / recipe["dataset_name"])
    (d / "recipe.yaml").write_text(yaml.safe_dump(full))
    assert main(["train", stage, "--config", str(d / "recipe.yaml"), "--quiet"]) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["model"] == str(d / "base") and saved["lora_r"] == 4 and saved["seed"] == 3
    assert saved["trainer_args"]["eval_strategy"] == "no"
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3]
    assert not any("lora" in k for k in __import__("safetensors.torch", fromlist=["x"]).load_file(
        str(out / "model.safetensors")))  # LoRA merged into the saved model
    capsys.readouterr()
