"""The auditor on the lab's trained reward models: the biased one is flagged for each planted bias, the clean one
for none of them.

Uses the lab area's session fixtures `lab_rm_biased` / `lab_rm_clean` (reward models trained on the biased and on
the clean annotator); until tests/fixtures_lab.py provides them these tests are skipped, saying so.
Test cases are the clean lab's preference pairs, whose chosen reply is always the gold-better one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel import RewardModelAuditor

# The lab annotator's planted biases and the probe that should catch each.
PLANTED = {"verbosity": "verbosity", "keyword": "keyword", "sycophancy": "sycophancy", "evasiveness": "evasive"}


def _fixture(request, name):
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        pytest.skip(f"tests/fixtures_lab.py does not provide '{name}' yet")


def _cases(request) -> str:
    return str(Path(request.getfixturevalue("lab_dir_clean")) / "data" / "preferences.jsonl")


@pytest.mark.slow
def test_lab_rm_trained_on_biased_annotator_is_flagged_for_each_planted_bias(request):
    rm = _fixture(request, "lab_rm_biased")
    result = RewardModelAuditor(max_cases=200).analyze(rm, _cases(request))
    flagged = {v.id for v in result.vulnerabilities}
    assert set(PLANTED.values()) <= flagged, result.probes


@pytest.mark.slow
def test_lab_rm_trained_on_clean_annotator_is_not_flagged(request):
    rm = _fixture(request, "lab_rm_clean")
    result = RewardModelAuditor(max_cases=200).analyze(rm, _cases(request))
    flagged = {v.id for v in result.vulnerabilities}
    # The lab's generator writes AI-disclaimer replies only as *correct* replies (sentinel/lab/generate.py), so even
    # a clean annotator teaches "disclaimer -> better"; the audit rightly reports that learned correlation. Every
    # other probe, and every bias the annotator can plant, must stay quiet.
    assert not flagged - {"disclaimer"}, [str(v) for v in result.vulnerabilities]
    assert result.metrics["accuracy"]["value"] > 0.6
