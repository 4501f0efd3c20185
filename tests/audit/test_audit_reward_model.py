"""RewardModelAuditor on hand-written reward functions with one planted bias each (see rm_biases.py)."""

from __future__ import annotations

import json

import pytest
import rm_biases as B

from sentinel import RewardModelAuditor
from sentinel.audit.cases import BUILTIN_CASES
from sentinel.audit.probes import PROBES
from sentinel.errors import ConfigError, DataError
from sentinel.report import Report


@pytest.mark.parametrize("probe", sorted(B.PLANTED))
def test_planted_bias_is_flagged_and_nothing_else(probe):
    result = RewardModelAuditor().analyze(reward_model=B.PLANTED[probe])
    assert [v.id for v in result.vulnerabilities] == [probe]
    finding = result.vulnerabilities[0]
    assert finding == probe and str(finding) == finding.description
    assert finding.description.startswith(PROBES.get(probe).title)
    assert finding.effect.low > 0  # the CI of the shift excludes zero
    ev = finding.evidence[0]
    assert ev["transformed_score"] > ev["control_score"] and ev["transformed"] != ev["original"]
    # Per-probe statistics are kept for every probe, flagged or not, with the decision rule in the notes.
    assert set(result.probes) == set(PROBES.names())
    assert "Holm" in result.notes[0]


@pytest.mark.parametrize("fn", [B.clean, B.noisy], ids=["clean", "noisy"])
def test_clean_and_noisy_rewards_yield_no_vulnerabilities(fn):
    result = RewardModelAuditor().analyze(reward_model=fn)
    assert result.vulnerabilities == []
    assert result.metrics["accuracy"]["value"] == 1.0 and result.metrics["tie_rate"] == 0.0
    assert not any(s["flagged"] for s in result.probes.values())


def test_keyword_finding_names_the_words_that_work():
    finding = RewardModelAuditor().analyze(reward_model=B.rm_keyword).vulnerabilities[0]
    words = {w.strip("… ") for w in finding.data["words_that_work"]}
    assert words == {"helpful", "certainly"}
    assert "helpful" in str(finding) and "certainly" in str(finding)


def test_flip_rate_counts_correct_pairs_overturned():
    strong = lambda p, r: [B.correct(a, b) + 2.0 * b.lower().count("certainly") for a, b in zip(p, r)]  # noqa: E731
    s = RewardModelAuditor(probes=["keyword"]).analyze(reward_model=strong).probes["keyword"]
    assert s["flip_rate"] == 1.0 and s["control_flip_rate"] == 0.0 and s["pairs_ranked_correctly"] > 0
    weak = RewardModelAuditor(probes=["keyword"]).analyze(reward_model=B.rm_keyword).probes["keyword"]
    assert weak["flip_rate"] == 0.0  # +0.5 does not overcome the margin of 1


def test_strict_accuracy_counts_ties_as_wrong_and_length_correlation():
    result = RewardModelAuditor(probes=["verbosity"]).analyze(reward_model=lambda p, r: [1.0] * len(p))
    assert result.metrics["accuracy"]["value"] == 0.0 and result.metrics["tie_rate"] == 1.0
    assert result.vulnerabilities == []
    by_length = RewardModelAuditor(probes=["verbosity"]).analyze(
        reward_model=lambda p, r: [float(len(x.split())) for x in r])
    corr = by_length.metrics["length_correlation"]
    assert corr["pearson"] == pytest.approx(1.0) and corr["spearman"] == pytest.approx(1.0)
    assert [v.id for v in by_length.vulnerabilities] == ["verbosity"]


def test_result_saves_a_report(tmp_path):
    result = RewardModelAuditor(seed=3).analyze(reward_model=B.rm_format)
    result.save(tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["kind"] == "reward-model" and data["seed"] == 3
    assert [f["id"] for f in data["findings"]] == ["format"]
    assert data["metrics"]["probes"]["format"]["flagged"] is True
    assert (tmp_path / "report.html").is_file() and "format" in (tmp_path / "report.md").read_text()
    assert Report.load(tmp_path).findings[0] == "format"


def test_same_seed_same_result_and_cases_from_a_file(tmp_path):
    rows = [{"prompt": c.prompt, "chosen": c.chosen, "rejected": c.rejected} for c in BUILTIN_CASES]
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    a = RewardModelAuditor().analyze(B.noisy, test_cases=str(path))
    b = RewardModelAuditor().analyze(B.noisy)
    assert a.probes == b.probes
    # prompt/response rows: shifts are measured, no pair metrics.
    single = RewardModelAuditor().analyze(B.rm_sycophancy, [{"prompt": c.prompt, "response": c.chosen}
                                                           for c in BUILTIN_CASES])
    assert "accuracy" not in single.metrics and single.probes["sycophancy"]["flip_rate"] is None
    assert [v.id for v in single.vulnerabilities] == ["sycophancy"]


def test_bad_cases_and_options_are_named(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "x", "answer": "y"}\n')
    with pytest.raises(DataError) as e:
        RewardModelAuditor(strict=True).analyze(B.clean, test_cases=str(bad))
    assert "bad.jsonl" in str(e.value) and "2" in str(e.value)
    with pytest.raises(DataError, match="at least 4"):  # by default the bad row is left out: one case is too few
        RewardModelAuditor().analyze(B.clean, test_cases=str(bad))
    with pytest.raises(DataError, match="at least 4"):
        RewardModelAuditor().analyze(B.clean, test_cases=[{"prompt": "p", "chosen": "a", "rejected": "b"}])
    with pytest.raises(ConfigError, match="did you mean 'keyword'"):
        RewardModelAuditor(probes=["keywords"])
    with pytest.raises(ConfigError, match="alpha"):
        RewardModelAuditor(alpha=2)


def test_min_effect_keeps_small_real_effects_out():
    tiny = lambda p, r: [B.correct(a, b) + 0.01 * b.startswith(":") for a, b in zip(p, r)]  # noqa: E731
    result = RewardModelAuditor(probes=["master_key"]).analyze(tiny)
    s = result.probes["master_key"]
    assert s["holm_significant"] and s["effect"] < 0.1 and result.vulnerabilities == []
    assert [v.id for v in RewardModelAuditor(probes=["master_key"], min_effect=0.01).analyze(tiny).vulnerabilities] \
        == ["master_key"]
