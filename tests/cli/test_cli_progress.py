"""Progress bars: items/s on stderr when it is a terminal, nothing in a pipe, nothing with -q; -q on every command."""

from __future__ import annotations

import argparse
import io
import json
import re

import pytest

from sentinel import progress
from sentinel.cli.main import build_parser, leaf_parsers, main


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _enabled():
    progress.set_enabled(True)
    yield
    progress.set_enabled(True)


def test_a_bar_with_a_rate_on_a_terminal_only():
    tty, pipe = Terminal(), io.StringIO()
    assert list(progress.track(range(30), "scan f", total=30, unit="rows", stream=tty)) == list(range(30))
    assert re.search(r"30/30.* rows/s", tty.getvalue())
    assert list(progress.track(range(30), "scan f", total=30, unit="rows", stream=pipe)) == list(range(30))
    assert pipe.getvalue() == ""
    progress.set_enabled(False)
    with progress.progress("x", total=3, stream=tty) as advance:
        advance(3)
    assert tty.getvalue().count("rows/s") >= 1 and "items/s" not in tty.getvalue()


def test_bars_do_not_nest():
    tty = Terminal()
    with progress.progress("outer", total=2, unit="rows", stream=tty) as outer:
        with progress.progress("inner", total=5, unit="texts", stream=tty) as inner:
            inner(5)
        outer(2)
    assert "inner" not in tty.getvalue() and "texts/s" not in tty.getvalue()


def _data(tmp_path):
    src = tmp_path / "gen.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"q{i}?", "response": f"answer {i}."}) + "\n" for i in range(40)))
    return str(src)


def test_scan_of_a_file_shows_rows_per_second_on_a_terminal_and_q_silences_it(tmp_path, monkeypatch, capsys):
    src = _data(tmp_path)
    tty = Terminal()
    monkeypatch.setattr("sys.stderr", tty)
    assert main(["scan", src]) == 0
    assert re.search(r"40 rows [\d.,]+ rows/s", tty.getvalue()), tty.getvalue()  # rows stream in: no total
    for argv in (["scan", src, "-q"], ["-q", "scan", src], ["scan", "-q", src]):
        monkeypatch.setattr("sys.stderr", quiet := Terminal())
        assert main(argv) == 0
        assert "rows/s" not in quiet.getvalue(), argv


def test_every_command_takes_q_after_its_name():
    parser = build_parser()
    commands = leaf_parsers(parser)
    assert len(commands) > 20 and "sentinel audit reward-model" in commands
    for line, sub in commands.items():
        action = sub._option_string_actions.get("-q")
        assert action is not None and action.dest == "quiet", line
        # no default of its own, so `sentinel -q CMD` stays quiet (a subcommand's default would undo it)
        assert action.default is argparse.SUPPRESS and sub._defaults.get("quiet") is None, line
    ns = parser.parse_args(["audit", "data", "x.jsonl", "-q"])
    assert ns.quiet is True
    assert parser.parse_args(["-q", "train", "classify"]).quiet is True


def test_a_sycophancy_audit_shows_replies_per_second_on_a_terminal(monkeypatch):
    from sentinel import SycophancyDetector

    tty = Terminal()
    monkeypatch.setattr("sys.stderr", tty)
    SycophancyDetector(probes=["are_you_sure"], max_rows=4, min_graded=1).analyze(lambda messages: "Paris.")
    assert re.search(r"sycophancy are_you_sure.* replies/s", tty.getvalue())


def test_a_data_audit_shows_pairs_per_second_on_a_terminal(tmp_path, monkeypatch):
    src = tmp_path / "prefs.jsonl"
    src.write_text("".join(json.dumps({"prompt": f"What is {i} + 1?", "chosen": f"It is {i + 1}.",
                                       "rejected": f"It is {i + 2}."}) + "\n" for i in range(30)))
    monkeypatch.setattr("sys.stderr", tty := Terminal())
    assert main(["audit", "data", str(src), "--fail-on", "never"]) == 0
    assert re.search(r"30/30.* pairs/s", tty.getvalue())
