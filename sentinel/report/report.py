"""`Report`: the JSON source of truth for every audit, with HTML and Markdown rendered from it."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import DataError
from ..utils import atomic_write_json, atomic_write_text, git_revision
from .finding import Finding, Severity

SCHEMA_VERSION = "1.1"  # 1.1: summary, key_metrics, next_steps


@dataclass
class Report:
    """What an audit found, plus everything needed to reproduce it.

    `kind` names the audit ("reward-model", "sycophancy", "scan", ...); `metrics` holds the headline numbers
    (JSON-serialisable); `config`, `seed` and `model` identify the run.
    """

    kind: str
    title: str = ""
    findings: list[Finding] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    model: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # image paths relative to the report folder
    # The summary a rendered report opens with (see `sentinel.report.summary`): sentences on what happened, the
    # metrics that are the key figures, and what to do next; each built by the producer from its own results.
    summary: list[str] = field(default_factory=list)
    key_metrics: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

    # ------------------------------------------------------------------ queries
    def at_or_above(self, severity: str | Severity) -> list[Finding]:
        threshold = Severity.parse(severity)
        return [f for f in self.findings if f.severity >= threshold]

    def exit_code(self, fail_on: str | Severity = "high") -> int:
        """Linter convention: 1 when any finding is at or above `fail_on`, else 0 ("never": always 0)."""
        if isinstance(fail_on, str) and fail_on == "never":
            return 0
        return 1 if self.at_or_above(fail_on) else 0

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "package": {"name": "sentinel-rlhf", "version": __version__, "git": git_revision()},
            "kind": self.kind,
            "title": self.title or self.kind,
            "created": self.created,
            "seed": self.seed,
            "model": self.model,
            "config": self.config,
            "metrics": self.metrics,
            "findings": [f.to_dict() for f in self.findings],
            "notes": self.notes,
            "figures": self.figures,
            "summary": self.summary,
            "key_metrics": self.key_metrics,
            "next_steps": self.next_steps,
        }

    def to_json(self) -> str:
        from ..utils import json_default

        return json.dumps(self.to_dict(), indent=2, default=json_default)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        if "findings" not in d or "kind" not in d:
            raise DataError("not a sentinel report: expected keys 'kind' and 'findings'")
        return cls(
            kind=d["kind"],
            title=d.get("title", ""),
            findings=[Finding.from_dict(f) for f in d["findings"]],
            metrics=d.get("metrics", {}),
            config=d.get("config", {}),
            seed=d.get("seed"),
            model=d.get("model", {}),
            notes=d.get("notes", []),
            figures=d.get("figures", []),
            summary=d.get("summary", []),
            key_metrics=d.get("key_metrics", []),
            next_steps=d.get("next_steps", []),
            created=d.get("created", ""),
        )

    @classmethod
    def load(cls, path: str | Path) -> Report:
        path = Path(path)
        if path.is_dir():
            path = path / "report.json"
        from ..data import read_json

        return cls.from_dict(read_json(path))

    def save(self, out_dir: str | Path) -> Path:
        """Write report.json (the source of truth), then report.md, report.html and report.sarif rendered from it.

        `figures` must already be in `out_dir`: report.html embeds them, so that one file shows everything."""
        from .render import render_html, render_markdown

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        data = json.loads(self.to_json())
        # The JSON goes last: a report.json present means the whole report was written.
        from .sarif import to_sarif

        atomic_write_text(out / "report.md", render_markdown(data))
        atomic_write_json(out / "report.sarif", to_sarif(data))  # for GitHub code scanning
        atomic_write_text(out / "report.html", render_html(data, out))
        atomic_write_json(out / "report.json", data)
        return out
