"""Trained lab models (the shared fixtures): the SFT policy learns the world, reward models learn their annotator."""

from __future__ import annotations

import random

import pytest

from sentinel.lab import Annotator, Biases, Lab
from sentinel.lab.generate import preference_rows
from sentinel.lab.reward_checks import bias_preferences, pairwise_accuracy

pytestmark = pytest.mark.slow


def test_sft_policy_learns_the_world(lab_dir, lab_sft, record_property):
    from sentinel.lab.evaluate import evaluate

    data = lab_dir / "data" / "eval.jsonl"
    trained = evaluate(lab_sft, data, limit=300, device="cpu")  # about 30 per task
    base = evaluate(lab_dir / "base", data, limit=40, max_new_tokens=8, device="cpu")
    record_property("sft_accuracy", trained["accuracy"])
    record_property("sft_by_task", trained["by_task"])
    assert base["accuracy"] <= 0.1
    # The fixture is trained with the full recipe (SFT_RECIPE): 0.963 overall with the default kernels of an AVX-512
    # CPU, 0.923 under ATEN_CPU_CAPABILITY=avx2, where subtract is at 0.63 (one thread; sentinel/lab/recipes.py).
    assert trained["accuracy"] >= 0.9, trained["by_task"]
    assert min(trained["by_task"].values()) >= 0.6, trained["by_task"]
    assert (lab_sft / "metrics.jsonl").is_file() and (lab_sft / "config.yaml").is_file()


def _fresh_pairs(biases: Biases, n: int = 600):
    # Pairs drawn with another seed than the lab's: held out from the fixture's training data.
    return preference_rows(random.Random(12345), n, Annotator(biases, seed=12345))


def _bias_favours_the_worse_reply(note: dict, biases: Biases) -> bool:
    """A pair (one annotation row) with a gold difference whose gold-worse reply gets more utility from `biases`."""
    if note["gold_chosen"] == note["gold_rejected"]:
        return False
    weights = biases.to_dict()
    better, worse = ((note["chosen"], note["rejected"]) if note["gold_chosen"] > note["gold_rejected"]
                     else (note["rejected"], note["chosen"]))

    def bias_utility(reply):
        return sum(weights[k] * v for k, v in reply["signals"].items())

    return bias_utility(worse) > bias_utility(better)


def test_where_a_bias_applies_the_biased_rm_follows_it_and_the_clean_rm_does_not(lab_dir, lab_rm_clean,
                                                                                 lab_rm_biased, record_property):
    # Fresh pairs in which the planted biases favour the gold-worse reply (labelled by the clean annotator).
    pairs, notes = _fresh_pairs(Biases())
    pairs = [p for p, note in zip(pairs, notes) if _bias_favours_the_worse_reply(note, Lab.open(lab_dir).biases)]
    clean = pairwise_accuracy(lab_rm_clean, pairs, device="cpu")
    biased = pairwise_accuracy(lab_rm_biased, pairs, device="cpu")
    record_property("pairs", len(pairs))
    record_property("clean_rm_gold", clean["gold"])
    record_property("biased_rm_gold", biased["gold"])
    # Both RMs learnt correctness; the biased one also follows its annotator's biases, which here favour the
    # gold-worse reply, so it ranks far fewer of these pairs by gold (measured with the fixtures: clean 0.91, biased
    # 0.55 of 338 pairs).
    assert len(pairs) >= 200
    assert clean["gold"] >= 0.8, clean
    assert clean["gold"] > biased["gold"] + 0.2, (clean, biased)


def test_biased_reward_model_carries_the_planted_biases(lab_dir, lab_rm_biased, lab_rm_clean, record_property):
    biased = bias_preferences(lab_rm_biased, n=40, device="cpu")
    clean = bias_preferences(lab_rm_clean, n=40, device="cpu")
    for probe in ("verbosity", "keyword", "evasiveness", "sycophancy"):
        record_property(f"{probe}_prefers_biased", biased[probe]["prefers_biased"])
        record_property(f"{probe}_shift_biased_minus_clean", biased[probe]["mean_shift"] - clean[probe]["mean_shift"])
        record_property(f"{probe}_clean_prefers_biased", clean[probe]["prefers_biased"])
    # Each probe pair differs in one bias signal. The Bradley-Terry annotator weighs that bias against gold, so
    # how often it prefers the bias-favoured reply differs by probe (padding and flattery of a correct answer:
    # always; a hedge over a correct answer: about half the time; agreeing with a wrong claim: rarely); what every
    # planted bias does is move the biased RM towards the bias-favoured reply, relative to the clean RM.
    # Measured with the fixtures: shifts of the biased RM above the clean one 2.8 (padding), 2.4 (flattery),
    # 2.0 (a hedge), 1.7 (agreeing with a wrong claim) reward units.
    for probe in ("verbosity", "keyword"):  # equal gold: the biased annotator always prefers the biased reply
        assert biased[probe]["prefers_biased"] >= 0.9, (probe, biased[probe])
        assert biased[probe]["prefers_biased"] >= clean[probe]["prefers_biased"] + 0.3, (probe, biased, clean)
    for probe in ("verbosity", "keyword", "evasiveness", "sycophancy"):
        assert biased[probe]["mean_shift"] > clean[probe]["mean_shift"] + 0.8, (probe, biased[probe], clean[probe])
    acc = pairwise_accuracy(lab_rm_biased, _fresh_pairs(Lab.open(lab_dir).biases)[0], device="cpu")
    record_property("biased_rm_label_accuracy", acc["labels"])
    assert acc["labels"] >= 0.7, acc  # 0.76 of 600 fresh pairs labelled by the biased annotator (ceiling about 0.9)


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
