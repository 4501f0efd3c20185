"""`PPOTrainer`: the step-wise PPO loop (generate -> score -> step) on transformers + accelerate (+ PEFT).

    trainer = PPOTrainer(config=PPOConfig(...), model=policy, tokenizer=tok, reward_model=fn_or_folder)
    responses = trainer.generate(prompts)             # strings in, strings out
    stats = trainer.step(prompts, responses, rewards)  # one PPO update, a flat dict with TRL's metric names
    trainer.train(prompts)                             # the whole loop; trainer.save_model("out/")
    trainer.save_state("ckpt/"); trainer.load_state("ckpt/")  # a resumable checkpoint (train() with config.resume)

Policy dropout is switched off for the whole run (as TRL PPOv2 does) so the importance ratio is exactly 1 on the
first mini-batch; logits are divided by the sampling temperature everywhere so the ratio compares the policy that
actually sampled.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import LogitsProcessorList

from ..._version import __version__
from ...config import to_dict
from ...data.formats import as_messages, prompt_text
from ...errors import ConfigError, DataError, SentinelError
from ...models import as_reward_fn, load_causal_lm
from ...models.ensemble import EnsembleReward, check_members, ensemble_std
from ...report.model_card import training_card
from ...utils import atomic_directory, atomic_write_json, atomic_write_text, disk_errors, set_seed
from ..hub import check_push, push_folder, repo_id_for
from ..stage import METRICS_FILE, output_lock, truncate_metrics
from . import core
from . import ppo_state as state_io
from .hyperparams import PPOConfig
from .prompts import load_prompts
from .sampling import InverseCDFSampler
from .value_head import PolicyWithValue, base_causal_lm, response_logprobs

if TYPE_CHECKING:
    from ...models.protocols import DataSource, RewardSource

logger = logging.getLogger(__name__)


@dataclass
class Rollout:
    """What generate() remembers of one sample: exact tokens, and the policy's view of them while sampling."""

    prompt_ids: list[int]
    response_ids: list[int]
    missing_eos: bool
    logp: torch.Tensor | None = None  # (R,) log-probs of the sampled tokens, temperature applied
    values: torch.Tensor | None = None  # (R,) value-head predictions before each token


class TrainingDiverged(SentinelError):
    """A loss or gradient became NaN/inf; the update was not applied."""


def _members(reward_model: Any) -> list:
    """The members of an ensemble given as `reward_model`: a list as it is, one reward alone, or none."""
    return [] if reward_model is None else list(reward_model) if isinstance(reward_model, list) else [reward_model]


class PPOTrainer:
    """PPO with a value head on the policy trunk, a frozen reference (or LoRA with adapters disabled), GAE and a
    fixed or adaptive KL penalty. See `PPOConfig` for every knob and its classic-TRL default.

    `model`, `ref_model`: a folder (or Hub name) or a loaded model; `ref_model` None is a frozen copy of the policy.
    `reward_model`: anything `sentinel.models.as_reward_fn` accepts; with `config.ensemble` ("mean", "min", "uwo")
    a list of two or more of them, scored on the same samples and combined per sample (`sentinel.models.ensemble`).
    The trainer loads every model given as a folder (policy, reference, reward, gold) on one device, with the
    safety flags of `config` (`allow_pickle`, `trust_remote_code`).
    `callbacks`: objects with `on_step_end(trainer, step, stats)`; returning True (or setting
    `trainer.stop_training = True`) ends `train()` cleanly. `gold_reward_fn`: an extra reward that is only
    logged as `gold/score`, never optimised (for over-optimisation curves).
    """

    def __init__(self, config: PPOConfig | None = None, model: Any = None, ref_model: Any = None,
                 tokenizer: Any = None, reward_model: RewardSource | Sequence[RewardSource] | None = None, *,
                 gold_reward_fn: RewardSource | None = None,
                 callbacks: Sequence[Any] | None = None, accelerator: Any = None):
        from accelerate import Accelerator

        if model is None:
            raise ConfigError("give the policy as a folder path or a loaded causal LM", field="model")
        self.config = config = config or PPOConfig()
        if config.ensemble is not None and not isinstance(reward_model, EnsembleReward):
            check_members(len(_members(reward_model)), config.ensemble)  # refused before any model loads
        # Without a GPU, cpu=True is what lets accelerate see a torchrun launch as multi-process CPU (gloo).
        on_cpu = config.device == "cpu" or (config.device in (None, "auto") and not torch.cuda.is_available())
        trackers = {"log_with": list(config.report_to), "project_dir": str(Path(config.output_dir or ".") / "runs")} \
            if config.report_to else {}  # (report_to needs output_dir: PPOConfig checks it)
        self.accelerator = accelerator or Accelerator(cpu=on_cpu, **trackers)
        self._tracking = False
        set_seed(config.seed + self.accelerator.process_index)
        device = self.accelerator.device
        # How every model given as a folder is loaded: one device, one set of safety flags.
        self._loading: dict[str, Any] = {"device": str(device), "allow_pickle": config.allow_pickle,
                                         "trust_remote_code": config.trust_remote_code}
        policy, tok = load_causal_lm(model, tokenizer=tokenizer, dtype=config.dtype, **self._loading)
        if tok is None:
            raise ConfigError("the policy needs a tokenizer; pass tokenizer=", field="tokenizer")
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        self.tokenizer = tok
        policy = self._maybe_lora(policy.to(device))
        policy.eval()  # no dropout: see the module docstring
        self.is_peft = hasattr(policy, "disable_adapter") and hasattr(policy, "peft_config")
        self.ref_model = self._reference(policy, ref_model, device)
        self.reward_fn = self._reward(reward_model)
        self.gold_reward_fn = as_reward_fn(gold_reward_fn, **self._loading) if gold_reward_fn is not None else None
        self.callbacks = list(callbacks or [])

        module = PolicyWithValue(policy)
        params = [p for p in module.parameters() if p.requires_grad]
        # The fused kernel updates all tensors at once: on a small model Adam's per-tensor loop costs as much as
        # the maths. It needs every parameter on one CPU/CUDA device and a floating dtype.
        fused = device.type in ("cpu", "cuda")
        optimizer = torch.optim.AdamW(params, lr=config.learning_rate, eps=config.adam_eps,
                                      weight_decay=config.weight_decay, fused=fused)
        self.model, self.optimizer = self.accelerator.prepare(module, optimizer)
        self.kl_ctl = (core.AdaptiveKLController(config.init_kl_coef, config.target, config.horizon)
                       if config.adap_kl_ctrl else core.FixedKLController(config.init_kl_coef))
        self.score_moments = core.RunningMoments()
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step_count = 0
        self.stop_training = False
        self.diverged = False
        self.history: list[dict[str, float]] = []
        # The prompt stream of train(): indexes into the prompt shard still to come this pass (drawn from the end),
        # and the fingerprint of the shard they index. Trainer state, so a checkpoint knows where the stream was.
        self._order: list[int] = []
        self._prompts_id: str | None = None
        self._resumed = False  # the state came from load_state(); train() then refuses other prompts
        self._checkpoint_step: int | None = None  # the step of the last checkpoint written or loaded
        self._rollouts: dict[tuple, Rollout] = {}
        self._eos_ids = self._eos_token_ids()
        self._max_context = getattr(base_causal_lm(policy).config.get_text_config(), "max_position_embeddings", None)

    # ------------------------------------------------------------------------------------------------ setup
    def _maybe_lora(self, policy):
        if self.config.lora_r <= 0 or hasattr(policy, "peft_config"):
            return policy
        from peft import LoraConfig, get_peft_model

        c = self.config
        return get_peft_model(policy, LoraConfig(r=c.lora_r, lora_alpha=c.lora_alpha, lora_dropout=c.lora_dropout,
                                                 target_modules=list(c.lora_target_modules), task_type="CAUSAL_LM"))

    def _reward(self, reward_model):
        """The reward function: one reward (or weighted pairs) as given, or with `config.ensemble` an
        `EnsembleReward` over the members of the list `reward_model`."""
        method = self.config.ensemble
        if isinstance(reward_model, EnsembleReward):
            if method is not None and method != reward_model.method:
                raise ConfigError(f"config.ensemble is {method!r} but the EnsembleReward given combines by "
                                  f"{reward_model.method!r}", field="ensemble")
            return reward_model
        if method is None:
            return as_reward_fn(reward_model, **self._loading) if reward_model is not None else None
        ensemble = EnsembleReward([as_reward_fn(m, **self._loading) for m in _members(reward_model)], method,
                                  self.config.uwo_lambda)
        logger.info("reward: %s", ensemble.name)
        return ensemble

    def _reference(self, policy, ref_model, device):
        if ref_model is not None:
            if ref_model is policy:
                raise ConfigError("ref_model is the policy object itself; pass None for a frozen copy",
                                  field="ref_model")
            ref, _ = load_causal_lm(ref_model, tokenizer=self.tokenizer, dtype=self.config.dtype, **self._loading)
        elif self.is_peft:
            return None  # the policy with its adapters disabled: no second copy in memory
        else:
            ref = copy.deepcopy(policy)
        ref = ref.to(device).eval()
        for p in ref.parameters():
            p.requires_grad_(False)
        return ref

    def _eos_token_ids(self) -> list[int]:
        gen_cfg = getattr(base_causal_lm(self.policy), "generation_config", None)
        ids = getattr(gen_cfg, "eos_token_id", None) if gen_cfg is not None else None
        ids = ids if isinstance(ids, list) else [ids] if ids is not None else []
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in ids:
            ids.append(self.tokenizer.eos_token_id)
        if not ids:
            raise ConfigError("the tokenizer has no eos token; PPO needs one to end responses", field="tokenizer")
        return ids

    @property
    def policy(self):
        """The causal LM being trained (PEFT-wrapped with LoRA), outside any DDP wrapper."""
        return self.accelerator.unwrap_model(self.model).policy

    # -------------------------------------------------------------------------------------------- encoding
    def _encode_prompt(self, prompt: Any, index: int) -> list[int]:
        if isinstance(prompt, torch.Tensor):
            ids = prompt.tolist()
        elif _is_conversation(prompt) or isinstance(prompt, str):
            if isinstance(prompt, str) and not prompt.strip():
                raise DataError("prompt is empty", row=index + 1, field="prompt")
            tok = self.tokenizer
            try:
                msgs = as_messages(prompt)  # a conversational prompt: earlier turns, then the user's
            except DataError as e:
                raise DataError(e.reason, row=index + 1, field="prompt") from None
            if self.config.use_chat_template and getattr(tok, "chat_template", None):
                text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
                ids = tok(text, add_special_tokens=False)["input_ids"]
            else:
                ids = tok(prompt if isinstance(prompt, str) else prompt_text(msgs) + "\n\n")["input_ids"]
        elif isinstance(prompt, (list, tuple)):
            ids = [int(t) for t in prompt]
        else:
            raise DataError(f"expected a string, chat messages or token ids, got {type(prompt).__name__}",
                            row=index + 1, field="prompt")
        if not ids:
            raise DataError("prompt has no tokens", row=index + 1, field="prompt")
        limit = self.config.max_prompt_length
        if limit is None and self._max_context:
            limit = self._max_context - self.config.max_new_tokens
        if limit is not None and len(ids) > limit:
            raise DataError(f"prompt is {len(ids)} tokens; at most {limit} fit (context {self._max_context} minus "
                            f"max_new_tokens {self.config.max_new_tokens}, or max_prompt_length)",
                            row=index + 1, field="prompt")
        return ids

    def _text(self, x: Any) -> Any:
        if isinstance(x, str) or _is_conversation(x):
            return x  # reward functions take conversational prompts as they are
        ids = x.tolist() if isinstance(x, torch.Tensor) else list(x)
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _key(self, prompt: Any, response: Any) -> tuple:
        def as_key(x):
            if isinstance(x, str):
                return x
            if _is_conversation(x):
                return tuple((m["role"], m["content"]) for m in x)
            return tuple(x.tolist() if isinstance(x, torch.Tensor) else x)

        return as_key(prompt), as_key(response)

    # ------------------------------------------------------------------------------------------ generation
    def _generation_kwargs(self, overrides: dict) -> dict:
        c = self.config
        kw = {"max_new_tokens": c.max_new_tokens, "pad_token_id": self.tokenizer.pad_token_id,
                  "eos_token_id": self._eos_ids, "use_cache": True}
        if c.stop_strings:
            kw.update(stop_strings=list(c.stop_strings), tokenizer=self.tokenizer)
        kw.update(overrides)
        sample = kw.pop("do_sample", c.do_sample)
        temperature, top_k, top_p = (kw.pop(k, getattr(c, k)) for k in ("temperature", "top_k", "top_p"))
        kw["do_sample"] = False  # sampling happens in InverseCDFSampler; see sampling.py
        if sample:
            kw["logits_processor"] = LogitsProcessorList([InverseCDFSampler(temperature, top_k or 0, top_p)])
        return kw

    @torch.no_grad()
    def generate(self, prompts: Sequence[Any], **generation_kwargs) -> list[str]:
        """Responses (strings, special tokens removed) to `prompts` (strings, or token-id lists / tensors).

        Prompts are left-padded and generated in batches of `generation_batch_size` with the KV cache.
        `generation_kwargs` override the config's generation settings for this call. The exact sampled tokens
        are remembered, so `step()` on these strings trains on what was sampled, not on a re-tokenisation.
        """
        if isinstance(prompts, (str, torch.Tensor)) and not isinstance(prompts, list):
            prompts = [prompts]
        encoded = [self._encode_prompt(p, i) for i, p in enumerate(prompts)]
        kw = self._generation_kwargs(generation_kwargs)
        lm = self.policy
        device = self.accelerator.device
        chunk = self.config.generation_batch_size or len(encoded) or 1
        self._rollouts = {}
        out: list[str] = []
        module = self.accelerator.unwrap_model(self.model)
        for start in range(0, len(encoded), chunk):
            batch = encoded[start : start + chunk]
            ids, mask = _left_pad(batch, self.tokenizer.pad_token_id, device)
            # The raw logits and last hidden states of every generated token come back with the tokens: they are
            # the rollout's log-probs, entropies and values, so step() needs no second policy forward pass.
            gen = lm.generate(input_ids=ids, attention_mask=mask, return_dict_in_generate=True, output_logits=True,
                              output_hidden_states=True, **kw)
            tokens = gen.sequences[:, ids.shape[1]:]  # (b, G)
            # one generated position at a time: no (b, G, V) stack of the logits and no full log-softmax output
            logp = torch.stack([_token_logp(_tempered(step.float(), self.config.temperature), tokens[:, t])
                                for t, step in enumerate(gen.logits)], 1)  # (b, G)
            hidden = torch.stack([h[-1][:, -1] for h in gen.hidden_states], 1)  # (b, G, H)
            values = module.v_head(hidden.to(module.v_head.weight.dtype)).squeeze(-1).float()
            del gen, hidden
            for j, (prompt, p_ids, row) in enumerate(zip(prompts[start : start + chunk], batch, tokens.tolist())):
                resp, has_eos = self._cut_response(row)
                n = len(resp)
                text = self.tokenizer.decode(resp, skip_special_tokens=True)
                stopped = has_eos or any(text.endswith(s) for s in self.config.stop_strings)
                missing_eos = not stopped and n >= kw["max_new_tokens"]
                self._rollouts[self._key(prompt, text)] = Rollout(p_ids, resp, missing_eos, logp[j, :n], values[j, :n])
                out.append(text)
        return out

    def _cut_response(self, row: list[int]) -> tuple[list[int], bool]:
        """Tokens up to and including the first EOS; without EOS, the row minus trailing padding."""
        for i, t in enumerate(row):
            if t in self._eos_ids:
                return row[: i + 1], True
        pad = self.tokenizer.pad_token_id
        end = len(row)
        while end > 1 and row[end - 1] == pad:
            end -= 1
        return row[:end], False

    # ----------------------------------------------------------------------------------------------- step
    def _check_rewards(self, rewards: Any, n: int) -> list[float]:
        if isinstance(rewards, torch.Tensor):
            rewards = rewards.detach().float().flatten().tolist()
        try:
            values = [float(r.item() if isinstance(r, torch.Tensor) else r) for r in rewards]
        except (TypeError, ValueError):
            raise DataError(f"rewards must be numbers, got {rewards!r:.80}", field="rewards") from None
        if len(values) != n:
            raise DataError(f"got {len(values)} rewards for {n} responses; expected one per response",
                            field="rewards")
        return values

    def _rollouts_for(self, prompts, responses) -> list[Rollout]:
        """The remembered rollout of each pair; pairs not produced by generate() are taken as complete responses
        (an EOS is appended) and get their log-probs and values from a forward pass in step()."""
        out = []
        for i, (p, r) in enumerate(zip(prompts, responses)):
            cached = self._rollouts.get(self._key(p, r))
            if cached is None:
                ri = r.tolist() if isinstance(r, torch.Tensor) else list(r) if not isinstance(r, str) else \
                    self.tokenizer(r, add_special_tokens=False)["input_ids"]
                if not ri or ri[-1] not in self._eos_ids:
                    ri = ri + [self._eos_ids[0]]
                cached = Rollout(self._encode_prompt(p, i), ri, False)
            out.append(cached)
        return out

    def _shape_scores(self, scores: torch.Tensor) -> torch.Tensor:
        c = self.config
        if c.use_score_scaling:
            self.score_moments.update(scores)
            if c.use_score_norm:
                scores = (scores - self.score_moments.mean) / (self.score_moments.std + 1e-8)
            else:
                scores = scores / (self.score_moments.std + 1e-8)
        if c.score_clip is not None:
            scores = scores.clamp(-c.score_clip, c.score_clip)
        if c.whiten_rewards and scores.numel() > 1:
            scores = core.masked_whiten(scores, torch.ones_like(scores), shift_mean=False)
        return scores

    @torch.no_grad()
    def _score_rollouts(self, batch: dict, rolls: list[Rollout]) -> dict:
        """Old log-probs and values (from generation when remembered) and reference log-probs, (B, R) each."""
        module = self.accelerator.unwrap_model(self.model)
        R, T = batch["R"], self.config.temperature
        remembered = all(r.logp is not None for r in rolls)
        size = self.config.forward_batch_size or batch["input_ids"].shape[0]
        parts: dict[str, list] = {"logp": [], "values": [], "ref_logp": []}
        for rows in torch.arange(batch["input_ids"].shape[0]).split(size):
            ids, mask, pos, _, resp, _ = _slice(batch, rows)
            if not remembered:
                logp, values, _ = module(ids, mask, pos, resp, T)
                parts["logp"].append(_pad_to(logp, R))
                parts["values"].append(_pad_to(values.float(), R))
            if self.ref_model is None:
                with self.policy.disable_adapter():
                    ref_logp, _, _ = response_logprobs(self.policy, ids, mask, pos, resp, T)
            else:
                ref_logp, _, _ = response_logprobs(self.ref_model, ids, mask, pos, resp, T)
            parts["ref_logp"].append(_pad_to(ref_logp, R))
        if remembered:
            device = self.accelerator.device
            for name in ("logp", "values"):
                parts[name] = [_pad_to(getattr(r, name).to(device)[None], R) for r in rolls]
        return {k: torch.cat(v) * batch["response_mask"] for k, v in parts.items()}

    def step(self, prompts: Sequence[Any], responses: Sequence[Any], rewards: Any = None) -> dict[str, float]:
        """One PPO update on (prompts, responses, rewards); returns a flat dict of metrics (TRL's names).

        `rewards` (one number per response) may be omitted when the trainer has a `reward_model`. Samples whose
        reward is NaN/inf are skipped (logged, counted in `ppo/skipped_samples`). A NaN/inf loss or gradient is
        never applied: the step ends, `trainer.diverged` and `trainer.stop_training` are set.
        """
        t0 = time.perf_counter()
        prompts, responses = list(prompts), list(responses)
        if len(prompts) != len(responses):
            raise DataError(f"got {len(prompts)} prompts but {len(responses)} responses; expected equal lengths")
        if not prompts:
            raise DataError("step() needs at least one (prompt, response) pair")
        p_texts, r_texts = [self._text(p) for p in prompts], [self._text(r) for r in responses]
        members = None
        if rewards is None:
            if self.reward_fn is None:
                raise ConfigError("give rewards to step(), or a reward_model to the trainer", field="reward_model")
            if isinstance(self.reward_fn, EnsembleReward):
                members = self.reward_fn.member_scores(p_texts, r_texts)
                rewards = self.reward_fn.combine(members)
            else:
                rewards = self.reward_fn(p_texts, r_texts)
        scores = self._check_rewards(rewards, len(prompts))
        keep = [i for i, s in enumerate(scores) if math.isfinite(s)]
        for i in sorted(set(range(len(scores))) - set(keep)):
            logger.warning("step %d: skipping sample %d: reward is %s (prompt %r)", self.step_count + 1, i + 1,
                           scores[i], p_texts[i][:60])
        stats: dict[str, float] = {"ppo/skipped_samples": float(len(scores) - len(keep))}
        if members is not None and keep:
            stats.update(_ensemble_stats(members, keep))
        if self.gold_reward_fn is not None and keep:
            gold = self.gold_reward_fn([p_texts[i] for i in keep], [r_texts[i] for i in keep])
            stats["gold/score"] = sum(gold) / len(gold)
        if not keep:
            logger.warning("step %d: every reward was NaN/inf; no update", self.step_count + 1)
            return self._finish(stats, t0)
        rolls = self._rollouts_for([prompts[i] for i in keep], [responses[i] for i in keep])
        missing = [r.missing_eos for r in rolls]
        raw = torch.tensor([scores[i] for i in keep], dtype=torch.float32)
        penalised = raw.clone()
        if self.config.missing_eos_penalty is not None:
            penalised -= self.config.missing_eos_penalty * torch.tensor(missing, dtype=torch.float32)
        if self.config.length_penalty:
            lengths = torch.tensor([len(r.response_ids) for r in rolls], dtype=torch.float32)
            penalised -= self.config.length_penalty * lengths
        shaped = self._shape_scores(penalised).to(self.accelerator.device)

        batch = _build_batch([r.prompt_ids for r in rolls], [r.response_ids for r in rolls],
                             self.tokenizer.pad_token_id, self.accelerator.device)
        roll = self._score_rollouts(batch, rolls)
        mask = batch["response_mask"]
        kl = core.kl_per_token(roll["logp"], roll["ref_logp"], self.config.kl_penalty) * mask
        kl_coef = self.kl_ctl.value
        token_rewards = -kl_coef * kl
        last = batch["response_lengths"] - 1
        token_rewards[torch.arange(len(last)), last] += shaped
        advantages, returns = core.compute_gae(token_rewards, roll["values"], mask, self.config.gamma,
                                               self.config.lam)
        if self.config.whiten_advantages:
            advantages = core.masked_whiten(advantages, mask)

        train_stats = self._ppo_epochs(batch, roll, advantages, returns)
        raw_kl = ((roll["logp"] - roll["ref_logp"]) * mask).sum(1)  # (B,) KL per sample, nats
        mean_kl = self._mean_across(raw_kl.mean())
        self.kl_ctl.update(mean_kl, len(keep) * self.accelerator.num_processes)
        non_score = (-kl_coef * kl).sum(1)
        stats.update({
            "objective/kl": mean_kl,
            "objective/kl_coef": kl_coef,
            # classic TRL's estimate of the response entropy: -sum of the sampled tokens' log-probs, nats/sample
            "objective/entropy": float((-roll["logp"] * mask).sum(1).mean()),
            "objective/non_score_reward": float(non_score.mean()),
            "objective/rlhf_reward": float((non_score + shaped).mean()),
            "objective/scores": float(raw.mean()),
            "objective/scores_shaped": float(shaped.mean()),
            "response_length/mean": float(batch["response_lengths"].float().mean()),
            "response_length/missing_eos": float(sum(missing)) / len(missing),
            **train_stats,
        })
        return self._finish(stats, t0)

    def _ppo_epochs(self, batch: dict, roll: dict, advantages: torch.Tensor, returns: torch.Tensor) -> dict:
        c = self.config
        B = batch["input_ids"].shape[0]
        per_update = c.mini_batch_size * c.gradient_accumulation_steps
        sums: dict[str, float] = {}
        n_mini = skipped = 0
        early_stop = False
        for _ in range(c.ppo_epochs):
            order = torch.randperm(B, generator=self.generator)
            for start in range(0, B, per_update):
                group = order[start : start + per_update].split(c.mini_batch_size)
                for k, rows in enumerate(group):
                    mb = self._minibatch_loss(batch, roll, advantages, returns, rows)
                    bad, too_far = self._any_across(not torch.isfinite(mb["loss"]).item(),
                                                    mb["ratio"] > c.ratio_threshold)
                    if bad:
                        return self._diverge("loss", sums, n_mini, skipped)
                    if too_far:
                        skipped += 1
                        logger.warning("step %d: skipping a mini-batch whose mean importance ratio is %.3g (> %g)",
                                       self.step_count + 1, mb["ratio"], c.ratio_threshold)
                        continue
                    sync = k == len(group) - 1
                    with contextlib.nullcontext() if sync else self.accelerator.no_sync(self.model):
                        self.accelerator.backward(mb["loss"] / len(group))
                    n_mini += 1
                    for name, v in mb.items():
                        sums[name] = sums.get(name, 0.0) + (v.item() if isinstance(v, torch.Tensor) else v)
                if not self._optimizer_step():
                    return self._diverge("gradient", sums, n_mini, skipped)
                if c.early_stopping and n_mini:
                    kl_now = self._mean_across(torch.tensor(sums["approxkl"] / n_mini))
                    if kl_now > 1.5 * c.target_kl:
                        early_stop = True
                        logger.info("step %d: early stop, policy KL %.3g > 1.5 x target_kl %g",
                                    self.step_count + 1, kl_now, c.target_kl)
                        break
            if early_stop:
                break
        out = self._train_stats(sums, n_mini, skipped)
        out["ppo/early_stop"] = float(early_stop)
        return out

    def _minibatch_loss(self, batch, roll, advantages, returns, rows) -> dict:
        c = self.config
        ids, mask_in, pos, R, resp, mask = _slice(batch, rows)
        logp, values, entropy = self.model(ids, mask_in, pos, resp, c.temperature, c.entropy_coef > 0)

        def sl(t):
            return t[rows, :R]

        pg_loss, pg = core.policy_loss(logp, sl(roll["logp"]), sl(advantages), mask, c.cliprange)
        vf_loss, vf_clipfrac = core.value_loss(values.float(), sl(roll["values"]), sl(returns), mask,
                                               c.cliprange_value)
        loss = pg_loss + c.vf_coef * vf_loss
        if c.entropy_coef > 0:
            loss = loss - c.entropy_coef * core.masked_mean(entropy, mask)
        return {"loss": loss, "policy": pg_loss.detach(), "value": vf_loss.detach(), "clipfrac": pg["clipfrac"],
                "approxkl": pg["approxkl"], "ratio": pg["ratio"].item(), "vf_clipfrac": vf_clipfrac}

    def _optimizer_step(self) -> bool:
        """Clip and apply the accumulated gradient; refuse (and zero) it when it is not finite."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        max_norm = self.config.max_grad_norm or float("inf")
        norm = self.accelerator.clip_grad_norm_(params, max_norm)
        if norm is not None and not torch.isfinite(torch.as_tensor(norm)).item():
            self.optimizer.zero_grad(set_to_none=True)
            return False
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return True

    def _diverge(self, what: str, sums, n_mini, skipped) -> dict:
        self.optimizer.zero_grad(set_to_none=True)
        self.diverged = self.stop_training = True
        logger.error("step %d: the %s became NaN/inf; this update was not applied and training stops "
                     "(the weights are those of the last good update)", self.step_count + 1, what)
        out = self._train_stats(sums, n_mini, skipped)
        out["ppo/diverged"] = 1.0
        return out

    @staticmethod
    def _train_stats(sums: dict, n_mini: int, skipped: int) -> dict:
        def avg(k):
            return sums.get(k, float("nan")) / n_mini if n_mini else float("nan")

        return {"policy/approxkl_avg": avg("approxkl"), "policy/clipfrac_avg": avg("clipfrac"),
                "val/ratio": avg("ratio"), "val/clipfrac_avg": avg("vf_clipfrac"), "loss/policy_avg": avg("policy"),
                "loss/value_avg": avg("value"), "ppo/minibatches": float(n_mini),
                "ppo/skipped_minibatches": float(skipped)}

    def _mean_across(self, x: torch.Tensor) -> float:
        x = torch.as_tensor(x, dtype=torch.float32, device=self.accelerator.device).reshape(1)
        if self.accelerator.num_processes > 1:
            x = self.accelerator.reduce(x, reduction="mean")
        return float(x.item())

    def _any_across(self, *flags: bool) -> list[bool]:
        """Flags OR-ed over processes, so every process skips or stops together (DDP needs matching backwards)."""
        t = torch.tensor([float(f) for f in flags], device=self.accelerator.device)
        if self.accelerator.num_processes > 1:
            t = self.accelerator.reduce(t, reduction="sum")
        return [bool(v > 0) for v in t.tolist()]

    def _finish(self, stats: dict, t0: float) -> dict:
        self.step_count += 1
        stats["time/step"] = time.perf_counter() - t0
        stats = {k: float(v) for k, v in stats.items()}
        self.history.append(stats)
        if self.config.output_dir and self.accelerator.is_main_process:
            path = Path(self.config.output_dir) / "metrics.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"step": self.step_count, **stats}) + "\n")
        if self._tracking:
            self.accelerator.log(stats, step=self.step_count)
        for cb in self.callbacks:
            if cb.on_step_end(self, self.step_count, stats) is True:
                self.stop_training = True
        return stats

    # ---------------------------------------------------------------------------------------------- train
    def train(self, prompts_dataset: DataSource, max_steps: int | None = None) -> list[dict[str, float]]:
        """Run PPO steps over `prompts_dataset` (strings, a file, rows or a Dataset), reshuffled each pass, until
        `max_steps` (default `config.max_steps`) steps are done; every process takes its own shard. Saves to
        `config.output_dir`: a resumable checkpoint (`checkpoint-last`, see `save_state`) every `save_steps` and
        after the last step, the model at the end. Returns the per-step stats.

        With `config.resume`, a trainer that has not stepped yet first restores `output_dir/checkpoint-last`
        (`load_state`) and continues where it stopped; without a checkpoint it starts from step 0 (logged). A
        resumed run ends with the same weights and metrics as one that was never stopped (on CPU; see
        docs/guides/ppo.md#resume). A fresh start clears what an earlier run left in `output_dir` (its checkpoint,
        metrics and model files), so a stopped run's folder never holds a model and never looks finished.
        """
        if self.reward_fn is None:
            raise ConfigError("train() needs a reward_model (a folder, a model or a callable)", field="reward_model")
        prompts = load_prompts(prompts_dataset)
        acc = self.accelerator
        shard = prompts[acc.process_index :: acc.num_processes] or prompts
        for i, p in enumerate(shard):
            self._encode_prompt(p, i)  # fail before any update on an empty or too long prompt
        c, out = self.config, self.config.output_dir
        check_push(c.push_to_hub, c.hub_model_id)
        with output_lock(out, acc.is_main_process) if out else contextlib.nullcontext():
            return self._train(prompts, shard, max_steps or c.max_steps)

    def _train(self, prompts: list, shard: list, total: int) -> list[dict[str, float]]:
        """`train` once the output folder is held."""
        acc, c, out = self.accelerator, self.config, self.config.output_dir
        if out:
            self._check_output_is_not_the_policy(Path(out))
        if out and c.resume and self.step_count == 0:
            if acc.is_main_process:
                state_io.recover_interrupted_save(Path(out))
            acc.wait_for_everyone()
            ckpt = state_io.find_checkpoint(Path(out))
            if ckpt is None:
                if (Path(out) / state_io.CHECKPOINT).exists():
                    state_io.read_state(Path(out) / state_io.CHECKPOINT)  # raises, saying what the folder lacks
                logger.warning("resume: no checkpoint in %s; starting from step 0", out)
            else:
                self.load_state(ckpt)
                logger.info("resumed from %s at step %d", ckpt, self.step_count)
        if self.step_count > total:
            raise ConfigError(f"the run is already at step {self.step_count}, past {total}; give max_steps >= "
                              f"{self.step_count}", field="max_steps")
        self._use_prompts(shard)
        if out and acc.is_main_process:
            _prepare_output(Path(out), fresh=self.step_count == 0)
            atomic_write_text(Path(out) / "config.yaml", _yaml(to_dict(c)))
            atomic_write_json(Path(out) / "data_summary.json", {"prompts": len(prompts), "per_process": len(shard),
                                                                "processes": acc.num_processes})
        if c.report_to and not self._tracking:
            flat = {k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in to_dict(c).items()}
            acc.init_trackers("ppo", config=flat)
            self._tracking = True
        self.stop_training = False
        checkpoint = Path(out) / state_io.CHECKPOINT if out else None
        while self.step_count < total and not self.stop_training:
            batch = self._next_prompts(shard)
            responses = self.generate(batch)
            self.step(batch, responses)
            if checkpoint and c.save_steps and self.step_count % c.save_steps == 0 and not self.diverged:
                self.save_state(checkpoint)
        if checkpoint and c.save_steps and not self.diverged and self._checkpoint_step != self.step_count:
            self.save_state(checkpoint)  # the final state too, so a resume with more steps continues from here
        if self._tracking:
            acc.end_training()  # flush and close the trackers before the output folder is replaced
            self._tracking = False
        if out:
            if self.diverged:
                logger.error("training diverged at step %d; keeping the last good weights in %s", self.step_count,
                             out)
            if acc.is_main_process:  # the card goes into the folder with the weights (save_model keeps it)
                atomic_write_text(Path(out) / "README.md", self._card())
            self.save_model(out)
            if c.push_to_hub and acc.is_main_process:
                push_folder(out, repo_id_for(c.hub_model_id, out), c.hub_private_repo)
        return self.history

    def _check_output_is_not_the_policy(self, out: Path) -> None:
        """Refuse to write a run into the folder its policy was loaded from: the run clears that folder's model
        files until its final save, and a resumed run needs the starting policy unchanged."""
        source = getattr(getattr(base_causal_lm(self.policy), "config", None), "_name_or_path", "") or ""
        if source and Path(source).is_dir() and Path(source).resolve() == out.resolve():
            raise ConfigError(f"{out} is the folder the policy was loaded from; write the PPO run to another folder",
                              field="output_dir")

    def _use_prompts(self, shard: list) -> None:
        """Take `shard` as the prompt stream: continue the saved order when it is the same shard; refuse other
        prompts after load_state (the order indexes into the shard); otherwise start a new pass."""
        prompts_id = state_io.fingerprint(shard)
        if self._prompts_id is not None and self._prompts_id != prompts_id:
            if self._resumed:
                raise ConfigError(f"the prompts ({prompts_id}: count:hash) differ from those of the run being "
                                  f"resumed ({self._prompts_id}); resume with the same prompts", field="prompts")
            self._order = []  # another data set: a new pass over it
        self._prompts_id = prompts_id
        self._resumed = False

    def _next_prompts(self, shard: list) -> list:
        """The next `batch_size` prompts of the stream: a seeded permutation of the shard per pass."""
        batch: list = []
        while len(batch) < self.config.batch_size:
            if not self._order:
                self._order = torch.randperm(len(shard), generator=self.generator).tolist()
            batch.append(shard[self._order.pop()])
        return batch

    def _card(self) -> str:
        last = {**(self.history[-1] if self.history else {}), "steps": self.step_count}
        policy_config = getattr(self.accelerator.unwrap_model(self.model).policy, "config", None)
        base = getattr(policy_config, "_name_or_path", "") or "an in-memory policy"
        return training_card(stage="ppo", output_dir=str(self.config.output_dir), base_model=str(base),
                             data={}, metrics=last, config=to_dict(self.config), version=__version__)

    def save_model(self, path: str | Path) -> None:
        """Write the policy (LoRA merged in), tokenizer and `value_head.safetensors` to `path`, atomically.

        Refuses to write weights that contain NaN/inf, so a diverged run never overwrites a good checkpoint."""
        self._write(Path(path), None)

    def save_state(self, path: str | Path) -> None:
        """Write a resumable checkpoint to `path`, atomically: the model as `save_model` writes it, plus everything
        the next step depends on (`ppo_state.py` lists the files): trainable weights, optimiser state, KL
        controller, score moments, step count, history, the position in train()'s prompt stream, and the RNG
        states of every process. No pickle. Every process must call it (the states are gathered to the main one).
        """
        acc = self.accelerator
        tensors, values = state_io.rng_state(self.generator, acc.device)
        mine = {"tensors": tensors, "values": {
            **values, "history": self.history, "order": self._order, "prompts": self._prompts_id,
            "kl_coef": self.kl_ctl.value,
            "score_moments": [self.score_moments.mean, self.score_moments.var, self.score_moments.count]}}
        if acc.num_processes > 1:
            from accelerate.utils import gather_object

            ranks = gather_object([mine])
        else:
            ranks = [mine]
        self._write(Path(path), ranks)
        # Put the generators back where they were saved, in case writing drew from them: the next step must see
        # the same state whether it runs on or is resumed from this checkpoint.
        state_io.set_rng_state(tensors, values, self.generator, acc.device)
        self._checkpoint_step = self.step_count

    def load_state(self, path: str | Path) -> None:
        """Restore what `save_state` wrote to `path` into this trainer, which must be built as the saved one was:
        the same starting policy and reference, and a config that differs at most in the fields
        `ppo_state.MAY_CHANGE_ON_RESUME` names (else ConfigError naming the first changed field). Lines of
        `output_dir/metrics.jsonl` after the checkpoint's step are dropped, since those steps run again."""
        from safetensors.torch import load_file

        path, acc = Path(path), self.accelerator
        state = state_io.read_state(path)
        state_io.check_config(state["config"], to_dict(self.config), to_dict(PPOConfig()), path)
        if state["processes"] != acc.num_processes:
            raise ConfigError(f"{path} was written by {state['processes']} processes and this run has "
                              f"{acc.num_processes}; resume with as many (each keeps its own prompt shard and RNG)")
        module = acc.unwrap_model(self.model)
        params = {name: p for name, p in module.named_parameters() if p.requires_grad}
        file = path / state_io.TRAINABLE_FILE
        weights = load_file(str(file))
        if set(weights) != set(params):
            differ = sorted(set(weights) ^ set(params))[:3]
            raise DataError(f"holds other trainable weights than this trainer's (e.g. {differ}); was it written "
                            "with another policy?", path=str(file))
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(weights[name])
        self.optimizer.load_state_dict(state_io.join_optimizer(load_file(str(path / state_io.OPTIMIZER_FILE)),
                                                               state["optimizer"]))
        rank = state["ranks"][acc.process_index]
        self.step_count = int(state["step"])
        self.history = [{k: float(v) for k, v in row.items()} for row in rank["history"]]
        self._order = [int(i) for i in rank["order"]]
        self._prompts_id = rank["prompts"]
        self.kl_ctl.value = float(rank["kl_coef"])
        self.score_moments.mean, self.score_moments.var, self.score_moments.count = map(float, rank["score_moments"])
        rng = load_file(str(path / state_io.RNG_FILE))
        prefix = f"rank{acc.process_index}."
        state_io.set_rng_state({k[len(prefix):]: v for k, v in rng.items() if k.startswith(prefix)}, rank,
                               self.generator, acc.device)
        self.diverged = self.stop_training = False
        self._resumed = True
        self._checkpoint_step = self.step_count
        if self.config.output_dir and acc.is_main_process:
            truncate_metrics(Path(self.config.output_dir) / METRICS_FILE, self.step_count)
        acc.wait_for_everyone()

    def _write(self, path: Path, ranks: list[dict] | None) -> None:
        """The model to `path` atomically (see save_model); with `ranks` (each process's RNG and run state) the
        trainer state too (see save_state)."""
        acc = self.accelerator
        acc.wait_for_everyone()
        if acc.is_main_process:
            module = acc.unwrap_model(self.model)
            if not all(torch.isfinite(p).all() for p in module.parameters()):
                raise TrainingDiverged(f"the weights contain NaN/inf; not saving them to {path}")
            from safetensors.torch import save_file

            policy = module.policy
            if self.is_peft:
                policy = copy.deepcopy(policy).merge_and_unload()
            with disk_errors(path), atomic_directory(path) as tmp:
                policy.save_pretrained(tmp, safe_serialization=True)
                self.tokenizer.save_pretrained(tmp)
                save_file({k: v.detach().contiguous().cpu() for k, v in module.v_head.state_dict().items()},
                          str(tmp / "value_head.safetensors"))
                if ranks is not None:
                    self._write_state(tmp, module, ranks)
                for extra in (METRICS_FILE, "config.yaml", "data_summary.json", "README.md", state_io.CHECKPOINT,
                              "runs"):
                    src = path / extra
                    if src.exists():
                        src.rename(tmp / extra)  # keep the run's logs when the model folder is the output folder
        acc.wait_for_everyone()

    def _write_state(self, folder: Path, module, ranks: list[dict]) -> None:
        from safetensors.torch import save_file

        save_file({name: p.detach().cpu().contiguous() for name, p in module.named_parameters() if p.requires_grad},
                  str(folder / state_io.TRAINABLE_FILE))
        tensors, optimizer = state_io.split_optimizer(self.optimizer.state_dict())
        save_file(tensors, str(folder / state_io.OPTIMIZER_FILE))
        save_file({f"rank{i}.{k}": v.cpu().contiguous() for i, r in enumerate(ranks) for k, v in r["tensors"].items()},
                  str(folder / state_io.RNG_FILE))
        # The JSON last: a folder with it is complete (the whole folder appears at once anyway, by rename).
        atomic_write_json(folder / state_io.STATE_FILE, {
            "format": state_io.STATE_FORMAT, "step": self.step_count, "processes": len(ranks),
            "config": to_dict(self.config), "optimizer": optimizer,
            "ranks": [r["values"] for r in ranks]})


# ------------------------------------------------------------------------------------------ output folder
# What marks a folder as a finished model: the files `save_model` writes (README.md is the model card).
_MODEL_FILES = ("config.json", "generation_config.json", "README.md", "*.safetensors", "*.safetensors.index.json")


def _prepare_output(out: Path, fresh: bool) -> None:
    """Make `out` hold only what this run goes on from. Checkpoint folders half-written by a killed run go, and so do
    the model files of an earlier finished run (the final save writes them again): a folder whose run is not
    finished never holds a model, so it never looks finished. A `fresh` start also drops an earlier run's
    checkpoint and metrics, which must not mix with this run's (nor be resumed from later)."""
    out.mkdir(parents=True, exist_ok=True)
    stale = list(out.glob(f".{state_io.CHECKPOINT}.*.partial"))
    if fresh:
        stale += [out / state_io.CHECKPOINT, out / f".{state_io.CHECKPOINT}.old", out / METRICS_FILE]
    for pattern in _MODEL_FILES:
        stale += [p for p in out.glob(pattern) if p.is_file()]
    for p in stale:
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------ batch helpers
def _is_conversation(x: Any) -> bool:
    """Whether `x` is a conversational prompt (a list of {role, content} messages), not token ids."""
    return isinstance(x, (list, tuple)) and bool(x) and all(isinstance(m, dict) for m in x)


def _left_pad(seqs: list[list[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask), both (B, max_len), padded on the left (what decoder-only generation needs)."""
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, n - len(s):] = torch.tensor(s)
        mask[i, n - len(s):] = 1
    return ids.to(device), mask.to(device)


def _build_batch(p_ids, r_ids, pad: int, device) -> dict:
    """[left-padded prompts | right-padded responses] with masks and positions that match generation."""
    prompt_ids, prompt_mask = _left_pad(p_ids, pad, device)
    R = max(len(r) for r in r_ids)
    resp = torch.full((len(r_ids), R), pad, dtype=torch.long)
    rmask = torch.zeros((len(r_ids), R), dtype=torch.float32)
    for i, r in enumerate(r_ids):
        resp[i, : len(r)] = torch.tensor(r)
        rmask[i, : len(r)] = 1
    resp, rmask = resp.to(device), rmask.to(device)
    attn = torch.cat([prompt_mask, rmask.long()], dim=1)
    return {"input_ids": torch.cat([prompt_ids, resp], dim=1), "attention_mask": attn,
            "position_ids": (attn.cumsum(1) - 1).clamp(min=0), "response_ids": resp, "response_mask": rmask,
            "response_lengths": rmask.sum(1).long(), "prompt_starts": (prompt_mask == 0).sum(1),
            "P": prompt_ids.shape[1], "R": R}


def _slice(batch: dict, rows: torch.Tensor):
    """The rows' sub-batch with shared padding trimmed: (ids, attn, pos, R, response_ids, response_mask)."""
    P = batch["P"]
    start = int(batch["prompt_starts"][rows].min())
    R = int(batch["response_lengths"][rows].max())
    cols = slice(start, P + R)
    return (batch["input_ids"][rows, cols], batch["attention_mask"][rows, cols], batch["position_ids"][rows, cols], R,
            batch["response_ids"][rows, :R], batch["response_mask"][rows, :R])


def _ensemble_stats(members: list[list[float]], keep: list[int]) -> dict[str, float]:
    """Each member's mean reward and the members' mean std over the kept samples (finite combined reward)."""
    stats = {f"ensemble/member_{j}": sum(scores[i] for i in keep) / len(keep) for j, scores in enumerate(members)}
    std = ensemble_std([[scores[i] for i in keep] for scores in members])
    stats["ensemble/std"] = sum(std) / len(std)
    return stats


def _tempered(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """logits / temperature, skipping the (B, T, V) copy in the common temperature-1 case."""
    return logits if temperature == 1.0 else logits / temperature


def _token_logp(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log p(token) for one generated position: logits (b, V), tokens (b,) -> (b,)."""
    return logits.gather(-1, tokens[:, None]).squeeze(-1) - torch.logsumexp(logits, -1)


def _pad_to(x: torch.Tensor, R: int) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, R - x.shape[1])) if x.shape[1] < R else x


def _yaml(obj: dict) -> str:
    import yaml

    return yaml.safe_dump(obj, sort_keys=False)
