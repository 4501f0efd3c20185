"""Every command's --help: each default shown once, never an internal object, and help for every option."""

from __future__ import annotations

import argparse
import re

import pytest


def _commands():
    from sentinel.cli.main import build_parser

    def walk(parser, path):
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, [*path, name])

    return list(walk(build_parser(), []))


@pytest.mark.parametrize("path, parser", _commands(), ids=lambda x: " ".join(x) if isinstance(x, list) else "")
def test_help_shows_each_default_once_and_documents_every_option(path, parser):
    text = re.sub(r"\s+", " ", parser.format_help())
    assert "object object" not in text
    doubled = re.search(r".{0,80}\(default[^()]*\) \(default.{0,20}", text)
    assert doubled is None, doubled.group(0)
    for action in parser._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._SubParsersAction):
            continue
        name = action.option_strings or action.dest
        assert action.help and action.help.strip(), f"{' '.join(path)}: {name} has no help"


def test_abbreviated_flags_are_refused(capsys, tmp_path):
    from sentinel.cli.main import main

    with pytest.raises(SystemExit) as e:  # argparse's usage error
        main(["train", "sft", "--learning-rat", "1e-3", "--model", "m", "--output-dir", str(tmp_path),
              "--train-file", "x"])
    assert e.value.code == 2 and "unrecognized arguments: --learning-rat" in capsys.readouterr().err
