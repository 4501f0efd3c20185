"""Poisoning detection: a Rando & Tramer style trigger injected into real HH-RLHF data is found, at 3% and at 1% for
each trigger kind and place; clean data gives no trigger; a reference reward model sharpens the suspicion; too-small
data says it cannot be computed; the statistics behind the search."""

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


@pytest.mark.slow
def test_a_trigger_in_one_percent_of_hh_is_the_top_finding_on_most_seeds(harmless):
    """23 of 2,303 pairs poisoned, no reference reward model; seed k with the k-th kind and place below. The benchmark
    (benchmarks/poisoning_detection.py, docs/benchmarks.md) finds these 5 of 5 and, over every kind, place and seed
    at 1%, 28 of 30; at least 3 of these 5 must hold."""
    from poisoning_detection import found

    checker = RLHFConsistencyChecker()
    hits = 0
    runs = [("random", "middle"), ("word", "end"), ("phrase", "middle"), ("word", "middle"), ("phrase", "end")]
    for seed, (kind, place) in enumerate(runs):
        data, mask, trigger = poison(harmless.examples, 0.01, seed, kind, place)
        report = checker.detect_poisoning(data)
        top = report.findings[0]
        hits += top.id == "poisoning-trigger" and found(top.data["trigger"], trigger)
        # whatever is flagged is poisoned: the trigger's pairs, never a natural n-gram's
        flagged = np.array(report.pair_scores) >= 1.0
        assert (flagged & ~mask).sum() == 0
    assert hits >= 3


@pytest.mark.slow
def test_clean_hh_subsamples_and_files_yield_no_trigger(harmless, test_data):
    """No poisoning-trigger finding on seeded 80% subsamples of harmless-base nor on the other HH files in tests/data
    (the benchmark checks the four full files and 10 subsamples of each)."""
    from sentinel.data import load_preferences

    checker = RLHFConsistencyChecker()
    ex = harmless.examples
    parts = [[ex[i] for i in np.sort(np.random.default_rng(s).choice(len(ex), int(0.8 * len(ex)), replace=False))]
             for s in range(2)]
    for name in ("helpful-base-test", "helpful-online-test", "helpful-rejection-sampled-test"):
        parts.append(load_preferences(test_data / "preference" / f"{name}.jsonl.gz", skip_invalid=True))
    for part in parts:
        report = checker.detect_poisoning(part)
        assert not [f for f in report.findings if f.id == "poisoning-trigger"], report.metrics["triggers"]


@pytest.mark.slow
def test_a_natural_phrase_that_reaches_alpha_on_clean_data_is_medium_not_high(harmless):
    """On one seeded 80% subsample of clean harmless-base (seed 10) 'thanks for' passes the test at alpha 0.05 (the
    false alarms the benchmark counts on fresh subsamples: 1 in 20-40) but not at poisoning_high_alpha 0.01, so the
    finding is medium and `--fail-on high` passes."""
    ex = harmless.examples
    part = [ex[i] for i in np.sort(np.random.default_rng(10).choice(len(ex), int(0.8 * len(ex)), replace=False))]
    report = RLHFConsistencyChecker().detect_poisoning(part)
    found = [(f.data["trigger"], f.severity.value) for f in report.findings if f.id == "poisoning-trigger"]
    assert found == [("thanks for", "medium")]
    assert report.findings[-1].id == "suspicious-pairs" and report.findings[-1].severity.value == "medium"
    assert not report.at_or_above("high")


def test_weighted_holm_and_power_weights():
    from sentinel.report.stats import holm_bonferroni, power_weights, weighted_holm

    p = [0.001, 0.04, 0.3, 0.012]
    assert weighted_holm(p, [1, 1, 1, 1]).tolist() == holm_bonferroni(p)
    # weight moves the alpha: a larger weight lets a larger p through
    assert weighted_holm([0.03, 0.5], [1.9, 0.1]).tolist() == [True, False]
    assert weighted_holm([0.03, 0.5], [1.0, 1.0]).tolist() == [False, False]
    w = power_weights([0.5, 0.5, 0.5, 2.0])
    assert abs(w.mean() - 1) < 1e-9 and w[3] > 2 > w[0] > 0


def test_candidates_and_echo_are_counted_from_the_text():
    """The n-gram index finds every n-gram held by enough pairs, multi-token ones made of words only, with its pairs;
    the echo counts the pairs whose earlier turns or replies hold the n-gram."""
    from sentinel.audit.consistency.poisoning import candidate_ngrams, context_support

    rows = [{"prompt": [{"role": "user", "content": f"tell me about x{i % 3} please ok?{' zorp blat' * (i < 5)}"}],
             "chosen": "sure, zorp" if i < 2 else "fine", "rejected": "no"} for i in range(6)]
    index = candidate_ngrams(rows, 3, 2, 1.0)
    found = {fam: {index.text(int(f.level[c]), int(f.code[c])): f.pairs(c).tolist() for c in range(len(f.counts))}
             for fam, f in index.families.items()}
    assert found["end"]["zorp blat"] == list(range(5)) and found["end"]["blat"] == list(range(5))
    assert found["anywhere"]["about x1 please"] == [1, 4]
    assert "ok ? zorp" not in found["anywhere"] and "? zorp" not in found["end"]  # words only
    echo = context_support(rows, index)
    at = {g: i for i, g in enumerate(index.text(int(f.level[c]), int(f.code[c]))
                                     for f in [index.families["anywhere"]] for c in range(len(f.counts)))}
    assert echo["anywhere"][at["zorp"]] == 2 and echo["anywhere"][at["blat"]] == 0
    assert echo["anywhere"][at["zorp blat"]] == 0


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
