"""`scan_dataset()`: scan every text of a data file and split its rows into kept and flagged.

Any file or dataset `sentinel.data.read_rows` reads works. Each row is recognised on its own (so a mixed file is
fine) and turned into prompt/response pairs: for preference data, the prompt with `chosen` and with `rejected`; for
instruction data, every assistant turn with the conversation before it as its prompt; a plain `text` row as one
text. Prompts and earlier turns are seen by detectors that read the prompt (`hidden_instruction`). A row that
fits no known format is not dropped: each of its string fields (nested ones too) is scanned as a text on its own.

Rows are kept or flagged whole and written unchanged; a flagged row gains a `sentinel_scan` field saying why.
The source is read in batches (`sentinel.data.stream`) and the outputs are written batch by batch, each renamed into
place when the scan finishes, so memory does not grow with the number of rows (with `keep_rows=False`).
A row with no text to scan (every string empty, or no string at all) is invalid: it is kept, counted, and named in
an `invalid-rows` finding (with `strict=True` it raises DataError instead). When more than half of the rows could
not be scanned, an `inconclusive` finding says so: a scan that read little is not a clean bill.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from ..data import Rows
from ..data.formats import RowError, converter_for, detect_format, kind_of, render_transcript
from ..data.stream import BATCH_ROWS, RowWriter, stream_rows
from ..errors import DataError
from ..report import Finding, Report
from ..report.coverage import coverage, inconclusive_finding, invalid_rows_finding
from .matching import using
from .scanner import Scanner

logger = logging.getLogger(__name__)

SCAN_FIELD = "sentinel_scan"  # added to flagged rows in the flagged output
MAX_EXAMPLES = 5  # evidence rows kept per detector in the report


@dataclass
class DatasetScan:
    """The outcome of scanning a data source.

    `kept` / `flagged` are the original rows (flagged ones with a `sentinel_scan` field), held only when the scan
    was asked to keep them (`keep_rows=True`, the default); `rows_kept` / `rows_flagged` count them either way.
    `counts[detector]` is the number of rows that detector flagged; `report` holds one finding per detector that
    flagged any row.
    """

    source: str
    rows: int
    texts: int
    kept: list[dict[str, Any]]
    flagged: list[dict[str, Any]]
    counts: dict[str, int]
    unparsed_rows: int
    report: Report
    thresholds: dict[str, float] = field(default_factory=dict)
    rows_kept: int = 0
    rows_flagged: int = 0
    matcher: str = "reference"

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source, "rows": self.rows, "texts_scanned": self.texts, "rows_kept": self.rows_kept,
            "rows_flagged": self.rows_flagged, "rows_unparsed": self.unparsed_rows,
            "flagged_per_detector": self.counts, "thresholds": self.thresholds,
        }


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(field path, string) for every string inside `value`, depth first."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def _context(messages: list[dict]) -> str:
    if not messages:
        return ""
    if len(messages) == 1:
        return messages[0]["content"]
    return render_transcript(messages)


def row_texts(row: dict[str, Any]) -> tuple[list[tuple[str, str, str]], bool]:
    """The (field, prompt, response) texts of one row, and whether the row was in a recognised format."""
    try:
        fmt = detect_format(row)
        examples = converter_for(fmt)(row)
    except RowError:
        return [(where, "", text) for where, text in _strings(row, "")], False
    out = []
    if kind_of(fmt) == "preference":
        for ex in examples:
            prompt = _context(ex["prompt"])
            out += [("chosen", prompt, ex["chosen"]), ("rejected", prompt, ex["rejected"])]
        return out, True
    for ex in examples:
        if "text" in ex:
            out.append(("text", "", ex["text"]))
            continue
        msgs = ex["messages"]
        for i, m in enumerate(msgs):
            if m["role"] == "assistant":
                out.append((f"messages[{i}]", _context(msgs[:i]), m["content"]))
        if not any(m["role"] == "assistant" for m in msgs):
            out += [(f"messages[{i}]", "", m["content"]) for i, m in enumerate(msgs)]
    return out, True


def scan_dataset(
    source: Any,
    detectors: list[str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    *,
    split: str | None = None,
    out: str | None = None,
    flagged_out: str | None = None,
    strict: bool = False,
    matcher: str | None = None,
    keep_rows: bool = True,
    batch_rows: int = BATCH_ROWS,
) -> DatasetScan:
    """Scan every row of `source`; write kept rows to `out` and flagged rows to `flagged_out` (both optional).

    A row is flagged when any of its texts is. The source is read `batch_rows` rows at a time and outputs are
    written as the scan goes, in the format their suffix names (.jsonl, .jsonl.gz, .json, .csv, .tsv, .parquet;
    flagged rows carry their findings in a `sentinel_scan` column), each renamed into place only when the scan
    finishes: an error leaves no output behind. With `keep_rows=False` the rows are not also kept in the result,
    so memory does not grow with the number of rows. `matcher`: "compiled" (the default where `google-re2` is
    installed) or "reference"; the results are identical. Raises DataError for an unreadable source (naming the
    file and line) and ConfigError for unknown detectors or bad thresholds, before anything is written.
    """
    scanner = Scanner(detectors, thresholds, matcher)
    batches = stream_rows(source, split=split, batch_rows=batch_rows)
    with ExitStack() as stack:
        kept_out = stack.enter_context(RowWriter(out)) if out else None
        flagged_writer = stack.enter_context(RowWriter(flagged_out)) if flagged_out else None
        tally = _Tally(scanner.detectors, keep_rows)
        for rows in batches:
            kept, flagged = tally.add(rows, scanner, strict)
            if kept_out is not None:
                kept_out.write(kept)
            if flagged_writer is not None:
                flagged_writer.write(flagged)
        # Judged before the outputs are renamed into place: a scan that raises leaves none behind.
        result = tally.result(scanner)
    return result


class _Tally:
    """What a scan has counted so far; `add` scans one batch of rows."""

    def __init__(self, dets, keep_rows: bool):
        self.dets = dets
        self.keep_rows = keep_rows
        self.kept: list[dict[str, Any]] = []
        self.flagged: list[dict[str, Any]] = []
        self.counts = {d.id: 0 for d in dets}
        self.examples: dict[str, list[dict]] = {d.id: [] for d in dets}
        self.locations: dict[str, list[int]] = {d.id: [] for d in dets}
        self.invalid: list[dict[str, Any]] = []
        self.rows = self.texts = self.unparsed = self.n_kept = self.n_flagged = 0
        self.source = "<unknown>"
        self.unit = "row"

    def add(self, rows: Rows, scanner: Scanner, strict: bool) -> tuple[list[dict], list[dict]]:
        """Scan the rows of one batch; returns the batch's (kept, flagged) rows, flagged ones annotated."""
        self.source, self.unit = rows.source, rows.unit
        self.rows += len(rows)
        kept, flagged = [], []
        with using(scanner.matcher):
            for i, row in enumerate(rows.rows):
                items, recognised = row_texts(row)
                self.unparsed += not recognised
                items = [it for it in items if it[2].strip()]
                self.texts += len(items)
                if not items:
                    if strict:
                        raise rows.error(i, "no text to scan: every string field is empty", None)
                    self.invalid.append({rows.unit: rows.locations[i], "field": None, "reason": "no text to scan"})
                    kept.append(row)
                    continue
                hits: dict[str, dict] = {}
                for where, prompt, response in items:
                    for f in scanner.scan_checked(prompt, response).findings:
                        if f.id not in hits or f.score > hits[f.id]["score"]:
                            hits[f.id] = {"id": f.id, "score": round(f.score, 4), "field": where,
                                          "in": f.data.get("field"),
                                          "evidence": f.evidence[0] if f.evidence else None}
                            if f.data.get("family"):
                                hits[f.id]["family"] = f.data["family"]
                if not hits:
                    kept.append(row)
                    continue
                flagged.append({**row, SCAN_FIELD: {"flagged_by": sorted(hits), "findings": list(hits.values())}})
                for det_id, hit in hits.items():
                    self.counts[det_id] += 1
                    self.locations[det_id].append(rows.locations[i])
                    if len(self.examples[det_id]) < MAX_EXAMPLES:
                        self.examples[det_id].append({rows.unit: rows.locations[i], **hit})
        self.n_kept += len(kept)
        self.n_flagged += len(flagged)
        if self.keep_rows:
            self.kept += kept
            self.flagged += flagged
        return kept, flagged

    def result(self, scanner: Scanner) -> DatasetScan:
        n_rows, invalid = self.rows, self.invalid
        if self.unparsed:
            logger.warning("%s: %d of %d rows fit no known format; each of their string fields was scanned alone",
                           self.source, self.unparsed, n_rows)
        if invalid and len(invalid) == n_rows:
            raise DataError(f"no text to scan in any of the {n_rows} rows", path=self.source)
        report = _report(self.source, n_rows, self.texts, self.dets, self.counts, self.examples, scanner.thresholds,
                         self.n_flagged, self.unparsed, self.locations, self.unit)
        bad = invalid_rows_finding(invalid, n_rows, self.source, self.unit)
        if bad is not None:
            report.findings.insert(0, bad)
            report.metrics["rows_invalid"] = len(invalid)
        cov = coverage(n_rows - len(invalid), n_rows, len(invalid), min_graded=1, what="rows")
        if not cov.conclusive:
            report.findings.insert(0, inconclusive_finding("scan", cov, "rows with no text to scan"))
        report.config["matcher"] = scanner.matcher
        return DatasetScan(self.source, n_rows, self.texts, self.kept, self.flagged, self.counts, self.unparsed,
                           report, scanner.thresholds, self.n_kept, self.n_flagged, scanner.matcher)


def _report(source, n_rows, texts, dets, counts, examples, limits, n_flagged, unparsed, locations, unit) -> Report:
    findings = []
    for det in dets:
        n = counts[det.id]
        if not n:
            continue
        findings.append(Finding(
            id=det.id, severity=det.severity, score=n / n_rows,
            description=f"{n} of {n_rows} row{'' if n_rows == 1 else 's'} ({n / n_rows:.1%}) at or above "
                        f"{limits[det.id]:.2f}. {det.description()}",  # the id heads the finding already
            evidence=examples[det.id], data={"rows_flagged": n, "rate": n / n_rows, "threshold": limits[det.id],
                                             unit + "s": locations[det.id]},
        ))
    findings.sort(key=lambda f: (-f.severity.rank, -f.score))
    return Report(kind="scan", title=f"scan of {source}", findings=findings,
                  metrics={"rows": n_rows, "texts_scanned": texts, "rows_flagged": n_flagged,
                           "rows_kept": n_rows - n_flagged, "rows_unparsed": unparsed,
                           "flagged_per_detector": counts},
                  config={"source": source, "detectors": [d.id for d in dets], "thresholds": limits})
