"""sentinel.data: real files (subsets in tests/data), every converter, and every bad-input case."""

from __future__ import annotations

import gzip
import json

import pytest

from sentinel.data import convert, load, load_instructions, load_preferences, read_rows, validate
from sentinel.errors import DataError


def write(path, text, mode="w"):
    with open(path, mode, encoding=None if "b" in mode else "utf-8") as f:
        f.write(text)
    return path


# ------------------------------------------------------------------ real data
def test_hh_pairs_split_into_prompt_and_final_replies(test_data):
    data = load_preferences(test_data / "preference" / "helpful-base-test.jsonl.gz", skip_invalid=True)
    assert data.format == "hh" and data.rows_read == 800
    assert len(data.examples) + len(data.skipped) == 800  # nothing dropped silently
    for pair in data.examples[:200]:
        assert pair["prompt"][-1]["role"] == "user"  # the prompt ends with the last Human turn
        assert pair["chosen"].strip() and pair["rejected"].strip()
        assert "Human:" not in pair["chosen"] and "\n\nAssistant:" not in pair["chosen"]
    with gzip.open(test_data / "preference" / "helpful-base-test.jsonl.gz", "rt") as f:
        first = json.loads(f.readline())
    assert first["chosen"].endswith(data.examples[0]["chosen"])
    assert data.examples[0]["prompt"][-1]["content"] in first["chosen"]


def test_hh_strict_load_names_the_bad_line(test_data):
    with pytest.raises(DataError) as e:
        load_preferences(test_data / "preference" / "helpful-base-test.jsonl.gz")
    assert "line 121" in str(e.value) and "'rejected'" in str(e.value) and "empty reply" in str(e.value)


@pytest.mark.parametrize("name", ["harmless-base-test.jsonl.gz", "helpful-base-test.jsonl.gz",
                                  "helpful-online-test.jsonl.gz", "helpful-rejection-sampled-test.jsonl.gz"])
def test_every_hh_split_validates_and_converts(test_data, tmp_path, name):
    src = test_data / "preference" / name
    summary = validate(src)
    assert summary["format"] == "hh" and summary["examples"] + len(summary["problems"]) == summary["rows_read"]
    out = tmp_path / "pairs.jsonl"
    s = convert(src, "preference", str(out), skip_invalid=True)
    rows = read_rows(out).rows
    assert len(rows) == s["written"] == summary["examples"]
    assert all(set(r) == {"prompt", "chosen", "rejected"} and r["chosen"] != r["rejected"] for r in rows)
    # round trip: hh -> preference_chat -> reload gives the same pairs
    chat = tmp_path / "chat.jsonl"
    convert(out, "preference_chat", str(chat))
    again = load_preferences(chat)
    assert [p["chosen"] for p in again.examples] == [r["chosen"] for r in rows]


def test_alpaca_sample_converts_to_messages(test_data, tmp_path):
    src = test_data / "instruction" / "alpaca_sample.json"
    data = load_instructions(src, skip_invalid=True)
    assert data.format == "alpaca" and data.rows_read == 20
    assert len(data.skipped) == 3 and all(s["field"] == "output" for s in data.skipped)
    raw = json.loads(src.read_text())
    with_input = next(i for i, r in enumerate(raw) if r["input"].strip() and r["output"].strip())
    ex = data.examples[with_input]
    assert ex["messages"][0]["content"] == raw[with_input]["instruction"] + "\n\n" + raw[with_input]["input"]
    assert ex["messages"][1] == {"role": "assistant", "content": raw[with_input]["output"]}
    out = tmp_path / "pc.jsonl"
    convert(src, "prompt_completion", str(out), skip_invalid=True)
    assert read_rows(out).rows[0] == {"prompt": raw[0]["instruction"], "completion": raw[0]["output"]}


def test_alpaca_seed_tasks_expand_instances(test_data):
    data = load_instructions(test_data / "instruction" / "seed_tasks.jsonl")
    assert data.format == "alpaca_seed"
    raw = [json.loads(line) for line in (test_data / "instruction" / "seed_tasks.jsonl").read_text().splitlines()]
    assert len(data.examples) == sum(len(r["instances"]) for r in raw)


def test_oasst_trees_flatten_to_root_to_leaf_conversations(test_data, tmp_path):
    src = test_data / "instruction" / "oasst-en_100_message.jsonl"
    data = load_instructions(src)
    assert data.format == "oasst_tree" and data.rows_read == 15
    assert len(data.examples) > 15  # trees branch
    for ex in data.examples:
        roles = [m["role"] for m in ex["messages"]]
        assert roles[0] == "user" and roles[-1] == "assistant"
        assert all(a != b for a, b in zip(roles, roles[1:]))  # turns alternate
    out = tmp_path / "sharegpt.json"
    convert(src, "sharegpt", str(out))
    back = load_instructions(out)
    assert back.format == "sharegpt" and back.examples == data.examples


def test_csv_tsv_parquet_and_dataset_folder(tmp_path):
    rows = [{"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."},
            {"prompt": "2+2?", "chosen": "4", "rejected": "5"}]
    for suffix in (".csv", ".tsv", ".parquet", ".jsonl.gz", ".json"):
        from sentinel.data import write_rows

        p = tmp_path / f"d{suffix}"
        write_rows(rows, p)
        assert load_preferences(p).examples[1]["chosen"] == "4"
    import datasets

    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    assert len(load_preferences(tmp_path / "ds")) == 2
    assert len(load_preferences(datasets.Dataset.from_list(rows))) == 2


# ------------------------------------------------------------------ bad input
def test_read_json_names_the_file_and_line_of_bad_documents(tmp_path):
    from sentinel.data import read_json
    from sentinel.lab import Lab

    good = tmp_path / "good.json"
    good.write_text('{"a": [1, 2]}', encoding="utf-8")
    assert read_json(good) == {"a": [1, 2]}
    bad = tmp_path / "lab.json"
    bad.write_text('{\n  "a": 1,\n  "b": \n}', encoding="utf-8")
    with pytest.raises(DataError, match="invalid JSON") as e:
        read_json(bad)
    assert e.value.path == str(bad) and e.value.line == 4
    with pytest.raises(DataError, match="invalid JSON") as e:  # the same error through a caller
        Lab.open(tmp_path)
    assert e.value.line == 4
    (tmp_path / "latin.json").write_bytes('{"a": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_json(tmp_path / "latin.json")


def test_empty_file(tmp_path):
    with pytest.raises(DataError, match="empty"):
        read_rows(write(tmp_path / "e.jsonl", "\n\n"))


def test_wrong_encoding_names_line(tmp_path):
    p = write(tmp_path / "latin.jsonl", b'{"prompt": "a", "chosen": "b", "rejected": "c"}\n' +
              '{"prompt": "caf\xe9", "chosen": "b", "rejected": "c"}\n'.encode("latin-1"), "wb")
    with pytest.raises(DataError) as e:
        read_rows(p)
    assert "line 2" in str(e.value) and "UTF-8" in str(e.value)


def test_truncated_gzip(tmp_path):
    good = gzip.compress(b'{"text": "hello"}\n' * 2000)
    p = write(tmp_path / "t.jsonl.gz", good[: len(good) // 2], "wb")
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        read_rows(p)


def test_duplicate_keys_named(tmp_path):
    p = write(tmp_path / "d.jsonl", '{"prompt": "a", "chosen": "b", "rejected": "c"}\n'
                                    '{"prompt": "a", "chosen": "b", "chosen": "x", "rejected": "c"}\n')
    with pytest.raises(DataError) as e:
        read_rows(p)
    assert "line 2" in str(e.value) and "'chosen'" in str(e.value) and "duplicate key" in str(e.value)


def test_chosen_equals_rejected(tmp_path):
    p = write(tmp_path / "s.jsonl", '{"prompt": "a", "chosen": "b", "rejected": "c"}\n'
                                    '{"prompt": "a", "chosen": "same", "rejected": "same"}\n')
    with pytest.raises(DataError) as e:
        load_preferences(p)
    assert "line 2" in str(e.value) and "'rejected'" in str(e.value) and "identical" in str(e.value)


def test_malformed_json_line_and_wrong_type(tmp_path):
    p = write(tmp_path / "m.jsonl", '{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": "a", "chosen": \n')
    with pytest.raises(DataError, match="line 2.*invalid JSON"):
        read_rows(p)
    p = write(tmp_path / "t.jsonl", '{"instruction": "a", "input": "", "output": "b"}\n'
                                    '{"instruction": "a", "input": "", "output": 5}\n')
    with pytest.raises(DataError) as e:
        load_instructions(p)
    assert "line 2" in str(e.value) and "'output'" in str(e.value) and "expected a string" in str(e.value)


def test_missing_field_and_csv_column_count(tmp_path):
    p = write(tmp_path / "c.csv", "prompt,chosen,rejected\na,b,c\nd,e\n")
    with pytest.raises(DataError, match="line 3.*expected 3 columns"):
        read_rows(p)
    p = write(tmp_path / "mf.jsonl", '{"instruction": "a", "output": "b"}\n{"instruction": "a", "outputs": "b"}\n')
    with pytest.raises(DataError) as e:
        load_instructions(p)
    assert "line 2" in str(e.value)


def test_skip_invalid_counts_and_nothing_silent(tmp_path):
    p = write(tmp_path / "mix.jsonl", '{"prompt": "a", "chosen": "b", "rejected": "c"}\n'
                                      '{"prompt": "a", "chosen": "", "rejected": "c"}\n'
                                      '{"prompt": "x", "chosen": "y", "rejected": "z"}\n')
    data = load_preferences(p, skip_invalid=True)
    assert len(data) == 2 and data.skipped == [{"line": 2, "field": "chosen", "reason": "empty string; expected text"}]
    rejects = tmp_path / "rejects.jsonl"
    s = convert(p, "hh", str(tmp_path / "o.jsonl"), skip_invalid=True, rejects=str(rejects))
    assert s["rows_skipped"] == 1 and read_rows(rejects).rows[0]["line"] == 2


def test_all_rows_invalid_fails_before_anything(tmp_path):
    p = write(tmp_path / "bad.jsonl", '{"prompt": "a", "chosen": "b", "rejected": "b"}\n')
    with pytest.raises(DataError, match="no usable rows"):
        load(p, skip_invalid=True)


def test_wrong_kind_and_unknown_format(tmp_path):
    p = write(tmp_path / "i.jsonl", '{"instruction": "a", "input": "", "output": "b"}\n')
    with pytest.raises(DataError, match="expected preference data"):
        load_preferences(p)
    p = write(tmp_path / "u.jsonl", '{"foo": 1}\n')
    with pytest.raises(DataError, match="line 1.*unrecognised row"):
        load(p)
    with pytest.raises(DataError, match="unknown file type"):
        read_rows(write(tmp_path / "x.xml", "<a/>"))


def test_multi_turn_cannot_become_alpaca(tmp_path, test_data):
    with pytest.raises(DataError, match="single-turn"):
        convert(test_data / "instruction" / "oasst-en_100_message.jsonl", "alpaca", str(tmp_path / "a.jsonl"))
    assert not (tmp_path / "a.jsonl").exists()  # no half-written output


def test_skip_invalid_names_lines_that_are_not_json_and_reads_on(tmp_path):
    p = write(tmp_path / "dirty.jsonl", '{not json\n{"prompt": "a", "chosen": "b", "rejected": "c"}\n[1, 2]\n'
                                        '{"prompt": "x", "chosen": "y", "rejected": "z"}\n')
    with pytest.raises(DataError, match="line 1.*invalid JSON"):
        load_preferences(p)
    data = load_preferences(p, skip_invalid=True)
    assert len(data) == 2 and [s["line"] for s in data.skipped] == [1, 3]
    assert "invalid JSON" in data.skipped[0]["reason"] and "JSON object" in data.skipped[1]["reason"]
    summary = validate(p)
    assert summary["rows_read"] == 4 and summary["examples"] == 2 and len(summary["problems"]) == 2
    with pytest.raises(DataError, match="no usable rows.*invalid JSON"):
        load(write(tmp_path / "junk.jsonl", "{not json\n[1]\n"), skip_invalid=True)
