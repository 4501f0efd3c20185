"""Training: one module per method (sft, reward, dpo, ppo, online_rl: grpo and rloo, domain: domain adaptation, task
fine-tuning).

    from sentinel.train import sft, SFTConfig
    result = sft(SFTConfig(model="base", train_file="sft.jsonl", output_dir="out/sft"))
    result.output_dir, result.metrics["loss"]

Every stage writes the same folder layout (see `sentinel.train.stage`). Heavy libraries load on first use.
"""

from collections.abc import Callable

from .domain import DomainConfig, domain
from .dpo import DPOConfig, dpo
from .online_rl import GRPOConfig, RLOOConfig, grpo, rloo
from .reward import RewardConfig, pairwise_accuracy, reward
from .sft import SFTConfig, sft
from .stage import TrainConfig, TrainResult, read_metrics

# stage name -> (config class, function); used by `sentinel train STAGE`
STAGES: dict[str, tuple[type[TrainConfig], Callable[..., TrainResult]]] = {
    "sft": (SFTConfig, sft), "reward": (RewardConfig, reward), "dpo": (DPOConfig, dpo),
    "grpo": (GRPOConfig, grpo), "rloo": (RLOOConfig, rloo), "domain": (DomainConfig, domain)}

__all__ = ["DPOConfig", "DomainConfig", "GRPOConfig", "RLOOConfig", "RewardConfig", "SFTConfig", "STAGES",
           "TrainConfig", "TrainResult", "domain", "dpo", "grpo", "pairwise_accuracy", "read_metrics", "reward", "rloo",
           "sft"]
