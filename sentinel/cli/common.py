"""Helpers shared by command modules: common flags, printing summaries, finishing a report."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..config import Switch
from ..report import Report, Severity
from ..utils import counted

SEVERITIES = [s.value for s in Severity]


FORMAT_HELP = {
    "text": "a summary for people",
    "json": "the report as JSON (the shape of report.json, schema sentinel/report/report.schema.json)",
    "jsonl": "one JSON result per row as it is scanned, for pipelines",
    "sarif": "SARIF 2.1.0 for GitHub code scanning (findings on the data file's lines; also written as report.sarif)",
}


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that states each option's default, except where there is none to state (a switch or an option whose
    default is None: its help says what happens without it)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.nargs == 0:
            return action.help
        return super()._get_help_string(action)


def add_fail_on(parser: argparse.ArgumentParser, default: str = "high", why: str = "",
                formats: tuple[str, ...] = ("text", "json", "sarif")) -> None:
    why = why or ("audits report statistical findings of every strength; the default fails a CI job on the "
                  "strong ones only")
    parser.add_argument("--fail-on", default=default, choices=(*SEVERITIES, "never"),
                        help=f"exit 1 when any finding is at or above this severity; never: exit 0 whatever was found "
                             f"(default: %(default)s: {why})")
    parser.add_argument("--format", choices=formats, default="text",
                        help="what to print: " + "; ".join(f"{f}: {FORMAT_HELP[f]}" for f in formats)
                        + " (default: %(default)s)")


def add_model_safety(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-pickle", action=Switch,
                        help="allow pickled (.bin/.pt) weights, which can run code when loaded; "
                             "default: safetensors only")
    parser.add_argument("--trust-remote-code", action=Switch,
                        help="run modelling code shipped with the model (off by default)")
    parser.add_argument("--device", default=None, help="cuda, mps or cpu; none: the best available")


def print_json(obj: Any) -> None:
    from ..utils import json_default

    sys.stdout.write(json.dumps(obj, indent=2, default=json_default) + "\n")


def print_jsonl(obj: Any) -> None:
    """One compact JSON line, flushed at once so that a pipeline reads each result as it comes."""
    from ..utils import json_default

    sys.stdout.write(json.dumps(obj, default=json_default, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_table(title: str, rows: list[tuple], columns: tuple[str, ...]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r])
    Console().print(table)


def print_findings(report: Report) -> None:
    rows = [(f.severity.value, f.id, f"{f.score:.2f}", f.description) for f in report.findings]
    if rows:
        print_table(f"{report.title or report.kind}: {counted(len(rows), 'finding')}", rows,
                    ("severity", "id", "score", "description"))
    else:
        print(f"{report.title or report.kind}: no findings")


def add_format(parser: argparse.ArgumentParser, formats: tuple[str, ...] = ("text", "json"),
               json_help: str = "the result as JSON") -> None:
    """`--format`, the one flag for machine-readable output (there is no --json)."""
    helps = {**FORMAT_HELP, "json": json_help}
    parser.add_argument("--format", choices=formats, default="text",
                        help="what to print: " + "; ".join(f"{f}: {helps[f]}" for f in formats)
                        + " (default: %(default)s)")


def finish_report(report: Report, out: str | None, fail_on: str, fmt: str = "text") -> int:
    """Save the report (when `out` is given), print it (`fmt`: text, json or sarif), and return the linter-style
    exit code."""
    if out:
        report.save(out)
    if fmt == "sarif":
        from ..report.sarif import to_sarif

        print_json(to_sarif(report.to_dict()))
    elif fmt == "json":
        print_json(report.to_dict())
    else:
        print_findings(report)
        if out:
            print(f"report written to {out}/report.json, report.html, report.md, report.sarif")
    return report.exit_code(fail_on if fail_on == "never" else Severity.parse(fail_on))
