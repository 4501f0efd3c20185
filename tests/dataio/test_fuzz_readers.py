"""Generated hostile input for every reader: JSONL, JSON, CSV, TSV, gzip, Parquet, chat messages, preference pairs,
documents and YAML configs. Whatever the bytes, a reader returns rows or raises one of the project's own errors
(`SentinelError`); it never crashes with another exception nor hangs.

`make test` runs a fixed, small number of examples per target (the `fixed` Hypothesis profile in
tests/conftest.py); `make fuzz` runs many more (the `fuzz` profile)."""

from __future__ import annotations

import contextlib
import gzip
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sentinel.errors import SentinelError

pytestmark = pytest.mark.fuzz
FILES = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# The field names the format detectors look for, so generated rows reach the converters and not only the detector.
KEYS = ["prompt", "chosen", "rejected", "completion", "messages", "conversations", "role", "content", "from",
        "value", "instruction", "input", "output", "text", "response", "margin", "message_tree_id", "replies",
        "score_chosen", "system", "id"]
ROLES = ["user", "assistant", "system", "human", "gpt", "tool", "prompter", ""]
# control, zero-width and right-to-left characters, lone surrogates, and the rest of Unicode
ODD = st.sampled_from(["\x00", "\x1b", "\u200b", "\u200f", "\u202e", "\u2066", "\ufeff", "\ud800", "\U0010ffff"])
TEXT = st.lists(st.one_of(st.characters(), ODD, st.sampled_from(["\n", "\r", "\t", '"', ",", "\\"])),
                max_size=30).map("".join)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT, st.sampled_from(ROLES))
messages = st.lists(st.fixed_dictionaries({}, optional={"role": st.sampled_from(ROLES) | scalars,
                                                        "content": scalars, "from": st.sampled_from(ROLES),
                                                        "value": scalars}), max_size=4)
values = st.recursive(st.one_of(scalars, messages), lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS) | TEXT, inner, max_size=3), max_leaves=8)
rows = st.lists(st.dictionaries(st.sampled_from(KEYS), values, min_size=1, max_size=5), min_size=1, max_size=5)


def _reads(path, kind=None) -> None:
    """Read `path` as rows and convert them (as `kind` data, or whatever the rows look like)."""
    from sentinel.data import load, read_rows

    try:
        read_rows(path)
        load(path, kind=kind, skip_invalid=kind is None)
    except SentinelError:
        pass


def _json_text(rs) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rs)


@FILES
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".json", ".csv", ".tsv", ".jsonl.gz",
                                                              ".parquet"]))
def test_any_bytes_in_any_format(tmp_path, data, suffix):
    path = tmp_path / f"data{suffix}"
    path.write_bytes(data)
    _reads(path)


@FILES
@given(rs=rows, kind=st.sampled_from([None, "instruction", "preference"]),
       suffix=st.sampled_from([".jsonl", ".json", ".jsonl.gz"]))
def test_generated_chat_and_preference_rows(tmp_path, rs, kind, suffix):
    text = _json_text(rs) if suffix != ".json" else json.dumps(rs)
    path = tmp_path / f"rows{suffix}"
    path.write_bytes(gzip.compress(text.encode("utf-8", "surrogatepass")) if suffix.endswith(".gz")
                     else text.encode("utf-8", "surrogatepass"))
    _reads(path, kind)


@FILES
@given(rs=rows, cut=st.integers(min_value=0, max_value=400), junk=st.binary(max_size=20))
def test_truncated_and_corrupted_jsonl(tmp_path, rs, cut, junk):
    raw = _json_text(rs).encode("utf-8", "surrogatepass")
    path = tmp_path / "cut.jsonl"
    path.write_bytes(raw[:cut] + junk)
    _reads(path)
    gz = tmp_path / "cut.jsonl.gz"
    gz.write_bytes(gzip.compress(raw)[: max(1, cut)])
    _reads(gz)


@FILES
@given(header=st.lists(TEXT, min_size=1, max_size=4), body=st.lists(st.lists(TEXT, max_size=5), max_size=5),
       delimiter=st.sampled_from([",", "\t"]))
def test_generated_csv(tmp_path, header, body, delimiter):
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter)
    for line in [header, *body]:
        writer.writerow(line)
    path = tmp_path / ("t.csv" if delimiter == "," else "t.tsv")
    path.write_bytes(buf.getvalue().encode("utf-8", "surrogatepass"))
    _reads(path)


@FILES
@given(rs=st.lists(st.dictionaries(st.sampled_from(KEYS), st.one_of(st.none(), st.integers(), TEXT,
                                                                   st.lists(TEXT, max_size=2)), max_size=4),
                   min_size=1, max_size=4))
def test_generated_parquet(tmp_path, rs):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    try:
        table = pa.Table.from_pylist([{k: v for k, v in r.items() if not _has_surrogate(v)} for r in rs])
    except (pa.ArrowException, ValueError, TypeError, OverflowError):  # rows pyarrow cannot store: no input
        return
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    _reads(path)


def _has_surrogate(v) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in str(v))


@FILES
@given(files=st.dictionaries(st.text(string.ascii_letters, min_size=1, max_size=5), st.binary(max_size=100),
                             min_size=1, max_size=3), suffix=st.sampled_from([".txt", ".md"]),
       separator=st.sampled_from([None, "\n\n", "---"]))
def test_document_folders_of_any_bytes(tmp_path, files, suffix, separator):
    from sentinel.data.documents import read_documents

    root = tmp_path / "docs"
    root.mkdir(exist_ok=True)
    for old in root.iterdir():
        old.unlink()
    for name, data in files.items():
        (root / f"{name}{suffix}").write_bytes(data)
    for skip in (False, True):
        with contextlib.suppress(SentinelError):
            read_documents(root, separator=separator, skip_invalid=skip)


YAML_BITS = st.sampled_from(["model: m\n", "output_dir: o\n", "train_file: t\n", "&a ", "*a", "<<: *a\n",
                             "[", "]", "{", "}", ": ", "- ", "\n  ", "!!python/object:os.system ", "'", '"',
                             "learning_rate: ", "1e-3", "max_steps: ", "-1", "lora_target_modules: ",
                             "trainer_args: ", "? ", "%YAML 1.2\n", "---\n", "\t", "~", "\ufeff"])


@FILES
@given(parts=st.lists(st.one_of(YAML_BITS, TEXT), max_size=25))
def test_yaml_configs(tmp_path, parts):
    from sentinel.config import from_dict, load_yaml
    from sentinel.train import SFTConfig

    path = tmp_path / "c.yaml"
    path.write_bytes("".join(parts).encode("utf-8", "surrogatepass"))
    with contextlib.suppress(SentinelError):
        from_dict(SFTConfig, load_yaml(path))


@pytest.mark.parametrize("text", ["? \n", "1: x\n", "true: x\n"], ids=["empty-key", "number-key", "bool-key"])
def test_a_config_key_that_is_not_text_is_a_config_error(tmp_path, text):
    """Found by test_yaml_configs: `? ` alone is the mapping {None: None}, whose key has no `.replace`."""
    from sentinel.config import from_dict, load_yaml
    from sentinel.errors import ConfigError
    from sentinel.train import SFTConfig

    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="field name must be text"):
        from_dict(SFTConfig, load_yaml(path))


@pytest.mark.parametrize("text", [
    # the "billion laughs": nine levels of ten aliases each expand to 10^9 strings
    "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)),
    "trainer_args: &a {k: [*a]}\n",  # a value that contains itself
    "trainer_args: " + "[" * 20000 + "]" * 20000 + "\n",  # nesting deeper than the parser's recursion
], ids=["alias-bomb", "recursive-alias", "deep-nesting"])
def test_yaml_alias_bombs_and_deep_nesting_are_config_errors(tmp_path, text):
    from sentinel.config import load_yaml
    from sentinel.errors import ConfigError

    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_yaml(path)


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_json_nested_deeper_than_the_parser_is_a_data_error(tmp_path, suffix):
    from sentinel.data import read_rows
    from sentinel.errors import DataError

    path = tmp_path / f"deep{suffix}"
    path.write_text('{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(DataError, match="nested"):
        read_rows(path)
