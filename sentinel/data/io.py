"""Reading rows from files and datasets, with the location of every row kept for error messages.

Supported: JSON (a list of objects, or {"data": [...]}), JSONL, JSONL.GZ, CSV, TSV, Parquet, a folder written by
`datasets.save_to_disk`, an in-memory list of dicts or `datasets.Dataset`, and hub names when online.
Nothing is dropped here: a row that cannot be parsed raises `DataError` naming the file and line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError, MissingDependencyError
from ..utils import looks_local, not_found_message

logger = logging.getLogger(__name__)

# what Python's json parser cannot read: arrays or objects nested beyond its recursion limit (about 1,000 levels)
TOO_DEEP = "JSON nested too deeply (arrays or objects inside each other beyond the parser's limit)"


@dataclass
class Rows:
    """Rows of a data source. `locations[i]` is the 1-based line (JSONL, CSV) or row (JSON, Parquet) of `rows[i]`."""

    rows: list[dict[str, Any]]
    locations: list[int]
    source: str
    unit: str = "line"  # "line" or "row": what `locations` counts
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def error(self, i: int, message: str, field: str | None = None) -> DataError:
        """A DataError pointing at row `i`."""
        kw = {self.unit: self.locations[i]}
        return DataError(message, path=self.source, field=field, **kw)


def _no_duplicate_keys(path: str, line: int | None, unit: str):
    def hook(pairs):
        obj = {}
        for k, v in pairs:
            if k in obj:
                raise DataError(
                    f"duplicate key '{k}' in one JSON object (the later value would silently win)",
                    path=path,
                    field=k,
                    **({unit: line} if line is not None else {}),
                )
            obj[k] = v
        return obj

    return hook


def decode_utf8(raw: bytes, path: str) -> str:
    """The text of a file's bytes (UTF-8, a byte-order mark dropped); DataError naming `path`, the line and the byte
    when they are not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start}); expected UTF-8 text. "
            "Re-encode the file, e.g. `iconv -f latin1 -t utf-8`",
            path=path,
            line=line,
        ) from None


def read_file_bytes(path: Path) -> bytes:
    """A file's bytes, decompressed when its name ends in .gz; DataError naming the file when it cannot be read or
    the gzip stream is truncated or corrupt."""
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        if path.name.endswith(".gz"):
            raise DataError(f"truncated or corrupt gzip file ({e}); re-download or re-compress it", path=path) from None
        raise DataError(f"cannot read file: {e}", path=path) from None


def file_suffix(path: Path) -> str:
    """The format suffix of a data file, lower case, with its compression: ".jsonl.gz", ".csv", ".parquet"; for any
    other name, its last suffix (".txt", ".md")."""
    name = path.name.lower()
    for suf in (".jsonl.gz", ".json.gz", ".csv.gz", ".tsv.gz", ".jsonl", ".json", ".csv", ".tsv", ".parquet"):
        if name.endswith(suf):
            return suf
    return path.suffix.lower()


def parse_jsonl_line(line: str, path: str, lineno: int) -> dict[str, Any]:
    """One JSONL line as a dict; DataError naming the file and line for invalid or too deeply nested JSON, a
    repeated key, or a value that is not an object."""
    try:
        obj = json.loads(line, object_pairs_hook=_no_duplicate_keys(path, lineno, "line"))
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON ({e.msg} at column {e.colno})", path=path, line=lineno) from None
    except RecursionError:
        raise DataError(TOO_DEEP, path=path, line=lineno) from None
    if not isinstance(obj, dict):
        raise DataError(f"expected a JSON object per line, got {type(obj).__name__}", path=path, line=lineno)
    return obj


def _read_jsonl(text: str, path: str) -> Rows:
    rows, locs = [], []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            rows.append(parse_jsonl_line(line, path, lineno))
            locs.append(lineno)
    return Rows(rows, locs, path, "line")


def _read_json(text: str, path: str) -> Rows:
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys(path, None, "line"))
    except json.JSONDecodeError as e:
        # A JSON file with one object per line is JSONL with the wrong extension: say so.
        if e.msg == "Extra data" and text.lstrip().startswith("{"):
            logger.info("%s holds one JSON object per line; reading it as JSONL", path)
            return _read_jsonl(text, path)
        raise DataError(f"invalid JSON ({e.msg} at column {e.colno})", path=path, line=e.lineno) from None
    except RecursionError:
        raise DataError(TOO_DEEP, path=path) from None
    if isinstance(obj, dict):
        for key in ("data", "rows", "examples", "train"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
        else:
            obj = [obj]
    if not isinstance(obj, list):
        raise DataError(f"expected a list of objects at the top level, got {type(obj).__name__}", path=path)
    for i, r in enumerate(obj, start=1):
        if not isinstance(r, dict):
            raise DataError(f"expected a JSON object, got {type(r).__name__}", path=path, row=i)
    return Rows(obj, list(range(1, len(obj) + 1)), path, "row")


def _read_csv(text: str, path: str, delimiter: str) -> Rows:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("file is empty (no header row)", path=path) from None
    seen = set()
    for h in header:
        if h in seen:
            raise DataError(f"duplicate column name '{h}' in the header", path=path, line=1, field=h)
        seen.add(h)
    rows, locs = [], []
    try:
        for values in reader:
            if not values or all(not v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise DataError(
                    f"expected {len(header)} columns ({', '.join(header)}), got {len(values)}",
                    path=path,
                    line=reader.line_num,
                )
            rows.append(dict(zip(header, values)))
            locs.append(reader.line_num)
    except csv.Error as e:
        raise DataError(f"malformed {('TSV' if delimiter == chr(9) else 'CSV')}: {e}", path=path,
                        line=reader.line_num) from None
    return Rows(rows, locs, path, "line")


def _read_parquet(path: Path) -> Rows:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise MissingDependencyError("pyarrow", "data", "reading Parquet files") from None
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises many types for corrupt files
        raise DataError(f"cannot read Parquet: {e}", path=path) from None
    return Rows(rows, list(range(1, len(rows) + 1)), str(path), "row")


def _read_hf(source: str, split: str | None) -> Rows:
    try:
        import datasets
    except ImportError:
        raise MissingDependencyError("datasets", "train", "reading Hugging Face datasets") from None
    p = Path(source)
    if p.is_dir():
        try:
            ds = datasets.load_from_disk(str(p))
        except Exception as e:
            raise DataError(f"not a folder written by datasets.save_to_disk: {e}", path=p) from None
    else:
        if looks_local(source):
            raise DataError(not_found_message(source))
        if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1":
            raise DataError(
                "no such file, and the hub is offline (HF_HUB_OFFLINE=1); give a local file or folder", path=source
            )
        try:
            ds = datasets.load_dataset(source, split=split)
        except Exception as e:
            raise DataError(f"cannot load hub dataset: {e}", path=source) from None
    if isinstance(ds, datasets.DatasetDict):
        if split is None:
            if len(ds) != 1:
                raise DataError(f"dataset has splits {list(ds)}; choose one with split=...", path=source)
            split = next(iter(ds))
        if split not in ds:
            raise DataError(f"no split '{split}'; available: {list(ds)}", path=source)
        ds = ds[split]
    rows = ds.to_list()
    return Rows(rows, list(range(1, len(rows) + 1)), str(source), "row")


def read_json(path: str | os.PathLike) -> Any:
    """One JSON document from a file (a lab's lab.json, a report, a SQuAD file, a trainer_state.json); a DataError
    names the file and line when the text is not UTF-8 or not valid JSON. What the document must contain is the
    caller's check."""
    p = Path(path)
    text = decode_utf8(p.read_bytes(), str(p))
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON ({e.msg} at column {e.colno})", path=p, line=e.lineno) from None
    except RecursionError:
        raise DataError(TOO_DEEP, path=p) from None


def read_rows(source: Any, *, split: str | None = None) -> Rows:
    """Read every row of `source`: a path (file or `save_to_disk` folder), a hub name, a list of dicts, or a Dataset.

    Raises DataError for an empty or unreadable source, naming the file and line.
    """
    if isinstance(source, Rows):
        return source
    if isinstance(source, (list, tuple)):
        for i, r in enumerate(source, start=1):
            if not isinstance(r, dict):
                raise DataError(f"expected a dict, got {type(r).__name__}", path="<list>", row=i)
        return Rows(list(source), list(range(1, len(source) + 1)), "<list>", "row")
    if hasattr(source, "to_list") and hasattr(source, "column_names"):  # datasets.Dataset
        rows = source.to_list()
        return Rows(rows, list(range(1, len(rows) + 1)), "<Dataset>", "row")
    if not isinstance(source, (str, os.PathLike)):
        raise DataError(f"cannot read data from a {type(source).__name__}; give a path, a list of dicts or a Dataset")
    path = Path(source)
    if path.is_dir() or not path.exists():
        return _read_hf(str(source), split)
    suffix = file_suffix(path)
    if suffix == ".parquet":
        result = _read_parquet(path)
    else:
        raw = read_file_bytes(path)
        if not raw.strip():
            raise DataError("file is empty; expected at least one row", path=path)
        text = decode_utf8(raw, str(path))
        if suffix in (".jsonl", ".jsonl.gz"):
            result = _read_jsonl(text, str(path))
        elif suffix in (".json", ".json.gz"):
            result = _read_json(text, str(path))
        elif suffix in (".csv", ".csv.gz"):
            result = _read_csv(text, str(path), ",")
        elif suffix in (".tsv", ".tsv.gz"):
            result = _read_csv(text, str(path), "\t")
        else:
            raise DataError(
                f"unknown file type '{suffix}'; expected .json, .jsonl, .jsonl.gz, .csv, .tsv or .parquet", path=path
            )
    if not result.rows:
        raise DataError("no rows found; expected at least one", path=path)
    return result


def write_rows(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write rows as JSONL (optionally .gz), .json, .csv/.tsv or .parquet, atomically. Returns the row count."""
    from ..utils import atomic_write_text

    path = Path(path)
    rows = list(rows)
    suffix = file_suffix(path)
    if suffix in (".jsonl", ".jsonl.gz"):
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    elif suffix == ".json":
        text = json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    elif suffix in (".csv", ".tsv"):
        buf = io.StringIO()
        cols = list(dict.fromkeys(k for r in rows for k in r))
        w = csv.DictWriter(buf, fieldnames=cols, delimiter="\t" if suffix == ".tsv" else ",")
        w.writeheader()
        for r in rows:
            w.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()})
        text = buf.getvalue()
    elif suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), tmp)
        os.replace(tmp, path)
        return len(rows)
    else:
        raise DataError(f"cannot write '{suffix}'; use .jsonl, .jsonl.gz, .json, .csv, .tsv or .parquet", path=path)
    if suffix.endswith(".gz"):
        tmp = path.with_name(f".{path.name}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    else:
        atomic_write_text(path, text)
    return len(rows)
