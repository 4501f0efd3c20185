"""Hostile content through every output, as a fuzz target: generated text made of XSS and Markdown-injection
payloads, path tricks, control and bidirectional characters and arbitrary Unicode is put in every field a report
carries, then rendered as HTML, Markdown, SARIF and a model-card section, and used as a file name. Nothing from the
data renders as markup or a link, breaks a table, or names a file outside its folder. `make test` tries a fixed
budget of examples (the `fixed` profile), `make fuzz` a larger fresh one."""

from __future__ import annotations

import json
import os
import re
from html.parser import HTMLParser

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sentinel.report import Finding, Report  # noqa: E402
from sentinel.report.model_card import card_section  # noqa: E402
from sentinel.report.render import render_html, render_markdown  # noqa: E402
from sentinel.report.sarif import to_sarif  # noqa: E402
from sentinel.utils import child_path  # noqa: E402

pytestmark = pytest.mark.fuzz

PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
            "\"><iframe src=//evil.example>", "<a href=\"javascript:alert(1)\">x</a>", "javascript:alert(1)",
            "[click](javascript:alert(1))", "![x](https://evil.example/x.png)", "<!--", "-->", "<![CDATA[", "]]>",
            "`", "|", "\\", "\n", "\r", "\r\n", "\x00", "\x1b[31m", "\u202e", "\u200b", "\u2028", "{{7*7}}", "${x}",
            "&lt;", "&#60;script&#62;", "../../etc/passwd", "/etc/passwd", "C:\\Windows\\x", "%2e%2e%2f", "* ", "# "]
TEXT = st.lists(st.one_of(st.sampled_from(PAYLOADS), st.text(max_size=12)), min_size=1, max_size=6).map("".join)


def _report(t: str) -> dict:
    finding = Finding(t, "high", t, evidence=[{"line": 1, "text": t, t: t}, t], data={"lines": [1], t: t})
    r = Report("scan", t, [finding, Finding("other", "low", t)], metrics={t: 1.0, "m": t}, config={"source": t},
               notes=[t], model={"path": t})
    return r.to_dict()


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


@given(TEXT)
def test_html_renders_no_markup_from_the_data(t):
    parser = _Tags()
    parser.feed(render_html(_report(t)))
    for tag, attrs in parser.tags:
        assert tag not in ("script", "iframe", "svg", "object", "embed", "a", "base", "meta") or tag == "meta" and \
            set(attrs) <= {"charset", "name", "content"}, (tag, attrs)
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        assert not any(v.strip().lower().startswith("javascript:") for v in attrs.values()), (tag, attrs)
        assert tag != "img" or attrs.get("src", "").startswith("data:"), attrs


def _unescaped(s: str, ch: str) -> int:
    """How many times `ch` appears in `s` not escaped by a backslash."""
    return len(re.findall(r"(?<!\\)(?:\\\\)*" + re.escape(ch), s))


@given(TEXT)
def test_markdown_and_the_model_card_carry_no_markup_link_or_broken_table(t):
    d = _report(t)
    card = "\n".join(x for x in card_section(d).split("\n") if not x.startswith("<!-- sentinel-report:"))
    for text in (render_markdown(d), card):  # the card's own begin/end markers left out
        assert "\r" not in text and "\x00" not in text
        assert not re.search(r"<[A-Za-z/!?]", text), "raw HTML from the data"
        assert _unescaped(text, "](") == 0 and _unescaped(text, "[") == _unescaped(text, "[" + "HIGH]") + \
            _unescaped(text, "[LOW]"), "a link from the data"
        for line in text.split("\n"):  # every table row has as many cells as its table's header
            if line.startswith("|"):
                assert _unescaped(line, "|") in (3, 5), line  # the reports' tables have 2 or 4 columns


@given(TEXT)
def test_sarif_messages_are_plain_text(t):
    sarif = json.loads(json.dumps(to_sarif(_report(t))))  # valid JSON both ways

    def texts(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "text" and isinstance(v, str):
                    yield v
                else:
                    yield from texts(v)
        elif isinstance(node, list):
            for v in node:
                yield from texts(v)

    for text in texts(sarif):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), text
        assert _unescaped(text, "[") == 0 and _unescaped(text, "]") == 0, text  # brackets make embedded links


@given(TEXT)
def test_a_file_name_from_data_stays_in_its_folder(tmp_path_factory, t):
    folder = tmp_path_factory.mktemp("names")
    path = child_path(folder, t, ".json")
    assert path.resolve().parent == folder.resolve() and path.name.endswith(".json")
    path.write_text("{}")
    assert os.listdir(folder) == [path.name]
