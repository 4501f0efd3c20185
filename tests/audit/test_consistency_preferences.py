"""Preference-data checks: planted conflicting duplicates, identical replies, a cycle and a length confound are
found and located; clean data raises nothing above info; small data says what it cannot compute."""

from __future__ import annotations

import json
import random

import pytest

from sentinel import RLHFConsistencyChecker
from sentinel.errors import DataError
from sentinel.report import Severity

WORDS = ("apple river stone window garden seven paper north yellow clock bridge number morning field chair table "
         "lamp cloud music forest ocean pencil silver candle orange rabbit winter summer valley mountain market "
         "engine button kitchen shadow thunder").split()


def _text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def clean_pairs(n=200, seed=0):
    """Distinct prompts; chosen and rejected drawn alike, so no style feature predicts the label."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        a, b = _text(rng, rng.randint(8, 20)), _text(rng, rng.randint(8, 20))
        rows.append({"prompt": f"Question {i}: {_text(rng, 6)}", "chosen": a, "rejected": b})
    return rows


def _ids(report):
    return {f.id: f for f in report.findings}


def test_clean_data_raises_nothing_above_info():
    report = RLHFConsistencyChecker().check_preferences(clean_pairs())
    assert report.at_or_above("low") == [], [str(f) for f in report.findings]
    assert report.metrics["conflicting_duplicates"] == 0 and report.metrics["intransitive_cycles"] == 0
    assert 0.35 < report.metrics["confound/length"]["share_chosen_more"] < 0.65


def test_conflicting_duplicates_exact_and_near_are_found_with_their_lines(tmp_path):
    rows = clean_pairs()
    # exact conflict after normalisation: same pair, labels swapped, different case and spacing
    rows.append({"prompt": rows[5]["prompt"].upper(), "chosen": rows[5]["rejected"] + "  ",
                 "rejected": rows[5]["chosen"].lower()})
    # near conflict: one word added to a reply, labels swapped
    rows.append({"prompt": rows[9]["prompt"], "chosen": rows[9]["rejected"],
                 "rejected": rows[9]["chosen"][:-1] + " indeed."})
    path = tmp_path / "prefs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = RLHFConsistencyChecker().check_preferences(path)
    exact, near = _ids(report)["conflicting-duplicates"], _ids(report)["near-conflicting-duplicates"]
    assert exact.severity == Severity.MEDIUM and near.severity == Severity.LOW  # 1 of 202 pairs each
    assert exact.data["pairs"] == [[6, 201]] and near.data["pairs"] == [[10, 202]]  # file lines (1-based)
    assert "line 6 vs line 201" in exact.evidence[0]


def test_chosen_equals_rejected_and_a_cycle():
    rows = clean_pairs(60)
    rows.append({"prompt": "Say hi.", "chosen": "Hi there!", "rejected": "hi there"})
    p = "Which colour is best?"
    rows += [{"prompt": p, "chosen": "Blue is calm.", "rejected": "Red is bold."},
             {"prompt": p, "chosen": "Red is bold.", "rejected": "Green is fresh."},
             {"prompt": p, "chosen": "Green is fresh.", "rejected": "Blue is calm."}]
    report = RLHFConsistencyChecker().check_preferences(rows)
    found = _ids(report)
    assert found["chosen-equals-rejected"].data["locations"] == [61]
    cyc = found["intransitive-cycle"]
    assert cyc.data["cycles"] == 1 and all(f"row {r}" in cyc.evidence[0] for r in (62, 63, 64))
    assert "conflicting-duplicates" not in found  # a 3-cycle is not a duplicate


def test_planted_length_and_keyword_confounds_have_effect_sizes():
    rng = random.Random(1)
    rows = clean_pairs(150)
    for r in rows:
        if rng.random() < 0.85:  # the annotator prefers the longer, keyword-laden reply 85% of the time
            r["chosen"] = r["chosen"] + " I hope this helps, certainly happy to help! " + _text(rng, 10)
    report = RLHFConsistencyChecker().check_preferences(rows)
    length = _ids(report)["confound-length"]
    assert length.severity == Severity.HIGH
    assert length.effect.low > 0.7 and length.effect.low < length.effect.value < length.effect.high
    assert _ids(report)["confound-reward_keywords"].severity >= Severity.MEDIUM
    assert report.metrics["confound/length"]["significant"] is True


def test_lab_biased_annotator_confounds_are_found_and_clean_lab_is_quieter(lab_dir, lab_dir_clean):
    biased = RLHFConsistencyChecker().check_preferences(lab_dir / "data" / "preferences.jsonl")
    clean = RLHFConsistencyChecker().check_preferences(lab_dir_clean / "data" / "preferences.jsonl")
    b = {f.id: f for f in biased.findings if f.id.startswith("confound-") and f.severity >= Severity.MEDIUM}
    c = {f.id: f for f in clean.findings if f.id.startswith("confound-") and f.severity >= Severity.MEDIUM}
    assert "confound-reward_keywords" in b or "confound-length" in b, [str(f) for f in biased.findings]
    # the clean annotator has no length or keyword bias, so neither confound is raised there, and fewer in all
    assert not c.keys() & {"confound-length", "confound-reward_keywords"}, [str(f) for f in clean.findings]
    assert len(c) < len(b), (sorted(c), sorted(b))

    def share(rep, fid):
        return rep.metrics[f"confound/{fid[9:]}"]["share_chosen_more"]

    for fid in set(b) & {"confound-length", "confound-reward_keywords"}:
        assert share(biased, fid) > share(clean, fid)


def test_small_data_reports_not_computable_with_a_reason():
    report = RLHFConsistencyChecker().check_preferences(clean_pairs(8))
    m = report.metrics["confound/length"]
    assert m["share_chosen_more"] is None and "need 20" in m["reason"]
    assert any("confound 'length' not computable" in n for n in report.notes)
    assert report.metrics["label_noise"] is None and any("label noise not computable" in n for n in report.notes)


def test_label_noise_with_a_reference_reward():
    rows = clean_pairs(100)
    rng = random.Random(3)
    flipped = set(rng.sample(range(100), 30))
    for i, r in enumerate(rows):
        r["chosen"], r["rejected"] = ("Good. " + r["chosen"], r["rejected"]) if i not in flipped else \
            (r["chosen"], "Good. " + r["rejected"])

    def ref(prompts, responses):
        return [1.0 if r.startswith("Good.") else 0.0 for r in responses]

    report = RLHFConsistencyChecker().check_preferences(rows, reference_reward=ref)
    f = _ids(report)["label-noise"]
    assert f.effect.value == pytest.approx(0.30)
    assert f.effect.low < 0.30 < f.effect.high
    assert sorted(f.data["disagreeing"]) == sorted(i + 1 for i in flipped)


def test_bad_rows_are_named(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = clean_pairs(5)
    rows[3]["chosen"] = ""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"line 4, field 'chosen'"):
        RLHFConsistencyChecker(strict=True).check_preferences(path)
    # By default the valid rows are audited and the bad one is reported, by line, not fatal.
    report = RLHFConsistencyChecker().check_preferences(path)
    invalid = next(f for f in report.findings if f.id == "invalid-rows")
    assert invalid.data["lines"] == [4] and invalid.data["invalid"] == 1 and "line" in invalid.description


def test_cli_audit_data(tmp_path):
    from sentinel.cli import main

    rows = clean_pairs(120)
    rows.append({"prompt": rows[0]["prompt"], "chosen": rows[0]["rejected"], "rejected": rows[0]["chosen"]})
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["audit", "data", str(path), "--out", str(tmp_path / "rep"), "--fail-on", "medium"]) == 1
    saved = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert "conflicting-duplicates" in [f["id"] for f in saved["findings"]]
    assert (tmp_path / "rep" / "poisoning" / "pairs.jsonl").is_file()
    assert main(["audit", "data", str(tmp_path / "missing.jsonl")]) == 2


def test_near_duplicates_and_a_cycle_are_found_in_a_crowd_of_pairs_on_one_prompt():
    """On-policy data puts many pairs on one prompt: their shared prompt makes them hash alike, so the near-
    duplicate search must sift the crowd (by per-text sketches) and still find the one near-conflict in it."""
    rng = random.Random(3)
    prompt = "Tell me about " + _text(rng, 40)
    rows = [{"prompt": prompt, "chosen": _text(rng, 12), "rejected": _text(rng, 12)} for _ in range(150)]
    rows.append({"prompt": prompt, "chosen": rows[40]["rejected"], "rejected": rows[40]["chosen"][:-1] + " indeed."})
    rows += [{"prompt": prompt, "chosen": "Blue is calm.", "rejected": "Red is bold."},
             {"prompt": prompt, "chosen": "Red is bold.", "rejected": "Green is fresh."},
             {"prompt": prompt, "chosen": "Green is fresh.", "rejected": "Blue is calm."}]
    rows += clean_pairs(100)
    report = RLHFConsistencyChecker().check_preferences(rows)
    found = _ids(report)
    assert found["near-conflicting-duplicates"].data["pairs"] == [[41, 151]]
    assert report.metrics["near_repeated_pairs"] == 0 and report.metrics["conflicting_duplicates"] == 0
    assert [sorted(c) for c in found["intransitive-cycle"].data["locations"]] == [[152, 153, 154]]
