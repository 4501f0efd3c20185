"""A report as SARIF 2.1.0, the format GitHub code scanning reads: each finding becomes a rule, and a result at each
file and line it names, so the finding shows on the offending line of the data file.

Locations: a finding's lines (`data["lines"]`, or `line` in its evidence) in the report's source file
(`config["source"]`); a finding that names no line points at the file; a report about no file (a model audit) points
at the model examined as a logical location. A per-row result carries that row's evidence and score; a rule carries
what the check looks for (`data["rule"]`, never this run's counts) and a `security-severity` (GitHub code scanning
sorts by it). Severity -> level: high and critical -> error, medium -> warning, low and info -> note.

Everything from the data is escaped for SARIF's plain-text messages: braces (placeholders) are doubled, square
brackets (embedded links) and backslashes take a backslash, control characters are written as `\\xNN`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .._version import __version__

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub code scanning reads `security-severity` (0.0-10.0): over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, else low
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
MAX_LOCATIONS = 1000  # results per finding; the rest are counted in the message
MAX_TEXT = 1000  # characters of data-derived text per message
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def sarif_text(text: Any, limit: int = MAX_TEXT) -> str:
    """Text for a SARIF plain-text message: `{`/`}` doubled (they mark placeholders), `\\`, `[` and `]` escaped with a
    backslash (brackets make embedded links), control characters (NUL included) as `\\xNN`, cut to `limit`."""
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 3] + "..."
    s = s.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]").replace("{", "{{").replace("}", "}}")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def _uri(source: str) -> str:
    """A repository-relative URI when the file is under the current folder (what code scanning matches), with every
    character a URI cannot hold percent-encoded."""
    p = Path(source)
    try:
        return quote(p.resolve().relative_to(Path.cwd().resolve()).as_posix())
    except (ValueError, OSError):
        return quote(p.as_posix()) if not p.is_absolute() else p.resolve().as_uri()


def _lines(finding: dict[str, Any]) -> list[int]:
    data = finding.get("data") or {}
    lines = data.get("lines")
    if not isinstance(lines, list):
        lines = [e.get("line") for e in finding.get("evidence") or [] if isinstance(e, dict)]
    return sorted({int(n) for n in lines if isinstance(n, (int, float)) and not isinstance(n, bool) and n >= 1})


def _row_evidence(finding: dict[str, Any]) -> dict[int, dict]:
    """Each line's evidence row (the first one for that line)."""
    out: dict[int, dict] = {}
    for e in finding.get("evidence") or []:
        if isinstance(e, dict) and isinstance(e.get("line"), int) and not isinstance(e.get("line"), bool):
            out.setdefault(e["line"], e)
    return out


def _row_message(rid: str, n: int, ev: dict) -> str:
    field = f" in {ev['field']}" if ev.get("field") else ""
    if field and ev.get("in") == "prompt":
        field = f" in the prompt of {ev['field']}"
    score = f" (score {ev['score']:.2f})" if isinstance(ev.get("score"), (int, float)) else ""
    text = f": {ev['evidence']!r}" if ev.get("evidence") is not None else ""
    return f"{rid} on line {n}{field}{score}{text}"


def _model_name(report: dict[str, Any]) -> str:
    model = report.get("model") or {}
    for key in ("name", "path", "name_or_path", "callable", "target", "endpoint", "url", "class"):
        if isinstance(model.get(key), str) and model[key]:
            return model[key]
    return str(report.get("title") or report.get("kind") or "model")


def to_sarif(report: dict[str, Any]) -> dict[str, Any]:
    """SARIF 2.1.0 log (a dict ready for json.dumps) of a report's dict form (`Report.to_dict()`)."""
    source = (report.get("config") or {}).get("source")
    source = source if isinstance(source, str) and source and not source.startswith("<") else None
    kind = str(report.get("kind") or "report")
    rules: dict[str, dict] = {}
    results: list[dict] = []
    model = None if source else _model_name(report)
    for f in report.get("findings", []):
        rid = f["id"]
        data = f.get("data") or {}
        rule_text = data.get("rule") if isinstance(data.get("rule"), str) else f"sentinel {kind} check '{rid}'"
        rules.setdefault(rid, {"id": rid, "shortDescription": {"text": sarif_text(rid)},
                               "fullDescription": {"text": sarif_text(rule_text)},
                               "defaultConfiguration": {"level": LEVELS.get(f["severity"], "warning")},
                               "properties": {"security-severity": SECURITY_SEVERITY.get(f["severity"], "5.5"),
                                              "tags": ["security", kind]}})
        base = {"ruleId": rid, "level": LEVELS.get(f["severity"], "warning")}
        props = {"severity": f["severity"], "score": f.get("score"), "confidence": f.get("confidence")}
        lines = _lines(f) if source else []
        uri = _uri(source) if source else ""
        if lines:
            rows = _row_evidence(f)
            more = f" ({len(lines) - MAX_LOCATIONS} more lines not listed)" if len(lines) > MAX_LOCATIONS else ""
            for n in lines[:MAX_LOCATIONS]:
                ev = rows.get(n)
                text = _row_message(rid, n, ev) if ev else f["description"] + more
                row_props = {**props, "score": ev["score"]} if ev and isinstance(ev.get("score"), (int, float)) \
                    else props
                results.append({**base, "message": {"text": sarif_text(text)}, "properties": row_props,
                                "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri},
                                                                    "region": {"startLine": n}}}]})
        elif source:
            results.append({**base, "message": {"text": sarif_text(f["description"])}, "properties": props,
                            "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}}}]})
        else:
            results.append({**base, "message": {"text": sarif_text(f["description"])}, "properties": props,
                             "locations": [{"logicalLocations": [{"name": sarif_text(model, 200), "kind": "module",
                                                                  "fullyQualifiedName": sarif_text(
                                                                      f"{model}/{rid}", 300)}]}]})
    run = {"tool": {"driver": {"name": "sentinel-rlhf", "version": __version__, "rules": list(rules.values())}},
           "results": results,
           "properties": {"kind": kind, "title": report.get("title"),
                          "partial": bool(report.get("partial", False))}}
    if source:
        run["originalUriBaseIds"] = {"SRCROOT": {"uri": Path(os.getcwd()).resolve().as_uri() + "/"}}
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


__all__ = ["sarif_text", "to_sarif"]
