"""A report as SARIF 2.1.0, the format GitHub code scanning reads: each finding becomes a rule, and a result at each
file and line it names, so the finding shows on the offending line of the data file.

Locations: a finding's lines (`data["lines"]`, or `line` in its evidence) in the report's source file
(`config["source"]`); a finding that names no line points at the file; a report about no file (a model audit) gives
results without a location. Severity -> level: high and critical -> error, medium -> warning, low and info -> note.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._version import __version__

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
MAX_LOCATIONS = 1000  # results per finding; the rest are counted in the message


def _uri(source: str) -> str:
    """A repository-relative URI when the file is under the current folder (what code scanning matches)."""
    p = Path(source)
    try:
        rel = p.resolve().relative_to(Path.cwd().resolve())
        return rel.as_posix()
    except (ValueError, OSError):
        return p.as_posix() if not p.is_absolute() else p.resolve().as_uri()


def _lines(finding: dict[str, Any]) -> list[int]:
    data = finding.get("data") or {}
    lines = data.get("lines")
    if not isinstance(lines, list):
        lines = [e.get("line") for e in finding.get("evidence") or [] if isinstance(e, dict)]
    return sorted({int(n) for n in lines if isinstance(n, (int, float)) and not isinstance(n, bool) and n >= 1})


def to_sarif(report: dict[str, Any]) -> dict[str, Any]:
    """SARIF 2.1.0 log (a dict ready for json.dumps) of a report's dict form (`Report.to_dict()`)."""
    source = (report.get("config") or {}).get("source")
    source = source if isinstance(source, str) and source and not source.startswith("<") else None
    rules: dict[str, dict] = {}
    results: list[dict] = []
    for f in report.get("findings", []):
        rid = f["id"]
        rules.setdefault(rid, {"id": rid, "shortDescription": {"text": rid},
                               "fullDescription": {"text": f["description"][:1000]},
                               "defaultConfiguration": {"level": LEVELS.get(f["severity"], "warning")}})
        base = {"ruleId": rid, "level": LEVELS.get(f["severity"], "warning"),
                "properties": {"severity": f["severity"], "score": f.get("score"), "confidence": f.get("confidence")}}
        lines = _lines(f) if source else []
        uri = _uri(source) if source else ""
        if lines:
            more = f" ({len(lines) - MAX_LOCATIONS} more lines not listed)" if len(lines) > MAX_LOCATIONS else ""
            for n in lines[:MAX_LOCATIONS]:
                results.append({**base, "message": {"text": f["description"] + more}, "locations": [
                    {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": n}}}]})
        elif source:
            results.append({**base, "message": {"text": f["description"]}, "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": uri}}}]})
        else:
            results.append({**base, "message": {"text": f["description"]}})
    run = {"tool": {"driver": {"name": "sentinel-rlhf", "version": __version__, "rules": list(rules.values())}},
           "results": results,
           "properties": {"kind": report.get("kind"), "title": report.get("title"),
                          "partial": bool(report.get("partial", False))}}
    if source:
        run["originalUriBaseIds"] = {"SRCROOT": {"uri": Path(os.getcwd()).resolve().as_uri() + "/"}}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
