"""`sentinel train ppo` (sentinel/cli/cmd_train_ppo.py): how its YAML file and its flags become the run's
`PPOInputs` and `PPOConfig`, and that the trainer loads every model with the run's one device and safety flags."""

from __future__ import annotations

import pytest

from sentinel.errors import ConfigError


def parse(argv):
    from sentinel.cli.cmd_train_ppo import configs
    from sentinel.cli.main import build_parser

    return configs(build_parser().parse_args(["train", "ppo", *argv]))


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


def test_device_and_safety_flags_come_from_the_yaml_file_or_the_flags(tmp_path):
    cfg = tmp_path / "ppo.yaml"
    cfg.write_text("device: cpu\nallow_pickle: true\n")
    _, config = parse(["--config", str(cfg)])
    assert config.device == "cpu" and config.allow_pickle and not config.trust_remote_code
    _, config = parse(["--config", str(cfg), "--device", "cuda", "--no-allow-pickle", "--trust-remote-code"])
    assert config.device == "cuda" and not config.allow_pickle and config.trust_remote_code
    _, config = parse([])
    assert config.device is None and not config.allow_pickle and not config.trust_remote_code


# ------------------------------------------------------------------------------- models loaded by the trainer
@pytest.fixture
def run_files(tiny_tokenizer, tmp_path, monkeypatch):
    """The arguments of a run over a tiny policy folder with a reward and a gold reward from a module; the trainer
    loads its models and `train` returns at once (no PPO step)."""
    from ppo_tiny import tiny_policy_files  # tests/helpers/ppo_tiny.py

    from sentinel.train.ppo.trainer import PPOTrainer

    policy, prompts = tiny_policy_files(tiny_tokenizer, tmp_path)
    (tmp_path / "ppo_cli_rules.py").write_text(
        "def fives(prompts, responses):\n    return [float(r.count('5')) for r in responses]\n"
        "def length(prompts, responses):\n    return [len(r) / 10 for r in responses]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(PPOTrainer, "train", lambda self, prompts: [])
    return ["train", "ppo", "--model", str(policy), "--prompts", str(prompts), "--output-dir", str(tmp_path / "out"),
            "--reward-model", "ppo_cli_rules:fives", "--gold-reward", "ppo_cli_rules:length"]


def test_ref_model_with_pickled_weights_loads_only_with_allow_pickle(run_files, tiny_tokenizer, tmp_path, capsys):
    import torch

    from sentinel.cli.main import main
    from sentinel.models import TinyConfig, build_causal_lm

    ref = tmp_path / "pickled-ref"
    lm = build_causal_lm(tiny_tokenizer, TinyConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1))
    lm.save_pretrained(ref)
    (ref / "model.safetensors").unlink()
    torch.save(lm.state_dict(), ref / "pytorch_model.bin")
    assert main([*run_files, "--ref-model", str(ref)]) == 2
    assert "pickled-ref holds only pickled weights" in capsys.readouterr().err
    assert main([*run_files, "--ref-model", str(ref), "--allow-pickle"]) == 0


@pytest.mark.parametrize("flags", [["--allow-pickle"], ["--trust-remote-code"], []])
def test_one_device_and_one_set_of_safety_flags_reach_every_model(run_files, tmp_path, monkeypatch, flags):
    """The policy, the reference, the reward and the gold reward: each loaded once, by the trainer, with the same
    device and the same flags."""
    from sentinel.cli.main import main
    from sentinel.train.ppo import trainer as ppo_trainer

    loads = []

    def recorded(real):
        def load(source, **kw):
            loads.append((str(source), kw["device"], kw["allow_pickle"], kw["trust_remote_code"]))
            return real(source, **kw)
        return load

    monkeypatch.setattr(ppo_trainer, "load_causal_lm", recorded(ppo_trainer.load_causal_lm))
    monkeypatch.setattr(ppo_trainer, "as_reward_fn", recorded(ppo_trainer.as_reward_fn))
    policy = run_files[run_files.index("--model") + 1]
    assert main([*run_files, "--ref-model", policy, "--device", "cpu", *flags]) == 0
    expected = ("cpu", "--allow-pickle" in flags, "--trust-remote-code" in flags)
    assert loads == [(policy, *expected), (policy, *expected), ("ppo_cli_rules:fives", *expected),
                     ("ppo_cli_rules:length", *expected)]
