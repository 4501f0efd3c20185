"""Model cards: the README.md a trained model folder carries, and a report as a section of it.

A Hub model card is a README.md with YAML front matter. Training writes one into every finished folder
(`training_card`); `attach(card, report)` puts a report (an audit, a scan, a guard's training checks) into that card
as a section between two HTML comments, so that attaching again replaces the section instead of adding a second
one, and the rest of the card is left as it is. Everything in the section comes from the report's JSON: the tally,
what happened, the key figures, the findings, and whether the run was partial or inconclusive.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .render import md_cell, md_text
from .summary import fmt, ranked, summarise

BEGIN = "<!-- sentinel-report:begin {kind} -->"
END = "<!-- sentinel-report:end {kind} -->"
MAX_FINDINGS = 10  # findings listed in the section (most severe first); the report files hold them all


def _cell(text: Any, limit: int = 160) -> str:
    s = md_cell(" ".join(str(text).split()))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def card_section(report: dict[str, Any], link: str | None = None) -> str:
    """The report `report` (a `Report.to_dict()`) as a markdown section, fenced by this report kind's markers."""
    kind = report.get("kind", "report")
    s = summarise(report)
    pkg = report.get("package", {})
    lines = [BEGIN.format(kind=kind), f"## Sentinel: {md_text(report.get('title') or kind)}", ""]
    made = f"`{kind}` report by sentinel-rlhf {pkg.get('version', '?')}"
    lines.append(made + (f", {report['created']}" if report.get("created") else "") + ".")
    if report.get("metrics", {}).get("partial") or report.get("partial"):
        lines += ["", "**Partial run**: the report covers only the items that completed."]
    inconclusive = [f for f in report.get("findings", []) if f.get("id") == "inconclusive"]
    if inconclusive:
        lines += ["", f"**Inconclusive in {len(inconclusive)} place(s)**: something could not be measured; that is "
                      "not a pass."]
    lines += ["", md_text(s["tally"]), ""]
    lines += [f"- {_cell(x, 300)}" for x in s["what_happened"]]
    if s["key_figures"]:
        lines += ["", "| Figure | Value |", "| --- | --- |"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in s["key_figures"]]
    findings = ranked(report.get("findings", []))
    if findings:
        lines += ["", "| Finding | Severity | Score | Description |", "| --- | --- | --- | --- |"]
        for f in findings[:MAX_FINDINGS]:
            lines.append(f"| {_cell(f.get('id'))} | {f.get('severity')} | {fmt(f.get('score'))} | "
                         f"{_cell(f.get('description', ''))} |")
        if len(findings) > MAX_FINDINGS:
            lines.append(f"\n{len(findings) - MAX_FINDINGS} more in the full report.")
    lines += ["", "Next: " + md_text(" ".join(s["next_steps"]))]  # next steps name findings: data
    if link:
        lines += ["", f"Full report: {link}"]
    lines.append(END.format(kind=kind))
    return "\n".join(lines) + "\n"


def attach(card_text: str, report: dict[str, Any], link: str | None = None) -> str:
    """`card_text` with `report`'s section put in: replacing an earlier section of the same report kind, else
    appended at the end. A card with no front matter gets a minimal one (the Hub needs it)."""
    kind = report.get("kind", "report")
    section = card_section(report, link)
    pattern = re.compile(re.escape(BEGIN.format(kind=kind)) + r".*?" + re.escape(END.format(kind=kind)) + r"\n?",
                         re.DOTALL)
    if pattern.search(card_text):
        return pattern.sub(lambda _: section, card_text, count=1)
    if not card_text.startswith("---\n"):
        card_text = "---\ntags:\n- sentinel-rlhf\n---\n\n" + card_text
    return card_text.rstrip("\n") + "\n\n" + section


def training_card(*, stage: str, output_dir: str, base_model: str, data: dict[str, Any],
                  metrics: dict[str, Any], config: dict[str, Any], version: str) -> str:
    """The README.md of a finished training folder: front matter the Hub reads, then what was trained from what,
    on which data, with which settings, and the final metrics."""
    import yaml

    front: dict[str, Any] = {"library_name": "transformers", "tags": ["sentinel-rlhf", stage]}
    if base_model and not Path(base_model).exists():  # a Hub name, not a local folder
        front["base_model"] = base_model
    name = Path(output_dir).name or output_dir
    shown = ("model", "train_file", "eval_file", "learning_rate", "num_train_epochs", "max_steps",
             "per_device_train_batch_size", "gradient_accumulation_steps", "max_length", "lora_r", "seed",
             "batch_size", "mini_batch_size", "ppo_epochs", "init_kl_coef", "beta", "num_generations")
    lines = ["---", yaml.safe_dump(front, sort_keys=False).strip(), "---", "", f"# {name}", "",
             f"Trained with `sentinel train {stage}` (sentinel-rlhf {version}) from `{base_model}`.", "",
             "## Training", "", "| Setting | Value |", "| --- | --- |"]
    lines += [f"| {k} | {_cell(fmt(config[k]))} |" for k in shown if config.get(k) not in (None, "", [], {})]
    if data:
        lines += ["", "## Data", "", "| Field | Value |", "| --- | --- |"]
        lines += [f"| {_cell(k)} | {_cell(fmt(v))} |" for k, v in data.items() if not isinstance(v, (dict, list))]
    numeric = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if numeric:
        lines += ["", "## Final metrics", "", "| Metric | Value |", "| --- | --- |"]
        lines += [f"| {_cell(k)} | {fmt(v)} |" for k, v in sorted(numeric.items())]
    lines += ["", "The full configuration is in `config.yaml`, every logged step in `metrics.jsonl`. Audit reports "
                  "can be added to this card with `sentinel report card REPORT_DIR --card README.md`.", ""]
    return "\n".join(lines)


def attach_file(card: str | Path, report: dict[str, Any], link: str | None = None) -> Path:
    """Attach `report` to the card file `card` (created if missing), written atomically."""
    from ..utils import atomic_write_text

    card = Path(card)
    text = card.read_text(encoding="utf-8") if card.exists() else ""
    atomic_write_text(card, attach(text, report, link))
    return card
