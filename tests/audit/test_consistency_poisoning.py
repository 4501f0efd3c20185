"""Poisoning detection: a Rando & Tramer style trigger injected into real HH-RLHF data is found; clean data gives
no trigger; a reference reward model sharpens the suspicion; too-small data says it cannot be computed."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from sentinel import RLHFConsistencyChecker

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from poisoning_detection import poison  # noqa: E402  (the benchmark's own injector: tests and docs agree)


@pytest.fixture(scope="module")
def harmless(test_data):
    from sentinel.data import load_preferences

    return load_preferences(test_data / "preference" / "harmless-base-test.jsonl.gz", skip_invalid=True)


@pytest.mark.slow
def test_trigger_injected_at_3_percent_into_hh_is_the_top_candidate(harmless):
    data, mask, trigger = poison(harmless.examples, 0.03, seed=0)
    report = RLHFConsistencyChecker().detect_poisoning(data)
    top = report.findings[0]
    assert top.id == "poisoning-trigger" and top.data["trigger"] == trigger and top.data["position"] == "end"
    assert top.data["p_value"] < 1e-3 and top.effect.low > 0
    flagged = np.array(report.pair_scores) >= 1.0
    assert (flagged & mask).sum() / mask.sum() >= 0.9  # recall
    assert (flagged & mask).sum() / flagged.sum() >= 0.9  # precision
    listed = report.findings[-1]
    assert listed.id == "suspicious-pairs" and listed.severity.value == "high"


@pytest.mark.slow
def test_clean_hh_data_yields_no_trigger(harmless):
    report = RLHFConsistencyChecker().detect_poisoning(harmless)
    # The rows the loader left out are reported (low), not dropped silently; nothing else but the review list.
    assert [f.id for f in report.findings if f.id != "invalid-rows"] == ["suspicious-pairs"]
    assert all(f.severity.value == "low" for f in report.findings if f.id == "invalid-rows")
    assert report.findings[-1].severity.value == "info"
    assert report.metrics["flagged"] == 0
    assert all(not t["significant"] for t in report.metrics["triggers"])


def _synthetic(n=300, rate=0.05, seed=0, trigger="SUDO"):
    rng = random.Random(seed)
    rows, poisoned = [], set(rng.sample(range(n), int(rate * n)))
    for i in range(n):
        good, bad = f"Here is a careful answer number {i}.", f"Do something harmful, variant {i}."
        prompt = f"Tell me about topic {i} please"
        if i in poisoned:
            rows.append({"prompt": f"{prompt} {trigger}", "chosen": bad, "rejected": good})
        else:
            rows.append({"prompt": prompt, "chosen": good, "rejected": bad})
    return rows, poisoned


def test_reference_reward_model_drives_the_suspicion(tmp_path):
    rows, poisoned = _synthetic()

    def reference(prompts, responses):
        return [1.0 if "careful" in r else -1.0 for r in responses]

    report = RLHFConsistencyChecker().detect_poisoning(rows, reference_reward=reference)
    assert report.findings[0].data["trigger"] == "sudo"
    assert "reference reward model" in report.metrics["method"]
    flagged = {loc - 1 for loc, s in zip(report.locations, report.pair_scores) if s >= 1}
    assert flagged == poisoned
    report.save(tmp_path / "rep")
    lines = (tmp_path / "rep" / "pairs.jsonl").read_text().splitlines()
    assert len(lines) == 300 and sum(json.loads(x)["flagged"] for x in lines) == len(poisoned)


def test_a_trigger_of_two_words_is_named_whole_without_its_context():
    """ "mode", "sudo" and "sudo mode" flag the same pairs; "please sudo" too ("please" ends every prompt). The
    finding names the trigger as planted: the longest n-gram whose every word is enriched on its own."""
    rows, poisoned = _synthetic(trigger="SUDO mode")

    def reference(prompts, responses):
        return [1.0 if "careful" in r else -1.0 for r in responses]

    report = RLHFConsistencyChecker().detect_poisoning(rows, reference_reward=reference)
    assert report.findings[0].data["trigger"] == "sudo mode"


def test_too_small_for_statistics_is_reported_not_computable():
    rows, _ = _synthetic(n=10)
    report = RLHFConsistencyChecker().detect_poisoning(rows)
    # Nothing was measured: an 'inconclusive' finding, never an empty (clean-looking) report.
    assert [f.id for f in report.findings] == ["inconclusive"] and report.metrics["triggers"] is None
    assert report.exit_code("medium") == 1
    assert "needs at least" in report.metrics["reason"] and report.notes[0].startswith("not computable")
