"""PPO with the step-wise API (generate / step / train) that TRL removed; see `trainer.py`.

`PPOConfig` imports without torch (the CLI builds its flags from it); `PPOTrainer` is loaded on first use.
"""

from .hyperparams import PPOConfig

__all__ = ["PPOConfig", "PPOTrainer", "TrainingDiverged"]


def __getattr__(name: str):
    if name in ("PPOTrainer", "TrainingDiverged"):
        from . import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'sentinel.train.ppo' has no attribute '{name}'")
