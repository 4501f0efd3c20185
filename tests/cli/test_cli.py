"""The `sentinel` command: groups, version, error handling and exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sentinel import __version__
from sentinel.cli import main
from sentinel.errors import ConfigError
from sentinel.registry import Registry


def run(*args):
    return subprocess.run([sys.executable, "-m", "sentinel", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_groups_and_version():
    r = run("--help")
    assert r.returncode == 0
    for group in ("data", "lab", "train", "audit", "attack"):
        assert group in r.stdout
    assert run("--version").stdout.strip() == f"sentinel-rlhf {__version__}"


def test_data_error_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "chosen": "b", "rejected": "b"}\n')
    code = main(["data", "convert", str(bad), str(tmp_path / "o.jsonl"), "--to", "hh"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "line 1" in err and "Traceback" not in err


def test_validate_and_convert_real_file(test_data, tmp_path, capsys):
    src = test_data / "preference" / "harmless-base-test.jsonl.gz"
    assert main(["data", "validate", str(src)]) == 1  # the file has invalid rows; they are listed
    assert "line 87" in capsys.readouterr().out
    out = tmp_path / "h.jsonl"
    assert main(["data", "convert", str(src), str(out), "--to", "preference_chat", "--skip-invalid"]) == 0
    assert "9 rows skipped" in capsys.readouterr().out


def test_registry_refuses_duplicates_and_suggests():
    reg = Registry("probe")
    reg.register("verbosity")(type("V", (), {}))
    with pytest.raises(ValueError, match="already registered"):
        reg.register("verbosity")(type("W", (), {}))
    with pytest.raises(ConfigError, match="did you mean 'verbosity'"):
        reg.get("verbosty")
