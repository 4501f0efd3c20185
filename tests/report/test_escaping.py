"""Data never escapes its place: HTML output escapes everything that came from data, and a file name made from data
stays inside its folder (`../`, absolute paths, NUL, very long names)."""

from __future__ import annotations

import os

import pytest

from sentinel.report import Finding, Report
from sentinel.report.render import render_html
from sentinel.utils import MAX_NAME_BYTES, child_path, safe_name

HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def test_html_escapes_every_field_that_came_from_data():
    report = Report(
        "scan", HOSTILE, [Finding(HOSTILE, "high", HOSTILE, evidence=[{"line": 1, HOSTILE: HOSTILE}, HOSTILE],
                                  data={"lines": [1]})],
        metrics={HOSTILE: HOSTILE}, config={"source": HOSTILE}, notes=[HOSTILE], model={"path": HOSTILE})
    d = report.to_dict()
    d["figures"] = [HOSTILE + ".png"]
    page = render_html(d)
    assert "<img src=x" not in page and "<script>" not in page
    assert page.count("&lt;img src=x onerror=alert(1)&gt;") >= 8


def test_markdown_figures_cannot_point_outside_the_report_or_carry_markup():
    from sentinel.report.render import render_markdown

    d = Report("scan", "t").to_dict()
    d["figures"] = ["plots/curve.png", "../../secret.png", "/etc/x.png", "a)<img src=x onerror=alert(1)>.png"]
    md = render_markdown(d)
    assert "![curve.png](plots/curve.png)" in md
    assert "](../../secret.png)" not in md and "](/etc/x.png)" not in md
    assert "<img" not in md and "onerror=alert(1)>" not in md


@pytest.mark.parametrize("text", ["../../etc/passwd", "/etc/passwd", "a\x00b", "..", ".", "", "a/b\\c:d",
                                  "x" * 1000, "é" * 400, "C:\\Windows\\x", "\n\t"])
def test_a_name_from_data_cannot_leave_its_folder(tmp_path, text):
    path = child_path(tmp_path, text, ".jsonl")
    assert path.parent == tmp_path and path.name.endswith(".jsonl")
    assert path.resolve().parent == tmp_path.resolve()
    assert "\x00" not in path.name and "/" not in path.name and not path.name.startswith(".")
    assert len(path.name.encode()) <= MAX_NAME_BYTES
    path.write_text("ok")  # a real file system accepts it
    assert os.listdir(tmp_path) == [path.name]


def test_long_names_stay_distinct_and_short_ones_readable():
    assert safe_name("x" * 500 + "a") != safe_name("x" * 500 + "b")
    assert safe_name("hidden_instruction", ".md") == "hidden_instruction.md"


def test_the_lab_names_its_data_files_inside_its_data_folder(tmp_path):
    from sentinel.lab.build import Lab

    lab = Lab(tmp_path, {})
    assert lab.data("../../outside").parent == tmp_path / "data"
    assert lab.data("preferences") == tmp_path / "data" / "preferences.jsonl"
