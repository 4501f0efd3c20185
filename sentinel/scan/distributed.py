"""`scan_dataset(..., engine="ray")`: the same scan spread over Ray workers, on one machine or a cluster.

The driver (the process that calls `scan_dataset`) cuts the source into shards, Ray Data hands the shards to a pool
of actors, and the driver merges what they send back, in shard order:

    shard plan (driver) -> ray.data.from_items -> map_batches(ShardScanner, actor pool) -> merge + write (driver)

Shards: an uncompressed JSONL file is cut into byte ranges that start at line starts (`jsonl_ranges`), a Parquet
file into its row groups; any other source (gzip, CSV and TSV, whose quoted fields may span lines, a JSON document,
a `save_to_disk` folder, rows in memory) is one shard, read by one worker. `ShardScanner` is a callable class: each
actor builds its `Scanner` (and, with the compiled matcher, its RE2 set) once and then scans shard after shard. For
each shard it returns a `ShardResult`: in file order, one event per row with a hit, no text or no known format (its
line or row number counted from the shard's start and its `Verdict`), one per run of rows with nothing to report
(their number and texts), one per JSONL line that is not one JSON object; the shard's number of lines (or rows); the
first reading error, if any; and the shard's kept and flagged rows encoded as JSON lines (`EncodedRows`) where outputs
are written. With `on_row` or `keep_rows` every row is an event of its own, carrying the row itself.

Why not Ray's own readers and writers: `ray.data.read_json` and `read_parquet` drop line numbers, which the
findings and the invalid-rows report name, and they fail on (or silently coerce) the bad lines the local engine
counts; `write_json` / `write_parquet` write a folder of part files in no fixed order. Here the readers are
`sentinel.data.stream`'s, so rows parse exactly as in the local engine, and the outputs are the same single files.

Why the results are identical to `engine="local"`: every row is judged by the same `judge_row` with the same
detectors and thresholds, and the driver counts the verdicts with the same `_Tally.count`. It turns a shard's
local line numbers into the file's by adding the lines of the shards before it (known once those are merged, which
`preserve_order` guarantees), and it regroups the events into the batches the local engine would have read
(`batch_rows` rows, each with the bad lines read before its last row), so that findings, evidence, locations, the
invalid-rows list, the `on_row` stream, the kept and flagged outputs (rows in file order) and strict-mode errors
(a bad JSON line raises before the rows of its batch are counted; a row with no text when it is counted) come out
the same. A reading error (bytes that are not UTF-8, a truncated gzip, a CSV row with the wrong number of columns)
is sent back with its shard-local line and raised at the driver with the file's line.

Resources: the shard plan enters Ray through `from_items`, so there is no read task competing with the actors for
CPUs (on 2 CPUs, two actors plus read tasks can starve one another); each actor takes one CPU (`num_cpus=1`), and
`workers` defaults to the CPUs of the Ray cluster. The driver's serial share is receiving the results, counting the
rows with findings and writing the outputs (docs/benchmarks.md measures it).
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ..data import Rows
from ..data.io import file_suffix
from ..data.stream import BATCH_ROWS, EncodedRows, RowWriter, jsonl_ranges, range_lines, stream_jsonl_range, stream_rows
from ..errors import ConfigError, DataError, MissingDependencyError
from .dataset import SCAN_FIELD, Verdict, _Tally, judge_row, scan_field
from .matching import using
from .scanner import Scanner

logger = logging.getLogger(__name__)

PART_BYTES = 16 * 1024 * 1024  # bytes per JSONL shard: enough rows to amortise a shard's round trip
SHARDS_PER_WORKER = 4  # a smaller file is cut into this many shards per worker, each at least MIN_PART_BYTES
MIN_PART_BYTES = 256 * 1024
LINE_READERS = (".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".tsv", ".tsv.gz")  # whole shards read row by row


def ray_modules() -> tuple[Any, Any]:
    """`ray` and `ray.data`; MissingDependencyError naming the `scale` extra when Ray is not installed."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise MissingDependencyError("ray", "scale", "--engine ray") from None
    return ray, ray.data


def plan_shards(source: Any, split: str | None, workers: int, part_bytes: int | None = None) -> list[dict[str, Any]]:
    """The shards of `source` (see the module docstring), in file order."""
    if isinstance(source, (str, os.PathLike)) and Path(source).is_file():
        path = Path(source)
        suffix = file_suffix(path)
        if suffix == ".jsonl":
            size = path.stat().st_size
            part = part_bytes or min(PART_BYTES, max(MIN_PART_BYTES, size // (workers * SHARDS_PER_WORKER) + 1))
            return [{"kind": "range", "path": str(path), "start": a, "end": b} for a, b in jsonl_ranges(path, part)]
        if suffix == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError:
                raise MissingDependencyError("pyarrow", "data", "reading Parquet files") from None
            try:
                groups = pq.ParquetFile(path).metadata.num_row_groups
            except Exception as e:  # pyarrow raises many types for corrupt files
                raise DataError(f"cannot read Parquet: {e}", path=path) from None
            return [{"kind": "row_group", "path": str(path), "group": g} for g in range(groups)]
    return [{"kind": "whole", "source": source, "split": split}]


@dataclass
class ShardResult:
    """What one shard sent back. `events`, in file order, locations counted from the shard's start:
    `("row", location, Verdict, row or None)`, `("clean", rows, texts)` for a run of rows in a known format with no
    hit (where rows are not sent one by one), `("bad", line, reason, field)` for a JSONL line that is not one JSON
    object. `lines`: the shard's lines (or rows), to number the next shard's from. `kept` / `flagged`: the shard's
    output rows, encoded, where outputs are written and rows are not sent one by one. `error`: the first reading
    error as (reason, path, line, row, field)."""

    source: str | None
    unit: str
    lines: int
    events: list[Any] = field(default_factory=list)
    kept: EncodedRows | None = None
    flagged: EncodedRows | None = None
    error: tuple[str, str | None, int | None, int | None, str | None] | None = None


class ShardScanner:
    """The Ray Data callable class: builds a `Scanner` once per actor, then scans one shard per call.

    `per_row`: send every row as an event (for `on_row` and `keep_rows`), with the row itself where `send_rows`;
    otherwise rows with no hit travel as counts, and where `encode` the outputs travel encoded, per shard."""

    def __init__(self, shards: list[dict[str, Any]], detectors: list[str] | None,
                 thresholds: Mapping[str, float] | None, matcher: str | None, deciding: tuple[str, ...],
                 per_row: bool, send_rows: bool, encode: bool):
        self.shards = shards
        self.scanner = Scanner(detectors, thresholds, matcher)
        self.severity = _Tally(self.scanner.detectors, False, deciding, None).severity
        self.deciding = deciding
        self.per_row, self.send_rows, self.encode = per_row, send_rows, encode

    def __call__(self, batch: dict[str, Any]) -> Any:
        import pyarrow as pa

        # One pickled ShardResult per shard, in an Arrow binary column: Ray moves it as bytes, not as an object.
        results = [pickle.dumps(self.scan(self.shards[int(i)]), protocol=pickle.HIGHEST_PROTOCOL)
                   for i in batch["index"]]
        return pa.table({"index": pa.array(batch["index"], pa.int64()), "result": pa.array(results, pa.large_binary())})

    def scan(self, shard: dict[str, Any]) -> ShardResult:
        """Read and judge every row of one shard."""
        result = ShardResult(None, "line", 0)
        events = result.events
        kept: list[dict[str, Any]] = []
        flagged: list[dict[str, Any]] = []
        try:
            with using(self.scanner.matcher):
                for rows in self._read(shard, result):
                    result.source, result.unit = rows.source, rows.unit
                    bad_lines = rows.meta.get("bad_lines", [])
                    fields = rows.meta.get("bad_fields", [None] * len(bad_lines))
                    for bad, fld in zip(bad_lines, fields):
                        events.append(("bad", bad["line"], bad["reason"], fld))
                    for row, loc in zip(rows.rows, rows.locations):
                        verdict = judge_row(row, self.scanner, self.deciding, self.severity)
                        if self.per_row or not verdict.recognised or not verdict.texts or verdict.hits \
                                or verdict.side_hits:
                            events.append(("row", loc, verdict, row if self.send_rows else None))
                        elif events and events[-1][0] == "clean":
                            events[-1][1] += 1
                            events[-1][2] += verdict.texts
                        else:
                            events.append(["clean", 1, verdict.texts])
                        if self.encode:
                            tag = scan_field(verdict)
                            if tag is None:
                                kept.append(row)
                            else:
                                flagged.append({**row, SCAN_FIELD: tag})
        except DataError as e:
            result.error = (e.reason, e.path, e.line, e.row, e.field)
        if self.encode and result.error is None:
            result.kept, result.flagged = EncodedRows.of(kept), EncodedRows.of(flagged)
        return result

    @staticmethod
    def _read(shard: dict[str, Any], result: ShardResult) -> Iterator[Rows]:
        # Line-based readers go one row per batch, so that rows read before an error still come back.
        if shard["kind"] == "range":
            result.lines = range_lines(shard["path"], shard["start"], shard["end"])
            result.source = str(Path(shard["path"]))
            yield from stream_jsonl_range(shard["path"], shard["start"], shard["end"], batch_rows=1,
                                          skip_bad_lines=True)
        elif shard["kind"] == "row_group":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(shard["path"])
            source = str(Path(shard["path"]))
            result.lines, result.unit, result.source = pf.metadata.row_group(shard["group"]).num_rows, "row", source
            n = 0
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[shard["group"]]):
                rows = batch.to_pylist()
                yield Rows(rows, list(range(n + 1, n + len(rows) + 1)), source, "row")
                n += len(rows)
        else:
            source = shard["source"]
            by_line = isinstance(source, (str, os.PathLike)) and file_suffix(Path(source)) in LINE_READERS
            yield from stream_rows(source, split=shard["split"], batch_rows=1 if by_line else BATCH_ROWS,
                                   skip_bad_lines=True)


class _Merger:
    """Turns the shards' events into the batches the local engine reads, numbered over the whole source, and counts
    them with the tally, writing the kept and flagged rows."""

    def __init__(self, tally: _Tally, strict: bool, batch_rows: int, writers: tuple[RowWriter | None, ...],
                 advance: Callable[[int], None], source: str):
        self.tally, self.strict, self.batch_rows = tally, strict, batch_rows
        self.writers, self.advance = writers, advance
        self.source, self.unit = source, "line"
        self.offset = 0
        self.seen = 0
        self.pending = 0  # rows in the batch being gathered
        self.bad: list[dict[str, Any]] = []
        self.rows: list[dict[str, Any] | None] = []
        self.locations: list[int] = []
        self.verdicts: list[Verdict] = []
        self.clean = self.clean_texts = 0

    def add(self, result: ShardResult) -> None:
        self.source, self.unit = result.source or self.source, result.unit
        for event in result.events:
            kind = event[0]
            self.seen += 1
            if kind == "bad":
                _, line, reason, fld = event
                if self.strict:  # the local reader raises here, before the rows of this batch are counted
                    raise DataError(reason, path=self.source, line=line + self.offset, field=fld)
                self.bad.append({"line": line + self.offset, "field": None, "reason": reason})
            elif kind == "clean":
                self._add_clean(event[1], event[2])
            else:
                _, loc, verdict, row = event
                self.rows.append(row)
                self.locations.append(loc + self.offset)
                self.verdicts.append(verdict)
                self.pending += 1
                if self.pending >= self.batch_rows:
                    self.flush()
        if result.error is not None:
            reason, path, line, row_no, fld = result.error
            raise DataError(reason, path=path, line=None if line is None else line + self.offset,
                            row=None if row_no is None else row_no + self.offset, field=fld)
        for writer, encoded in zip(self.writers, (result.kept, result.flagged)):
            if writer is not None and encoded is not None:
                writer.write_encoded(encoded)
        self.offset += result.lines

    def _add_clean(self, n: int, texts: int) -> None:
        self.clean_texts += texts  # a total: which batch counts them changes nothing
        while n:
            take = min(n, self.batch_rows - self.pending)
            self.clean += take
            self.pending += take
            n -= take
            if self.pending >= self.batch_rows:
                self.flush()

    def flush(self) -> None:
        # rows are None where the workers did not send them (nothing written or kept): `count` counts them alone
        rows = Rows(cast(list[dict[str, Any]], self.rows), self.locations, self.source, self.unit,
                    {"bad_lines": self.bad})
        kept, flagged = self.tally.count(rows, self.verdicts, self.strict, self.advance)
        self.tally.count_clean(self.clean, self.clean_texts)
        self.advance(self.clean)
        for writer, out in zip(self.writers, (kept, flagged)):
            if writer is not None and out:
                writer.write(out)
        self.bad, self.rows, self.locations, self.verdicts = [], [], [], []
        self.pending = self.clean = self.clean_texts = 0

    def finish(self) -> None:
        if self.pending or self.bad:
            self.flush()
        if not self.seen:
            raise DataError("no rows found; expected at least one", path=self.source)


def scan_shards(source: Any, *, split: str | None, scanner: Scanner, detectors: list[str] | None,
                thresholds: Mapping[str, float] | None, tally: _Tally, strict: bool, batch_rows: int,
                writers: tuple[RowWriter | None, RowWriter | None], advance: Callable[[int], None],
                workers: int | None, address: str | None, part_bytes: int | None = None) -> None:
    """Scan `source` on Ray, counting into `tally` and writing to `writers` (kept, flagged) as the local engine
    does. Uses the Ray this process is connected to (`ray.init` already called), else calls
    `ray.init(address=address)`: a cluster's address, or None for Ray's default (the `RAY_ADDRESS` variable, else a
    Ray running on this machine, else a new one started here)."""
    ray, data = ray_modules()
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}", field="workers")
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    shards = plan_shards(source, split, workers or cpus, part_bytes)
    name = str(Path(source)) if isinstance(source, (str, os.PathLike)) else "rows"
    if not shards:  # a Parquet file with no row groups
        raise DataError("no rows found; expected at least one", path=name)
    size = min(workers or max(cpus, 1), len(shards))
    per_row = tally.keep_rows or tally.on_row is not None
    outputs = any(w is not None for w in writers)
    merger = _Merger(tally, strict, batch_rows, writers, advance, name)
    ctx = data.DataContext.get_current()
    order, progress_bars = ctx.execution_options.preserve_order, ctx.enable_progress_bars
    ctx.execution_options.preserve_order, ctx.enable_progress_bars = True, False
    # Ray Data logs each execution at INFO (and that its progress bars are off): sentinel's own progress says enough.
    quiet = {n: logging.getLogger(n) for n in ("ray.data", "ray.data._internal.progress")}
    levels = {n: lg.level for n, lg in quiet.items()}
    if not logger.isEnabledFor(logging.DEBUG):
        quiet["ray.data"].setLevel(max(levels["ray.data"], logging.WARNING))
        quiet["ray.data._internal.progress"].setLevel(logging.ERROR)
    try:
        ds = data.from_items([{"index": i} for i in range(len(shards))], override_num_blocks=len(shards))
        ds = ds.map_batches(
            ShardScanner, batch_size=1, num_cpus=1, compute=data.ActorPoolStrategy(size=size),
            fn_constructor_kwargs={"shards": shards, "detectors": detectors, "thresholds": thresholds,
                                   "matcher": scanner.matcher, "deciding": tally.deciding, "per_row": per_row,
                                   "send_rows": per_row and (tally.keep_rows or outputs),
                                   "encode": outputs and not per_row})
        logger.info("scanning %d shard(s) of %s on %d Ray worker(s)", len(shards), name, size)
        for item in ds.iter_rows():
            merger.add(pickle.loads(item["result"]))
    finally:
        ctx.execution_options.preserve_order, ctx.enable_progress_bars = order, progress_bars
        for n, lg in quiet.items():
            lg.setLevel(levels[n])
    merger.finish()
