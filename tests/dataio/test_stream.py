"""Reading rows in batches (JSONL, CSV, Parquet, save_to_disk) and writing them incrementally with an atomic finish."""

from __future__ import annotations

import gzip
import json

import pytest

from sentinel.data import read_rows, write_rows
from sentinel.data.stream import RowWriter, stream_rows
from sentinel.errors import DataError

ROWS = [{"prompt": f"question {i}", "chosen": f"answer {i}", "rejected": "no" * (i % 3)} for i in range(10)]


def _write_sources(tmp_path) -> dict[str, str]:
    paths = {}
    for suffix in (".jsonl", ".jsonl.gz", ".csv", ".tsv", ".parquet", ".json"):
        path = tmp_path / f"rows{suffix}"
        write_rows(ROWS, path)
        paths[suffix] = str(path)
    return paths


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".csv", ".tsv", ".parquet", ".json"])
def test_batches_hold_the_rows_and_locations_read_rows_gives(tmp_path, suffix):
    pytest.importorskip("pyarrow")
    path = _write_sources(tmp_path)[suffix]
    whole = read_rows(path)
    batches = list(stream_rows(path, batch_rows=3))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert [r for b in batches for r in b.rows] == whole.rows
    assert [n for b in batches for n in b.locations] == whole.locations
    assert {b.unit for b in batches} == {whole.unit}


def test_a_save_to_disk_folder_is_read_from_its_arrow_files(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "ds"))
    datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS[:4])}).save_to_disk(str(tmp_path / "dd"))
    assert [r for b in stream_rows(tmp_path / "ds", batch_rows=4) for r in b.rows] == ROWS
    assert [r for b in stream_rows(tmp_path / "dd", batch_rows=4) for r in b.rows] == ROWS[:4]
    with pytest.raises(DataError, match="no split 'test'"):
        list(stream_rows(tmp_path / "dd", split="test"))


def test_a_bad_line_is_named_when_its_batch_is_read(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS[:5]) + "{not json\n")
    batches = stream_rows(path, batch_rows=2)
    assert len(next(batches)) == 2  # the first batches arrive before the bad line is reached
    with pytest.raises(DataError) as err:
        list(batches)
    assert err.value.line == 6 and "invalid JSON" in str(err.value)
    (tmp_path / "latin.jsonl.gz").write_bytes(gzip.compress(b'{"text": "ok"}\n{"text": "caf\xe9"}\n'))
    with pytest.raises(DataError, match="not valid UTF-8") as err:
        list(stream_rows(tmp_path / "latin.jsonl.gz"))
    assert err.value.line == 2
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(DataError, match="no rows"):
        list(stream_rows(tmp_path / "empty.jsonl"))
    # nested past the parser's recursion limit, a repeated key, a value that is no object: named as read_rows names them
    for n, line in enumerate(['{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", '{"a": 1, "a": 2}', "[1, 2]"]):
        (tmp_path / f"odd{n}.jsonl").write_text('{"text": "ok"}\n' + line + "\n")
        with pytest.raises(DataError) as err:
            list(stream_rows(tmp_path / f"odd{n}.jsonl"))
        assert err.value.line == 2, err.value


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".csv", ".tsv", ".parquet", ".json"])
def test_row_writer_writes_what_write_rows_writes(tmp_path, suffix):
    pytest.importorskip("pyarrow")
    # Batches whose rows differ in their fields: the CSV header and the Parquet schema cover all of them.
    batches = [ROWS[:3], [{**r, "sentinel_scan": {"flagged_by": ["x"], "findings": [{"id": "x", "score": 0.5}]}}
                          for r in ROWS[3:5]], ROWS[5:]]
    with RowWriter(tmp_path / f"out{suffix}") as w:
        for b in batches:
            w.write(b)
    assert w.rows == len(ROWS)
    got = read_rows(tmp_path / f"out{suffix}").rows
    flat = [r for b in batches for r in b]
    if suffix == ".parquet":  # one schema for all rows: a field missing from a row reads back as None
        got = [{k: v for k, v in r.items() if v is not None} for r in got]
    if suffix in (".csv", ".tsv"):  # CSV has no types: nested values are JSON text, missing ones empty
        got = [{k: v for k, v in r.items() if v != ""} for r in got]
        flat = [{k: json.dumps(v) if isinstance(v, dict) else v for k, v in r.items() if v != ""} for r in flat]
    assert got == flat
    assert [p.name for p in tmp_path.iterdir()] == [f"out{suffix}"]  # no temporary file left


def test_an_error_midway_leaves_no_output_and_keeps_an_older_file(tmp_path):
    out = tmp_path / "kept.jsonl"
    out.write_text('{"old": 1}\n')
    with pytest.raises(RuntimeError), RowWriter(out) as w:
        w.write(ROWS[:5])
        raise RuntimeError("the scan failed half-way")
    assert out.read_text() == '{"old": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["kept.jsonl"]
    with pytest.raises(DataError, match="cannot write '.txt'"):
        RowWriter(tmp_path / "out.txt")
