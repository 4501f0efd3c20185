"""SFT, reward and DPO end to end on tiny models: parameters change, loss falls, outputs load back, metrics logged."""

from __future__ import annotations

import json

import pytest

from sentinel.train import DPOConfig, RewardConfig, SFTConfig, dpo, read_metrics, reward, sft

pytestmark = pytest.mark.slow

PAIRS = [(f"What is {a} + {b}?", f"The answer is {a + b}.", "I'm glad to assist you!")
         for a in range(10) for b in range(10)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_tokenizer):
    from sentinel.models import build_causal_lm, build_reward_model

    d = tmp_path_factory.mktemp("stages")
    build_causal_lm(tiny_tokenizer).save_pretrained(d / "lm")
    tiny_tokenizer.save_pretrained(d / "lm")
    build_reward_model(tiny_tokenizer).save_pretrained(d / "rm")
    tiny_tokenizer.save_pretrained(d / "rm")
    # Alpaca rows for SFT: the stage must map them to prompt/completion itself.
    (d / "alpaca.jsonl").write_text("".join(
        json.dumps({"instruction": p, "input": "", "output": c}) + "\n" for p, c, _ in PAIRS))
    (d / "pairs.jsonl").write_text("".join(
        json.dumps({"prompt": p, "chosen": c, "rejected": r}) + "\n" for p, c, r in PAIRS))
    return d


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


def _changed(before, after) -> bool:
    import torch

    return any(not torch.equal(before[k], after[k]) for k in before if k in after)


def _losses(out):
    return [r["loss"] for r in read_metrics(out / "metrics.jsonl") if "loss" in r]


def _common(tiny, tmp_path, **kw):
    base = {"output_dir": str(tmp_path / "out"), "logging_steps": 2, "save_steps": 1000, "quiet": True, "seed": 0,
                "per_device_train_batch_size": 8}
    base.update(kw)
    return base


def test_sft_trains_on_replies_and_loads_back(tiny, tmp_path):
    from sentinel.models import load_causal_lm

    res = sft(SFTConfig(**_common(tiny, tmp_path, model=str(tiny / "lm"), train_file=str(tiny / "alpaca.jsonl"),
                                  max_steps=24, learning_rate=2e-3, eval_fraction=0.1)))
    out = res.output_dir
    assert _changed(_weights(tiny / "lm"), _weights(out))
    losses = _losses(out)
    assert losses[-1] < losses[0] - 0.5
    rows = read_metrics(out / "metrics.jsonl")
    assert {"step", "loss", "learning_rate", "grad_norm", "mean_token_accuracy"} <= rows[0].keys()
    assert any("eval_loss" in r for r in rows)
    summary = json.loads((out / "data_summary.json").read_text())
    assert summary["train"]["format"] == "alpaca" and summary["train_examples_used"] == 90
    assert "learning_rate: 0.002" in (out / "config.yaml").read_text()
    model, tok = load_causal_lm(out, device="cpu")
    assert tok.chat_template and model.config.vocab_size == len(tok)


def test_sft_masks_the_prompt_by_default(tiny, tiny_tokenizer):
    """TRL gets prompt/completion rows, the shape for which it computes the loss on the completion only."""
    from sentinel.data import load_instructions
    from sentinel.train.sft import to_rows

    rows = to_rows(load_instructions(tiny / "alpaca.jsonl").examples, tiny_tokenizer)
    assert rows[0]["prompt"] == [{"role": "user", "content": "What is 0 + 0?"}]
    assert rows[0]["completion"] == [{"role": "assistant", "content": "The answer is 0."}]


def test_reward_learns_preferences_and_scores_like_as_reward_fn(tiny, tmp_path):
    from sentinel.models import as_reward_fn

    res = reward(RewardConfig(**_common(tiny, tmp_path, model=str(tiny / "rm"), train_file=str(tiny / "pairs.jsonl"),
                                        num_train_epochs=3, learning_rate=2e-3, eval_fraction=0.2)))
    out = res.output_dir
    assert _changed(_weights(tiny / "rm"), _weights(out))
    rows = read_metrics(out / "metrics.jsonl")
    assert {"loss", "accuracy", "margin", "mean_reward"} <= rows[0].keys()
    losses = _losses(out)
    assert losses[-1] < losses[0]
    assert res.metrics["eval_strict_accuracy"] >= 0.9 and res.metrics["eval_tie_rate"] == 0.0
    rf = as_reward_fn(str(out))  # the saved folder scores the held-out kind of pair the right way round
    good, bad = rf(["What is 3 + 4?"] * 2, ["The answer is 7.", "I'm glad to assist you!"])
    assert good > bad


def test_reward_margin_column_is_read_and_validated(tiny, tmp_path):
    from sentinel.errors import DataError
    from sentinel.train.reward import load_preference_data

    data = tmp_path / "m.jsonl"
    data.write_text(json.dumps({"prompt": "a", "chosen": "b", "rejected": "c", "m": 1.5}) + "\n"
                    + json.dumps({"prompt": "a", "chosen": "b", "rejected": "d", "m": "big"}) + "\n")
    cfg = RewardConfig(model=str(tiny / "rm"), train_file=str(data), output_dir=str(tmp_path / "o"), margin_field="m")
    with pytest.raises(DataError) as e:
        load_preference_data(cfg)
    assert e.value.line == 2 and e.value.field == "m"


@pytest.mark.parametrize("extra", [{}, {"lora_r": 8, "learning_rate": 5e-3}])
def test_dpo_raises_chosen_over_rejected(tiny, tmp_path, extra):
    kw = _common(tiny, tmp_path, model=str(tiny / "lm"), train_file=str(tiny / "pairs.jsonl"), max_steps=12,
                 learning_rate=1e-3, per_device_train_batch_size=4)
    kw.update(extra)
    res = dpo(DPOConfig(**kw))
    out = res.output_dir
    assert _changed(_weights(tiny / "lm"), _weights(out))  # with LoRA: adapters merged into the saved weights
    rows = read_metrics(out / "metrics.jsonl")
    expected = {"rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen"}
    assert expected <= rows[-3].keys()
    assert res.metrics["rewards/margins"] > 0 and res.metrics["rewards/accuracies"] > 0.8
    assert _losses(out)[-1] < _losses(out)[0]


def test_dpo_in_memory_model_needs_no_folder(tiny, tmp_path, tiny_tokenizer):
    """TRL reloads the reference from model.config._name_or_path; an in-memory model has none. We pass one."""
    from sentinel.models import build_causal_lm

    model = build_causal_lm(tiny_tokenizer)
    res = dpo(DPOConfig(**_common(tiny, tmp_path, model="in-memory", train_file=str(tiny / "pairs.jsonl"),
                                  max_steps=2, max_rows=16, loss_type=["ipo"], per_device_train_batch_size=4)),
              model=model, tokenizer=tiny_tokenizer)
    assert res.global_step == 2 and (res.output_dir / "model.safetensors").exists()


def test_cli_yaml_with_flag_override(tiny, tmp_path):
    from sentinel.cli.main import main

    cfg = tmp_path / "dpo.yaml"
    cfg.write_text(f"model: {tiny / 'lm'}\ntrain_file: {tiny / 'pairs.jsonl'}\noutput_dir: {tmp_path / 'cli'}\n"
                   "max_steps: 50\nmax_rows: 8\nper_device_train_batch_size: 4\nprecompute_ref_log_probs: true\n"
                   "loss_type: [sigmoid, sft]\nloss_weights: [1.0, 0.5]\n")
    assert main(["-q", "train", "dpo", "--config", str(cfg), "--max-steps", "2", "--logging-steps", "1"]) == 0
    config = (tmp_path / "cli" / "config.yaml").read_text()
    assert "max_steps: 2\n" in config and "- sft" in config
    assert [r["step"] for r in read_metrics(tmp_path / "cli" / "metrics.jsonl") if "loss" in r] == [1, 2]
    assert main(["train", "dpo", "--config", str(cfg), "--beta", "-1"]) == 2  # ConfigError -> exit 2


def test_sft_packing_and_reward_lora_run(tiny, tmp_path):
    from sentinel.models import as_reward_fn

    res = sft(SFTConfig(**_common(tiny, tmp_path, model=str(tiny / "lm"), train_file=str(tiny / "alpaca.jsonl"),
                                  max_steps=3, packing=True, max_length=64, output_dir=str(tmp_path / "packed"))))
    assert res.global_step == 3 and _changed(_weights(tiny / "lm"), _weights(res.output_dir))
    res = reward(RewardConfig(**_common(tiny, tmp_path, model=str(tiny / "rm"), train_file=str(tiny / "pairs.jsonl"),
                                        max_steps=3, lora_r=4, learning_rate=1e-2, output_dir=str(tmp_path / "lora"))))
    assert _changed(_weights(tiny / "rm"), _weights(res.output_dir))  # adapters merged into plain weights
    assert not (res.output_dir / "adapter_config.json").exists()
    assert len(as_reward_fn(str(res.output_dir))(["a"], ["b"])) == 1
