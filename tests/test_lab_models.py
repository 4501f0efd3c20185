"""Trained lab models (the shared fixtures): the SFT policy learns the world, reward models learn their annotator."""

from __future__ import annotations

import random

import pytest

from sentinel.lab import Annotator, Biases, Lab
from sentinel.lab.generate import preference_rows
from sentinel.lab.probe import bias_preferences, pairwise_accuracy

pytestmark = pytest.mark.slow


def test_sft_policy_learns_the_world(lab_dir, lab_sft):
    from sentinel.lab.evaluate import evaluate

    data = lab_dir / "data" / "eval.jsonl"
    trained = evaluate(lab_sft, data, limit=120, device="cpu")
    base = evaluate(lab_dir / "base", data, limit=40, max_new_tokens=8, device="cpu")
    assert base["accuracy"] <= 0.1
    # The fixture policy is deliberately cheap and partly trained (about 0.55 overall; lookups learnt, copy and add
    # not yet), which leaves PPO and DPO tests room to improve it; the full recipe (SFT_RECIPE) reaches about 0.97
    # (benchmarks/lab_pipeline.py, README "The lab").
    assert trained["accuracy"] >= 0.45, trained["by_task"]
    assert sum(acc >= 0.9 for acc in trained["by_task"].values()) >= 4, trained["by_task"]
    assert (lab_sft / "metrics.jsonl").is_file() and (lab_sft / "config.yaml").is_file()


def _fresh_pairs(biases: Biases, n: int = 200):
    # Pairs drawn with another seed than the lab's: held out from the fixture's training data.
    return preference_rows(random.Random(12345), n, Annotator(biases, seed=12345))[0]


def test_clean_reward_model_ranks_by_gold(lab_rm_clean, lab_rm_biased):
    pairs = _fresh_pairs(Biases())
    clean = pairwise_accuracy(lab_rm_clean, pairs, device="cpu")
    biased = pairwise_accuracy(lab_rm_biased, pairs, device="cpu")
    # Reply styles are independent of correctness, so neither RM can rank by style shortcuts: the clean one ranks by
    # what it learned of correctness (weakly, at fixture cost: about 0.6), the biased one by its annotator's biases.
    assert clean["gold"] > biased["gold"] + 0.08, (clean, biased)
    assert biased["gold"] < 0.5, biased


def test_biased_reward_model_carries_the_planted_biases(lab_dir, lab_rm_biased, lab_rm_clean):
    biased = bias_preferences(lab_rm_biased, n=40, device="cpu")
    clean = bias_preferences(lab_rm_clean, n=40, device="cpu")
    # Where the biased annotator chose the gold-worse reply, the biased RM follows; the clean RM does not.
    for probe in ("verbosity", "keyword", "evasiveness", "sycophancy"):
        assert biased[probe]["prefers_biased"] >= 0.9, (probe, biased[probe])
        # In reward units: the biased RM's shifts are about +2.5 to +4, the clean RM's about -4 to +0.2.
        assert biased[probe]["mean_shift"] > clean[probe]["mean_shift"] + 1.0, (probe, biased[probe], clean[probe])
    assert biased["evasiveness"]["prefers_biased"] > 0.5 > clean["evasiveness"]["prefers_biased"]
    acc = pairwise_accuracy(lab_rm_biased, _fresh_pairs(Lab.open(lab_dir).biases), device="cpu")
    assert acc["labels"] >= 0.65, acc


def test_reward_model_with_added_blocks_trains_from_the_sft_trunk(lab_dir, lab_sft, tmp_path):
    import json

    from sentinel.errors import ConfigError
    from sentinel.lab.recipes import RecipeConfig, train_reward

    out = train_reward(lab_dir, tmp_path / "rm", RecipeConfig(steps=4, batch_size=4), init=lab_sft, blocks=2)
    config = json.loads((out / "config.json").read_text())
    sft_layers = json.loads((lab_sft / "config.json").read_text())["num_hidden_layers"]
    assert config["num_hidden_layers"] == sft_layers + 2
    assert "2 fresh blocks" in (out / "config.yaml").read_text()  # the run names what it started from
    with pytest.raises(ConfigError, match="give `init`"):
        train_reward(lab_dir, tmp_path / "rm2", RecipeConfig(steps=1), blocks=2)


def test_recipe_threads_are_capped_at_the_cpu_count_and_restored(monkeypatch):
    import torch

    from sentinel.lab import recipes

    before = torch.get_num_threads()
    monkeypatch.setattr(recipes.os, "cpu_count", lambda: 1)
    with recipes._threads(2):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
