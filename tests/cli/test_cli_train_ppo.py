"""`sentinel train ppo` (sentinel/cli/cmd_train_ppo.py): how its YAML file and its flags become the run's
`PPOInputs` and `PPOConfig`."""

from __future__ import annotations

import pytest

from sentinel.errors import ConfigError


def parse(argv):
    from sentinel.cli.cmd_train_ppo import _split_config
    from sentinel.cli.main import build_parser

    return _split_config(build_parser().parse_args(["train", "ppo", *argv]))


def test_cli_parses_ensemble_flags_and_yaml(tmp_path):
    inputs, config = parse(["--reward-model", "a:f,b:g,c:h", "--ensemble", "uwo", "--uwo-lambda", "0.25"])
    assert inputs.reward_model == ["a:f", "b:g", "c:h"]
    assert config.ensemble == "uwo" and config.uwo_lambda == 0.25
    cfg = tmp_path / "ppo.yaml"
    cfg.write_text("reward_model: [rm-a, rm-b]\nensemble: min\n")
    inputs, config = parse(["--config", str(cfg)])
    assert inputs.reward_model == ["rm-a", "rm-b"] and config.ensemble == "min" and config.uwo_lambda is None
    inputs, config = parse(["--config", str(cfg), "--ensemble", "mean"])  # the flag overrides the file
    assert config.ensemble == "mean"
    with pytest.raises(ConfigError, match=r"expected one of \['mean', 'min', 'uwo'\]"):
        parse(["--ensemble", "median"])
