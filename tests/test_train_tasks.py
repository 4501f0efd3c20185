"""Task fine-tuning: readers, metrics (hand-computed values), bad input, and short real runs on MiniLM."""

from __future__ import annotations

import json

import pytest

from sentinel.errors import ConfigError, DataError
from sentinel.train.tasks.data import (
    bio_label_list,
    read_classification,
    read_conll,
    read_squad,
    split_by_group,
    split_rows,
)
from sentinel.train.tasks.metrics import bio_spans, entity_scores, exact_match, normalize_answer, squad_scores, token_f1


# ---------------------------------------------------------------- readers, on the real files


def test_read_sst2(shared_data):
    rows = read_classification(shared_data / "tasks" / "sst2-glue-dev.tsv")
    assert len(rows) == 872
    assert sum(r["label"] == "1" for r in rows) == 444
    assert rows[0]["line"] == 2 and rows[0]["text"].startswith("it 's a charming")


def test_read_wnut(shared_data):
    train = read_conll(shared_data / "tasks" / "wnut17-train.conll")
    dev = read_conll(shared_data / "tasks" / "wnut17-dev.conll")
    assert (len(train), sum(len(s["tokens"]) for s in train)) == (3394, 62730)
    assert (len(dev), sum(len(s["tokens"]) for s in dev)) == (1009, 15733)
    assert train[0]["tokens"][14:17] == ["Empire", "State", "Building"]
    assert train[0]["tags"][14:17] == ["B-location", "I-location", "I-location"]
    labels = bio_label_list(train)
    assert labels[0] == "O" and len(labels) == 13 and "I-creative-work" in labels


def test_read_xquad_and_split_by_article(shared_data):
    qs = read_squad(shared_data / "tasks" / "xquad.en.json")
    assert len(qs) == 1190 and len({q["title"] for q in qs}) == 48
    train, held = split_by_group(qs, "title", 0.2, seed=0)
    assert len(train) + len(held) == 1190
    assert not {q["title"] for q in train} & {q["title"] for q in held}
    assert split_by_group(qs, "title", 0.2, seed=0)[1] == held  # deterministic


def test_split_rows_is_deterministic_and_complete():
    rows = list(range(100))
    a_train, a_eval = split_rows(rows, 0.25, seed=3)
    assert split_rows(rows, 0.25, seed=3) == (a_train, a_eval)
    assert len(a_eval) == 25 and sorted(a_train + a_eval) == rows
    assert split_rows(rows, 0.25, seed=4)[1] != a_eval


# ---------------------------------------------------------------- bad input


def test_malformed_conll_line_is_named(tmp_path):
    f = tmp_path / "bad.conll"
    f.write_text("Hello\tO\nParis\tB-location\n\nno-tag-here\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_conll(f)
    assert e.value.line == 4 and "bad.conll" in str(e.value) and "2 fields" in str(e.value)


def test_bad_bio_tag_is_named(tmp_path):
    f = tmp_path / "bad.conll"
    f.write_text("Hello\tO\nParis\tLOC\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_conll(f)
    assert (e.value.line, e.value.field) == (2, "tag") and "'LOC'" in str(e.value)


def test_unknown_classification_label_is_named(tmp_path):
    f = tmp_path / "bad.tsv"
    f.write_text("sentence\tlabel\ngood film\t1\nbad film\t0\nmeh\tmaybe\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_classification(f, labels=["0", "1"])
    assert (e.value.line, e.value.field) == (4, "label") and "'maybe'" in str(e.value)
    with pytest.raises(DataError) as e:
        read_classification(f, text_field="text")
    assert e.value.field == "text" and "missing column" in str(e.value)


def test_squad_answer_not_in_context_is_named(tmp_path):
    doc = {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "Paris is in France.", "qas": [
        {"id": "q1", "question": "Where?", "answers": [{"text": "France", "answer_start": 3}]}]}]}]}
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_squad(f)
    assert e.value.field == "data[0].paragraphs[0].qas[0].answers[0].answer_start"
    doc["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 12
    f.write_text(json.dumps(doc), encoding="utf-8")
    assert read_squad(f)[0]["answers"] == {"text": ["France"], "answer_start": [12]}


# ---------------------------------------------------------------- metrics against hand-computed values


def test_bio_spans_conlleval_rules():
    assert bio_spans(["B-PER", "I-PER", "O", "B-LOC"]) == {("PER", 0, 2), ("LOC", 3, 4)}
    # a stray I- starts an entity; a type change ends one; B- after B- splits
    assert bio_spans(["O", "I-ORG", "I-ORG", "I-LOC"]) == {("ORG", 1, 3), ("LOC", 3, 4)}
    assert bio_spans(["B-X", "B-X", "I-X"]) == {("X", 0, 1), ("X", 1, 3)}
    assert bio_spans(["O", "O"]) == set()


def test_entity_f1_hand_computed():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "B-LOC"]]
    # gold: PER(0,2), LOC(3,4), ORG(0,1) = 3; pred: PER(0,2), ORG(0,1), LOC(1,2) = 3; correct: 2
    s = entity_scores(gold, pred)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)
    # a boundary error is a miss, not half a hit
    s = entity_scores([["B-PER", "I-PER"]], [["B-PER", "O"]])
    assert (s["precision"], s["recall"], s["f1"]) == (0.0, 0.0, 0.0)


def test_squad_em_f1_hand_computed():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert exact_match("the eiffel tower", ["Eiffel Tower."]) == 1.0
    assert exact_match("tower", ["Eiffel Tower"]) == 0.0
    # pred "eiffel tower in paris" (4 tokens) vs gold "eiffel tower" (2): P=2/4, R=1, F1=2/3
    assert token_f1("Eiffel Tower in Paris", ["Eiffel Tower"]) == pytest.approx(2 / 3)
    # best over several gold answers
    assert token_f1("in Paris", ["Eiffel Tower", "Paris"]) == pytest.approx(2 * 0.5 * 1 / 1.5)
    s = squad_scores(["Eiffel Tower", "London"], [["the Eiffel Tower"], ["Paris"]])
    assert s == {"exact_match": 0.5, "f1": 0.5}
