"""Shared training machinery: config validation, metrics.jsonl, resume without lost steps, atomic output."""

from __future__ import annotations

import json

import pytest

from sentinel.config import from_dict
from sentinel.errors import ConfigError, DataError
from sentinel.train import SFTConfig, read_metrics, sft
from sentinel.train.stage import WORK_DIR


@pytest.fixture(scope="module")
def sft_setup(tmp_path_factory, tiny_tokenizer):
    from sentinel.models import build_causal_lm

    d = tmp_path_factory.mktemp("sft_base")
    build_causal_lm(tiny_tokenizer).save_pretrained(d / "base")
    tiny_tokenizer.save_pretrained(d / "base")
    rows = [{"prompt": f"What is {a} + {b}?", "completion": f"The answer is {a + b}."}
            for a in range(10) for b in range(10)]
    (d / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def _cfg(d, **kw):
    base = {"model": str(d / "base"), "train_file": str(d / "train.jsonl"), "output_dir": str(d / "out"),
                "max_steps": 8, "logging_steps": 1, "save_steps": 2, "learning_rate": 1e-3, "quiet": True,
                "per_device_train_batch_size": 8}
    base.update(kw)
    return SFTConfig(**base)


@pytest.mark.parametrize("field,value", [
    ("learning_rate", -1e-4), ("learning_rate", "fast"), ("max_steps", 0), ("per_device_train_batch_size", 0),
    ("lora_dropout", 1.5), ("device", "tpu"), ("train_file", "no/such/file.jsonl"), ("eval_file", "missing.jsonl"),
    ("max_length", 2), ("seed", 1.5),
])
def test_bad_values_name_the_field(sft_setup, field, value):
    with pytest.raises(ConfigError) as e:
        _cfg(sft_setup, **{field: value})
    assert e.value.field == field
    assert field in str(e.value)


def test_unknown_field_and_missing_required(sft_setup):
    with pytest.raises(ConfigError) as e:
        from_dict(SFTConfig, {"model": str(sft_setup / "base"), "train_file": str(sft_setup / "train.jsonl"),
                              "output_dir": "x", "learning_rat": 1e-4})
    assert e.value.field == "learning_rat" and "learning_rate" in str(e.value)
    with pytest.raises(ConfigError) as e:
        SFTConfig(model=str(sft_setup / "base"), output_dir="x")
    assert e.value.field == "train_file"


def test_no_usable_rows_fails_before_training(sft_setup, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "hi", "completion": ""}\n{"prompt": "", "completion": "x"}\n')
    with pytest.raises(DataError, match="no usable"):
        sft(_cfg(sft_setup, train_file=str(bad), skip_invalid=True, output_dir=str(tmp_path / "out")))
    assert not (tmp_path / "out").exists()


class Crash(Exception):
    pass


def _crash_at(step):
    from transformers import TrainerCallback

    class CrashAt(TrainerCallback):
        # Raised from on_log, after metrics.jsonl got the line for `step`: resume must drop that line.
        def on_log(self, args, state, control, **kw):
            if state.global_step == step:
                raise Crash(step)

    return CrashAt()


@pytest.mark.slow
def test_resume_after_crash_loses_no_steps(sft_setup, tmp_path):
    import torch
    from safetensors.torch import load_file

    straight = sft(_cfg(sft_setup, output_dir=str(tmp_path / "straight")))
    cfg = _cfg(sft_setup, output_dir=str(tmp_path / "crashed"))
    with pytest.raises(Crash):
        sft(cfg, callbacks=[_crash_at(5)])
    out = tmp_path / "crashed"
    # A crashed run never looks finished: only the work folder exists.
    assert sorted(p.name for p in out.iterdir()) == [WORK_DIR]
    assert not (out / "model.safetensors").exists()
    resumed = sft(_cfg(sft_setup, output_dir=str(out), resume=True))
    assert resumed.global_step == straight.global_step == 8
    steps = [r["step"] for r in read_metrics(out / "metrics.jsonl") if "loss" in r]
    assert steps == list(range(1, 9))  # every step once: nothing lost, nothing logged twice
    a = load_file(tmp_path / "straight" / "model.safetensors")
    b = load_file(out / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)  # resume is the same run, not a new one
    assert not (out / WORK_DIR).exists()  # checkpoints removed after success by default
