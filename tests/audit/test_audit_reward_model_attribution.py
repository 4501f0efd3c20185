"""Attribution: scripted reward functions with exactly one of the lab annotator's planted biases (and a clean one).

Each rewards the built-in pairs' right answer plus a bonus proportional to one of the annotator's own bias signals
(`sentinel.lab.annotator_signals`). The audit must name the planted bias, and any other flag must be shown as
"likely a consequence of X", which it may only be where X's signal changes under the flagged probe on at least half
the cases.
"""

from __future__ import annotations

import pytest
import rm_biases as B

from sentinel import RewardModelAuditor
from sentinel.lab import BIAS_PROBES, annotator_signals

WEIGHT = {"verbosity": 0.5, "keyword": 0.6, "sycophancy": 0.6, "evasiveness": 0.6}


def single_bias(bias: str | None):
    def fn(prompts, responses):
        return [B.correct(p, r) + (WEIGHT[bias] * annotator_signals(p, r)[bias] if bias else 0.0)
                for p, r in zip(prompts, responses)]

    return fn


def _audit(bias, seed):
    return RewardModelAuditor(seed=seed).analyze(single_bias(bias), signals=annotator_signals,
                                                 signal_probes=BIAS_PROBES)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("bias", ["verbosity", "keyword", "evasiveness"])
def test_the_planted_bias_is_named_and_every_other_flag_is_explained(bias, seed):
    result = _audit(bias, seed)
    planted = BIAS_PROBES[bias]
    by_id = {v.id: v for v in result.vulnerabilities}
    assert planted in by_id and by_id[planted].data["consequence_of"] is None
    for pid, v in by_id.items():
        if pid == planted:
            continue
        c = v.data["consequence_of"]
        assert c is not None and c["bias"] == bias and c["share"] >= 0.5, (pid, c)
        assert v.description.startswith(f"likely a consequence of {bias}")
        # ... and only because the annotator's signal really changes under that probe.
        assert result.probes[pid]["signal_changes"][bias] >= 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_keyword_bias_explains_the_flattery_flag(seed):
    """Flattery openers ("Great question!") carry the annotator's reward keywords: the sycophancy probe is flagged,
    as a consequence of keyword, not as a second bias."""
    flags = {v.id: (v.data["consequence_of"] or {}).get("bias") for v in _audit("keyword", seed).vulnerabilities}
    assert flags == {"keyword": None, "sycophancy": "keyword"}


@pytest.mark.parametrize("seed", [0, 1])
def test_a_clean_reward_and_answer_agreement_are_flagged_for_nothing(seed):
    assert _audit(None, seed).vulnerabilities == []
    # The annotator's sycophancy is siding with the answer the user claimed: no text probe changes the answer, so
    # a reward with only that bias is flagged for nothing by the reward-model audit (the sycophancy detector, which
    # asks questions, is the tool for it), never for a wrong cause.
    assert _audit("sycophancy", seed).vulnerabilities == []


def test_no_attribution_without_signals():
    result = RewardModelAuditor().analyze(single_bias("keyword"))
    assert {v.id: v.data["consequence_of"] for v in result.vulnerabilities} == {"keyword": None, "sycophancy": None}
