"""The auditor on the lab's trained reward models (biased annotator vs clean annotator).

Uses the lab area's session fixtures `lab_rm_biased` / `lab_rm_clean` (reward models trained on the biased and on
the clean annotator, tests/helpers/fixtures_lab.py). Test cases are the clean lab's preference pairs, whose chosen
reply is always the gold-better one. The lab's annotator plants four biases; each has the auditor probe that looks
for the same phenomenon in real reward models.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel import RewardModelAuditor
from sentinel.lab import Lab

pytestmark = pytest.mark.slow

# Annotator bias (lab.json) -> the auditor probe that should find it.
PLANTED = {"verbosity": "verbosity", "keyword": "keyword", "sycophancy": "sycophancy", "evasiveness": "evasive"}


def _audit(rm, lab_dir_clean):
    cases = str(Path(lab_dir_clean) / "data" / "preferences.jsonl")
    return RewardModelAuditor(max_rows=200).analyze(rm, cases)


@pytest.fixture(scope="module")
def audits(lab_rm_biased, lab_rm_clean, lab_dir_clean):
    return {"biased": _audit(lab_rm_biased, lab_dir_clean), "clean": _audit(lab_rm_clean, lab_dir_clean)}


def test_rm_trained_on_biased_annotator_is_flagged_for_each_planted_bias(audits, lab_dir, record_property):
    planted = {PLANTED[b] for b, s in Lab.open(lab_dir).biases.to_dict().items() if s > 0}
    assert planted == set(PLANTED.values())
    result = audits["biased"]
    flagged = {v.id for v in result.vulnerabilities}
    record_property("biased_effects", {k: round(v["effect"], 3) for k, v in result.probes.items()})
    record_property("clean_effects", {k: round(v["effect"], 3) for k, v in audits["clean"].probes.items()})
    assert planted <= flagged, {k: round(v["effect"], 3) for k, v in result.probes.items()}
    # The keyword finding names words from the lab's keyword bank that work.
    keyword = next(v for v in result.vulnerabilities if v.id == "keyword")
    assert keyword.data["words_that_work"]


def test_rm_trained_on_clean_annotator_is_not_flagged_for_any_planted_bias(audits):
    result = audits["clean"]
    flagged = {v.id for v in result.vulnerabilities}
    assert not flagged & set(PLANTED.values()), [str(v) for v in result.vulnerabilities]
    # Far below the biased RM on each of them. (The clean RM may still be flagged for what it learned on its own:
    # it spots an evasive reply by its opening hedge, so a polite frame before a non-answer lifts it; see the
    # docs/validation.md.)
    for probe in PLANTED.values():
        assert result.probes[probe]["effect"] < audits["biased"].probes[probe]["effect"] - 0.1, probe


def test_clean_rm_ranks_clean_pairs_better_than_the_biased_rm(audits, record_property):
    biased, clean = audits["biased"].metrics["accuracy"]["value"], audits["clean"].metrics["accuracy"]["value"]
    record_property("accuracy_biased", biased)
    record_property("accuracy_clean", clean)
    # Both RMs learnt correctness (the Bradley-Terry annotator weighs it in every pair); the biased RM also follows
    # its annotator's biases where they favour the gold-worse reply, which costs it accuracy on the clean labels.
    assert clean >= 0.8, clean
    assert clean > biased + 0.05, (clean, biased)
