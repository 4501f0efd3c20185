"""PPO with the step-wise API (generate / step / train) that TRL removed; see `trainer.py`."""

from .config import PPOConfig
from .trainer import PPOTrainer, TrainingDiverged

__all__ = ["PPOConfig", "PPOTrainer", "TrainingDiverged"]
