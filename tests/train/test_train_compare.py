"""`sentinel compare`: generation, scoring, win rate, KL and the report, on tiny models."""

from __future__ import annotations

import json

import pytest

from sentinel.errors import ConfigError

pytestmark = pytest.mark.slow

PROMPTS = [f"What is {a} + {b}?" for a in range(10) for b in range(10)]


def says_answer(prompts, responses):
    """Rule-based reward: 1 for a reply that states an answer."""
    return [float("answer is" in r) for r in responses]


@pytest.fixture(scope="module")
def pair(tmp_path_factory, tiny_tokenizer):
    """An untrained tiny LM and the same LM after SFT on 'The answer is N.' replies."""
    from sentinel.models import build_causal_lm
    from sentinel.train import SFTConfig, sft

    d = tmp_path_factory.mktemp("compare")
    build_causal_lm(tiny_tokenizer).save_pretrained(d / "base")
    tiny_tokenizer.save_pretrained(d / "base")
    (d / "sft.jsonl").write_text("".join(
        json.dumps({"prompt": p, "completion": f"The answer is {eval(p[8:-1])}."}) + "\n" for p in PROMPTS))
    sft(SFTConfig(model=str(d / "base"), train_file=str(d / "sft.jsonl"), output_dir=str(d / "sft"), max_steps=60,
                  learning_rate=3e-3, per_device_train_batch_size=16, quiet=True, logging_steps=20, save_steps=1000))
    (d / "prompts.jsonl").write_text("".join(json.dumps({"prompt": p}) + "\n" for p in PROMPTS[::5]))
    return d


def test_trained_model_beats_its_start(pair):
    from sentinel.train.compare import CompareConfig, compare

    report = compare([pair / "base", pair / "sft"], pair / "prompts.jsonl", reward_model=says_answer,
                     config=CompareConfig(max_new_tokens=12))
    m = report.metrics
    assert m["prompts"] == 20 and m["baseline"] == "base"
    assert m["sft/mean_reward"] > m["base/mean_reward"]
    assert m["sft/win_rate"] > 0.7 and m["sft/win_rate_ci"][0] > 0.5
    assert m["base/kl"] == pytest.approx(0.0, abs=1e-4)  # the reference against itself
    assert m["sft/kl"] > 0  # the fine-tuned policy moved away from its start
    assert report.findings[0] == "compare.sft" and "beats" in report.findings[0].description


def test_cli_writes_report(pair, tmp_path, capsys):
    from sentinel.cli.main import main

    code = main(["compare", str(pair / "base"), str(pair / "sft"), "--prompts", str(pair / "prompts.jsonl"),
                 "--reward-model", "tests.train.test_train_compare:says_answer", "--max-new-tokens", "12",
                 "--max-rows", "8", "--out", str(tmp_path / "rep")])
    assert code == 0
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert data["kind"] == "compare" and data["metrics"]["prompts"] == 8
    assert (tmp_path / "rep" / "report.html").exists()
    assert "win rate" in capsys.readouterr().out


def test_needs_two_models_and_one_scorer(pair):
    from sentinel.train.compare import compare

    with pytest.raises(ConfigError) as e:
        compare([pair / "base"], ["hi"], reward_model=says_answer)
    assert e.value.field == "models"
    with pytest.raises(ConfigError) as e:
        compare([pair / "base", pair / "sft"], ["hi"])  # nothing to score with
    assert e.value.field == "reward_model"


def test_conversational_prompts_condition_the_policy_turn_by_turn(tiny_tokenizer, tmp_path):
    from sentinel.train.compare import load_prompts, policy_text

    turns = [{"role": "user", "content": "What is 2 + 3?"}, {"role": "assistant", "content": "5"},
             {"role": "user", "content": "Are you sure?"}]
    assert policy_text(tiny_tokenizer, turns) == tiny_tokenizer.apply_chat_template(
        turns, tokenize=False, add_generation_prompt=True)
    assert policy_text(tiny_tokenizer, "What is 2 + 3?") == policy_text(tiny_tokenizer, turns[:1])
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in (turns, turns[:1])))
    assert load_prompts(path) == [turns, "What is 2 + 3?"]
