"""Controls that never mislead: fluent, length-matched in words, characters and tokens.

A reward that depends only on length (in any unit) must be reported as `verbosity` alone; a reward with no bias that
dislikes ungrammatical text must be reported for nothing; a reward that loves flattery is still caught.
"""

from __future__ import annotations

import random
import re

import pytest
import rm_biases as B

from sentinel import RewardModelAuditor
from sentinel.audit.cases import BUILTIN_CASES
from sentinel.audit.probes import PROBES
from sentinel.phrases import EVERYDAY_NOUNS, NEUTRAL_SENTENCES, NEUTRAL_WORDS

SEEDS = range(4)
FUNCTION_WORDS = set("the a an is are was were of to in on and or for it that this with as at by be from".split())


def _flagged(fn, seed, **kw):
    return sorted(v.id for v in RewardModelAuditor(seed=seed).analyze(fn, **kw).vulnerabilities)


@pytest.mark.parametrize("unit", ["words", "characters"])
@pytest.mark.parametrize("seed", SEEDS)
def test_length_only_rewards_are_verbosity_alone(unit, seed):
    measure = {"words": lambda r: 0.05 * len(r.split()), "characters": lambda r: 0.01 * len(r)}[unit]
    assert _flagged(lambda p, rs: [measure(r) for r in rs], seed) == ["verbosity"]


@pytest.mark.parametrize("seed", SEEDS)
def test_length_in_tokens_is_verbosity_alone(seed, tiny_tokenizer):
    def n_tokens(r):
        return len(tiny_tokenizer(r, add_special_tokens=False)["input_ids"])

    result = RewardModelAuditor(seed=seed).analyze(lambda p, rs: [0.02 * n_tokens(r) for r in rs],
                                                   tokenizer=tiny_tokenizer)
    assert sorted(v.id for v in result.vulnerabilities) == ["verbosity"]
    assert "tokens" in result.metrics["control"]


@pytest.mark.parametrize("seed", SEEDS)
def test_correct_plus_characters_is_verbosity_not_keyword(seed):
    """The issue's case: 'correct + 0.01 x len(reply)' on short factual pairs was also called keyword-sensitive."""
    fn = lambda p, rs: [B.correct(a, r) + 0.01 * len(r) for a, r in zip(p, rs)]  # noqa: E731
    assert _flagged(fn, seed) == ["verbosity"]


def grammar_only(prompts, responses):
    """No bias: 1 for the right answer, minus 1 for a reply of more than six words with almost no function words."""
    out = []
    for p, r in zip(prompts, responses):
        words = re.findall(r"[a-z']+", r.lower())
        salad = len(r.split()) > 6 and sum(w in FUNCTION_WORDS for w in words) < 0.15 * len(words)
        out.append(B.correct(p, r) - float(salad))
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_a_reward_that_dislikes_word_salad_but_has_no_bias_is_flagged_for_nothing(seed):
    assert _flagged(grammar_only, seed) == []
    # ... and the controls are not word salad to it: no control is penalised where its transformation is not.
    result = RewardModelAuditor(seed=seed).analyze(grammar_only)
    for s in result.probes.values():
        for e in s["evidence"]:
            assert e["control_score"] >= e["transformed_score"] - 1e-9 or e["transformed_score"] - 1 <= 1e-9


@pytest.mark.parametrize("seed", SEEDS)
def test_no_length_dependence_is_never_verbosity(seed):
    for name in ("keyword", "sycophancy", "evasive", "polite_wrapper"):
        assert "verbosity" not in _flagged(B.PLANTED[name], seed), name
    assert _flagged(B.clean, seed) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_a_reward_that_loves_flattery_is_still_caught(seed):
    assert _flagged(B.PLANTED["sycophancy"], seed) == ["sycophancy"]


def test_controls_are_fluent_sentences_from_the_bank_and_named_in_the_report():
    probe = PROBES.get("keyword")()
    for v in probe.variants():
        p = probe.perturb("The capital of Australia is Canberra.", random.Random(0), variant=v)
        added = p.control.replace("The capital of Australia is Canberra.", "").strip()
        # Whole sentences: framing sentences ("That is all.") or one-noun asides ("Morning."), never a word shuffle.
        for sentence in re.findall(r"[^.]+\.", added):
            sentence = sentence.strip()
            assert sentence in NEUTRAL_SENTENCES or sentence[:-1].lower() in NEUTRAL_WORDS + EVERYDAY_NOUNS, p
        assert abs(len(p.control) - len(p.text)) <= 3 and len(p.control.split()) == len(p.text.split())
    # No colon anywhere in the bank (a colon opener is a master key) and no probe phrase in it.
    assert not any(":" in s for s in NEUTRAL_SENTENCES)
    result = RewardModelAuditor(probes=["sycophancy"]).analyze(B.PLANTED["sycophancy"])
    assert "fluent neutral sentences" in result.metrics["control"]
    assert "fluent neutral sentences" in result.vulnerabilities[0].description


def test_polite_wrapper_wraps_the_worse_reply_and_says_so():
    result = RewardModelAuditor(probes=["polite_wrapper"]).analyze(B.PLANTED["polite_wrapper"])
    f = result.vulnerabilities[0]
    assert f.description.startswith("Rewards worse (rejected) replies more when wrapped in polite")
    wrong = {c.rejected for c in BUILTIN_CASES}
    assert f.evidence and all(e["role"] == "rejected" and e["original"] in wrong for e in f.evidence)
    # Titles state the measured effect with its size: "...: +0.7 reward [95% CI ...]".
    assert re.search(r"phrases: \+\d", f.description)
    # Prompt/response rows have no worse reply: the probe measures nothing and says so, and raises nothing.
    single = RewardModelAuditor(probes=["polite_wrapper", "keyword"]).analyze(
        B.PLANTED["polite_wrapper"], [{"prompt": c.prompt, "response": c.chosen} for c in BUILTIN_CASES])
    assert single.probes["polite_wrapper"]["n"] == 0 and "not measured" in single.probes["polite_wrapper"][
        "flip_rate_reason"]
    assert "polite_wrapper" not in [v.id for v in single.vulnerabilities]


def test_too_few_cases_is_inconclusive_not_clean():
    """Ten pairs leave five to confirm on: no probe can reach significance, so the audit says so."""
    cases = [{"prompt": c.prompt, "chosen": c.chosen, "rejected": c.rejected} for c in BUILTIN_CASES[:10]]
    result = RewardModelAuditor().analyze(B.PLANTED["keyword"], cases)
    assert result.vulnerabilities == [] and [f.id for f in result.findings] == ["inconclusive"]
    assert "only 5 of 10 cases" in result.findings[0].description and result.exit_code("medium") == 1
    s = result.probes["keyword"]
    assert s["flip_rate"] is None and s["flip_rate_reason"].startswith("inconclusive")
    # Enough cases: the same reward is flagged, with a flip rate.
    full = RewardModelAuditor().analyze(B.PLANTED["keyword"])
    assert [v.id for v in full.vulnerabilities] == ["keyword"] and full.probes["keyword"]["flip_rate"] is not None
