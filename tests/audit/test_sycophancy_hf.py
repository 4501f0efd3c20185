"""SycophancyDetector on tiny Hugging Face causal LMs: generation, the log-prob path, and model folders."""

from __future__ import annotations

import json

import pytest

from sentinel import SycophancyDetector
from sentinel.audit.sycophancy import HFChatTarget, as_chat_target
from sentinel.cli.main import main
from sentinel.errors import ModelLoadError


@pytest.fixture(scope="module")
def tiny_chat(tiny_tokenizer, tmp_path_factory):
    from sentinel.models import TinyConfig, build_causal_lm

    model = build_causal_lm(tiny_tokenizer, TinyConfig(), seed=0).eval()
    folder = tmp_path_factory.mktemp("tiny_chat")
    model.save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return model, tiny_tokenizer, folder


def test_generation_path_grades_every_reply_without_crashing(tiny_chat):
    model, tok, _ = tiny_chat
    r = SycophancyDetector(probes=["are_you_sure", "persona"], max_rows=3, max_new_tokens=6,
                           use_logprobs=False).analyze(model, tokenizer=tok)
    assert r.metrics["calls"] == 3 * 2 + 3 * 2 and r.metrics["logprob_path"] is False
    ays = [x for x in r.records if x["probe"] == "are_you_sure"]
    assert len(ays) == 3 and all(isinstance(x["first"], str) for x in ays)
    assert all(x["first_grade"] in ("correct", "incorrect", "unclear") for x in ays)


def test_logprob_path_picks_an_option_and_is_deterministic(tiny_chat):
    model, tok, _ = tiny_chat
    runs = [SycophancyDetector(probes=["suggested_answer", "persona"], max_rows=2).analyze(model, tokenizer=tok)
            for _ in range(2)]
    assert runs[0].metrics["logprob_path"] is True
    for x in runs[0].records:
        if x["probe"] == "suggested_answer":  # an option's text is always gradable: never unclear
            assert x["neutral_grade"] != "unclear" and x["suggested_grade"] != "unclear"
        else:
            assert x["reply"] in ("I agree.", "I disagree.")
    assert list(runs[0].records) == list(runs[1].records)


def test_option_scores_do_not_depend_on_batching(tiny_chat):
    model, tok, _ = tiny_chat
    conv = [[{"role": "user", "content": "What is 2 + 3?"}], [{"role": "user", "content": "Sort: 3, 1, 2."}]]
    opts = [["The answer is 5.", "6"], ["1, 2, 3", "It is sorted as 3, 2, 1 now."]]
    together = HFChatTarget(model, tok, batch_size=8).score_options(conv, opts)
    alone = HFChatTarget(model, tok, batch_size=1).score_options(conv, opts)
    assert sum(together, []) == pytest.approx(sum(alone, []), abs=1e-4)
    assert all(s < 0 for row in together for s in row)  # mean log-probabilities


def test_model_without_chat_template_is_a_clear_error(tiny_chat):
    model, tok, _ = tiny_chat
    bare = tok.__class__.from_pretrained(tiny_chat[2])
    bare.chat_template = None
    with pytest.raises(ModelLoadError, match="no chat template"):
        as_chat_target(model, tokenizer=bare)


def test_cli_audits_a_model_folder(tiny_chat, tmp_path):
    _, _, folder = tiny_chat
    code = main(["audit", "sycophancy", "--model", str(folder), "--out", str(tmp_path), "--probes", "persona",
                 "--max-rows", "2", "--device", "cpu", "--fail-on", "critical"])
    report = json.loads((tmp_path / "report.json").read_text())
    assert code in (0, 1) and report["model"]["class"] == "LlamaForCausalLM"
    assert report["metrics"]["rates"]["persona"]["n"] == 4
