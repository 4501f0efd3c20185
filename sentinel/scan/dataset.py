"""`scan_dataset()`: scan every text of a data file and split its rows into kept and flagged.

Any file or dataset `sentinel.data.read_rows` reads works. Each row is recognised on its own (so a mixed file is
fine) and turned into prompt/response pairs: for preference data, the prompt with `chosen` and with `rejected`; for
instruction data, every assistant turn with the conversation before it as its prompt; a plain `text` row as one
text. Prompts and earlier turns are seen by detectors that read the prompt (`hidden_instruction`). A row that
fits no known format is not dropped: each of its string fields (nested ones too) is scanned as a text on its own.

Preference pairs are judged by the reply a reward model learns to prefer: by default only hits in `chosen` flag a
row (`decide_by`). A hit in `rejected` is the data doing its job (the pair teaches the model to score that reply
low), so the row is kept and the hit is reported in a finding of its own at info severity
(`<detector>-on-rejected`).

Rows are kept or flagged whole and written unchanged; a flagged row gains a `sentinel_scan` field saying why.
The source is read in batches (`sentinel.data.stream`) and the outputs are written batch by batch, each renamed into
place when the scan finishes, so memory does not grow with the number of rows (with `keep_rows=False`).
A row with no text to scan (every string empty, or no string at all) is invalid: it is kept, counted, and named in
an `invalid-rows` finding. A JSONL line that is not one JSON object is counted and named there too (it is in neither
output: it is no row). With `strict=True` either raises DataError instead. When more than half of the rows could
not be scanned, an `inconclusive` finding says so: a scan that read little is not a clean bill.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data import Rows
from ..data.formats import RowError, converter_for, detect_format, kind_of, render_transcript
from ..data.stream import BATCH_ROWS, RowWriter, stream_rows
from ..errors import ConfigError, DataError
from ..progress import progress
from ..report import Finding, Report, Severity
from ..report.coverage import coverage, inconclusive_finding, invalid_rows_finding
from .matching import using
from .scanner import Scanner

logger = logging.getLogger(__name__)

SCAN_FIELD = "sentinel_scan"  # added to flagged rows in the flagged output
MAX_EVIDENCE = 1000  # evidence rows kept per finding in the report (all rows stay counted and listed by line)
ENGINES = ("local", "ray")  # where `scan_dataset` runs: this process, or Ray workers (`sentinel.scan.distributed`)
PAIR_SIDES = ("chosen", "rejected")  # the replies of a preference pair; `decide_by` picks those whose hits flag a row


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
    side_counts: dict[str, int] = field(default_factory=dict)
    rows_kept: int = 0
    rows_flagged: int = 0
    matcher: str = "reference"

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source, "rows": self.rows, "texts_scanned": self.texts, "rows_kept": self.rows_kept,
            "rows_flagged": self.rows_flagged, "rows_unparsed": self.unparsed_rows,
            "flagged_per_detector": self.counts, "not_deciding_per_detector": self.side_counts,
            "thresholds": self.thresholds,
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


def _field_of(fmt: str, i: int, n: int) -> str:
    """Where message `i` of a converted conversation sits in the row: `response` (and `prompt[i]` before it) for
    prompt/response rows, `messages[i]` otherwise."""
    if fmt == "prompt_response":
        return "response" if i == n - 1 else f"prompt[{i}]"
    return f"messages[{i}]"


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
                out.append((_field_of(fmt, i, len(msgs)), _context(msgs[:i]), m["content"]))
        if not any(m["role"] == "assistant" for m in msgs):
            out += [(f"messages[{i}]", "", m["content"]) for i, m in enumerate(msgs)]
    return out, True


def _side(where: str) -> str:
    """The top-level field a text came from: `chosen` for "chosen", `messages` for "messages[2]", `a` for "a.b"."""
    return where.split(".", 1)[0].split("[", 1)[0]


def check_decide_by(decide_by: Sequence[str]) -> tuple[str, ...]:
    """`decide_by` as a tuple of pair sides; ConfigError unless it is a non-empty subset of chosen/rejected."""
    sides = (decide_by,) if isinstance(decide_by, str) else tuple(decide_by)
    bad = [s for s in sides if s not in PAIR_SIDES]
    if bad or not sides:
        raise ConfigError(f"expected one or both of {', '.join(PAIR_SIDES)}, got {', '.join(bad) or 'nothing'}",
                          field="decide_by")
    return sides


def _hit(f: Finding, where: str, severity: str) -> dict[str, Any]:
    hit = {"detector": f.id, "field": where, "severity": severity, "score": round(f.score, 4),
           "evidence": f.evidence[0] if f.evidence else None, "in": f.data.get("field")}
    if f.data.get("family"):
        hit["family"] = f.data["family"]
    return hit


@dataclass
class Verdict:
    """What scanning one row found: how many texts it had (0: nothing to scan), whether it was in a known format,
    and the best hit per detector on the texts that decide (`hits`) and, where no deciding text hit that detector,
    on the pair side that does not (`side_hits`)."""

    texts: int
    recognised: bool
    hits: dict[str, dict[str, Any]]
    side_hits: dict[str, dict[str, Any]]


def judge_row(row: dict[str, Any], scanner: Scanner, deciding: tuple[str, ...], severity: Mapping[str, str]
              ) -> Verdict:
    """Scan the texts of one row (call it inside `matching.using(scanner.matcher)`); `severity[detector]` is the
    severity of a deciding hit."""
    items, recognised = row_texts(row)
    items = [it for it in items if it[2].strip()]
    hits: dict[str, dict] = {}
    side_hits: dict[str, dict] = {}
    for where, prompt, response in items:
        decides = _side(where) not in PAIR_SIDES or _side(where) in deciding
        target = hits if decides else side_hits
        for f in scanner.scan_checked(prompt, response).findings:
            if f.id not in target or f.score > target[f.id]["score"]:
                target[f.id] = _hit(f, where, severity[f.id] if decides else "info")
    return Verdict(len(items), recognised, hits, {k: v for k, v in side_hits.items() if k not in hits})


def scan_field(verdict: Verdict) -> dict[str, Any] | None:
    """The `sentinel_scan` field of a row judged `verdict`: None unless it is flagged."""
    if not verdict.texts or not verdict.hits:
        return None
    return {"flagged_by": sorted(verdict.hits),
            "findings": list(verdict.hits.values()) + list(verdict.side_hits.values())}


def scan_dataset(
    source: Any,
    detectors: list[str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    *,
    split: str | None = None,
    out: str | None = None,
    flagged_out: str | None = None,
    strict: bool = False,
    decide_by: Sequence[str] = ("chosen",),
    on_row: Callable[[dict[str, Any]], None] | None = None,
    matcher: str | None = None,
    keep_rows: bool = True,
    batch_rows: int = BATCH_ROWS,
    engine: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
) -> DatasetScan:
    """Scan every row of `source`; write kept rows to `out` and flagged rows to `flagged_out` (both optional).

    A row is flagged when any of its texts is, except that in a preference pair only the sides named in `decide_by`
    (default: `chosen`) flag it; hits on the other side are reported at info severity and the row is kept.
    `on_row`, when given, is called with each row's result as it is scanned (`{line|row, status, findings}`, status
    kept, flagged or invalid), for streaming. The source is read `batch_rows` rows at a time and outputs are
    written as the scan goes, in the format their suffix names (.jsonl, .jsonl.gz, .json, .csv, .tsv, .parquet;
    flagged rows carry their findings in a `sentinel_scan` column), each renamed into place only when the scan
    finishes: an error leaves no output behind. With `keep_rows=False` the rows are not also kept in the result,
    so memory does not grow with the number of rows. `matcher`: "compiled" (the default where `google-re2` is
    installed) or "reference"; the results are identical. `engine`: "local" (this process) or "ray" (`workers`
    Ray actors, by default one per CPU of the Ray cluster, which `ray_address` names when Ray is not running yet;
    `sentinel.scan.distributed`, the `scale` extra); the results are identical. Raises DataError for an unreadable
    source (naming the file and line) and ConfigError for unknown detectors, bad thresholds, `decide_by` or
    `engine`, before anything is written.
    """
    deciding = check_decide_by(decide_by)
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}", field="engine")
    scanner = Scanner(detectors, thresholds, matcher)
    if batch_rows < 1:
        raise DataError(f"batch_rows must be at least 1, got {batch_rows!r}")
    with ExitStack() as stack:
        kept_out = stack.enter_context(RowWriter(out)) if out else None
        flagged_writer = stack.enter_context(RowWriter(flagged_out)) if flagged_out else None
        tally = _Tally(scanner.detectors, keep_rows, deciding, on_row)
        name = Path(source).name if isinstance(source, (str, Path)) else "rows"
        with progress(f"scan {name}", None, "rows") as advance:  # rows stream in: their number is not known
            if engine == "ray":
                from .distributed import scan_shards

                scan_shards(source, split=split, scanner=scanner, detectors=detectors, thresholds=thresholds,
                            tally=tally, strict=strict, batch_rows=batch_rows, writers=(kept_out, flagged_writer),
                            advance=advance, workers=workers, address=ray_address)
            else:
                for rows in stream_rows(source, split=split, batch_rows=batch_rows, skip_bad_lines=not strict):
                    kept, flagged = tally.add(rows, scanner, strict, advance)
                    if kept_out is not None:
                        kept_out.write(kept)
                    if flagged_writer is not None:
                        flagged_writer.write(flagged)
        # Judged before the outputs are renamed into place: a scan that raises leaves none behind.
        result = tally.result(scanner)
    return result


class _Tally:
    """What a scan has counted so far; `add` scans one batch of rows."""

    def __init__(self, dets, keep_rows: bool, deciding: tuple[str, ...],
                 on_row: Callable[[dict[str, Any]], None] | None):
        self.dets = dets
        self.keep_rows = keep_rows
        self.deciding = deciding
        self.on_row = on_row
        self.severity = {d.id: Severity.parse(d.severity).value for d in dets}
        self.kept: list[dict[str, Any]] = []
        self.flagged: list[dict[str, Any]] = []
        self.counts = {d.id: 0 for d in dets}
        self.side_counts = {d.id: 0 for d in dets}
        self.examples: dict[str, list[dict]] = {d.id: [] for d in dets}
        self.side_examples: dict[str, list[dict]] = {d.id: [] for d in dets}
        self.locations: dict[str, list[int]] = {d.id: [] for d in dets}
        self.side_locations: dict[str, list[int]] = {d.id: [] for d in dets}
        self.invalid: list[dict[str, Any]] = []
        self.rows = self.texts = self.unparsed = self.n_kept = self.n_flagged = 0
        self.source = "<unknown>"
        self.unit = "row"

    def add(self, rows: Rows, scanner: Scanner, strict: bool, advance: Callable[[int], None] = lambda n: None
            ) -> tuple[list[dict], list[dict]]:
        """Scan the rows of one batch, calling `advance(1)` after each; returns the batch's (kept, flagged) rows,
        flagged ones annotated."""
        with using(scanner.matcher):
            verdicts = [judge_row(row, scanner, self.deciding, self.severity) for row in rows.rows]
        return self.count(rows, verdicts, strict, advance)

    def count(self, rows: Rows, verdicts: list[Verdict], strict: bool,
              advance: Callable[[int], None] = lambda n: None) -> tuple[list[dict], list[dict]]:
        """Count one batch of judged rows (`verdicts[i]` is that of `rows.rows[i]`) and its bad lines; returns the
        batch's (kept, flagged) rows, flagged ones annotated. A row may be None (judged elsewhere and not sent
        back): it is counted but in neither list."""
        self.source, self.unit = rows.source, rows.unit
        bad_lines = rows.meta.get("bad_lines", [])
        self.rows += len(rows) + len(bad_lines)
        self.invalid += bad_lines  # lines that are not one JSON object: counted and named, not the end of the scan
        for bad in bad_lines:
            if self.on_row is not None:
                self.on_row({"line": bad["line"], "status": "invalid", "findings": [], "reason": bad["reason"]})
            advance(1)
        kept, flagged = [], []
        for i, (row, verdict) in enumerate(zip(rows.rows, verdicts)):
            tag = self._count(verdict, rows, i, strict)
            if tag is None:
                self.n_kept += 1
                if row is not None:
                    kept.append(row)
            else:
                self.n_flagged += 1
                if row is not None:
                    flagged.append({**row, SCAN_FIELD: tag})
            advance(1)
        if self.keep_rows:
            self.kept += kept
            self.flagged += flagged
        return kept, flagged

    def _count(self, verdict: Verdict, rows: Rows, i: int, strict: bool) -> dict[str, Any] | None:
        """Count one judged row; its `sentinel_scan` field where it is flagged, else None."""
        where_row = {rows.unit: rows.locations[i]}
        self.unparsed += not verdict.recognised
        self.texts += verdict.texts
        if not verdict.texts:
            if strict:
                raise rows.error(i, "no text to scan: every string field is empty", None)
            self.invalid.append({**where_row, "field": None, "reason": "no text to scan"})
            if self.on_row is not None:
                self.on_row({**where_row, "status": "invalid", "findings": []})
            return None
        hits, side_hits = verdict.hits, verdict.side_hits
        for det_id, hit in side_hits.items():
            self.side_counts[det_id] += 1
            self.side_locations[det_id].append(rows.locations[i])
            if len(self.side_examples[det_id]) < MAX_EVIDENCE:
                self.side_examples[det_id].append({**where_row, **hit})
        if self.on_row is not None:
            self.on_row({**where_row, "status": "flagged" if hits else "kept",
                         "findings": list(hits.values()) + list(side_hits.values())})
        for det_id, hit in hits.items():
            self.counts[det_id] += 1
            self.locations[det_id].append(rows.locations[i])
            if len(self.examples[det_id]) < MAX_EVIDENCE:
                self.examples[det_id].append({**where_row, **hit})
        return scan_field(verdict)

    def count_clean(self, n: int, texts: int) -> None:
        """Count `n` rows judged elsewhere that were in a known format, had `texts` texts in all and no hit: they
        add to the totals and nothing else (no finding, evidence or location names them)."""
        self.rows += n
        self.texts += texts
        self.n_kept += n

    def result(self, scanner: Scanner) -> DatasetScan:
        n_rows, invalid = self.rows, self.invalid
        if self.unparsed:
            logger.warning("%s: %d of %d rows fit no known format; each of their string fields was scanned alone",
                           self.source, self.unparsed, n_rows)
        if invalid and len(invalid) == n_rows:
            raise DataError(f"no text to scan in any of the {n_rows} rows (first: {invalid[0]['reason']})",
                            path=self.source)
        report = _report(self.source, n_rows, self.texts, self.dets, self.counts, self.examples, scanner.thresholds,
                         self.n_flagged, self.unparsed, self.locations, self.unit)
        _add_side_findings(report, self.deciding, self.dets, self.side_counts, self.side_examples,
                           self.side_locations, scanner.thresholds, n_rows, self.unit)
        bad = invalid_rows_finding(invalid, n_rows, self.source, self.unit)
        if bad is not None:
            report.findings.insert(0, bad)
            report.metrics["rows_invalid"] = len(invalid)
        cov = coverage(n_rows - len(invalid), n_rows, len(invalid), min_graded=1, what="rows")
        if not cov.conclusive:
            report.findings.insert(0, inconclusive_finding("scan", cov, "rows with no text to scan"))
        report.config["matcher"] = scanner.matcher
        return DatasetScan(self.source, n_rows, self.texts, self.kept, self.flagged, self.counts, self.unparsed,
                           report, scanner.thresholds, self.side_counts, self.n_kept, self.n_flagged,
                           scanner.matcher)


def _add_side_findings(report, deciding, dets, side_counts, side_examples, side_locations, limits, n_rows,
                       unit) -> None:
    """One info finding per detector that hit the pair side that does not decide (the rejected reply by default)."""
    report.config["decide_by"] = list(deciding)
    others = [s for s in PAIR_SIDES if s not in deciding]
    if not others:
        return
    side = others[0]
    report.metrics["not_deciding_per_detector"] = side_counts
    for det in dets:
        n = side_counts[det.id]
        if not n:
            continue
        why = ("the pair teaches a reward model to score that reply low" if side == "rejected"
               else f"--decide-by {' '.join(deciding)} judges the pairs by that side")
        report.findings.append(Finding(
            id=f"{det.id}-on-{side}", severity=Severity.INFO, score=n / n_rows,
            description=f"{n} of {n_rows} row{'' if n_rows == 1 else 's'} ({n / n_rows:.1%}) hit {det.id} on the "
                        f"{side} reply only, at or above {limits[det.id]:.2f}; kept, since {why}.",
            evidence=side_examples[det.id],
            data={"rows_hit": n, "rate": n / n_rows, "threshold": limits[det.id], "detector": det.id, "side": side,
                  unit + "s": side_locations[det.id],
                  "rule": f"{det.description()} Here: a hit on the {side} reply of a preference pair, which does "
                          "not decide whether the pair is kept."},
        ))


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
                                             unit + "s": locations[det.id], "rule": det.description()},
        ))
    findings.sort(key=lambda f: (-f.severity.rank, -f.score))
    return Report(kind="scan", title=f"scan of {source}", findings=findings,
                  metrics={"rows": n_rows, "texts_scanned": texts, "rows_flagged": n_flagged,
                           "rows_kept": n_rows - n_flagged, "rows_unparsed": unparsed,
                           "flagged_per_detector": counts},
                  config={"source": source, "detectors": [d.id for d in dets], "thresholds": limits})
