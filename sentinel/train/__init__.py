"""Training: one module per method (sft, reward, dpo, ppo, task fine-tuning).

    from sentinel.train import sft, SFTConfig
    result = sft(SFTConfig(model="base", train_file="sft.jsonl", output_dir="out/sft"))
    result.output_dir, result.metrics["loss"]

Every stage writes the same folder layout (see `sentinel.train.base`). Heavy libraries load on first use.
"""

from .base import TrainConfig, TrainResult, read_metrics
from .sft import SFTConfig, sft

__all__ = ["SFTConfig", "TrainConfig", "TrainResult", "read_metrics", "sft"]
