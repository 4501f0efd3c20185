"""Loading data into sentinel's canonical shapes, validating it, and converting it between formats."""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field
from typing import Any

from ..errors import DataError
from . import formats as F
from .io import Rows, read_rows, write_rows
from .stream import stream_rows

logger = logging.getLogger(__name__)


@dataclass
class Loaded:
    """Canonical examples read from one source.

    `examples` are conversations (`{"messages": [...]}`) or preference pairs (`{"prompt", "chosen", "rejected"}`);
    `origins[i]` is the source line/row of `examples[i]`; `skipped` lists every row left out and why.
    """

    kind: str
    format: str
    source: str
    unit: str
    examples: list[dict[str, Any]]
    origins: list[int]
    rows_read: int
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.examples)

    def summary(self) -> dict[str, Any]:
        out = {
            "source": self.source,
            "kind": self.kind,
            "format": self.format,
            "rows_read": self.rows_read,
            "examples": len(self.examples),
            "rows_skipped": len(self.skipped),
        }
        if self.skipped:
            reasons: dict[str, int] = {}
            for s in self.skipped:
                reasons[s["reason"]] = reasons.get(s["reason"], 0) + 1
            out["skip_reasons"] = reasons
        out["lengths"] = length_stats(self.examples, self.kind)
        return out


def _describe(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    return {"mean": round(statistics.fmean(values), 1), "median": statistics.median(values),
            "min": min(values), "max": max(values)}


def length_stats(examples: list[dict], kind: str) -> dict[str, dict[str, float]]:
    """Word-count statistics of prompts and replies (words = whitespace-separated tokens)."""
    if kind == "preference":
        return {
            "prompt_words": _describe([sum(len(m["content"].split()) for m in e["prompt"]) for e in examples]),
            "chosen_words": _describe([len(e["chosen"].split()) for e in examples]),
            "rejected_words": _describe([len(e["rejected"].split()) for e in examples]),
            "turns": _describe([len(e["prompt"]) for e in examples]),
        }
    convs = [e for e in examples if "messages" in e]
    out = {
        "prompt_words": _describe([sum(len(m["content"].split()) for m in e["messages"][:-1]) for e in convs]),
        "reply_words": _describe([len(e["messages"][-1]["content"].split()) for e in convs]),
        "turns": _describe([len(e["messages"]) for e in convs]),
    }
    texts = [len(e["text"].split()) for e in examples if "text" in e]
    if texts:
        out["text_words"] = _describe(texts)
    return out


def load(
    source: Any,
    *,
    kind: str | None = None,
    format: str | None = None,
    skip_invalid: bool = False,
    split: str | None = None,
) -> Loaded:
    """Read `source` and convert every row to the canonical shape of its kind.

    `kind` ("instruction" or "preference") is checked against the detected format when given. With
    `skip_invalid=False` (the default) the first bad row raises DataError naming the file, line and field;
    with `skip_invalid=True` bad rows (and JSONL lines that are not one JSON object) are left out, listed in
    `skipped` and counted in a warning.
    """
    fmt = fkind = ""
    convert: Any = None
    examples: list[dict] = []
    origins: list[int] = []
    skipped: list[dict] = []
    n_rows = 0
    # Batch by batch, so that only the converted examples (what the checks need) are held, never all raw rows too.
    for rows in stream_rows(source, split=split, skip_bad_lines=skip_invalid):
        skipped += rows.meta.get("bad_lines", [])  # JSONL lines that are not one JSON object (skip_invalid only)
        n_rows += len(rows.meta.get("bad_lines", []))
        if not rows.rows:
            continue
        if convert is None:
            try:
                fmt = format or F.detect_format(rows.rows[0])
            except F.RowError as e:
                raise rows.error(0, str(e), e.field) from None
            convert = F.converter_for(fmt)
            fkind = F.kind_of(fmt)
            if kind and kind != fkind:
                raise DataError(f"expected {kind} data, but the rows look like {fkind} data (format '{fmt}')",
                                path=rows.source)
        for i, row in enumerate(rows.rows):
            try:
                if (n_rows or i) and F.detect_format(row) != fmt:
                    raise F.RowError(f"row is in format '{F.detect_format(row)}' but the file starts as '{fmt}'")
                out = convert(row)
            except F.RowError as e:
                if not skip_invalid:
                    raise rows.error(i, str(e), e.field) from None
                skipped.append({rows.unit: rows.locations[i], "field": e.field, "reason": str(e)})
                continue
            examples.extend(out)
            origins.extend([rows.locations[i]] * len(out))
        n_rows += len(rows)
    if skipped:
        logger.warning("%s: skipped %d invalid rows of %d", rows.source, len(skipped), n_rows)
    if not examples:
        raise DataError(f"no usable rows: all {n_rows} rows were invalid "
                        f"(first problem: {skipped[0]['reason'] if skipped else 'none'})", path=rows.source)
    return Loaded(fkind, fmt, rows.source, rows.unit, examples, origins, n_rows, skipped)


def load_instructions(source: Any, **kw) -> Loaded:
    """Instruction data (Alpaca, prompt/completion, messages, ShareGPT, OpenAssistant trees) as conversations."""
    return load(source, kind="instruction", **kw)


def load_preferences(source: Any, **kw) -> Loaded:
    """Preference data (prompt/chosen/rejected plain or chat, HH-RLHF dialogues) as canonical pairs."""
    return load(source, kind="preference", **kw)


def validate(source: Any, *, split: str | None = None) -> dict[str, Any]:
    """Check every row and summarise: format, rows, length statistics, and every problem found (not just the first)."""
    loaded = load(source, skip_invalid=True, split=split)
    summary = loaded.summary()
    summary["problems"] = loaded.skipped
    return summary


def convert(source: Any, to: str, out: str, *, skip_invalid: bool = False, split: str | None = None,
            rejects: str | None = None) -> dict[str, Any]:
    """Convert `source` to the format `to` and write it to `out` (atomically). Returns the load summary.

    Rows that cannot be converted raise DataError, or with `skip_invalid` are counted (and written to `rejects`).
    """
    loaded = load(source, skip_invalid=skip_invalid, split=split)
    targets = F.PREFERENCE_TARGETS if loaded.kind == "preference" else F.INSTRUCTION_TARGETS
    if to not in targets:
        raise DataError(f"cannot convert {loaded.kind} data to '{to}'; choose one of {', '.join(targets)}",
                        path=loaded.source)
    writer = F.pair_to if loaded.kind == "preference" else F.conversation_to
    converted = []
    for ex, origin in zip(loaded.examples, loaded.origins):
        try:
            converted.append(writer(ex, to))
        except F.RowError as e:
            if not skip_invalid:
                raise DataError(str(e), path=loaded.source, field=e.field, **{loaded.unit: origin}) from None
            loaded.skipped.append({loaded.unit: origin, "field": e.field, "reason": str(e)})
    write_rows(converted, out)
    if rejects and loaded.skipped:
        write_rows(loaded.skipped, rejects)
    summary = loaded.summary()
    summary.update({"to": to, "out": str(out), "written": len(converted), "rows_skipped": len(loaded.skipped)})
    return summary


__all__ = ["Loaded", "Rows", "convert", "length_stats", "load", "load_instructions", "load_preferences",
           "read_rows", "validate", "write_rows"]
