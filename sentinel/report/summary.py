"""The summary at the top of a rendered report, built from the report's JSON dict alone.

`summarise(d)` gives what happened (the producer's `summary` sentences, else the most severe findings), the key
figures (the metrics named in `key_metrics`, else the effects of the most severe findings) and what to do next (the
producer's `next_steps`, else a step derived from the findings' severities). Nothing in it is fixed text about a
result: every figure and id comes from `d`.
"""

from __future__ import annotations

import math
from typing import Any

SEVERITIES = ("critical", "high", "medium", "low", "info")
_RANK = {s: i for i, s in enumerate(reversed(SEVERITIES))}


def is_estimate(v: Any) -> bool:
    """A mapping that is one estimate: {"value", and optionally "low", "high", "n", "unit"}."""
    return isinstance(v, dict) and "value" in v and set(v) <= {"value", "low", "high", "n", "unit"}


def fmt(v: Any) -> str:
    """A value as a reader wants it: 4 significant digits, an estimate with its CI, small mappings inline."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    if isinstance(v, dict):
        if is_estimate(v):
            s = fmt(v["value"]) + (f" {v['unit']}" if v.get("unit") else "")
            if v.get("low") is not None and v.get("high") is not None:
                s += f" (95% CI {fmt(v['low'])} to {fmt(v['high'])})"
            return s + (f", n = {v['n']}" if v.get("n") is not None else "")
        return ", ".join(f"{k}: {fmt(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    return str(v)


def effect_text(effect: dict | None) -> str:
    if not effect:
        return ""
    s = f"{effect['name']} = {fmt(effect['value'])}"
    if effect.get("unit"):
        s += f" {effect['unit']}"
    if effect.get("low") is not None and effect.get("high") is not None:
        s += f" (95% CI {fmt(effect['low'])} to {fmt(effect['high'])})"
    return s


def ranked(findings: list[dict]) -> list[dict]:
    """Findings, most severe first (stable within a severity)."""
    return sorted(findings, key=lambda f: -_RANK.get(str(f.get("severity")), -1))


def tally(findings: list[dict]) -> str:
    if not findings:
        return "No findings."
    counts = {s: sum(f.get("severity") == s for f in findings) for s in SEVERITIES}
    parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    return f"{len(findings)} finding{'s' if len(findings) != 1 else ''}: {parts}."


def _ids(findings: list[dict], limit: int = 6) -> str:
    ids = [f["id"] for f in findings]
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def summarise(d: dict) -> dict[str, Any]:
    """{"tally": str, "what_happened": [str], "key_figures": [(label, value)], "next_steps": [str]} from `d`."""
    findings = ranked(d.get("findings", []))
    above_info = [f for f in findings if f.get("severity") != "info"]
    what = [str(s) for s in d.get("summary") or []]
    if not what:
        pool = above_info or findings
        what = [f"[{f['severity']}] {f['id']}: {f['description']}" for f in pool[:3]]
        if len(pool) > 3:  # the rest are named, so a low finding behind three high ones is not lost from view
            rest = pool[3:]
            what.append(f"{len(rest)} more finding{'s' if len(rest) != 1 else ''} below: "
                        + ", ".join(f"{f['id']} ({f['severity']})" for f in rest) + ".")
    metrics = d.get("metrics", {})
    key: list[tuple[str, str]] = []
    for name in d.get("key_metrics") or []:
        key.append((name, fmt(metrics[name]) if name in metrics else "not in this report's metrics"))
    if not key:
        key = [(f["id"], effect_text(f["effect"])) for f in findings if f.get("effect")][:3]
    steps = [str(s) for s in d.get("next_steps") or []]
    if not steps:
        urgent = [f for f in findings if f.get("severity") in ("critical", "high")]
        if urgent:
            steps = [(f"Act on the {len(urgent)} finding{'s' if len(urgent) != 1 else ''} at high severity or above "
                      f"first ({_ids(urgent)}); the evidence for each is below.")]
        elif above_info:
            steps = [(f"Review the {len(above_info)} finding{'s' if len(above_info) != 1 else ''} at low or medium "
                      f"severity ({_ids(above_info)}).")]
        else:
            steps = ["Nothing above info severity: this report asks for no action."]
    return {"tally": tally(findings), "what_happened": what, "key_figures": key, "next_steps": steps}
