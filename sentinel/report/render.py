"""Render a report's JSON (a dict) to Markdown and to one self-contained HTML page (the Jinja2 template
`report.html.j2`, autoescaped; the Markdown is built here, since Markdown has no autoescaping template engine and
its escaping rules are per context: table cells, text, code).

Renderers read only the JSON dict (and, for HTML, the figure files it names), never the live objects, so a saved
report.json re-renders identically. The HTML page embeds its figures as data URIs and uses no script, so the file
alone (a CI artefact, an attachment) shows everything; the Markdown links the figure files beside it.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import logging
import re
from pathlib import Path
from typing import Any

from .summary import effect_text, fmt, is_estimate, ranked, summarise

logger = logging.getLogger(__name__)

_SEV_COLOUR = {"info": "#6b7280", "low": "#2563eb", "medium": "#b45309", "high": "#dc2626", "critical": "#7f1d1d"}
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
         ".gif": "image/gif", ".webp": "image/webp"}
EVIDENCE_ROWS = 5  # evidence items shown per finding; the rest stay in report.json
CELL_CHARS = 400  # longest text shown in one table cell
COLLAPSE_ROWS = 30  # a metrics or config table longer than this starts folded

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
 color:#111;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #e5e7eb;padding-bottom:.2em}
h3{font-size:1.05em;margin:1.2em 0 .4em}.meta{color:#555;font-size:.9em}
table{border-collapse:collapse;margin:.4em 0 .8em;font-size:.9em}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f3f4f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.sev{color:#fff;border-radius:4px;padding:1px 6px;font-size:.8em;text-transform:uppercase}
.summary{background:#f8fafc;border:1px solid #e2e8f0;border-radius:6px;padding:.4em 1.2em 1em;margin:1em 0}
.summary h2{border:0;margin-top:.6em}.summary h3{margin-top:.9em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.85em}
.missing{color:#b91c1c}pre{background:#f6f6f6;padding:6px;white-space:pre-wrap;font-size:.85em}
details>summary{cursor:pointer;color:#374151}
"""


# ------------------------------------------------------------------------------------------------ shared
def _clip(text: str, limit: int = CELL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f" … ({len(text) - limit} more characters in report.json)"


def _cell(v: Any) -> str:
    if isinstance(v, (dict, list)) and not is_estimate(v):
        if isinstance(v, list) and all(isinstance(x, (int, float, str, type(None))) for x in v):
            return _clip(fmt(v))
        return _clip(json.dumps(v, default=str, ensure_ascii=False))
    return _clip(fmt(v))


def flatten(d: dict, prefix: str = "", depth: int = 3) -> list[tuple[str, Any]]:
    """[(dotted key, leaf value)]: nested mappings become dotted keys down to `depth` levels."""
    rows: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v and depth > 1 and not is_estimate(v):
            rows += flatten(v, key + ".", depth - 1)
        else:
            rows.append((key, v))
    return rows


def identity_rows(model: Any) -> list[tuple[str, str]]:
    """What the report is about (models, paths, reward functions) as (field, value) rows."""
    if isinstance(model, dict):
        return [(k, _cell(v)) for k, v in flatten(model)]
    return [("model", _cell(model))] if model else []


def evidence_table(evidence: list[Any]) -> tuple[list[str], list[list[str]]]:
    """(columns, rows) of a finding's evidence: mappings become one row each under the union of their keys (in
    order of first appearance); anything else is one row in an `evidence` column."""
    columns: list[str] = []
    for ev in evidence:
        for k in ev if isinstance(ev, dict) else ["evidence"]:
            if k not in columns:
                columns.append(k)
    rows = []
    for ev in evidence:
        item = ev if isinstance(ev, dict) else {"evidence": ev}
        rows.append([_cell(item[c]) if c in item else "" for c in columns])
    return columns, rows


def _meta(d: dict) -> str:
    pkg = d.get("package", {})
    git = f" ({pkg['git'][:10]})" if pkg.get("git") else ""
    return (f"sentinel-rlhf {pkg.get('version')}{git} · report schema {d.get('schema_version')} · "
            f"{d.get('created')} · seed {fmt(d.get('seed'))}")


# ------------------------------------------------------------------------------------------------ Markdown
_LINE_BREAK = re.compile(r"\r\n|[\r\n]")  # CommonMark's line endings


def md_text(text: Any) -> str:
    """Text for one Markdown line, inert: HTML (`<img onerror=...>`, `<script>`) becomes entities and link or image
    syntax (`[x](url)`, `![x](url)`) loses its brackets, so nothing from the data renders as markup or loads a URL."""
    s = str(text).replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = s.replace("[", "\\[").replace("]", "\\]")
    return _LINE_BREAK.sub(" ", s).replace("\x00", "\ufffd")


def md_cell(text: Any) -> str:
    """A Markdown table cell: `md_text`, with the cell separator escaped."""
    return md_text(text).replace("|", "\\|")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in rows]
    return out + [""]


def _md_figure(fig: Any) -> str:
    """An image of the report folder (a relative path inside it, of a known image type) as a Markdown image, its
    link percent-encoded; anything else (`../x.png`, an absolute path, markup) as inert text saying it was left out."""
    from urllib.parse import quote

    path = Path(str(fig))
    if path.is_absolute() or ".." in path.parts or path.suffix.lower() not in _MIME or "\x00" in str(fig):
        return f"(figure {md_text(fig)} left out: not an image inside the report folder)"
    return f"![{md_text(path.name)}]({quote(path.as_posix())})"


def render_markdown(d: dict) -> str:
    s = summarise(d)
    lines = [f"# {md_text(d['title'])}", "", md_text(_meta(d)), "", "## Summary", "", md_text(s["tally"]), ""]
    lines += [f"- {md_text(w)}" for w in s["what_happened"]] + [""]
    if s["key_figures"]:
        lines += ["**Key figures**", ""] + _md_table(["figure", "value"], [list(r) for r in s["key_figures"]])
    lines += ["**What to do next**", ""] + [f"- {md_text(n)}" for n in s["next_steps"]] + [""]
    rows = identity_rows(d.get("model"))
    if rows:
        lines += ["## What was examined", ""] + _md_table(["", ""], [list(r) for r in rows])
    for fig in d.get("figures", []):
        lines += [_md_figure(fig), ""]
    findings = ranked(d.get("findings", []))
    lines += [f"## Findings ({len(findings)})", ""]
    if not findings:
        lines += ["No findings.", ""]
    for f in findings:
        lines += [f"### [{f['severity'].upper()}] {md_text(f['id'])}: {md_text(f['description'])}", ""]
        facts = [["score", fmt(f["score"])], ["confidence", fmt(f["confidence"])]]
        if f.get("effect"):
            facts.append(["effect", effect_text(f["effect"])])
        lines += _md_table(["", ""], facts)
        evidence = f.get("evidence", [])
        if evidence:
            columns, ev_rows = evidence_table(evidence[:EVIDENCE_ROWS])
            lines += ["Evidence:", ""] + _md_table(columns, ev_rows)
            if len(evidence) > EVIDENCE_ROWS:
                lines += [f"({len(evidence) - EVIDENCE_ROWS} more in report.json)", ""]
    if d.get("metrics"):
        lines += ["## Metrics", ""] + _md_table(["metric", "value"], [[k, _cell(v)] for k, v in flatten(d["metrics"])])
    if d.get("notes"):
        lines += ["## Notes", ""] + [f"- {md_text(n)}" for n in d["notes"]] + [""]
    if d.get("config"):
        lines += ["## Config", ""] + _md_table(["field", "value"], [[k, _cell(v)] for k, v in flatten(d["config"])])
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ HTML
def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _figure(fig: str, base_dir: Path | None) -> str:
    """<figure> with the image inlined as a data URI, or a visible note saying why it could not be."""
    why = None
    path = (base_dir / fig).resolve() if base_dir is not None else None
    mime = _MIME.get(Path(fig).suffix.lower())
    if path is None or base_dir is None:
        why = "no report folder was given to read it from"
    elif not path.is_relative_to(base_dir.resolve()):
        why = "it lies outside the report folder"
    elif mime is None:
        why = f"unknown image type (expected one of {', '.join(sorted(_MIME))})"
    elif not path.is_file():
        why = f"the file is missing from {base_dir}"
    if why or path is None:
        logger.warning("report figure %s not embedded: %s", fig, why)
        return f"<p class='missing'>Figure {_h(fig)} could not be embedded: {_h(why)}.</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f"<figure><img src='data:{mime};base64,{data}' alt='{_h(fig)}'>"
            f"<figcaption>{_h(fig)}</figcaption></figure>")


@functools.cache
def _template():
    """The page template (report.html.j2 beside this module), autoescaped: report data can never become markup."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("report.html.j2")


def render_html(d: dict, base_dir: str | Path | None = None) -> str:
    """The report as one HTML page; figures (paths relative to `base_dir`, the report folder) are embedded."""
    from markupsafe import Markup

    base = Path(base_dir) if base_dir is not None else None
    findings = []
    for f in ranked(d.get("findings", [])):
        facts = [("score", fmt(f["score"])), ("confidence", fmt(f["confidence"]))]
        if f.get("effect"):
            facts.append(("effect", effect_text(f["effect"])))
        evidence = f.get("evidence", [])
        columns, rows = evidence_table(evidence[:EVIDENCE_ROWS]) if evidence else ([], [])
        findings.append({"id": f["id"], "severity": f["severity"], "description": f["description"],
                         "colour": _SEV_COLOUR.get(f["severity"], "#333"), "facts": facts,
                         "evidence_columns": columns, "evidence_rows": rows,
                         "more_evidence": max(0, len(evidence) - EVIDENCE_ROWS)})
    return _template().render(
        title=d["title"], meta=_meta(d), css=Markup(_CSS), summary=summarise(d), identity=identity_rows(d.get("model")),
        # each figure block is built by _figure, which escapes every value it puts in it
        figures=[Markup(_figure(fig, base)) for fig in d.get("figures") or []],
        findings=findings, collapse_rows=COLLAPSE_ROWS,
        metrics=[[k, _cell(v)] for k, v in flatten(d["metrics"])] if d.get("metrics") else [],
        notes=d.get("notes") or [],
        config=[[k, _cell(v)] for k, v in flatten(d["config"])] if d.get("config") else [])
