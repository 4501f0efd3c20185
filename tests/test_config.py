"""sentinel.config: YAML and flags map onto dataclasses; bad values name the field."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from sentinel.config import add_arguments, from_args, from_args_many, from_dict
from sentinel.errors import ConfigError


@dataclass
class Demo:
    learning_rate: float = field(default=1e-3, metadata={"help": "step size"})
    steps: int = field(default=10, metadata={"help": "optimizer steps"})
    use_lora: bool = field(default=False, metadata={"help": "train LoRA adapters"})
    loss_type: list[str] = field(default_factory=lambda: ["sigmoid"], metadata={"help": "DPO losses"})
    data: str | None = field(default=None, metadata={"help": "data file"})

    def __post_init__(self):
        if self.learning_rate <= 0:
            raise ConfigError(f"must be positive, got {self.learning_rate}", field="learning_rate")


def test_yaml_then_flags_override(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("learning_rate: 0.01\nsteps: 5\nloss_type: [ipo, hinge]\n")
    parser = argparse.ArgumentParser()
    add_arguments(parser, Demo)
    args = parser.parse_args(["--steps", "7", "--use-lora"])
    cfg = from_args(Demo, args, cfg_file)
    assert cfg == Demo(learning_rate=0.01, steps=7, use_lora=True, loss_type=["ipo", "hinge"])


def test_bad_values_name_the_field():
    with pytest.raises(ConfigError, match="'lerning_rate'.*did you mean learning_rate"):
        from_dict(Demo, {"lerning_rate": 1})
    with pytest.raises(ConfigError, match="'steps'.*expected int"):
        from_dict(Demo, {"steps": "many"})
    with pytest.raises(ConfigError, match="'learning_rate'.*positive"):
        from_dict(Demo, {"learning_rate": -1})
    with pytest.raises(ConfigError, match="'use_lora'"):
        from_dict(Demo, {"use_lora": "maybe"})


def test_mapping_fields_take_yaml_mappings_or_json_flags(tmp_path):
    from sentinel.train import SFTConfig

    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "hi", "completion": "there"}\n')
    base = {"model": "m", "train_file": str(data), "output_dir": str(tmp_path / "o")}
    parser = argparse.ArgumentParser()
    add_arguments(parser, SFTConfig)
    args = parser.parse_args(["--trainer-args", '{"optim": "sgd", "max_grad_norm": 0.5}'])
    cfg = from_args(SFTConfig, argparse.Namespace(**{**vars(args), **base}))
    assert cfg.trainer_args == {"optim": "sgd", "max_grad_norm": 0.5}
    # The same string given in Python is parsed the same way; a broken one names the field and the problem.
    assert SFTConfig(**base, trainer_args='{"optim": "sgd"}').trainer_args == {"optim": "sgd"}
    with pytest.raises(ConfigError, match="'trainer_args'.*expected a JSON object"):
        from_args(SFTConfig, argparse.Namespace(**{**vars(args), **base, "trainer_args": "{optim: sgd"}))
    with pytest.raises(ConfigError, match="'trainer_args'"):
        SFTConfig(**base, trainer_args="[1, 2]")


@dataclass
class Inputs:
    data: str | None = field(default=None, metadata={"help": "what to read"})
    seed: int = field(default=0, metadata={"help": "shared with Demo-like configs"})


@dataclass
class Knobs:
    steps: int = field(default=10, metadata={"help": "optimizer steps"})
    seed: int = field(default=1, metadata={"help": "the same field in a second class"})


def test_one_parser_fills_several_dataclasses(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("data: d.jsonl\nsteps: 5\nseed: 3\n")
    parser = argparse.ArgumentParser()
    add_arguments(parser, Inputs, Knobs)
    assert sum("--seed" in a.option_strings for a in parser._actions) == 1  # a shared field: one flag
    inputs, knobs = from_args_many((Inputs, Knobs), parser.parse_args(["--steps", "7"]), cfg_file)
    assert (inputs.data, inputs.seed, knobs.steps, knobs.seed) == ("d.jsonl", 3, 7, 3)
    inputs, knobs = from_args_many((Inputs, Knobs), parser.parse_args(["--seed", "9"]), cfg_file)
    assert inputs.seed == knobs.seed == 9  # a flag fills every class that declares it
    cfg_file.write_text("data: d.jsonl\nstesp: 5\n")
    with pytest.raises(ConfigError) as e:
        from_args_many((Inputs, Knobs), parser.parse_args([]), cfg_file)
    assert e.value.field == "stesp" and "did you mean steps" in str(e.value)
