"""One word for each thing: every command's parser walked against `sentinel.cli.vocabulary`."""

from __future__ import annotations

import argparse
import re

import pytest

from sentinel.cli.main import build_parser, leaf_parsers
from sentinel.cli.vocabulary import VOCABULARY, banned_flags, term


@pytest.fixture(scope="module")
def commands() -> dict[str, argparse.ArgumentParser]:
    found = leaf_parsers(build_parser())
    assert len(found) > 20 and "sentinel scan" in found and "sentinel train ppo" in found
    return found


def _options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            yield action


def test_no_command_uses_a_banned_synonym(commands):
    banned = banned_flags()
    used = {(line, s, banned[s].flag) for line, p in commands.items() for a in _options(p)
            for s in a.option_strings if s in banned}
    assert not used, f"use the vocabulary's flag instead: {sorted(used)}"


def test_an_option_about_a_concept_uses_its_flag(commands):
    wrong = []
    for line, p in commands.items():
        for action in _options(p):
            for t in VOCABULARY:
                if t.matches(action.help) and t.flag not in action.option_strings:
                    wrong.append((line, action.option_strings, t.flag))
    assert not wrong, wrong


def test_the_concepts_are_where_they_belong(commands):
    def flags(line):
        return {s for a in _options(commands[line]) for s in a.option_strings}

    for line in ("sentinel audit reward-model", "sentinel attack reward-model", "sentinel audit stability",
                 "sentinel compare", "sentinel train ppo", "sentinel audit data"):
        assert "--reward-model" in flags(line), line
    for line in ("sentinel audit reward-model", "sentinel compare", "sentinel train ppo"):
        assert "--ref-model" in flags(line), line
    for line in ("sentinel audit reward-model", "sentinel audit sycophancy", "sentinel compare", "sentinel lab eval"):
        assert "--max-rows" in flags(line), line
    for line in ("sentinel scan", "sentinel audit data", "sentinel audit reward-model", "sentinel compare"):
        assert "--out" in flags(line) and "--format" in flags(line), line
    assert "--max-steps" in flags("sentinel train ppo") and "--max-steps" in flags("sentinel train sft")
    for line in ("sentinel train ppo", "sentinel train sft", "sentinel lab pairs", "sentinel audit sycophancy"):
        assert "--model" in flags(line), line
    assert "--attack-budget" in flags("sentinel attack reward-model")
    assert "--attack-budget" in flags("sentinel audit reward-model")


def test_probes_are_a_list_in_every_command(commands):
    parser = build_parser()
    for line in ("sentinel audit reward-model", "sentinel audit sycophancy"):
        (action,) = [a for a in _options(commands[line]) if term("--probes").flag in a.option_strings]
        assert action.nargs == "+", line
    ns = parser.parse_args(["audit", "reward-model", "--reward-model", "m:f", "--probes", "verbosity",
                            "keyword,format"])
    assert ns.probes == ["verbosity", "keyword", "format"]
    ns = parser.parse_args(["audit", "sycophancy", "--model", "m", "--probes", "persona,feedback"])
    assert ns.probes == ["persona", "feedback"]


def test_every_command_has_a_description_and_no_default_of_none(commands):
    for line, p in commands.items():
        assert p.description and len(p.description.split()) >= 8, f"{line}: no description paragraph"
        text = p.format_help()
        assert "(default: None)" not in text, line
        assert not re.search(r"--no-list\b", text), line
