"""`PPOConfig`: every knob of sentinel's PPO, with the default the anchors use quoted in its help string.

Anchors: classic TRL <= 0.11 (`PPOConfig` of the step-wise trainer), TRL PPOv2 (0.12-0.25), OpenRLHF 0.11.
Where they disagree we follow classic TRL, because that is the API this trainer restores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...errors import ConfigError
from ...models.ensemble import check_method

KL_ESTIMATORS = ("kl", "abs", "mse", "k3")

# PPO settings for the built-in lab's tiny policy (64-wide, 2 layers) against a reward that knows the right answer
# (`sentinel.lab.gold_rewards`), measured with benchmarks/ppo_gold.py (docs/benchmarks.md). Classic TRL's learning rate
# is for GPT-2-sized models; on this policy 2e-4 and above make it drift (greedy answers lose the answer phrase,
# "The is 3, 3, 4 I") even while the sampled reward rises, so greedy accuracy falls. Sampling at temperature 0.7
# keeps the rollouts near what greedy decoding says (at 1.0 most sampled answers are wrong), which is where the
# update has to move probability for greedy accuracy to change. A small fixed KL coefficient lets it move.
LAB_RECIPE = {"learning_rate": 1e-4, "batch_size": 32, "mini_batch_size": 8, "ppo_epochs": 4, "max_new_tokens": 24,
                  "temperature": 0.7, "adap_kl_ctrl": False, "init_kl_coef": 0.05, "max_steps": 150}


@dataclass
class PPOConfig:
    # --- optimisation -------------------------------------------------------------------------------------------
    learning_rate: float = field(default=1.41e-5, metadata={"help": "Adam learning rate (classic TRL: 1.41e-5)"})
    batch_size: int = field(default=16, metadata={
        "help": "prompts per PPO step, per process (classic TRL: 128; 16 suits CPU)"})
    mini_batch_size: int = field(default=4, metadata={
        "help": "samples per forward/backward pass inside a PPO epoch (classic TRL: 128; 4 suits CPU)"})
    gradient_accumulation_steps: int = field(default=1, metadata={
        "help": "mini-batches whose gradients are summed before one optimiser step, as in classic TRL: one step "
                "covers mini_batch_size * gradient_accumulation_steps samples (classic TRL: 1)"})
    forward_batch_size: int | None = field(default=None, metadata={
        "help": "samples per no-grad forward pass when scoring rollouts (policy, value, reference); None = the "
                "whole batch at once (classic TRL: forward_batch_size, later mini_batch_size)"})
    ppo_epochs: int = field(default=4, metadata={"help": "passes over each batch of rollouts (classic TRL: 4)"})
    max_grad_norm: float | None = field(default=None, metadata={
        "help": "clip the gradient norm to this value; None = no clipping (classic TRL: None; OpenRLHF: 1.0)"})
    adam_eps: float = field(default=1e-8, metadata={"help": "Adam epsilon (torch default, as classic TRL)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay (classic TRL: 0)"})
    seed: int = field(default=0, metadata={"help": "random seed for sampling and shuffling (classic TRL: 0)"})
    # --- advantages and losses ----------------------------------------------------------------------------------
    gamma: float = field(default=1.0, metadata={"help": "GAE discount per token (classic TRL: 1; OpenRLHF, verl: 1)"})
    lam: float = field(default=0.95, metadata={"help": "GAE lambda (classic TRL: 0.95; OpenRLHF, verl: 1)"})
    cliprange: float = field(default=0.2, metadata={
        "help": "clip of the policy ratio to [1-c, 1+c] (classic TRL, OpenRLHF, verl: 0.2)"})
    cliprange_value: float = field(default=0.2, metadata={
        "help": "clip of the value prediction around the rollout value (classic TRL: 0.2; OpenRLHF: 0.5)"})
    vf_coef: float = field(default=0.1, metadata={"help": "weight of the value loss (classic TRL: 0.1)"})
    entropy_coef: float = field(default=0.0, metadata={
        "help": "weight of an entropy bonus in the loss (classic TRL: none; OpenRLHF: 0)"})
    whiten_advantages: bool = field(default=True, metadata={
        "help": "whiten advantages over the batch's response tokens (classic TRL: always)"})
    ratio_threshold: float = field(default=10.0, metadata={
        "help": "skip a mini-batch whose mean importance ratio exceeds this (classic TRL: 10)"})
    # --- KL penalty against the reference -----------------------------------------------------------------------
    kl_penalty: Literal["kl", "abs", "mse", "k3"] = field(default="kl", metadata={
        "help": "per-token KL estimator: kl = logp - logp_ref, abs, mse = half squared, k3 = the low-variance "
                "estimator exp(-d) - 1 + d (classic TRL: kl; OpenRLHF offers k3)"})
    adap_kl_ctrl: bool = field(default=True, metadata={
        "help": "adapt the KL coefficient towards `target` (classic TRL: True); False = fixed coefficient"})
    init_kl_coef: float = field(default=0.2, metadata={
        "help": "initial KL coefficient (classic TRL: 0.2; verl: 0.001)"})
    target: float = field(default=6.0, metadata={
        "help": "adaptive controller: target KL per sample, in nats (classic TRL: 6)"})
    horizon: float = field(default=10000.0, metadata={
        "help": "adaptive controller: horizon in samples (classic TRL: 10000)"})
    early_stopping: bool = field(default=False, metadata={
        "help": "stop the PPO epochs of a step once the policy KL exceeds 1.5 x target_kl (classic TRL: False)"})
    target_kl: float = field(default=1.0, metadata={"help": "KL for early stopping, in nats (classic TRL: 1)"})
    # --- reward shaping ----------------------------------------------------------------------------------------
    whiten_rewards: bool = field(default=False, metadata={
        "help": "whiten the scores within each batch (classic TRL: False)"})
    use_score_scaling: bool = field(default=False, metadata={
        "help": "divide scores by a running standard deviation (classic TRL: False)"})
    use_score_norm: bool = field(default=False, metadata={
        "help": "with use_score_scaling, also subtract the running mean (classic TRL: False)"})
    score_clip: float | None = field(default=None, metadata={
        "help": "clip scores to [-c, c] after scaling (classic TRL: None; OpenRLHF reward_clip_range: 10)"})
    missing_eos_penalty: float | None = field(default=None, metadata={
        "help": "subtract this from the score of a generated response that hit max_new_tokens without an EOS "
                "token (TRL PPOv2: None; OpenRLHF applies one)"})
    length_penalty: float = field(default=0.0, metadata={
        "help": "subtract this x the response length in tokens from each score: a length-penalised reward, the "
                "simplest guard against a reward model that pays for padding (Singhal et al. 2023, 'A long way to "
                "go'); 0 = off. Its scale is the reward's per token"})
    # --- reward-model ensemble ----------------------------------------------------------------------------------
    ensemble: Literal["mean", "min", "uwo"] | None = field(default=None, metadata={
        "help": "combine several reward models (reward_model=[...], two or more) into one reward per sample, after "
                "Coste et al. 2023: mean; min (worst case over members); uwo (mean - uwo_lambda x the members' "
                "variance). None = one reward model (or a weighted sum of (reward, weight) pairs). Each member's "
                "mean reward and the members' std are logged as ensemble/member_<i> and ensemble/std"})
    uwo_lambda: float | None = field(default=None, metadata={
        "help": "with ensemble=uwo (required there, only there): weight of the members' variance (population, "
                "1/k); its scale depends on the rewards' scale"})
    # --- generation -------------------------------------------------------------------------------------------
    max_new_tokens: int = field(default=32, metadata={"help": "longest response in tokens (TRL examples: 32)"})
    do_sample: bool = field(default=True, metadata={
        "help": "sample (True) or greedy (False) (classic TRL examples: True)"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (classic TRL examples: 1.0)"})
    top_k: int = field(default=0, metadata={"help": "top-k sampling; 0 = off (classic TRL examples: 0)"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling; 1.0 = off (classic TRL examples: 1.0)"})
    stop_strings: list[str] = field(default_factory=list, metadata={
        "help": "texts that end a response besides the EOS token (e.g. '\\n\\n'); the response keeps them"})
    generation_batch_size: int | None = field(default=None, metadata={
        "help": "prompts per generate call; None = the whole batch at once (left padding and KV cache either way)"})
    use_chat_template: bool = field(default=True, metadata={
        "help": "wrap each prompt string as a user turn with the tokenizer's chat template (when it has one)"})
    max_prompt_length: int | None = field(default=None, metadata={
        "help": "longest prompt in tokens; longer prompts are an error. None = context length - max_new_tokens"})
    # --- LoRA ------------------------------------------------------------------------------------------------
    lora_r: int = field(default=0, metadata={
        "help": "LoRA rank; 0 = full fine-tuning. With LoRA the reference is the policy with adapters disabled"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha (PEFT examples: 16)"})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout (PEFT default: 0)"})
    lora_target_modules: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"], metadata={
        "help": "modules that get LoRA adapters (PEFT Llama default: q_proj, v_proj)"})
    # --- the train() loop -------------------------------------------------------------------------------------
    max_steps: int = field(default=100, metadata={"help": "PPO steps run by train() (one step = one batch of prompts)"})
    output_dir: str | None = field(default=None, metadata={
        "help": "folder for the model, metrics.jsonl, config.yaml and checkpoints; None = write nothing"})
    report_to: list[str] = field(default_factory=list, metadata={
        "help": "experiment trackers besides metrics.jsonl (always written), through accelerate: tensorboard, "
                "wandb, mlflow, ... (the tracker's package must be installed); needs output_dir. TensorBoard event "
                "files go to OUTPUT_DIR/runs"})
    save_steps: int = field(default=0, metadata={
        "help": "save a resumable checkpoint (output_dir/checkpoint-last: model, optimiser, KL controller, RNG states, "
                "position in the prompts) every N steps and after the last; 0 = none, only the model at the end"})
    resume: bool = field(default=False, metadata={
        "help": "continue from output_dir/checkpoint-last (starts fresh when there is none): the same weights and "
                "metrics as a run never stopped, on CPU. A changed setting is refused, except steps (train further), "
                "output_dir, report_to and the Hub fields"})
    push_to_hub: bool = field(default=False, metadata={
        "help": "after train(), upload output_dir (model, value head, README.md model card, metrics) to the Hugging "
                "Face Hub repo hub_model_id; needs output_dir and the Hub (a token from `hf auth login` or HF_TOKEN)"})
    hub_model_id: str | None = field(default=None, metadata={
        "help": "Hub repo for push_to_hub, e.g. user/name (default: the output folder's name under your account)"})
    hub_private_repo: bool | None = field(default=None, metadata={
        "help": "create the Hub repo private (default: the Hub's default for your account)"})
    device: str | None = field(default=None, metadata={
        "help": "cpu, cuda or mps, for the policy, the reference and the reward models; None = what accelerate picks"})
    allow_pickle: bool = field(default=False, metadata={
        "help": "allow pickled (.bin/.pt) weights, which can run code when loaded, for the policy, the reference and "
                "the reward models given as folders (off: safetensors only)"})
    trust_remote_code: bool = field(default=False, metadata={
        "help": "run modelling code shipped with the policy, the reference or the reward models (off by default)"})
    dtype: str | None = field(default=None, metadata={
        "help": "weights dtype when loading from a folder: float32, bfloat16, float16; None = float32 on CPU"})

    def __post_init__(self):
        positive = ("learning_rate", "batch_size", "mini_batch_size", "gradient_accumulation_steps", "ppo_epochs",
                    "max_new_tokens", "horizon", "target_kl", "temperature", "ratio_threshold", "max_steps")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"must be > 0, got {getattr(self, name)!r}", field=name)
        for name in ("gamma", "lam", "top_p"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ConfigError(f"must be in [0, 1], got {v!r}", field=name)
        for name in ("cliprange", "cliprange_value", "vf_coef", "entropy_coef", "init_kl_coef", "top_k", "lora_r",
                     "save_steps", "adam_eps", "weight_decay", "lora_dropout"):
            if getattr(self, name) < 0:
                raise ConfigError(f"must be >= 0, got {getattr(self, name)!r}", field=name)
        if self.target <= 0:
            raise ConfigError(f"must be > 0, got {self.target!r}", field="target")
        if self.ensemble is not None or self.uwo_lambda is not None:
            if self.ensemble is None:
                raise ConfigError("uwo_lambda is set but ensemble is not; set ensemble='uwo'", field="uwo_lambda")
            check_method(self.ensemble, self.uwo_lambda)
        if self.kl_penalty not in KL_ESTIMATORS:
            raise ConfigError(f"got {self.kl_penalty!r}; expected one of {list(KL_ESTIMATORS)}", field="kl_penalty")
        step_samples = self.mini_batch_size * self.gradient_accumulation_steps
        if self.batch_size % step_samples:
            raise ConfigError(
                f"batch_size ({self.batch_size}) must be a multiple of mini_batch_size * gradient_accumulation_steps "
                f"({self.mini_batch_size} * {self.gradient_accumulation_steps} = {step_samples})", field="batch_size")
        for name in ("max_grad_norm", "score_clip", "max_prompt_length", "generation_batch_size",
                     "forward_batch_size"):
            v = getattr(self, name)
            if v is not None and v <= 0:
                raise ConfigError(f"must be > 0 or None, got {v!r}", field=name)
        if self.resume and not self.output_dir:
            raise ConfigError("resumes the run in output_dir; give output_dir too", field="resume")
        if self.push_to_hub and not self.output_dir:
            raise ConfigError("pushes the finished output folder; give output_dir too", field="push_to_hub")
        if self.report_to and not self.output_dir:
            raise ConfigError("trackers write beside the run's output; give output_dir too", field="report_to")
        if self.length_penalty < 0:
            raise ConfigError(f"is subtracted per token, so give it as a positive number, got {self.length_penalty!r}",
                              field="length_penalty")
        if self.missing_eos_penalty is not None and self.missing_eos_penalty < 0:
            raise ConfigError("is subtracted from the score, so give it as a positive number, got "
                              f"{self.missing_eos_penalty!r}", field="missing_eos_penalty")
