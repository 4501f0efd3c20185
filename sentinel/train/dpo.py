"""Direct preference optimisation on TRL's DPOTrainer.

The reference model is always decided here rather than left to TRL, because TRL re-loads it from
`model.config._name_or_path`, which fails for a model built in memory:
  - LoRA: no reference model; TRL disables the adapters to get reference log-probs.
  - `ref_model` given: loaded from that folder.
  - otherwise: a second copy of the starting model (loaded from its folder, or a deep copy of an in-memory model),
    unless `precompute_ref_log_probs`, where TRL scores the data once with the untrained policy before training.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ConfigError
from .reward import load_preference_data
from .stage import (
    TrainConfig,
    TrainResult,
    load_dtype,
    load_policy,
    peft_config,
    quiet_mode,
    run_stage,
    training_kwargs,
)

logger = logging.getLogger(__name__)

# TRL 1.16's DPO loss names (DPOConfig.loss_type); checked here so a typo fails before any model is loaded.
LOSS_TYPES = ("sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
              "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm")


@dataclass
class DPOConfig(TrainConfig):
    """DPO: raise the policy's log-probability margin of chosen over rejected replies relative to a reference."""

    TRL_CONFIG: ClassVar[str] = "DPOConfig"  # TRL's config class: its field names work in the YAML file

    learning_rate: float = field(default=5e-6, metadata={"help": "peak AdamW learning rate"})
    beta: float = field(default=0.1, metadata={"help": "strength of the pull towards the reference (higher = closer)"})
    loss_type: list[str] = field(default_factory=lambda: ["sigmoid"], metadata={
        "help": f"DPO loss(es), combined by loss_weights: {', '.join(LOSS_TYPES)}"})
    loss_weights: list[float] | None = field(default=None, metadata={
        "help": "one weight per loss_type (default: 1 each)"})
    label_smoothing: float = field(default=0.0, metadata={
        "help": "assumed probability that a label is flipped (robust / sigmoid losses), in [0, 0.5)"})
    ref_model: str | None = field(default=None, metadata={
        "help": "reference model folder (default: the starting model; with LoRA: the model with adapters off)"})
    precompute_ref_log_probs: bool = field(default=False, metadata={
        "help": "score the data with the reference once before training so it needs no memory during training"})

    def validate(self) -> None:
        super().validate()
        if self.beta <= 0:
            raise ConfigError(f"got {self.beta}; expected a number > 0", field="beta")
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"got {self.label_smoothing}; expected a number in [0, 0.5)", field="label_smoothing")
        if not self.loss_type:
            raise ConfigError("expected at least one loss", field="loss_type")
        for name in self.loss_type:
            if name not in LOSS_TYPES:
                raise ConfigError(f"unknown loss {name!r}; expected one of {', '.join(LOSS_TYPES)}", field="loss_type")
        if self.loss_weights is not None and len(self.loss_weights) != len(self.loss_type):
            raise ConfigError(f"got {len(self.loss_weights)} weights for {len(self.loss_type)} losses",
                              field="loss_weights")
        if self.ref_model and self.lora_r:
            raise ConfigError("with LoRA the reference is the model with adapters disabled; leave ref_model empty",
                              field="ref_model")


def to_rows(pairs: list[dict], tokenizer) -> list[dict[str, Any]]:
    """Canonical pairs -> TRL preference rows (conversational when the tokenizer has a chat template)."""
    from ..data.formats import prompt_text

    if getattr(tokenizer, "chat_template", None):
        return [{"prompt": p["prompt"], "chosen": [{"role": "assistant", "content": p["chosen"]}],
                 "rejected": [{"role": "assistant", "content": p["rejected"]}]} for p in pairs]
    return [{"prompt": prompt_text(p["prompt"]) + "\n\n", "chosen": p["chosen"], "rejected": p["rejected"]}
            for p in pairs]


def trl_config(cfg: DPOConfig):
    """The TRL DPOConfig for `cfg` (also used by benchmarks to call TRL directly with the same settings)."""
    from trl import DPOConfig as TRLDPOConfig

    kw = training_kwargs(cfg)
    kw.update(max_length=cfg.max_length, beta=cfg.beta, loss_type=list(cfg.loss_type),
              loss_weights=cfg.loss_weights, label_smoothing=cfg.label_smoothing,
              precompute_ref_log_probs=cfg.precompute_ref_log_probs)
    return TRLDPOConfig(**kw)


def reference_model(cfg: DPOConfig, model, tokenizer, model_given: bool):
    """The reference model to pass to TRL explicitly, or None where TRL needs none (LoRA, precomputed)."""
    from ..models import load_causal_lm

    if cfg.lora_r:
        return None
    if cfg.ref_model:
        return load_causal_lm(cfg.ref_model, tokenizer=tokenizer, device="cpu", dtype=load_dtype(cfg),
                              allow_pickle=cfg.allow_pickle, trust_remote_code=cfg.trust_remote_code)[0]
    if cfg.precompute_ref_log_probs:
        return None
    if model_given:
        return copy.deepcopy(model)
    return load_causal_lm(cfg.model, tokenizer=tokenizer, device="cpu", dtype=load_dtype(cfg),
                          allow_pickle=cfg.allow_pickle, trust_remote_code=cfg.trust_remote_code)[0]


def dpo(cfg: DPOConfig, *, model=None, tokenizer=None, callbacks: list | None = None) -> TrainResult:
    """Run DPO; returns where the policy went and its final metrics (TRL's rewards/*, logps/*, logits/*)."""
    from datasets import Dataset
    from trl import DPOTrainer


    quiet_mode(cfg)
    model_given = model is not None
    model, tokenizer = load_policy(cfg, model, tokenizer)
    train, held, summary = load_preference_data(cfg)
    ref = reference_model(cfg, model, tokenizer, model_given)
    summary["reference"] = ("adapters disabled (LoRA)" if cfg.lora_r else cfg.ref_model
                            or ("precomputed from the starting model" if ref is None else "the starting model"))

    def build():
        return DPOTrainer(
            model=model, ref_model=ref, args=trl_config(cfg),
            train_dataset=Dataset.from_list(to_rows(train, tokenizer)),
            eval_dataset=Dataset.from_list(to_rows(held, tokenizer)) if held else None, processing_class=tokenizer,
            peft_config=peft_config(cfg, "CAUSAL_LM"),
        )

    return run_stage(cfg, build, summary, callbacks=callbacks)
