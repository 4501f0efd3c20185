"""Render a report's JSON (a dict) to Markdown and to a self-contained HTML page.

Renderers read only the JSON dict, never the live objects, so a saved report.json re-renders identically.
"""

from __future__ import annotations

import html
from typing import Any

_SEV_COLOUR = {"info": "#6b7280", "low": "#2563eb", "medium": "#d97706", "high": "#dc2626", "critical": "#7f1d1d"}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)) and len(v) <= 4 and all(isinstance(x, (int, float)) for x in v):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _effect_text(effect: dict | None) -> str:
    if not effect:
        return ""
    s = f"{effect['name']} = {_fmt(effect['value'])}"
    if effect.get("unit"):
        s += f" {effect['unit']}"
    if effect.get("low") is not None and effect.get("high") is not None:
        s += f" (95% CI {_fmt(effect['low'])} to {_fmt(effect['high'])})"
    return s


def _evidence_text(ev: Any) -> str:
    if isinstance(ev, dict):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in ev.items())
    return str(ev)


def render_markdown(d: dict) -> str:
    lines = [f"# {d['title']}", ""]
    pkg = d.get("package", {})
    lines.append(
        f"sentinel-rlhf {pkg.get('version')} · schema {d.get('schema_version')} · {d.get('created')} · seed {d.get('seed')}"
    )
    if d.get("model"):
        lines.append(f"Model: `{d['model']}`")
    lines.append("")
    for fig in d.get("figures", []):
        lines += [f"![{fig}]({fig})", ""]
    findings = d.get("findings", [])
    lines.append(f"## Findings ({len(findings)})")
    lines.append("")
    if not findings:
        lines.append("No findings.")
    for f in findings:
        lines.append(f"### [{f['severity'].upper()}] {f['id']}: {f['description']}")
        lines.append("")
        lines.append(f"score {_fmt(f['score'])}, confidence {_fmt(f['confidence'])}")
        if f.get("effect"):
            lines.append(f"effect: {_effect_text(f['effect'])}")
        for ev in f.get("evidence", [])[:5]:
            lines.append(f"- {_evidence_text(ev)[:500]}")
        lines.append("")
    if d.get("metrics"):
        lines += ["## Metrics", "", "| metric | value |", "|---|---|"]
        for k, v in d["metrics"].items():
            lines.append(f"| {k} | {_fmt(v)} |")
        lines.append("")
    if d.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in d["notes"]] + [""]
    if d.get("config"):
        lines += ["## Config", "", "```", "\n".join(f"{k}: {v}" for k, v in d["config"].items()), "```", ""]
    return "\n".join(lines)


def render_html(d: dict) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(d['title'])}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left}"
        ".sev{color:#fff;border-radius:4px;padding:1px 6px;font-size:.85em}"
        "pre,.ev{background:#f6f6f6;padding:6px;white-space:pre-wrap;font-size:.9em}</style></head><body>",
        f"<h1>{e(d['title'])}</h1>",
    ]
    pkg = d.get("package", {})
    parts.append(
        f"<p>sentinel-rlhf {e(str(pkg.get('version')))} · schema {e(str(d.get('schema_version')))} · "
        f"{e(str(d.get('created')))} · seed {e(str(d.get('seed')))}</p>"
    )
    if d.get("model"):
        parts.append(f"<p>Model: <code>{e(str(d['model']))}</code></p>")
    for fig in d.get("figures", []):
        parts.append(f"<p><img src='{e(fig)}' alt='{e(fig)}' style='max-width:100%'></p>")
    findings = d.get("findings", [])
    parts.append(f"<h2>Findings ({len(findings)})</h2>")
    if not findings:
        parts.append("<p>No findings.</p>")
    for f in findings:
        colour = _SEV_COLOUR.get(f["severity"], "#333")
        parts.append(
            f"<h3><span class='sev' style='background:{colour}'>{e(f['severity'])}</span> "
            f"{e(f['id'])}: {e(f['description'])}</h3>"
        )
        parts.append(f"<p>score {_fmt(f['score'])}, confidence {_fmt(f['confidence'])}")
        if f.get("effect"):
            parts.append(f"<br>effect: {e(_effect_text(f['effect']))}")
        parts.append("</p>")
        for ev in f.get("evidence", [])[:5]:
            parts.append(f"<div class='ev'>{e(_evidence_text(ev)[:1000])}</div>")
    if d.get("metrics"):
        parts.append("<h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>")
        for k, v in d["metrics"].items():
            parts.append(f"<tr><td>{e(str(k))}</td><td>{e(_fmt(v))}</td></tr>")
        parts.append("</table>")
    if d.get("notes"):
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{e(str(n))}</li>" for n in d["notes"]) + "</ul>")
    if d.get("config"):
        parts.append("<h2>Config</h2><pre>" + e("\n".join(f"{k}: {v}" for k, v in d["config"].items())) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)
