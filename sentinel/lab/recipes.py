"""Fast training recipes for lab models: an SFT policy and reward models, in a minute or two on a CPU.

Used by the shared test fixtures (`tests/helpers/fixtures_lab.py`) and `benchmarks/lab_pipeline.py`. They run the
project's own stages (`sentinel.train.sft` / `sentinel.train.reward`, on TRL) with settings that suit a sub-1M
parameter model on a CPU: a high learning rate with cosine decay, float32, no gradient checkpointing, no
intermediate checkpoints, one torch thread. Reward models start from the SFT policy's trunk (or a fresh tiny
Llama) and see pairs formatted by `format_for_reward`, as they are scored later.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .build import Lab

logger = logging.getLogger(__name__)


@dataclass
class RecipeConfig:
    """Optimiser settings of a lab recipe. Without one, `train_sft` and `train_dpo` use `SFT_RECIPE` and
    `DPO_RECIPE`, `train_reward` its own settings."""

    steps: int = field(default=700, metadata={"help": "optimiser steps"})
    batch_size: int = field(default=32, metadata={"help": "examples (or pairs) per step"})
    learning_rate: float = field(default=1e-2, metadata={"help": "peak learning rate (cosine decay, 5% warm-up)"})
    max_length: int = field(default=128, metadata={"help": "longest sequence in tokens"})
    seed: int = field(default=0, metadata={"help": "seed of initialisation and data order"})
    micro_batches: int = field(default=1, metadata={
        "help": "cut each step into this many micro-batches of similar length (`sort_micro_batches`): less padding, "
                "the same examples per step; batch_size must divide by it"})
    threads: int | None = field(default=1, metadata={"help": "torch CPU threads while training, at most the CPU "
                                                              "count (None: leave as is). Small batches gain nothing "
                                                              "from a second thread; SFT's batches of 64 do "
                                                              "(benchmarks/lab_pipeline.py --sft-threads)"})

    def __post_init__(self):
        for name in ("steps", "batch_size", "max_length", "micro_batches"):
            if getattr(self, name) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, name)}", field=name)
        if not self.learning_rate > 0:
            raise ConfigError(f"must be positive, got {self.learning_rate}", field="learning_rate")
        if self.batch_size % self.micro_batches:
            raise ConfigError(f"batch_size {self.batch_size} does not divide into {self.micro_batches} micro-batches",
                              field="micro_batches")


@contextmanager
def _threads(n: int | None) -> Iterator[None]:
    import torch

    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(max(1, min(n, os.cpu_count() or 1)))  # oversubscribed cores make every step slower
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _stage_kwargs(cfg: RecipeConfig, out: str | Path) -> dict[str, Any]:
    return {"output_dir": str(out), "max_steps": cfg.steps,
                "per_device_train_batch_size": cfg.batch_size // cfg.micro_batches,
                "gradient_accumulation_steps": cfg.micro_batches, "sort_micro_batches": cfg.micro_batches > 1,
                "learning_rate": cfg.learning_rate, "lr_scheduler_type": "cosine", "warmup_ratio": 0.05,
                "max_length": cfg.max_length, "seed": cfg.seed, "logging_steps": max(1, cfg.steps // 10),
                "save_steps": cfg.steps + 1, "quiet": True, "device": "cpu"}


# The lab's SFT recipe: 500 steps of 64 conversations (8 epochs of the 4000 rows) at learning rate 1e-2 with cosine
# decay, on two threads. The list and arithmetic tasks are learnt late and abruptly, and at 500 steps not on every CPU:
# greedy gold accuracy 0.963 with the default kernels of an AVX-512 CPU, 0.923 under ATEN_CPU_CAPABILITY=avx2
# (subtract 0.88 against 0.63). 1000 steps learn them everywhere (0.997 and 0.993, every task >= 0.96), but the lab's
# RL outcome tests are built on the imperfect policy (GRPO against the biased reward model from a 0.997 policy pads
# its replies without losing gold), so the recipe stays until they are redesigned. Batches of 64 get there in fewer
# examples than batches of 32, and are large enough for a second thread to pay. Accuracy and time:
# benchmarks/lab_pipeline.py. The test fixtures' policy (tests/helpers/fixtures_lab.py).
SFT_RECIPE: dict[str, Any] = {"steps": 500, "batch_size": 64, "learning_rate": 1e-2, "threads": 2}


# Quick settings for the lab benchmarks that need *a* trained policy and reward model rather than the best ones:
# QUICK_SFT stops while the list and arithmetic tasks are half learnt (a partly trained policy, whose per-task
# results differ from CPU to CPU); QUICK_RM (also the test fixtures' reward models) gives reward models that carry
# their annotator's biases: 300 updates of 16 pairs let the biased RM learn each planted bias apart from length
# (benchmarks/lab_rm_audit.py).
# The lab's reward-model recipe (`train_reward`'s default; benchmarks/lab_pipeline.py, docs/benchmarks.md), from the SFT
# policy's trunk: measured against the lab's targets (held-out accuracy within 3 points of the label ceiling, >= 0.85
# on held-out pairs whose replies share one style, every planted bias flagged by the audit).
# 3000 steps of 32 pairs (about 5 epochs of the default lab's 19,500 training pairs), learning rate 2e-3, two fresh
# blocks on top of the SFT trunk: comparing the stated answer with the question at the last token takes depth, and
# without the blocks (400 steps, 3e-3, as before) the reward model ranks only 64% of same-style pairs right.
RM_RECIPE: dict[str, Any] = {"steps": 3000, "batch_size": 32, "learning_rate": 2e-3, "threads": 1, "blocks": 2}

QUICK_SFT = {"steps": 400, "batch_size": 32, "learning_rate": 1e-2}
QUICK_RM: dict[str, Any] = {"steps": 300, "batch_size": 16, "learning_rate": 3e-3}


def train_sft(lab: str | Path | Lab, out: str | Path, config: RecipeConfig | None = None, *,
              init: str | Path | None = None, rows: list[dict] | None = None) -> Path:
    """Fine-tune the lab's base policy (or `init`) on DIR/data/sft.jsonl (loss on the reply only). Returns `out`.

    `init`: a causal-LM folder to start from instead of DIR/base, such as the lab's base adapted on domain text by
    `sentinel train domain`, or a trained policy to fine-tune further; it must keep the lab's tokenizer (the lab's data,
    graders and reward models are tokenized with it). `rows`: conversations to train on instead of the lab's SFT
    file (`noisy_sft_rows` of them, say). Default settings: `SFT_RECIPE`."""
    from ..data import write_rows
    from ..train import SFTConfig, sft

    cfg = config or RecipeConfig(**SFT_RECIPE)
    lab = Lab.open(lab)
    start = Path(init) if init is not None else lab.base
    if init is not None:
        check_same_tokenizer(start, lab.base)
    with _threads(cfg.threads), tempfile.TemporaryDirectory(prefix="lab-sft-") as tmp:
        train_file = lab.data("sft")
        if rows is not None:
            train_file = Path(tmp) / "sft.jsonl"
            write_rows(rows, train_file)
        return sft(SFTConfig(model=str(start), train_file=str(train_file), **_stage_kwargs(cfg, out))).output_dir


# A short fine-tune of a trained policy on `noisy_sft_rows`: only the answer distribution moves, so a few epochs' worth
# of steps at a moderate learning rate reach the mixture. The result answers wrongly on a steady share of prompts (a
# mixture it has learnt, not a task half learnt), which gives PPO, GRPO and DPO against the gold grader room to improve
# the same way on every CPU (the test fixtures' `lab_sft_noisy`, at a share of 0.4).
NOISY_SFT: dict[str, Any] = {"steps": 150, "batch_size": 32, "learning_rate": 3e-3}


def noisy_sft_rows(rows: list[dict], share: float, seed: int = 0) -> list[dict]:
    """The lab's SFT rows with the answer of about `share` of them replaced by a wrong one (a plain "The answer is
    X.")."""
    import random

    from .replies import render
    from .world import find_question, wrong_answer

    rng = random.Random(seed)
    out = []
    for row in rows:
        messages = row["messages"]
        q = find_question(messages[0]["content"])
        if q is not None and rng.random() < share:
            messages = [*messages[:-1], {"role": "assistant", "content": render(wrong_answer(rng, q), "plain", rng, q)}]
        out.append({"messages": messages})
    return out


def noisy_sft(lab: str | Path | Lab, policy: str | Path, out: str | Path, share: float = 0.4,
              config: RecipeConfig | None = None) -> Path:
    """`policy` fine-tuned further (`NOISY_SFT`) on the lab's SFT rows with about `share` of the answers wrong."""
    from ..data import read_rows

    lab = Lab.open(lab)
    rows = noisy_sft_rows(read_rows(lab.data("sft")).rows, share)
    return train_sft(lab, out, config or RecipeConfig(**NOISY_SFT), init=policy, rows=rows)


def check_same_tokenizer(model: Path, lab_base: Path) -> None:
    """ConfigError unless `model`'s tokenizer has the same vocabulary as the lab's."""
    from transformers import AutoTokenizer

    if not (model / "config.json").is_file():
        raise ConfigError(f"not a model folder (no config.json): {model}", field="base_model")
    try:
        theirs = AutoTokenizer.from_pretrained(str(model)).get_vocab()
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot load the tokenizer of {model}: {e}", field="base_model") from None
    ours = AutoTokenizer.from_pretrained(str(lab_base)).get_vocab()
    if theirs != ours:
        raise ConfigError(f"{model} has another tokenizer than the lab's ({len(theirs)} vs {len(ours)} tokens); "
                          f"adapt the lab's own base instead (sentinel train domain --model {lab_base} ...)",
                          field="base_model")


def preference_split(lab: str | Path | Lab, holdout: int = 0, preferences: str | Path | None = None
                     ) -> tuple[list[dict], list[dict]]:
    """(train, held-out) pairs from the lab's preferences (or `preferences`); the last `holdout` rows are held out."""
    from ..data import read_rows

    lab = Lab.open(lab)
    rows = read_rows(Path(preferences) if preferences else lab.data("preferences")).rows
    if holdout >= len(rows):
        raise ConfigError(f"holdout {holdout} leaves no training pairs out of {len(rows)}", field="holdout")
    return (rows[: len(rows) - holdout], rows[len(rows) - holdout:]) if holdout else (rows, [])


def train_reward(lab: str | Path | Lab, out: str | Path, config: RecipeConfig | None = None, *,
                 pairs: list[dict[str, Any]] | None = None, init: str | Path | None = None, blocks: int | None = None
                 ) -> Path:
    """Train a tiny reward model (Llama, one label) on the lab's preference pairs (or `pairs`). Returns `out`.

    `init`: a causal-LM folder (normally the SFT policy) whose trunk the reward model starts from, with a fresh
    scalar head, as in InstructGPT. A reward model must know the right answer to rank by correctness; starting
    from a policy that already solves the tasks makes that a few hundred steps instead of thousands. Without
    `init`, a freshly initialised tiny Llama (lab.json's reward_config) is trained, which learns style quickly but
    correctness slowly.
    `blocks`: fresh transformer blocks added on top of the `init` trunk (`sentinel.models.add_blocks`); None: those
    of `RM_RECIPE` when `init` is given and no `config`, else 0. Default settings: `RM_RECIPE`.
    """
    import torch

    from ..data import write_rows
    from ..models import build_reward_model, load_reward_model, load_tokenizer
    from ..train import RewardConfig, reward

    if blocks and init is None:
        raise ConfigError("blocks are added on top of a trained trunk: give `init` too", field="blocks")
    if blocks is None:
        blocks = RM_RECIPE["blocks"] if (init is not None and config is None) else 0
    cfg = config or RecipeConfig(**{k: v for k, v in RM_RECIPE.items() if k != "blocks"})
    lab = Lab.open(lab)
    with _threads(cfg.threads), tempfile.TemporaryDirectory(prefix="lab-pairs-") as tmp:
        train_file = lab.data("preferences")
        if pairs is not None:
            train_file = Path(tmp) / "pairs.jsonl"
            write_rows(pairs, train_file)
        if init is not None:
            torch.manual_seed(cfg.seed)  # the new scalar head
            model, tok = load_reward_model(Path(init), device="cpu")
            name = str(init)
            if blocks:
                from ..models import add_blocks

                model = add_blocks(model, blocks, seed=cfg.seed)
                name += f" + {blocks} fresh blocks"
        else:
            tok = load_tokenizer(lab.tokenizer)
            model = build_reward_model(tok, lab.reward_config(), seed=cfg.seed)
            name = f"{lab.root}/reward_config (fresh tiny Llama)"
        # `model` names the run in config.yaml; the weights are the in-memory model.
        run = RewardConfig(model=name, train_file=str(train_file), **_stage_kwargs(cfg, out))
        return reward(run, model=model, tokenizer=tok).output_dir


def onpolicy_pairs(lab: str | Path | Lab, policy: str | Path, *, n_samples: int = 8, temperature: float = 1.0,
                   max_new_tokens: int = 32, prompts: list[str] | None = None, seed: int = 0,
                   device: str | None = "cpu") -> list[dict[str, Any]]:
    """Preference pairs from the policy's own samples, labelled by the lab's gold grader ("best of n" pairs).

    For each prompt (default: the lab's RL prompts, DIR/data/prompts.jsonl), `n_samples` replies are sampled from
    `policy`; where at least one is correct (gold 1.0) and one is not, the first correct reply becomes `chosen`
    and the lowest-graded reply `rejected` (empty replies are never paired). Prompts whose samples all grade the
    same give no pair (nothing to learn from them). Returns {"prompt" (chat messages), "chosen", "rejected",
    "gold_chosen", "gold_rejected"} rows.

    Why this and not the lab's annotator pairs: those replies were written by the lab, not sampled from the
    policy, and the default annotator is biased; DPO on them teaches style (padding, flattery) rather than
    correctness. Pairs drawn from the policy itself and graded exactly sharpen exactly what the policy gets wrong.
    """
    from ..data import as_messages, read_rows
    from ..models import load_causal_lm
    from ..train.compare import CompareConfig, generate
    from .world import gold_rewards

    if n_samples < 2:
        raise ConfigError(f"need at least 2 samples per prompt to form a pair, got {n_samples}", field="n_samples")
    lab = Lab.open(lab)
    if prompts is None:
        prompts = [r["prompt"] for r in read_rows(lab.data("prompts")).rows]
    model, tok = load_causal_lm(policy, device=device)
    model.eval()
    repeated = [p for p in prompts for _ in range(n_samples)]  # the samples of one prompt are adjacent
    gen = CompareConfig(max_new_tokens=max_new_tokens, temperature=temperature, batch_size=64, seed=seed)
    replies, _ = generate(model, tok, repeated, gen)
    golds = gold_rewards(repeated, replies)
    pairs = []
    for i, prompt in enumerate(prompts):
        # an empty sample (a policy may end a reply at once) is no valid preference row: it is never paired
        group = [(r, g) for r, g in zip(replies[i * n_samples:(i + 1) * n_samples],
                                        golds[i * n_samples:(i + 1) * n_samples]) if r.strip()]
        if not group:
            continue
        best = next((g for g in group if g[1] == 1.0), None)
        worst = min(group, key=lambda g: g[1])
        if best is None or worst[1] == 1.0:
            continue
        pairs.append({"prompt": as_messages(prompt), "chosen": best[0], "rejected": worst[0], "gold_chosen": best[1],
                      "gold_rejected": worst[1]})
    logger.info("on-policy pairs: %d of %d prompts had a correct and a wrong sample (%d samples each)",
                len(pairs), len(prompts), n_samples)
    if not pairs:
        raise ConfigError("no prompt had both a correct and a wrong sample; train the policy longer or sample "
                          "more replies", field="n_samples")
    return pairs


# DPO in the lab (tests/train/test_train_lab.py; docs/benchmarks.md): 240 steps of 16 pairs, learning rate 1e-3, with
# TRL's "sft" loss on the chosen reply added to the sigmoid loss (RPO). Without it, or at 3e-3, the tiny policy
# lowers the likelihood of both replies until it stops answering at all.
DPO_RECIPE: dict[str, Any] = {"steps": 240, "batch_size": 16, "learning_rate": 1e-3, "max_length": 128}


def train_dpo(lab: str | Path | Lab, out: str | Path, policy: str | Path, config: RecipeConfig | None = None, *,
              pairs: list[dict[str, Any]] | None = None, beta: float = 0.1, n_samples: int = 8,
              loss_type: tuple[str, ...] = ("sigmoid", "sft"), loss_weights: tuple[float, ...] | None = None
              ) -> Path:
    """DPO from `policy` (normally the lab's SFT policy) on gold-labelled on-policy pairs (or `pairs`).

    Default pairs: `onpolicy_pairs(lab, policy, n_samples=n_samples)`. Pass `pairs=` (e.g. from
    `preference_split`) to run DPO on the annotator's preferences instead. The reference is `policy`. Returns `out`.
    """
    from ..data import write_rows
    from ..train import DPOConfig, dpo

    cfg = config or RecipeConfig(**DPO_RECIPE)
    with _threads(cfg.threads), tempfile.TemporaryDirectory(prefix="lab-dpo-") as tmp:
        if pairs is None:
            pairs = onpolicy_pairs(lab, policy, n_samples=n_samples, seed=cfg.seed)
        train_file = Path(tmp) / "pairs.jsonl"
        write_rows([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs], train_file)
        run = DPOConfig(model=str(policy), train_file=str(train_file), beta=beta, loss_type=list(loss_type),
                        loss_weights=list(loss_weights) if loss_weights else None, **_stage_kwargs(cfg, out))
        return dpo(run).output_dir


def annotated_onpolicy_pairs(lab: str | Path | Lab, policy: str | Path, *, n_prompts: int = 2000, k: int = 4,
                             temperature: float = 1.0, max_new_tokens: int = 48, seed: int = 0,
                             device: str | None = "cpu") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Preference pairs of the policy's own samples, labelled by the lab's annotator (never by gold), as InstructGPT
    and Anthropic's HH data were: what a reward model must rank when PPO shows it the policy's samples.

    `n_prompts` prompts are drawn from a stream of their own (seed `seed`), none of them an RL or eval prompt of the
    lab; `k` replies each are sampled from `policy` exactly as PPO samples them (`PPOTrainer.generate` at
    `temperature`, top-k off, `max_new_tokens`); replies 1-2, 3-4, ... of a prompt make k // 2 disjoint pairs, each
    labelled by a Bradley-Terry draw of the lab's annotator (its biases, gold weight and temperature); a pair of two
    identical samples carries no preference and is left out, and so is a pair with an empty sample (a policy may
    end a reply at once; an empty reply is not a valid preference row). Returns (pairs {"prompt", "chosen",
    "rejected"}, one annotation row per pair as the lab's annotations.jsonl has them).
    """
    import random

    from ..train.ppo import PPOConfig, PPOTrainer
    from .annotator import Annotator
    from .generate import annotation_row

    if k < 2 or k % 2:
        raise ConfigError(f"need an even number of replies per prompt (2 or more), got {k}", field="k")
    if n_prompts < 1:
        raise ConfigError(f"must be at least 1, got {n_prompts}", field="n_prompts")
    lab = Lab.open(lab)
    rng = random.Random(f"{seed}:onpolicy")
    questions = fresh_questions(lab, n_prompts, rng)
    info = lab.info["annotator"]
    annotator = Annotator(lab.biases, seed=rng.randrange(2**31), gold_weight=info["gold_weight"],
                          temperature=info["temperature"])
    sampler = PPOTrainer(PPOConfig(temperature=temperature, top_k=0, max_new_tokens=max_new_tokens, seed=seed,
                                   device=device, batch_size=k, mini_batch_size=k), model=str(policy))
    pairs, notes, identical, empty = [], [], 0, 0
    chunk = max(1, 256 // k)  # prompts per generate() call: the sampler keeps each call's rollouts in memory
    for start in range(0, len(questions), chunk):
        block = questions[start:start + chunk]
        replies = sampler.generate([p for _, p in block for _ in range(k)])
        for i, (q, prompt) in enumerate(block):
            group = replies[i * k:(i + 1) * k]
            for a, b in zip(group[::2], group[1::2]):
                if a.strip() == b.strip():  # two identical samples carry no preference
                    identical += 1
                    continue
                if not a.strip() or not b.strip():
                    empty += 1
                    continue
                j = annotator.compare(q, a, b)
                pairs.append({"prompt": prompt, "chosen": j.chosen.text, "rejected": j.rejected.text})
                notes.append(annotation_row(len(pairs), q, j))
    logger.info("annotated on-policy pairs: %d from %d prompts (%d samples each; %d pairs of identical samples "
                "and %d with an empty sample left out)", len(pairs), len(questions), k, identical, empty)
    return pairs, notes


def fresh_questions(lab: str | Path | Lab, n: int, rng: Any, exclude: set[str] | None = None
                    ) -> list[tuple[Any, list[dict[str, str]]]]:
    """`n` (question, prompt) pairs drawn from `rng` (a `random.Random`), none of them one of the lab's RL or eval
    prompts, none in `exclude` (`json_key`s of prompts), no two alike: prompts no trained model has seen. Fewer
    than `n` (with a warning) when the lab's finite question space runs out."""
    from ..data import read_rows
    from .generate import make_question

    lab = Lab.open(lab)
    seen = {json_key(r["prompt"]) for name in ("prompts", "eval") for r in read_rows(lab.data(name)).rows}
    seen |= exclude or set()
    out: list[tuple[Any, list[dict[str, str]]]] = []
    for _ in range(100 * n):
        q, prompt = make_question(rng)
        key = json_key(prompt)
        if key not in seen:
            seen.add(key)
            out.append((q, prompt))
            if len(out) == n:
                break
    if len(out) < n:  # the lab's questions are a finite space (about 4,300 distinct prompts)
        logger.warning("only %d of %d fresh prompts: the lab's question space is nearly used up by the excluded "
                       "ones", len(out), n)
    return out


def json_key(prompt: Any) -> str:
    """A prompt (a string or chat messages) as one comparable string."""
    import json

    return json.dumps(prompt, sort_keys=True, ensure_ascii=False)
