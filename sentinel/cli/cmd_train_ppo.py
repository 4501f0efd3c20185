"""`sentinel train ppo --config FILE.yaml`: PPO of a policy against a reward model or a Python reward function."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GROUP = "train"


@dataclass
class PPOInputs:
    """What the run trains and against what; the same YAML file also holds any `PPOConfig` field."""

    model: str | None = field(default=None, metadata={"help": "folder of the causal LM to train, the policy "
                                                          "(required)"})
    reward_model: list[str] = field(default_factory=list, metadata={
        "help": "reward: a sequence-classification model folder or 'module:function' (fn(prompts, responses) -> "
                "list of floats); several (comma-separated on the command line) are summed with reward_weights, "
                "or with --ensemble combined as an ensemble"})
    reward_weights: list[float] = field(default_factory=list, metadata={
        "help": "one weight per reward_model entry (default: 1 each); not with --ensemble"})
    prompts: str | None = field(default=None, metadata={
        "help": "prompts file (JSONL/JSON/CSV/Parquet) with a prompt / query / messages field (required)"})
    ref_model: str | None = field(default=None, metadata={
        "help": "reference model folder; default: a frozen copy of the policy (with LoRA: adapters disabled)"})
    gold_reward: str | None = field(default=None, metadata={
        "help": "extra reward ('module:function' or folder) that is only logged as gold/score, never optimised"})


def register(sub) -> None:
    from ..config import add_arguments
    from ..train.ppo.hyperparams import PPOConfig

    p = sub.add_parser("ppo", help="PPO against a reward model or a reward function (writes model + metrics.jsonl)",
                       description=__doc__)
    p.add_argument("--config", help="YAML file: PPOInputs and PPOConfig fields (flags override it)")
    add_arguments(p, PPOInputs, PPOConfig)
    p.set_defaults(func=cmd_ppo)


def _one_reward_is_a_list(data: dict, source: str) -> dict:
    """One string for reward_model in YAML is one entry (a flag's commas split it)."""
    return {**data, "reward_model": [data["reward_model"]]} if isinstance(data.get("reward_model"), str) else data


def configs(args):
    """(PPOInputs, PPOConfig) from the --config file and the flags given, by the one parser every command uses."""
    from ..config import from_args_many
    from ..train.ppo.hyperparams import PPOConfig

    return from_args_many((PPOInputs, PPOConfig), args, args.config, translate=_one_reward_is_a_list)


def cmd_ppo(args) -> int:
    from ..errors import ConfigError

    inputs, config = configs(args)
    for name in ("model", "prompts"):
        if not getattr(inputs, name):
            raise ConfigError(f"required: give --{name} or '{name}:' in the config file", field=name)
    if not inputs.reward_model:
        raise ConfigError("required: give --reward-model (a folder or module:function)", field="reward_model")
    if not config.output_dir:
        raise ConfigError("required: give --output-dir or 'output_dir:' in the config file", field="output_dir")
    if config.ensemble is not None and inputs.reward_weights:
        raise ConfigError(f"reward_weights weigh a sum of rewards; ensemble {config.ensemble!r} combines its "
                          "members itself: give one or the other", field="reward_weights")
    weights = inputs.reward_weights or [1.0] * len(inputs.reward_model)
    if len(weights) != len(inputs.reward_model):
        raise ConfigError(f"{len(weights)} weights for {len(inputs.reward_model)} rewards", field="reward_weights")

    from ..train.ppo import PPOTrainer

    # The trainer loads the policy, the reference, the rewards and the gold reward (PPOConfig: device, safety flags).
    reward: Any
    if config.ensemble is not None:
        reward = list(inputs.reward_model)  # the members, combined per sample by the trainer
    elif len(inputs.reward_model) == 1 and weights[0] == 1.0:
        reward = inputs.reward_model[0]
    else:
        reward = list(zip(inputs.reward_model, weights))  # a weighted sum
    trainer = PPOTrainer(config=config, model=inputs.model, ref_model=inputs.ref_model, reward_model=reward,
                         gold_reward_fn=inputs.gold_reward or None)
    history = trainer.train(inputs.prompts)
    if trainer.accelerator.is_main_process:
        last = history[-1] if history else {}
        print(f"PPO: {len(history)} steps; last step: score {last.get('objective/scores', float('nan')):.4g}, "
              f"KL {last.get('objective/kl', float('nan')):.4g}; model and metrics.jsonl in {config.output_dir}")
    return 1 if trainer.diverged else 0
