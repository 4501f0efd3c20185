"""TRL's own field names in a stage's YAML file, so that a TRL recipe runs as it is.

A TRL recipe mixes three argument classes: `ModelConfig` (model_name_or_path, use_peft, lora_*, dtype, ...),
`ScriptArguments` (dataset_name, ...) and the trainer's config (SFTConfig, DPOConfig, ...: every TrainingArguments
field plus the method's own). `from_trl_names(cls, data)` maps them onto a stage's dataclass:

- names that differ map to ours (`model_name_or_path` -> model, `dataset_name` -> train_file, `use_peft: true`
  -> LoRA with TRL's default rank 16 unless `lora_r` is given, `torch_dtype` -> dtype);
- a field of the TRL trainer config that the stage has no field for (`eval_strategy`, `optim`, `warmup_steps`,
  ...) goes to `trainer_args`, which passes it to TRL as it is;
- what we cannot honour (quantised loading, a dataset config or split, streaming, DoRA) is an error naming the field,
  never silently dropped; our own names keep working beside them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import ConfigError

RENAMED = {"model_name_or_path": "model", "dataset_name": "train_file", "torch_dtype": "dtype"}
TRL_LORA_RANK = 16  # trl.ModelConfig.lora_r
UNSUPPORTED = {
    "model_revision": "give a local folder of that revision", "load_in_8bit": "quantised loading is not supported",
    "load_in_4bit": "quantised loading is not supported", "bnb_4bit_quant_type": "quantised loading is not supported",
    "use_bnb_nested_quant": "quantised loading is not supported",
    "bnb_4bit_quant_storage": "quantised loading is not supported", "use_dora": "DoRA is not supported",
    "use_rslora": "rsLoRA is not supported", "lora_target_parameters": "give lora_target_modules",
    "lora_modules_to_save": "not supported", "lora_task_type": "set by the stage",
    "dataset_config": "save the configuration you want with datasets' save_to_disk and give that folder",
    "dataset_train_split": "give the split's file or folder as train_file",
    "dataset_test_split": "give the split's file or folder as eval_file",
    "dataset_streaming": "not supported", "attn_implementation": "not supported (the model's default is used)",
}


def _trl_fields(trl_config: str | None) -> set[str]:
    import trl
    from transformers import TrainingArguments

    cls = getattr(trl, trl_config) if trl_config else TrainingArguments
    return {f.name for f in dataclasses.fields(cls)}


def from_trl_names(cls: type, data: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """`data` with TRL's names mapped onto `cls`'s fields (module docstring); keys `cls` has pass through."""
    ours = {f.name for f in dataclasses.fields(cls)}
    trl_fields = _trl_fields(getattr(cls, "TRL_CONFIG", None))
    out: dict[str, Any] = {}
    passed: dict[str, Any] = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name in ours:
            out[name] = value
        elif name in RENAMED:
            if RENAMED[name] in data:
                raise ConfigError(f"give either {name} (TRL's name) or {RENAMED[name]}, not both", field=key)
            out[RENAMED[name]] = value
        elif name == "use_peft":
            if value and "lora_r" not in data:
                out["lora_r"] = TRL_LORA_RANK
        elif name in UNSUPPORTED:
            raise ConfigError(f"TRL's {name} in {source} cannot be honoured here: {UNSUPPORTED[name]}", field=key)
        elif name in trl_fields:
            passed[name] = value
        else:
            out[name] = value  # unknown: the dataclass names it, with close matches
    if passed:
        out["trainer_args"] = {**passed, **(out.get("trainer_args") or {})}
    return out
