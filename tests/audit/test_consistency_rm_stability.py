"""Reward-model consistency: planted batch dependence, non-determinism, edit sensitivity and intransitivity are
found; a consistent reward raises nothing; a real tiny reward model is checked for padding side too."""

from __future__ import annotations

import json
import random

import pytest

from sentinel import RLHFConsistencyChecker
from sentinel.errors import DataError


def _ids(report):
    return {f.id: f for f in report.findings}


def word_count_reward(prompts, responses):
    return [0.1 * len(r.split()) for r in responses]


def test_consistent_reward_raises_nothing():
    report = RLHFConsistencyChecker().check_reward_model(word_count_reward)
    assert report.findings == []
    assert report.metrics["checks"]["padding-side"].startswith("not computable")
    assert report.metrics["triples"] == 6


def test_batch_dependent_reward_is_caught():
    def centred(prompts, responses):  # subtracts the batch mean: scores depend on what else is in the batch
        v = [len(r) for r in responses]
        return [x - sum(v) / len(v) for x in v]

    found = _ids(RLHFConsistencyChecker().check_reward_model(centred))
    assert "batch-dependence" in found and found["batch-dependence"].severity.value == "high"
    assert "order-dependence" not in found  # the batch mean does not depend on order


def test_nondeterministic_and_order_dependent_rewards_are_caught():
    rng = random.Random(0)
    noisy = _ids(RLHFConsistencyChecker().check_reward_model(
        lambda p, r: [len(x) + rng.gauss(0, 0.1) for x in r]))
    assert "nondeterministic" in noisy

    def positional(prompts, responses):  # a scorer that leaks position into the score
        return [len(r) + 0.01 * i for i, r in enumerate(responses)]

    assert "order-dependence" in _ids(RLHFConsistencyChecker().check_reward_model(positional))


def test_neutral_edit_sensitivity_is_caught():
    def whitespace_lover(prompts, responses):
        return [0.1 * len(r.split()) + (1.0 if r.endswith(" ") else 0.0) for r in responses]

    report = RLHFConsistencyChecker().check_reward_model(whitespace_lover)
    found = _ids(report)
    assert set(found) == {"neutral-edit-trailing-space"}
    assert report.metrics["edit/trailing-newline"]["max_abs_shift_sd"] == 0.0


def test_intransitive_pairwise_judge_is_caught():
    beats = {"rock": "scissors", "scissors": "paper", "paper": "rock"}

    def judge(prompts, responses):  # scores each reply by whether it beats the others in the call
        return [sum(1.0 for o in responses if beats[r] == o) for r in responses]

    cases = [{"prompt": "Pick one.", "responses": ["rock", "paper", "scissors"]}]
    found = _ids(RLHFConsistencyChecker().check_reward_model(judge, cases))
    assert found["intransitive"].data == {} and "1 of 1 triples" in found["intransitive"].description


def test_test_cases_from_preference_pairs_and_bad_cases(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Q{i % 2}?", "chosen": f"Answer {i} is good.", "rejected": "No."})
                            + "\n" for i in range(4)))
    report = RLHFConsistencyChecker().check_reward_model(word_count_reward, path)
    # pairs sharing a prompt are grouped: Q0 -> [Answer 0, No., Answer 2], Q1 likewise
    assert (report.metrics["prompts"], report.metrics["texts"], report.metrics["triples"]) == (2, 6, 2)
    with pytest.raises(DataError, match="row 1, field 'responses'"):
        RLHFConsistencyChecker().check_reward_model(word_count_reward, [{"prompt": "x", "responses": "y"}])


@pytest.fixture
def one_torch_thread():
    """Tiny models make many small forward passes; on a busy 2-core machine, torch's thread pool makes each one
    ~70x slower (measured: 360 ms vs 5 ms per call). One thread for this test, restored afterwards."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.mark.slow
def test_tiny_reward_model_folder_and_cli(tmp_path, tiny_tokenizer, one_torch_thread):
    from sentinel.cli import main
    from sentinel.models import build_reward_model

    folder = tmp_path / "rm"
    build_reward_model(tiny_tokenizer).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    report = RLHFConsistencyChecker().check_reward_model(str(folder))
    checks = report.metrics["checks"]
    for name in ("nondeterministic", "batch-dependence", "order-dependence", "padding-side", "intransitive"):
        assert checks[name] in ("ok", "alarm")  # computed, not skipped, for a tokenised model
    assert checks["nondeterministic"] == "ok" and checks["intransitive"] == "ok"
    code = main(["audit", "stability", "--reward-model", str(folder), "--out", str(tmp_path / "rep"),
                 "--fail-on", "critical"])
    assert code == 0 and (tmp_path / "rep" / "report.json").is_file()
