"""Training: one module per method (sft, reward, dpo, ppo, task fine-tuning)."""
