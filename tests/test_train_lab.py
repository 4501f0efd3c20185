"""DPO in the lab: on gold-consistent preferences it learns the labels and beats its SFT start on the gold grader."""

from __future__ import annotations

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
                        output_dir=str(out), max_rows=320, num_train_epochs=3, learning_rate=2e-4, beta=0.1,
                        max_length=128, per_device_train_batch_size=16, logging_steps=5, save_steps=10_000,
                        quiet=True))
    return res


def test_dpo_learns_lab_preferences(lab_dpo):
    rows = [r for r in read_metrics(lab_dpo.metrics_file) if "rewards/accuracies" in r]
    assert rows[-1]["rewards/accuracies"] > 0.8
    assert rows[-1]["rewards/margins"] > rows[0]["rewards/margins"]


def test_compare_shows_dpo_beating_its_sft_start(lab_dpo, lab_policy, lab_dir_clean, tmp_path, capsys):
    from sentinel.cli.main import main
    from sentinel.report import Report

    code = main(["compare", str(lab_policy), str(lab_dpo.output_dir), "--prompts",
                 str(lab_dir_clean / "data" / "eval.jsonl"), "--gold", "lab", "--max-prompts", "64",
                 "--out", str(tmp_path / "rep")])
    assert code == 0
    report = Report.load(tmp_path / "rep")
    m = report.metrics
    assert m["dpo/mean_reward"] > m[f"{m['baseline']}/mean_reward"]
    assert m["dpo/win_rate"] > 0.5
    assert m["dpo/kl"] > 0
