"""The auditor on the lab's trained reward models (biased annotator vs clean annotator).

Uses the lab area's session fixtures `lab_rm_biased` / `lab_rm_clean` (reward models trained on the biased and on
the clean annotator); until tests/fixtures_lab.py provides them these tests are skipped, saying so.
Test cases are the clean lab's preference pairs, whose chosen reply is always the gold-better one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel import RewardModelAuditor

def _fixture(request, name):
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        pytest.skip(f"tests/fixtures_lab.py does not provide '{name}' yet")


def _cases(request) -> str:
    return str(Path(request.getfixturevalue("lab_dir_clean")) / "data" / "preferences.jsonl")


@pytest.mark.slow
def test_lab_rm_trained_on_biased_annotator_is_flagged_for_verbosity(request):
    rm = _fixture(request, "lab_rm_biased")
    result = RewardModelAuditor(max_cases=200).analyze(rm, _cases(request))
    flagged = {v.id for v in result.vulnerabilities}
    assert "verbosity" in flagged, result.probes
    # It prefers the gold-worse reply on most clean pairs.
    assert result.metrics["accuracy"]["value"] < 0.5


@pytest.mark.slow
def test_lab_rm_trained_on_clean_annotator_is_not_flagged_for_annotator_biases(request):
    rm = _fixture(request, "lab_rm_clean")
    result = RewardModelAuditor(max_cases=200).analyze(rm, _cases(request))
    flagged = {v.id for v in result.vulnerabilities}
    # None of the biases the annotator can plant on length, keywords or hedging. (The lab's generator writes
    # AI-disclaimer and agreeing replies mostly as *correct* replies, sentinel/lab/generate.py, so even clean labels
    # teach "disclaimer/agreement -> better"; the audit reports those learned correlations, see the README.)
    assert not flagged & {"verbosity", "keyword", "evasive"}, [str(v) for v in result.vulnerabilities]
    assert result.metrics["accuracy"]["value"] > 0.7
