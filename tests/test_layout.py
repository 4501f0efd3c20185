"""The package's layout rules: lower layers never import higher ones (the import-linter contract in
pyproject.toml), each module name is used once, and timings from one machine stay out of the code (benchmarks
measure them)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sentinel"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path, path.read_text(encoding="utf-8")


def test_lower_layers_never_import_higher_ones():
    pytest.importorskip("importlinter", reason="import-linter is a dev dependency (installed by make)")
    proc = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                           "lint_imports_command()"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "1 kept, 0 broken" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_each_module_name_is_used_once():
    names = defaultdict(list)
    for path, _ in _modules():
        if path.name != "__init__.py":
            names[path.name].append(str(path.relative_to(ROOT)))
    assert {n: p for n, p in names.items() if len(p) > 1} == {}


TIMING = re.compile(r"\b\d+(?:\.\d+)? ?(?:ms|s|sec|seconds|min|minutes)\b (?:on|per|instead|of this)|this machine's|"
                    r"\(\d+(?:\.\d+)?x\)|\b\d+(?:\.\d+)?x (?:faster|slower|more|less)\b|costs about \d|"
                    r"gains? \d+(?:\.\d+)?x")


def test_no_timing_from_one_machine_in_code_comments_or_help():
    hits = []
    for path, text in _modules():
        for n, line in enumerate(text.splitlines(), 1):
            if TIMING.search(line) and "logger." not in line:
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert hits == [], "timings belong in benchmark output:\n" + "\n".join(hits)


def test_headline_benchmarks_default_to_data_that_ships_with_a_clone():
    """scan_throughput, scan_false_positives and poisoning_detection run from a clone: their default --data is a file
    under tests/data (the published figures name the full file, given with --data)."""
    import importlib.util

    bench = Path(__file__).resolve().parents[1] / "benchmarks"
    for name, var in (("scan_throughput", "DEFAULT"), ("scan_false_positives", "DEFAULT"),
                      ("poisoning_detection", "DEFAULT_DATA")):
        spec = importlib.util.spec_from_file_location(name, bench / f"{name}.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        default = Path(getattr(module, var))
        assert default.is_file() and "tests" in default.parts, (name, default)
