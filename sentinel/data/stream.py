"""Reading and writing rows in batches, so that a pass over a data set holds one batch in memory, not the set.

`stream_rows(source)` yields `Rows` of at most `batch_rows` rows each, their locations counted over the whole
source: JSONL (and .jsonl.gz) and CSV/TSV line by line, Parquet by record batch, a `datasets.save_to_disk` folder
(Arrow files) by record batch. A JSON document (one array) and in-memory sources are read whole and then cut into
batches. Errors are those of `read_rows` (a DataError naming the file and line), raised when the batch holding the
bad row is read. `jsonl_ranges` cuts an uncompressed JSONL file into byte ranges at line starts and
`stream_jsonl_range` reads one of them, its lines numbered from the range's start, so that several processes can
share one file (`sentinel.scan.distributed`).

`RowWriter(path)` appends batches to a temporary file beside `path` and renames it into place on `close()`; on an
error (or `abort()`) the temporary file is removed, so a half-written output never looks finished. JSONL is written
as it comes; CSV, TSV, JSON and Parquet first spill to a temporary JSONL file, and `close()` converts it in batches
(Parquet with one schema unified over all batches), so memory stays flat there too.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ..errors import DataError, MissingDependencyError
from ..utils import current_umask
from .io import Rows, file_suffix, parse_jsonl_line, read_rows

BATCH_ROWS = 2048  # rows per batch: large enough to amortise per-batch costs, small enough to stay a few MB


def _batches_of(rows: Rows, batch_rows: int) -> Iterator[Rows]:
    for start in range(0, len(rows), batch_rows):
        yield Rows(rows.rows[start:start + batch_rows], rows.locations[start:start + batch_rows], rows.source,
                   rows.unit)


def _lines(path: Path, start: int = 0, end: int | None = None) -> Iterator[tuple[int, str]]:
    """(1-based line number, line with its end) of a UTF-8 text file, gzip when the name ends in .gz.

    Lines end at "\n" only (as JSONL defines them); a DataError names the line of a decoding or gzip error. With
    `start`/`end` (an uncompressed file only; `start` at the beginning of a line), the bytes in [start, end) are
    read and their lines numbered from 1.
    """
    lineno = 0
    try:
        with gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb") as f:
            src: Iterable[bytes] = f
            if end is not None:
                f.seek(start)
                src = io.BytesIO(f.read(end - start))
            for lineno, raw in enumerate(src, start=1):  # noqa: B007 - lineno is read in the handlers
                yield lineno, raw.decode("utf-8-sig" if lineno == 1 and start == 0 else "utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"not valid UTF-8 (byte 0x{e.object[e.start]:02x} at column {e.start + 1}); expected UTF-8 "
                        "text. Re-encode the file, e.g. `iconv -f latin1 -t utf-8`", path=path, line=lineno) from None
    except (EOFError, gzip.BadGzipFile, OSError) as e:
        raise DataError(f"truncated or corrupt file ({e}); re-download or re-compress it", path=path,
                        line=lineno + 1) from None


def jsonl_ranges(path: str | os.PathLike, part_bytes: int) -> list[tuple[int, int]]:
    """Byte ranges [start, end) of an uncompressed text file, each about `part_bytes` long and starting at the
    beginning of a line, that together cover the file (one range for an empty file). Reads one line per range."""
    path = Path(path)
    total = path.stat().st_size
    bounds = [0]
    with open(path, "rb") as f:
        pos = part_bytes
        while pos < total:
            f.seek(pos - 1)
            f.readline()  # to the end of the line holding byte pos - 1: the next range starts on a line of its own
            if f.tell() >= total:
                break
            bounds.append(f.tell())
            pos = f.tell() + part_bytes
    return list(zip(bounds, bounds[1:] + [total]))


def range_lines(path: str | os.PathLike, start: int, end: int) -> int:
    """The number of lines in bytes [start, end) of a text file (a last line without its newline counts)."""
    with open(path, "rb") as f:
        f.seek(start)
        raw = f.read(end - start)
    return raw.count(b"\n") + (bool(raw) and not raw.endswith(b"\n"))


def stream_jsonl_range(path: str | os.PathLike, start: int, end: int, *, batch_rows: int = BATCH_ROWS,
                       skip_bad_lines: bool = False) -> Iterator[Rows]:
    """The rows of bytes [start, end) of an uncompressed JSONL file (a range of `jsonl_ranges`), as `stream_rows`
    reads a whole file but with lines numbered from 1 at `start`, and no error for a range with no rows."""
    return _jsonl(Path(path), batch_rows, skip_bad_lines, _lines(Path(path), start, end), need_rows=False)


def _jsonl(path: Path, batch_rows: int, skip_bad_lines: bool = False,
           lines: Iterator[tuple[int, str]] | None = None, need_rows: bool = True) -> Iterator[Rows]:
    rows: list[dict[str, Any]] = []
    locs: list[int] = []
    bad: list[dict[str, Any]] = []
    source = str(path)
    any_rows = False
    fields: list[str | None] = []  # the field each bad line's error names (a repeated key), beside `bad`
    for lineno, line in _lines(path) if lines is None else lines:
        if not line.strip():
            continue
        try:
            rows.append(parse_jsonl_line(line, source, lineno))
        except DataError as e:
            if not skip_bad_lines:
                raise
            bad.append({"line": lineno, "field": None, "reason": e.reason})
            fields.append(e.field)
            continue
        locs.append(lineno)
        if len(rows) >= batch_rows:
            yield Rows(rows, locs, source, "line", {"bad_lines": bad, "bad_fields": fields})
            any_rows = True
            rows, locs, bad, fields = [], [], [], []
    if rows or bad:
        yield Rows(rows, locs, source, "line", {"bad_lines": bad, "bad_fields": fields})
    elif not any_rows and need_rows:
        raise DataError("no rows found; expected at least one", path=source)


def _csv(path: Path, delimiter: str, batch_rows: int) -> Iterator[Rows]:
    source = str(path)
    reader = csv.reader((line for _, line in _lines(path)), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("file is empty (no header row)", path=source) from None
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise DataError(f"duplicate column name '{h}' in the header", path=source, line=1, field=h)
        seen.add(h)
    rows: list[dict[str, Any]] = []
    locs: list[int] = []
    total = 0
    try:
        for values in reader:
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise DataError(f"expected {len(header)} columns ({', '.join(header)}), got {len(values)}",
                                path=source, line=reader.line_num)
            rows.append(dict(zip(header, values)))
            locs.append(reader.line_num)
            if len(rows) >= batch_rows:
                total += len(rows)
                yield Rows(rows, locs, source, "line")
                rows, locs = [], []
    except csv.Error as e:
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise DataError(f"malformed {kind}: {e}", path=source, line=reader.line_num) from None
    if rows:
        total += len(rows)
        yield Rows(rows, locs, source, "line")
    if not total:
        raise DataError("no rows found; expected at least one", path=source)


def _arrow_batches(batches, source: str, batch_rows: int) -> Iterator[Rows]:
    """Rows from pyarrow record batches, re-cut to `batch_rows`, numbered from 1 over the whole source."""
    n = 0
    for batch in batches:
        for start in range(0, batch.num_rows, batch_rows):
            rows = batch.slice(start, batch_rows).to_pylist()
            yield Rows(rows, list(range(n + 1, n + len(rows) + 1)), source, "row")
            n += len(rows)
    if not n:
        raise DataError("no rows found; expected at least one", path=source)


def _parquet(path: Path, batch_rows: int) -> Iterator[Rows]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError("pyarrow", "data", "reading Parquet files") from None
    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises many types for corrupt files
        raise DataError(f"cannot read Parquet: {e}", path=path) from None
    yield from _arrow_batches(pf.iter_batches(batch_size=batch_rows), str(path), batch_rows)


def _saved_dataset(folder: Path, split: str | None, batch_rows: int) -> Iterator[Rows] | None:
    """Batches of a `datasets.save_to_disk` folder read straight from its Arrow files; None when `folder` is not
    one (a DatasetDict folder names its splits in dataset_dict.json)."""
    if (folder / "dataset_dict.json").is_file():
        splits = json.loads((folder / "dataset_dict.json").read_text()).get("splits", [])
        if split is None:
            if len(splits) != 1:
                raise DataError(f"dataset has splits {splits}; choose one with split=...", path=folder)
            split = splits[0]
        if split not in splits:
            raise DataError(f"no split '{split}'; available: {splits}", path=folder)
        folder = folder / split
    state = folder / "state.json"
    if not state.is_file():
        return None
    try:
        import pyarrow as pa
    except ImportError:
        raise MissingDependencyError("pyarrow", "data", "reading datasets saved with save_to_disk") from None
    files = [folder / f["filename"] for f in json.loads(state.read_text()).get("_data_files", [])]

    def batches():
        for f in files:
            with pa.memory_map(str(f)) as source:
                yield from pa.ipc.open_stream(source)

    return _arrow_batches(batches(), str(folder), batch_rows)


def stream_rows(source: Any, *, split: str | None = None, batch_rows: int = BATCH_ROWS,
                skip_bad_lines: bool = False) -> Iterator[Rows]:
    """Yield the rows of `source` in batches of at most `batch_rows` (see the module docstring).

    `source` is anything `read_rows` reads. Each batch's `locations` count lines (or rows) over the whole source.
    With `skip_bad_lines`, a JSONL line that is not one JSON object (invalid or too deeply nested JSON, a repeated
    key, an array) is left out and named in its batch's `meta["bad_lines"]` (`{"line", "field", "reason"}`) instead
    of ending the read, `meta["bad_fields"]` holding the field each one's error names (or None); a batch may then
    hold only bad lines. Other formats and faults raise as before.
    """
    if batch_rows < 1:
        raise DataError(f"batch_rows must be at least 1, got {batch_rows!r}")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            saved = _saved_dataset(path, split, batch_rows)
            if saved is not None:
                return saved
        elif path.is_file():
            suffix = file_suffix(path)
            if suffix in (".jsonl", ".jsonl.gz"):
                return _jsonl(path, batch_rows, skip_bad_lines)
            if suffix in (".csv", ".csv.gz", ".tsv", ".tsv.gz"):
                return _csv(path, "\t" if suffix.startswith(".tsv") else ",", batch_rows)
            if suffix == ".parquet":
                return _parquet(path, batch_rows)
    return _batches_of(read_rows(source, split=split), batch_rows)


def _arrow_table(pa, rows: list[dict[str, Any]]):
    """An Arrow table of `rows` with a column for every key of any row (`from_pylist` reads the first row's)."""
    keys = dict.fromkeys(k for r in rows for k in r)
    return pa.Table.from_pydict({k: [r.get(k) for r in rows] for k in keys})


@dataclass
class EncodedRows:
    """Rows as `RowWriter` appends them: one JSON line each, their number and their keys in order of first
    appearance. Encoding is the costly part of writing; another process can do it and hand the result over."""

    text: str = ""
    rows: int = 0
    columns: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> EncodedRows:
        return cls("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), len(rows),
                   list(dict.fromkeys(k for r in rows for k in r)))


class RowWriter:
    """Rows appended in batches to `path` (format from its suffix, as `write_rows`), made visible only by `close()`.

    Use as a context manager: leaving the block normally closes (renames into place), leaving it by an exception
    aborts (removes the temporary file). `rows` counts the rows written so far.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.suffix = file_suffix(self.path)
        if self.suffix not in (".jsonl", ".jsonl.gz", ".json", ".csv", ".tsv", ".parquet"):
            raise DataError(f"cannot write '{self.suffix}'; use .jsonl, .jsonl.gz, .json, .csv, .tsv or .parquet",
                            path=self.path)
        self.rows = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.close(fd)
        self._tmp = Path(tmp)
        # JSONL goes straight to the temporary file; other formats spill to a JSONL beside it first.
        self._spill = self._tmp if self.suffix in (".jsonl", ".jsonl.gz") else Path(tmp + ".jsonl")
        raw = gzip.open(self._spill, "wb", compresslevel=6) if self.suffix == ".jsonl.gz" else open(self._spill, "wb")  # noqa: SIM115
        self._out: IO[str] | None = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        self._columns: dict[str, None] = {}

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Append `rows` (JSON-serialisable dicts)."""
        self.write_encoded(EncodedRows.of(rows))

    def write_encoded(self, encoded: EncodedRows) -> None:
        """Append rows encoded elsewhere (`EncodedRows.of`): what `write` of those rows would append."""
        if self._out is None:
            raise DataError("writer is closed", path=self.path)
        self._out.write(encoded.text)
        if self.suffix in (".csv", ".tsv"):
            for k in encoded.columns:
                if k not in self._columns:
                    self._columns[k] = None
        self.rows += encoded.rows

    def _spilled(self, batch_rows: int = BATCH_ROWS) -> Iterator[list[dict[str, Any]]]:
        batch: list[dict[str, Any]] = []
        with open(self._spill, encoding="utf-8") as f:
            for line in f:
                batch.append(json.loads(line))
                if len(batch) >= batch_rows:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _convert(self) -> None:
        """Turn the spilled JSONL into the target format at the temporary path."""
        if self.suffix == ".json":
            with open(self._tmp, "w", encoding="utf-8") as out:
                out.write("[")
                first = True
                for batch in self._spilled():
                    for r in batch:
                        out.write(("\n " if first else ",\n ") + json.dumps(r, ensure_ascii=False))
                        first = False
                out.write("\n]\n")
        elif self.suffix in (".csv", ".tsv"):
            with open(self._tmp, "w", encoding="utf-8", newline="") as out:
                delimiter = "\t" if self.suffix == ".tsv" else ","
                w = csv.DictWriter(out, fieldnames=list(self._columns), delimiter=delimiter)
                w.writeheader()
                for batch in self._spilled():
                    for r in batch:
                        w.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()})
        elif self.suffix == ".parquet":
            try:
                import pyarrow as pa
                import pyarrow.parquet as pq
            except ImportError:
                raise MissingDependencyError("pyarrow", "data", "writing Parquet files") from None
            # Two passes over the spill: one schema for all batches (types widened where batches differ), then write.
            schemas = [_arrow_table(pa, b).schema for b in self._spilled()]
            schema = pa.unify_schemas(schemas, promote_options="permissive") if schemas else pa.schema([])
            with pq.ParquetWriter(self._tmp, schema) as out:
                for b in self._spilled():
                    out.write_table(pa.Table.from_pylist(b, schema=schema))

    def close(self) -> None:
        """Finish the file and rename it into place (atomic: readers see the old file or the whole new one)."""
        if self._out is None:
            return
        self._out.close()
        self._out = None
        try:
            if self._spill != self._tmp:
                self._convert()
                self._spill.unlink(missing_ok=True)
            os.chmod(self._tmp, 0o666 & ~current_umask())
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        """Drop what was written; `path` is left as it was."""
        if self._out is not None:
            self._out.close()
            self._out = None
        self._tmp.unlink(missing_ok=True)
        self._spill.unlink(missing_ok=True)

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

