"""sentinel.report: Finding validation, JSON as the source of truth, exit codes, rendering."""

from __future__ import annotations

import json

import pytest

from sentinel.report import Effect, Finding, Report, Severity
from sentinel.report.stats import bootstrap_ci, holm_bonferroni, sign_flip_p_value, wilson_ci


def make_report():
    return Report(
        kind="reward-model", title="RM audit", seed=3, config={"alpha": 0.05},
        findings=[
            Finding("verbosity", "high", "Prefers verbose responses", score=0.8, confidence=0.99,
                    effect=Effect("mean reward shift", 0.7, 0.5, 0.9), evidence=[{"text": "padded <b>", "reward": 1.2}]),
            Finding("tie_rate", Severity.INFO, "2% ties", score=0.02),
        ],
        metrics={"accuracy": 0.71},
    )


def test_finding_checks_ranges_and_reads_as_text():
    f = make_report().findings[0]
    assert str(f) == "Prefers verbose responses" and f == "verbosity"
    with pytest.raises(ValueError, match="score"):
        Finding("x", "low", "d", score=1.5)
    with pytest.raises(ValueError, match="unknown severity"):
        Finding("x", "urgent", "d")


def test_exit_code_follows_fail_on():
    r = make_report()
    assert r.exit_code("high") == 1 and r.exit_code("critical") == 0 and r.exit_code("info") == 1
    assert Report(kind="x").exit_code("info") == 0


def test_save_writes_json_then_renders_from_it(tmp_path):
    r = make_report()
    r.save(tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["schema_version"] and data["package"]["version"] and data["seed"] == 3
    assert data["findings"][0]["effect"]["low"] == 0.5
    html = (tmp_path / "report.html").read_text()
    assert "Prefers verbose responses" in html and "padded &lt;b&gt;" in html  # escaped
    assert "95% CI" in (tmp_path / "report.md").read_text()
    again = Report.load(tmp_path)
    assert again.findings[0].effect.high == 0.9 and again.to_dict()["findings"] == data["findings"]


def test_stats_against_known_values():
    est, lo, hi = bootstrap_ci([1.0] * 50 + [0.0] * 50, seed=1)
    assert est == 0.5 and 0.39 < lo < 0.45 and 0.55 < hi < 0.61
    p, lo, hi = wilson_ci(0, 20)
    assert p == 0 and lo == 0 and 0.15 < hi < 0.17  # Wilson upper bound for 0/20 is 0.161
    assert holm_bonferroni([0.001, 0.04, 0.3]) == [True, False, False]
    assert sign_flip_p_value([1.0] * 30) < 0.001 and sign_flip_p_value([1, -1] * 15) > 0.5
