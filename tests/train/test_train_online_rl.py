"""GRPO and RLOO on TRL 1.16 with a tiny Llama: rewards through sentinel's adapters, a watched gold reward that is
logged and never optimised, the reference model, resume after a crash, LoRA, the CLI and its guard."""

from __future__ import annotations

import json
import math

import pytest
import torch
from ppo_tiny import tiny_policy_files  # tests/helpers/ppo_tiny.py

from sentinel.errors import ConfigError
from sentinel.models import TinyConfig, build_causal_lm
from sentinel.train.online_rl import GRPOConfig, RLOOConfig, build_rewards, grpo, rloo, trl_reward_func


def count_fives(prompts, responses):
    return [float(r.count("5")) for r in responses]


def reply_length(prompts, responses):
    return [float(len(r)) for r in responses]


@pytest.fixture
def setup(tiny_tokenizer, tmp_path):
    return tiny_policy_files(tiny_tokenizer, tmp_path)


def small(cls, policy, prompts, out, **kw):
    base = {"model": str(policy), "train_file": str(prompts), "output_dir": str(out), "learning_rate": 3e-3,
            "max_steps": 3, "per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 8,
            "logging_steps": 1, "save_steps": 100, "quiet": True, "seed": 0}
    return cls(**{**base, **kw})


def rows_of(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def test_config_errors_name_the_field(setup, tmp_path):
    policy, prompts = setup
    with pytest.raises(ConfigError, match="num_generations"):
        small(GRPOConfig, policy, prompts, tmp_path / "o", per_device_train_batch_size=6)  # 6 % 4
    with pytest.raises(ConfigError, match="num_generations"):
        small(GRPOConfig, policy, prompts, tmp_path / "o", num_generations=1)
    with pytest.raises(ConfigError, match="loss_type"):
        small(GRPOConfig, policy, prompts, tmp_path / "o", loss_type="ppo")
    with pytest.raises(ConfigError, match="scale_rewards"):
        small(GRPOConfig, policy, prompts, tmp_path / "o", scale_rewards="prompt")
    with pytest.raises(ConfigError, match="reward_weights"):
        small(RLOOConfig, policy, prompts, tmp_path / "o", reward_model=["a:b"], reward_weights=[1.0, 2.0])
    with pytest.raises(ConfigError, match="reward_model"):  # no reward at all: said before any model loads
        grpo(small(GRPOConfig, policy, prompts, tmp_path / "o"))
    # steps_per_generation decides the generation batch: 6 alone is refused above, 6 x 2 = 12 holds three groups of 4
    # (a ConfigError here fails the test)
    small(GRPOConfig, policy, prompts, tmp_path / "o", per_device_train_batch_size=6, steps_per_generation=2)
    with pytest.raises(ConfigError, match="num_generations"):
        small(GRPOConfig, policy, prompts, tmp_path / "o", per_device_train_batch_size=6, steps_per_generation=3)


def test_trl_reward_function_sees_prompts_and_replies_as_ppo_does():
    from sentinel.models import as_reward_fn

    seen = []

    def record(prompts, responses):
        seen.extend(zip(prompts, responses))
        return [1.0, math.nan]

    fn = trl_reward_func(as_reward_fn(record), "mine")
    convo = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "5"},
             {"role": "user", "content": "Are you sure?"}]
    out = fn(prompts=[[{"role": "user", "content": "Hi"}], convo],
             completions=[[{"role": "assistant", "content": "Hello"}], [{"role": "assistant", "content": "4"}]],
             completion_ids=[[1], [2]])
    assert fn.__name__ == "mine"
    assert out == [1.0, None]  # NaN -> None: TRL leaves it out of the group's statistics
    assert seen == [("Hi", "Hello"), (convo, "4")]  # one user turn as its text; a conversation kept whole


def test_reward_names_are_unique_and_gold_is_watched_with_weight_zero(setup, tmp_path):
    policy, prompts = setup
    cfg = small(GRPOConfig, policy, prompts, tmp_path / "o", reward_weights=[1.0, 0.5])
    funcs, w = build_rewards(cfg, [count_fives, count_fives], gold=reply_length)
    assert [f.__name__ for f in funcs] == ["count_fives", "count_fives_", "gold"] and w == [1.0, 0.5, 0.0]
    cfg = small(GRPOConfig, policy, prompts, tmp_path / "o", reward_model=["tests_rules:fives"])
    with pytest.raises(ConfigError, match="tests_rules"):
        build_rewards(cfg)  # a module that does not exist is named


def test_grpo_trains_logs_gold_unoptimised_and_writes_a_finished_folder(setup, tmp_path):
    policy, prompts = setup
    out = tmp_path / "grpo"
    result = grpo(small(GRPOConfig, policy, prompts, out, max_steps=4), rewards=[count_fives], gold=reply_length)
    rows = [r for r in rows_of(out) if "reward" in r]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for r in rows:  # TRL's reward is the weighted sum: the gold reward (weight 0) is not in it
        assert r["reward"] == pytest.approx(r["rewards/count_fives/mean"], abs=1e-5)
        assert r["rewards/gold/mean"] > 0 and "kl" not in r  # beta 0: no reference, no KL
    assert result.data_summary["rewards"] == {"count_fives": 1.0, "gold": 0.0}
    assert {"model.safetensors", "config.yaml", "metrics.jsonl", "data_summary.json"} <= {
        p.name for p in out.iterdir()}
    assert not (out / "checkpoints").exists()
    before, after = weights(policy), weights(out)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_rloo_with_an_in_memory_model_gets_a_reference_and_logs_kl(setup, tiny_tokenizer, tmp_path):
    policy, prompts = setup
    model = build_causal_lm(tiny_tokenizer, TinyConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1))
    out = tmp_path / "rloo"
    rloo(small(RLOOConfig, policy, prompts, out, num_generations=2, beta=0.1), model=model,
         tokenizer=tiny_tokenizer, rewards=[count_fives])
    kls = [r["kl"] for r in rows_of(out) if "kl" in r]
    assert len(kls) == 3 and all(math.isfinite(k) for k in kls)
    # the reference is the starting policy (saved from memory): at the first step, before any update, they agree;
    # a randomly initialised reference of this size gives a KL of several nats
    assert abs(kls[0]) < 1e-3


def test_a_crashed_run_resumes_from_its_checkpoint(setup, tmp_path):
    from transformers import TrainerCallback

    policy, prompts = setup
    out = tmp_path / "resume"

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise RuntimeError("simulated crash")

    cfg = small(GRPOConfig, policy, prompts, out, max_steps=4, save_steps=2)
    with pytest.raises(RuntimeError, match="simulated"):
        grpo(cfg, rewards=[count_fives], callbacks=[Crash()])
    assert not (out / "model.safetensors").exists()  # nothing that looks finished
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    grpo(small(GRPOConfig, policy, prompts, out, max_steps=4, save_steps=2, resume=True), rewards=[count_fives])
    steps = [r["step"] for r in rows_of(out) if "reward" in r]
    assert steps == [1, 2, 3, 4]  # each step once: the crashed step 3 was trained again, not logged twice


def test_lora_run_merges_adapters_into_the_saved_model(setup, tmp_path):
    policy, prompts = setup
    out = tmp_path / "lora"
    grpo(small(GRPOConfig, policy, prompts, out, lora_r=4, lora_target_modules=["q_proj", "v_proj"], beta=0.1),
         rewards=[count_fives])
    saved = weights(out)
    assert not any("lora" in k for k in saved)  # merged
    before = weights(policy)
    assert any(not torch.equal(before[k], saved[k]) for k in before if "q_proj" in k)


def test_cli_train_grpo_with_a_module_reward_and_the_guard(setup, tmp_path, monkeypatch, capsys):
    from sentinel.cli.main import main

    policy, prompts = setup
    (tmp_path / "grpo_rules.py").write_text("def fives(prompts, responses):\n"
                                            "    return [float(r.count('5')) for r in responses]\n"
                                            "def length(prompts, responses):\n"
                                            "    return [float(len(r)) for r in responses]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "cli"
    cfg = tmp_path / "grpo.yaml"
    cfg.write_text(f"model: {policy}\ntrain_file: {prompts}\noutput_dir: {out}\nreward_model: grpo_rules:fives\n"
                   "gold_reward: grpo_rules:length\nper_device_train_batch_size: 8\nnum_generations: 4\n"
                   "max_completion_length: 8\nmax_steps: 3\nlogging_steps: 1\nquiet: true\n")
    assert main(["train", "grpo", "--config", str(cfg), "--learning-rate", "1e-3", "--guard-every", "2",
                 "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["global_step"] == 3 and "rewards/gold/mean" in result["metrics"]
    assert result["guard"]["stopped_at"] is None and isinstance(result["guard"]["alarms"], list)
    assert (out / "guard" / "report.json").is_file()
    assert "learning_rate: 0.001" in (out / "config.yaml").read_text()
    assert main(["train", "rloo", "--config", str(cfg), "--num-generations", "3"]) == 2
    assert "num_generations" in capsys.readouterr().err


@pytest.mark.slow
def test_two_cpu_processes_train_grpo_and_report_once(setup, tmp_path, free_port):
    import os
    import subprocess
    import sys

    policy, prompts = setup
    (tmp_path / "ddp_rules.py").write_text("def fives(prompts, responses):\n"
                                           "    return [float(r.count('5')) for r in responses]\n")
    out = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=str(tmp_path), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port,
           "-m", "sentinel", "train", "grpo", "--model", str(policy), "--train-file", str(prompts),
           "--output-dir", str(out), "--reward-model", "ddp_rules:fives", "--per-device-train-batch-size", "4",
           "--num-generations", "4", "--max-completion-length", "6", "--max-steps", "2", "--logging-steps", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("sentinel train grpo: 2 steps") == 1  # only the main process reports
    assert [r["step"] for r in rows_of(out) if "reward" in r] == [1, 2]
    assert json.loads((out / "data_summary.json").read_text())["processes"] == 2
    assert (out / "guard" / "report.json").is_file()
