"""Domain adaptation (`sentinel train domain`): documents from files, folders and tables with bad ones named, the split
by document, packing, perplexity against a reference computation, the run's before/after figures, resume and the CLI."""

from __future__ import annotations

import gzip
import json
import math

import pytest
import torch

from sentinel.data.documents import read_documents, split_documents
from sentinel.errors import ConfigError, DataError
from sentinel.models import TinyConfig, build_causal_lm, train_tokenizer
from sentinel.models.perplexity import perplexity, windows
from sentinel.train.domain import DomainConfig, domain, token_blocks


@pytest.fixture(scope="module")
def medquad(test_data):
    with gzip.open(test_data / "domain" / "medquad-niddk-12.jsonl.gz", "rt") as f:
        rows = [json.loads(x) for x in f]
    assert len(rows) == 12
    return rows


@pytest.fixture(scope="module")
def med_tok(medquad):
    return train_tokenizer([r["text"] for r in medquad], vocab_size=600)


def tiny(tok, seed=0):
    torch.manual_seed(seed)
    return build_causal_lm(tok, TinyConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1))


@pytest.fixture
def med_folder(medquad, tmp_path):
    root = tmp_path / "med"
    for i, r in enumerate(medquad):
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
    (root / "b" / "notes.log").write_text("not a document")
    return root


# ------------------------------------------------------------------------------------------------- documents
def test_folder_is_read_recursively_with_include_and_exclude(med_folder):
    docs = read_documents(med_folder)
    assert len(docs.documents) == 12 and all(d.source.endswith(".txt") for d in docs.documents)
    assert [d.source for d in docs.documents] == sorted(d.source for d in docs.documents)
    assert len(read_documents(med_folder, exclude=["a/*"]).documents) == 6
    assert len(read_documents(med_folder, include=["*.log"]).documents) == 1
    with pytest.raises(DataError, match=r"no file matches \*\.pdf"):
        read_documents(med_folder, include=["*.pdf"])


def test_bad_files_and_rows_are_named(med_folder, tmp_path):
    (med_folder / "a" / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (med_folder / "b" / "empty.md").write_text("  \n")
    with pytest.raises(DataError, match="latin1.txt.*not valid UTF-8"):
        read_documents(med_folder)
    docs = read_documents(med_folder, skip_invalid=True)
    assert len(docs.documents) == 12
    assert {k.rsplit("/", 1)[-1] for k in docs.skipped} == {"latin1.txt", "empty.md"}
    assert "empty" in docs.skipped[str(med_folder / "b" / "empty.md")]
    table = tmp_path / "t.jsonl"
    table.write_text('{"text": "one"}\n{"body": "two"}\n')
    with pytest.raises(DataError, match=r"t.jsonl, line 2, field 'text'.*no 'text' field.*body"):
        read_documents(table)
    assert [d.text for d in read_documents(table, text_field="body", skip_invalid=True).documents] == ["two"]
    with pytest.raises(DataError, match="not found"):
        read_documents(tmp_path / "missing.txt")


def test_one_file_cut_at_a_separator(tmp_path):
    f = tmp_path / "book.txt"
    f.write_text("first part\n===\nsecond part\n===\n\n")
    docs = read_documents(f, separator="===")
    assert [d.text for d in docs.documents] == ["first part", "second part"]
    assert docs.documents[1].source.endswith("book.txt part 2")


def test_split_is_by_document_and_seeded(medquad):
    docs = read_documents([r["text"] for r in medquad]).documents
    train, held = split_documents(docs, 0.25, seed=3)
    assert len(held) == 3 and len(train) == 9
    assert not {d.text for d in held} & {d.text for d in train}
    assert [d.text for d in split_documents(docs, 0.25, seed=3)[1]] == [d.text for d in held]
    assert [d.text for d in split_documents(docs, 0.25, seed=4)[1]] != [d.text for d in held]
    with pytest.raises(DataError, match="leaves none"):
        split_documents(docs[:1], 0.5, seed=0)


# ---------------------------------------------------------------------------------------------------- blocks
def test_packing_joins_documents_with_eos_and_unpacked_blocks_never_span_two(med_tok, medquad):
    texts = [r["text"][:400] for r in medquad[:4]]
    ids = [med_tok(t, add_special_tokens=False)["input_ids"] + [med_tok.eos_token_id] for t in texts]
    packed = token_blocks(texts, med_tok, block_size=64, stride=64, packing=True)
    assert [i for b in packed for i in b] == [i for d in ids for i in d]  # every token once, in order
    assert any(med_tok.eos_token_id in b[:-1] for b in packed)  # some block crosses a document boundary
    alone = token_blocks(texts, med_tok, block_size=64, stride=64, packing=False)
    assert [i for b in alone for i in b] == [i for d in ids for i in d]
    for b in alone:  # EOS only as a block's last token: no block holds the end of one document and the next
        assert med_tok.eos_token_id not in b[:-1]
    overlap = token_blocks(texts, med_tok, block_size=64, stride=32, packing=True)
    assert len(overlap) > len(packed) and overlap[1][:32] == overlap[0][32:]


# ------------------------------------------------------------------------------------------------ perplexity
def test_windows_score_each_token_once():
    for n, block, stride in [(10, 4, 4), (10, 4, 2), (2, 4, 2), (9, 8, 3), (100, 16, 5)]:
        scored = [t for _, e, s in windows(n, block, stride) for t in range(s, e)]
        assert scored == sorted(set(scored)) and all(b <= s - 1 and e - b <= block for b, e, s in
                                                      windows(n, block, stride))
        if stride < block:
            assert scored == list(range(1, n))  # with overlap every token after the first is scored


def test_perplexity_matches_a_reference_computation(med_tok, medquad):
    model = tiny(med_tok).eval()
    short = "Acromegaly is a hormonal disorder."
    ids = med_tok(short, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        ref = math.exp(model(input_ids=ids, labels=ids).loss.item())
    assert perplexity(model, [short], tokenizer=med_tok, block_size=64)["perplexity"] == pytest.approx(ref, rel=1e-4)
    # a long document in overlapping windows: each token's log-prob with exactly its window's earlier tokens
    text = medquad[0]["text"][:1500]
    ids = med_tok(text, add_special_tokens=False)["input_ids"]
    block, stride = 48, 16
    nll, n = 0.0, 0
    with torch.no_grad():
        for b, _, s in windows(len(ids), block, stride):
            for t in range(s, min(b + block, len(ids))):
                logits = model(input_ids=torch.tensor([ids[b:t]])).logits[0, -1]
                nll -= torch.log_softmax(logits, -1)[ids[t]].item()
                n += 1
    got = perplexity(model, [text, short], tokenizer=med_tok, block_size=block, stride=stride, batch_size=3)
    short_ids = med_tok(short, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        lp = torch.log_softmax(model(input_ids=torch.tensor([short_ids])).logits[0, :-1], -1)
        nll -= lp.gather(-1, torch.tensor(short_ids[1:]).unsqueeze(-1)).sum().item()
    n += len(short_ids) - 1
    assert got["tokens_scored"] == n and got["documents"] == 2
    assert got["perplexity"] == pytest.approx(math.exp(nll / n), rel=1e-4)
    with pytest.raises(ConfigError, match="stride"):
        perplexity(model, [text], tokenizer=med_tok, block_size=16, stride=32)


# ------------------------------------------------------------------------------------------------------ run
def _base(tok, tmp_path):
    folder = tmp_path / "base"
    tiny(tok).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _cfg(base, data, out, **kw):
    return DomainConfig(**{"model": str(base), "train_file": str(data), "output_dir": str(out), "block_size": 64,
                       "learning_rate": 3e-3, "max_steps": 60, "per_device_train_batch_size": 8,
                       "eval_fraction": 0.25, "logging_steps": 10, "save_steps": 1000, "quiet": True, **kw})


def test_lm_run_lowers_held_out_perplexity_and_names_what_it_held_out(med_tok, med_folder, test_data, tmp_path):
    base = _base(med_tok, tmp_path)
    general = test_data / "instruction" / "oasst-en_100_message.jsonl"
    out = tmp_path / "lm"
    result = domain(_cfg(base, med_folder, out, general_eval_file=str(general)))
    m = result.metrics
    assert m["domain_perplexity"] < 0.5 * m["domain_perplexity_before"]  # from a random start: a large fall
    assert "general_perplexity_before" in m and m["general_perplexity_ratio"] > 0
    summary = json.loads((out / "data_summary.json").read_text())
    held = set(summary["held_out"]["sources"])
    assert len(held) == 3 and summary["train"]["train_documents"] == 9
    assert summary["before"]["domain_perplexity_before"] == pytest.approx(m["domain_perplexity_before"])
    logged = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("domain_perplexity" in r for r in logged)
    assert (out / "model.safetensors").is_file() and not (out / "checkpoints").exists()


def test_lm_resumes_after_a_crash_and_refuses_a_block_beyond_the_context(med_tok, med_folder, tmp_path):
    from transformers import TrainerCallback

    base = _base(med_tok, tmp_path)
    out = tmp_path / "resume"

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 15:
                raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated"):
        domain(_cfg(base, med_folder, out, max_steps=20, save_steps=10), callbacks=[Crash()])
    assert not (out / "model.safetensors").exists()
    domain(_cfg(base, med_folder, out, max_steps=20, save_steps=10, resume=True))
    steps = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()
             if "loss" in json.loads(x)]
    assert steps == [1, 10, 20]  # each logged step once (the first step is logged too)
    with pytest.raises(ConfigError, match="context"):
        domain(_cfg(base, med_folder, tmp_path / "big", block_size=100_000))


def test_cli_train_lm_and_eval_perplexity(med_tok, med_folder, tmp_path, capsys):
    from sentinel.cli.main import main

    base = _base(med_tok, tmp_path)
    out = tmp_path / "cli"
    cfg = tmp_path / "lm.yaml"
    cfg.write_text(f"model: {base}\ntrain_file: {med_folder}\noutput_dir: {out}\nblock_size: 64\nmax_steps: 5\n"
                   "per_device_train_batch_size: 8\nquiet: true\n")
    assert main(["train", "domain", "--config", str(cfg), "--learning-rate", "1e-3"]) == 0
    text = capsys.readouterr().out
    assert "domain_perplexity" in text and "12 rows read" in text
    assert main(["eval", "perplexity", str(out), str(med_folder), "--block-size", "64", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    docs = [d.text for d in read_documents(med_folder).documents]
    assert got["perplexity"] == pytest.approx(perplexity(str(out), docs, block_size=64)["perplexity"], rel=1e-6)
    assert main(["train", "domain", "--config", str(cfg), "--stride", "65"]) == 2
    assert "stride" in capsys.readouterr().err
