"""DPO in the lab: on gold-consistent preferences it learns the labels; compare scores it with the gold grader."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinel.train import DPOConfig, SFTConfig, dpo, read_metrics, sft

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab_policy(request, lab_dir_clean, tmp_path_factory):
    """The lab's SFT policy: the shared `lab_sft` fixture when the lab area provides one, else trained here."""
    try:
        return request.getfixturevalue("lab_sft")
    except pytest.FixtureLookupError:
        out = tmp_path_factory.mktemp("lab_train") / "sft"
        sft(SFTConfig(model=str(lab_dir_clean / "base"), train_file=str(lab_dir_clean / "data" / "sft.jsonl"),
                      output_dir=str(out), max_steps=300, learning_rate=3e-3, per_device_train_batch_size=32,
                      warmup_ratio=0.05, logging_steps=50, save_steps=10_000, quiet=True))
        return out


@pytest.fixture(scope="module")
def lab_dpo(lab_policy, lab_dir_clean, tmp_path_factory):
    out = tmp_path_factory.mktemp("lab_dpo") / "dpo"
    res = dpo(DPOConfig(model=str(lab_policy), train_file=str(lab_dir_clean / "data" / "preferences.jsonl"),
                        output_dir=str(out), max_rows=320, num_train_epochs=4, learning_rate=2e-4, beta=0.1,
                        max_length=128, per_device_train_batch_size=16, logging_steps=5, save_steps=10_000,
                        quiet=True))
    return res


def test_dpo_learns_lab_preferences(lab_dpo):
    rows = [r for r in read_metrics(lab_dpo.metrics_file) if "rewards/accuracies" in r]
    last_epoch = [r for r in rows if r["epoch"] > 3]  # each logged value averages 5 steps of 16 pairs
    assert sum(r["rewards/accuracies"] for r in last_epoch) / len(last_epoch) > 0.8
    assert rows[-1]["rewards/margins"] > rows[1]["rewards/margins"] > 0


def test_compare_with_the_lab_gold_grader(lab_dpo, lab_policy, lab_dir_clean, tmp_path):
    """`sentinel compare --gold lab` on the DPO policy and its SFT start: gold rewards, win rate, KL and lengths.

    Not asserted (yet): that DPO beats its SFT start on gold reward. At these settings it does not
    (greedy, 128 eval prompts: mean gold 0.141 for DPO vs 0.203 for SFT); see the README.
    """
    from sentinel.cli.main import main
    from sentinel.report import Report

    code = main(["compare", str(lab_policy), str(lab_dpo.output_dir), "--prompts",
                 str(lab_dir_clean / "data" / "eval.jsonl"), "--gold", "lab", "--max-prompts", "32",
                 "--out", str(tmp_path / "rep")])
    assert code == 0
    report = Report.load(tmp_path / "rep")
    m = report.metrics
    base = m["baseline"]
    assert m["prompts"] == 32 and base == Path(lab_policy).name
    for label in (base, "dpo"):
        assert -1.0 <= m[f"{label}/mean_reward"] <= 1.0  # gold grades are -1 (wrong), 0 (no answer), 1 (right)
        assert m[f"{label}/mean_length"] > 0
    assert m[f"{base}/kl"] == pytest.approx(0.0, abs=1e-4)
    assert m["dpo/kl"] > 0  # DPO moved the policy away from its start
    assert report.findings[0] == "compare.dpo" and 0.0 <= m["dpo/win_rate"] <= 1.0
