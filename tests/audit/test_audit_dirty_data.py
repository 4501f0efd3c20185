"""Auditors take data as it comes: invalid rows are left out and reported in an `invalid-rows` finding, not fatal.

The case from the issue: raw HH-RLHF rows (transcripts in `chosen` / `rejected`, no `prompt` field), a few with an
empty final reply (harmless-base has 9 of 2,312). The rows are written here.
"""

from __future__ import annotations

import json
import re

import pytest

from sentinel import RewardModelAuditor
from sentinel.audit.consistency import RLHFConsistencyChecker
from sentinel.errors import DataError
from sentinel.scan.dataset import scan_dataset

EMPTY = (7, 31, 88)  # 0-based rows whose rejected reply is empty


def hh_rows(n: int = 120) -> list[dict]:
    topics = ["a garden", "a bicycle", "bread", "a kettle", "the moon", "a violin", "tea", "a river", "chess", "glue"]
    rows = []
    for i in range(n):
        q = f"\n\nHuman: Tell me one fact about {topics[i % len(topics)]}, number {i}."
        good = f"Here is a fact about {topics[i % len(topics)]}: it is item {i} in my notes, and it is true."
        bad = "" if i in EMPTY else f"I would rather talk about something else than {topics[(i + 3) % len(topics)]}."
        rows.append({"chosen": f"{q}\n\nAssistant: {good}", "rejected": f"{q}\n\nAssistant: {bad}"})
    return rows


def _invalid(report):
    found = [f for f in report.findings if f.id == "invalid-rows"]
    assert len(found) == 1, [f.id for f in report.findings]
    return found[0]


def test_check_preferences_and_poisoning_audit_the_valid_rows_and_name_the_bad_ones():
    rows = hh_rows()
    checker = RLHFConsistencyChecker()
    for report in (checker.check_preferences(rows), checker.detect_poisoning(rows)):
        f = _invalid(report)
        assert f.data["rows"] == [i + 1 for i in EMPTY] and f.data["invalid"] == 3 and f.data["total"] == 120
        assert f.severity.value == "medium"  # 2.5% of the rows
        assert "empty reply" in f.description and "rows 8, 32, 89" in f.description
        assert [e["row"] for e in f.evidence] == [8, 32, 89] and all(e["field"] == "rejected" for e in f.evidence)
        assert report.metrics["pairs"] == 117
    with pytest.raises(DataError, match=r"row 8, field 'rejected'"):
        RLHFConsistencyChecker(strict=True).detect_poisoning(rows)


def test_severity_grows_with_the_share_of_invalid_rows():
    rows = hh_rows()
    few = RLHFConsistencyChecker().check_preferences(rows[:7] + rows[8:])  # 2 of 119 bad
    many = hh_rows(20)
    for r in many[:5]:
        r["rejected"] = r["rejected"].split("Assistant:")[0] + "Assistant:"
    assert _invalid(few).severity.value == "medium"
    assert _invalid(RLHFConsistencyChecker().check_preferences(many)).severity.value == "high"
    clean = [r for i, r in enumerate(rows) if i not in EMPTY] * 2
    assert _invalid(RLHFConsistencyChecker().check_preferences(clean + rows[7:8])).severity.value == "low"


def test_no_valid_row_is_still_an_error():
    rows = hh_rows(10)
    for r in rows:
        r["chosen"] = r["chosen"].split("Assistant:")[0] + "Assistant: "
    with pytest.raises(DataError, match="no usable rows"):
        RLHFConsistencyChecker().check_preferences(rows)
    with pytest.raises(DataError, match="all 3 rows are invalid"):
        RewardModelAuditor().analyze(lambda p, r: [0.0] * len(p), [{"prompt": "p", "chosen": ""}] * 3)


def test_reward_model_auditor_reports_invalid_rows_and_still_audits():
    def rm(prompts, responses):
        return [1.0 if "fact" in r else 0.0 for r in responses]

    result = RewardModelAuditor(probes=["verbosity", "keyword"]).analyze(rm, test_cases=hh_rows())
    f = _invalid(result)
    assert f.data["rows"] == [8, 32, 89] and result.metrics["cases"] == 117
    assert f not in result.vulnerabilities and result.metrics["accuracy"]["value"] == 1.0
    with pytest.raises(DataError, match="row 8"):
        RewardModelAuditor(strict=True).analyze(rm, test_cases=hh_rows())


def test_scan_dataset_and_cli_report_rows_with_no_text(tmp_path):
    from sentinel.cli import main

    path = tmp_path / "d.jsonl"
    rows = [{"text": f"Plain sentence number {i} about the weather."} for i in range(30)]
    rows[4] = {"text": "   "}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = scan_dataset(str(path))
    f = _invalid(ds.report)
    assert f.data["lines"] == [5] and f.severity.value == "medium" and len(ds.kept) == 30  # the row is kept
    with pytest.raises(DataError, match="line 5"):
        scan_dataset(str(path), strict=True)
    assert main(["audit", "data", str(tmp_path / "missing.jsonl")]) == 2  # unreadable input stays an error

    pref = tmp_path / "p.jsonl"
    pref.write_text("".join(json.dumps(r) + "\n" for r in hh_rows()))
    assert main(["audit", "data", str(pref), "--out", str(tmp_path / "r"), "--fail-on", "critical"]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    ids = [x["id"] for x in report["findings"]]
    assert ids.count("invalid-rows") == 1
    assert main(["audit", "data", str(pref), "--strict"]) == 2


def test_half_unreadable_scan_is_inconclusive(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"text": ""}] * 6 + [{"text": "A short clean sentence."}] * 4
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = scan_dataset(str(path)).report
    assert {"inconclusive", "invalid-rows"} <= {f.id for f in report.findings}
    assert report.exit_code("medium") == 1


def test_every_finding_about_data_points_at_its_rows():
    """Conflicts, repeats, confounds, invalid rows: each finding names rows a user can open."""
    rows = [{"prompt": f"Question {i} about the {w}?", "chosen": f"A long and careful reply about the {w}, number {i}.",
             "rejected": f"No {i}."} for i, w in enumerate(["river", "stone", "clock", "paper", "field"] * 8)]
    rows.append(dict(rows[0]))  # a repeat
    rows.append({"prompt": rows[1]["prompt"], "chosen": rows[1]["rejected"], "rejected": rows[1]["chosen"]})
    rows.append({"prompt": "Empty?", "chosen": "", "rejected": "x"})
    report = RLHFConsistencyChecker().check_preferences(rows)
    ids = {f.id for f in report.findings}
    assert {"conflicting-duplicates", "repeated-pairs", "confound-length", "invalid-rows"} <= ids, ids
    for f in report.findings:
        assert f.evidence, f.id
        assert all(re.search(r"\brow\b|'row'", str(e)) for e in f.evidence), (f.id, f.evidence)
    confound = next(f for f in report.findings if f.id == "confound-length")
    assert len(confound.data["locations_chosen_more"]) == confound.data["chosen_more"]
