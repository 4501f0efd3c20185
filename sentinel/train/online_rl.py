"""Online RL on TRL 1.16's GRPOTrainer and RLOOTrainer: a policy samples several replies per prompt, a reward scores
them, and each reply's advantage is its reward against the other replies to the same prompt (GRPO: the group's mean
and std; RLOO: the mean of the others). No value model, unlike our PPO.

Rewards go through the same adapters as PPO (`sentinel.models.as_reward_fn`): a reward-model folder,
`'module:function'`, a callable `fn(prompts, responses) -> list[float]`, or several summed with weights. Each is
passed to TRL as its own reward function, so TRL logs it as `rewards/<name>/mean`. A `gold_reward` is scored and
logged (`rewards/gold/mean`) with weight 0, never optimised, like PPO's `gold_reward_fn`: the proxy (`reward`,
TRL's weighted sum) and the gold signal sit side by side in one `metrics.jsonl`, which is what the training checks
need to see over-optimisation.

The reference model: with `beta` = 0 (GRPO's default in TRL 1.16) there is none and TRL logs no `kl`; with LoRA it
is the policy with adapters disabled; otherwise TRL loads a copy of the starting model from its folder (an
in-memory model is first saved to OUTPUT_DIR/checkpoints/reference, safetensors only).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..errors import ConfigError, DataError
from .stage import WORK_DIR, TrainConfig, TrainResult, load_policy, peft_config, quiet_mode, run_stage, training_kwargs

if TYPE_CHECKING:
    from ..models.protocols import RewardSource

# GRPO / RLOO settings for the built-in lab's tiny policy (benchmarks/online_rl_lab.py, docs/guides/grpo-rloo.md),
# shaped like the PPO lab recipe so the two compare on equal terms: 32 sampled replies per generation (GRPO: 4
# prompts x 8; RLOO: 8 x 4 with num_generations=4), split into 4 optimiser steps of 8 and passed over 4 times
# (PPO: 4 mini-batches of 8, 4 epochs), learning rate 1e-4, KL coefficient 0.05, sampling at 0.7. So one
# generation is 16 optimiser steps: max_steps = 16 x generations. One pass at a higher rate (5e-4) raised the
# sampled gold as much but not the greedy answers.
LAB_RECIPE = {"learning_rate": 1e-4, "per_device_train_batch_size": 8, "steps_per_generation": 4,
              "num_iterations": 4, "num_generations": 8, "beta": 0.05, "max_completion_length": 48,
              "temperature": 0.7}
LAB_STEPS_PER_GENERATION = 16  # optimiser steps per generation under LAB_RECIPE

GOLD_NAME = "gold"  # the watched reward's name in TRL's log: rewards/gold/mean

# TRL 1.16's GRPO loss names (GRPOConfig.loss_type), checked here so a typo fails before any model is loaded.
GRPO_LOSSES = ("grpo", "dapo", "dr_grpo", "bnpo", "cispo", "sapo", "luspo", "vespo")


@dataclass
class OnlineRLConfig(TrainConfig):
    """Fields GRPO and RLOO share. `train_file` holds the prompts (a prompt / query / messages field)."""

    learning_rate: float = field(default=1e-6, metadata={"help": "peak AdamW learning rate (TRL: 1e-6)"})
    reward_model: list[str] = field(default_factory=list, metadata={
        "help": "reward(s) to optimise: a sequence-classification model folder or 'module:function' "
                "(fn(prompts, responses) -> list of floats); several are summed with reward_weights"})
    reward_weights: list[float] | None = field(default=None, metadata={
        "help": "one weight per reward_model entry (default: 1 each)"})
    gold_reward: str | None = field(default=None, metadata={
        "help": "a reward that is scored and logged as rewards/gold/mean with weight 0, never optimised (a folder "
                "or 'module:function'), to watch a proxy against a gold signal in one run"})
    num_generations: int = field(default=8, metadata={
        "help": "replies sampled per prompt (the group); per_device_train_batch_size x steps_per_generation must "
                "be a multiple of it"})
    max_completion_length: int = field(default=64, metadata={"help": "longest sampled reply, in tokens"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (TRL: 1.0)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling; 1.0 = off"})
    beta: float = field(default=0.0, metadata={
        "help": "KL coefficient against the reference model; 0 = no reference and no 'kl' in the log"})
    epsilon: float = field(default=0.2, metadata={"help": "clip of the importance ratio to [1-e, 1+e] (TRL: 0.2)"})
    steps_per_generation: int | None = field(default=None, metadata={
        "help": "optimiser steps per batch of samples: each generation samples per_device_train_batch_size x this "
                "many replies, then splits them into this many steps (default: gradient_accumulation_steps)"})
    num_iterations: int = field(default=1, metadata={
        "help": "optimisation passes over each batch of samples (TRL's mu; 1 = purely on-policy)"})
    mask_truncated_completions: bool = field(default=False, metadata={
        "help": "leave replies cut at max_completion_length out of the loss (DAPO's recommendation)"})
    reward_batch_size: int = field(default=32, metadata={"help": "texts per forward pass of a reward-model folder"})

    def validate(self) -> None:
        super().validate()
        if self.reward_weights is not None and self.reward_model and len(self.reward_weights) != len(self.reward_model):
            raise ConfigError(f"{len(self.reward_weights)} weights for {len(self.reward_model)} rewards",
                              field="reward_weights")
        if self.num_generations < 2:
            raise ConfigError(f"got {self.num_generations}; a group needs at least 2 replies to compare",
                              field="num_generations")
        if self.steps_per_generation is not None and self.steps_per_generation < 1:
            raise ConfigError(f"got {self.steps_per_generation}; expected a positive integer or none",
                              field="steps_per_generation")
        per = self.steps_per_generation or self.gradient_accumulation_steps
        if (self.per_device_train_batch_size * per) % self.num_generations:
            raise ConfigError(
                f"per_device_train_batch_size x steps_per_generation ({self.per_device_train_batch_size} x {per}) "
                f"must be a multiple of num_generations ({self.num_generations}): every prompt's group is sampled "
                "in one generation batch", field="num_generations")
        for name in ("max_completion_length", "temperature", "num_iterations", "reward_batch_size"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"got {getattr(self, name)}; expected a number > 0", field=name)
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"got {self.top_p}; expected a number in (0, 1]", field="top_p")
        for name in ("beta", "epsilon"):
            if getattr(self, name) < 0:
                raise ConfigError(f"got {getattr(self, name)}; expected a number >= 0", field=name)


@dataclass
class GRPOConfig(OnlineRLConfig):
    """GRPO (Shao et al. 2024): advantages are rewards standardised within each prompt's group."""

    TRL_CONFIG: ClassVar[str] = "GRPOConfig"  # TRL's config class: its field names work in the YAML file

    loss_type: str = field(default="dapo", metadata={
        "help": f"TRL's loss aggregation: {', '.join(GRPO_LOSSES)} (TRL 1.16: dapo)"})
    scale_rewards: Literal["group", "batch", "none"] = field(default="group", metadata={
        "help": "divide advantages by the group's reward std (group), the batch's (batch) or not at all (none; "
                "Dr. GRPO's fix of the length and difficulty bias)"})

    def validate(self) -> None:
        super().validate()
        if self.loss_type not in GRPO_LOSSES:
            raise ConfigError(f"unknown loss {self.loss_type!r}; expected one of {', '.join(GRPO_LOSSES)}",
                              field="loss_type")
        if self.scale_rewards not in ("group", "batch", "none"):
            raise ConfigError(f"got {self.scale_rewards!r}; expected group, batch or none", field="scale_rewards")


@dataclass
class RLOOConfig(OnlineRLConfig):
    """RLOO (Ahmadian et al. 2024): each reply's baseline is the mean reward of the other replies to its prompt."""

    TRL_CONFIG: ClassVar[str] = "RLOOConfig"

    num_generations: int = field(default=2, metadata={
        "help": "replies sampled per prompt (TRL's RLOO: 2); per_device_train_batch_size x steps_per_generation "
                "must be a multiple of it"})
    beta: float = field(default=0.05, metadata={
        "help": "KL coefficient against the reference model, folded into the reward (TRL's RLOO: 0.05)"})
    normalize_advantages: bool = field(default=False, metadata={"help": "standardise advantages over the batch"})


# ------------------------------------------------------------------------------------------------------ rewards


def _short_name(spec: str) -> str:
    """A reward's name in TRL's log: a folder's last part, a function's name, made safe for a metric key."""
    name = spec.rsplit(":", 1)[-1] if ":" in spec and not os.path.exists(spec) else Path(spec).name or spec
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "reward"


def trl_reward_func(reward_fn, name: str):
    """A sentinel `RewardFunction` as a TRL reward function `f(prompts, completions, **kw) -> list[float | None]`.

    TRL gives conversational prompts as message lists and conversational completions as
    `[{"role": "assistant", "content": text}]`; the reward sees a single user turn as its text and the reply as a
    string, as in PPO. A NaN/inf reward becomes None, which TRL leaves out of the group's statistics.
    """
    from ..data.formats import simple_prompt
    from ..models.reward_fn import finite_or_none

    def reward(prompts, completions, **kwargs):
        ps = [simple_prompt(p) for p in prompts]
        rs = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return finite_or_none(reward_fn(ps, rs))

    reward.__name__ = reward.__qualname__ = name
    return reward


def build_rewards(cfg: OnlineRLConfig, rewards: list[RewardSource] | None = None,
                  gold: RewardSource | None = None) -> tuple[list, list[float]]:
    """TRL reward functions and their weights: the optimised rewards, then the gold reward with weight 0.

    `rewards` / `gold` (Python objects: callables, loaded models) replace `cfg.reward_model` / `cfg.gold_reward`.
    """
    from ..models import as_reward_fn

    safety: dict[str, Any] = {"allow_pickle": cfg.allow_pickle, "trust_remote_code": cfg.trust_remote_code,
              "batch_size": cfg.reward_batch_size}
    specs = rewards if rewards is not None else list(cfg.reward_model)
    if not specs:
        raise ConfigError("is required: give a reward-model folder or 'module:function'", field="reward_model")
    weights = list(cfg.reward_weights or [1.0] * len(specs))
    if len(weights) != len(specs):
        raise ConfigError(f"{len(weights)} weights for {len(specs)} rewards", field="reward_weights")
    funcs, names = [], set()
    for spec in specs:
        rf = as_reward_fn(spec, **safety)
        name = _short_name(os.fspath(spec)) if isinstance(spec, (str, os.PathLike)) else _short_name(str(rf.name))
        while name in names or name == GOLD_NAME:
            name += "_"
        names.add(name)
        funcs.append(trl_reward_func(rf, name))
    gold = gold if gold is not None else cfg.gold_reward
    if gold is not None:
        funcs.append(trl_reward_func(as_reward_fn(gold, **safety), GOLD_NAME))
        weights.append(0.0)
    return funcs, weights


# --------------------------------------------------------------------------------------------------------- data


def prompt_rows(path: Any, tokenizer, cfg: OnlineRLConfig) -> tuple[list[dict], dict[str, Any]]:
    """Prompt rows for TRL: conversational (`[{"role": "user", ...}]`) when the tokenizer has a chat template."""
    from .ppo.prompts import load_prompts

    prompts = load_prompts(path)
    chat = bool(getattr(tokenizer, "chat_template", None))
    rows = []
    for p in prompts:
        if isinstance(p, list) and not chat:
            raise DataError("a conversational prompt needs a tokenizer with a chat template", path=str(path),
                            field="prompt")
        rows.append({"prompt": ([{"role": "user", "content": p}] if isinstance(p, str) else p) if chat else p})
    summary = {"source": str(path), "rows_read": len(rows), "rows_skipped": 0,
               "conversational": sum(isinstance(p, list) for p in prompts)}
    if cfg.max_rows is not None and len(rows) > cfg.max_rows:
        summary["rows_not_used_max_rows"] = len(rows) - cfg.max_rows
        rows = rows[: cfg.max_rows]
    return rows, summary


# ---------------------------------------------------------------------------------------------------------- run


def _reference_path(cfg: OnlineRLConfig, model, model_given: bool) -> str | None:
    """Where TRL will load the reference from; an in-memory policy is saved first (safetensors)."""
    if cfg.beta == 0 or cfg.lora_r:
        return None
    if not model_given:
        return cfg.model
    ref = Path(cfg.output_dir) / WORK_DIR / "reference"
    model.save_pretrained(ref, safe_serialization=True)
    return str(ref)


def _trl_config(cfg: OnlineRLConfig, weights: list[float]):
    from trl import GRPOConfig as TRLGRPOConfig
    from trl import RLOOConfig as TRLRLOOConfig

    kw = training_kwargs(cfg)
    kw.update(num_generations=cfg.num_generations, max_completion_length=cfg.max_completion_length,
              temperature=cfg.temperature, top_p=cfg.top_p, beta=cfg.beta, epsilon=cfg.epsilon,
              num_iterations=cfg.num_iterations, steps_per_generation=cfg.steps_per_generation,
              mask_truncated_completions=cfg.mask_truncated_completions,
              reward_weights=weights, remove_unused_columns=False,
              # TRL loads the reference from the policy's folder; that folder passed `load_causal_lm`'s checks
              # (safetensors unless allow_pickle), and transformers prefers safetensors where both exist.
              trust_remote_code=cfg.trust_remote_code)
    if isinstance(cfg, GRPOConfig):
        kw.update(loss_type=cfg.loss_type, scale_rewards=cfg.scale_rewards)
        return TRLGRPOConfig(**kw)
    assert isinstance(cfg, RLOOConfig), type(cfg)  # the two online-RL configs
    kw.update(normalize_advantages=cfg.normalize_advantages)
    return TRLRLOOConfig(**kw)


def _run(cfg: OnlineRLConfig, trainer_cls, *, model, tokenizer, rewards, gold, callbacks) -> TrainResult:
    import warnings

    from datasets import Dataset

    # TRL 1.16 asks models `is_gradient_checkpointing`, which transformers 5 deprecates; nothing a user can change
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    quiet_mode(cfg)
    model_given = model is not None
    model, tokenizer = load_policy(cfg, model, tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    train, summary = prompt_rows(cfg.train_file, tokenizer, cfg)
    held = prompt_rows(cfg.eval_file, tokenizer, cfg)[0] if cfg.eval_file else []
    funcs, weights = build_rewards(cfg, rewards, gold)
    summary = {"train": summary, "rewards": {f.__name__: w for f, w in zip(funcs, weights)}}
    summary["reference"] = ("none (beta = 0)" if cfg.beta == 0 else "adapters disabled (LoRA)" if cfg.lora_r
                            else "the starting model")

    def build():
        ref = _reference_path(cfg, model, model_given)
        saved = model.config._name_or_path
        if ref is not None:
            model.config._name_or_path = ref  # TRL builds the reference from this path
        try:
            return trainer_cls(model=model, reward_funcs=funcs, args=_trl_config(cfg, weights),
                               train_dataset=Dataset.from_list(train),
                               eval_dataset=Dataset.from_list(held) if held else None, processing_class=tokenizer,
                               peft_config=peft_config(cfg, "CAUSAL_LM"))
        finally:
            model.config._name_or_path = saved

    return run_stage(cfg, build, summary, callbacks=callbacks)


def grpo(cfg: GRPOConfig, *, model=None, tokenizer=None, rewards: list[RewardSource] | None = None,
         gold: RewardSource | None = None,
         callbacks: list | None = None) -> TrainResult:
    """Run GRPO; returns where the policy went and TRL's final metrics (reward, rewards/<name>/mean, kl, ...).

    `rewards`: Python reward objects (callables, loaded reward models, anything `as_reward_fn` takes) used instead
    of `cfg.reward_model`, weighted by `cfg.reward_weights`; `gold`: likewise for `cfg.gold_reward`."""
    from trl import GRPOTrainer

    return _run(cfg, GRPOTrainer, model=model, tokenizer=tokenizer, rewards=rewards, gold=gold, callbacks=callbacks)


def rloo(cfg: RLOOConfig, *, model=None, tokenizer=None, rewards: list[RewardSource] | None = None,
         gold: RewardSource | None = None,
         callbacks: list | None = None) -> TrainResult:
    """Run RLOO; arguments and result as `grpo`."""
    from trl import RLOOTrainer

    return _run(cfg, RLOOTrainer, model=model, tokenizer=tokenizer, rewards=rewards, gold=gold, callbacks=callbacks)
