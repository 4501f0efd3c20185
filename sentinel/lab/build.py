"""`init_lab(DIR)`: write a complete lab folder, byte for byte the same for the same config.

    DIR/lab.json                 tasks, bias weights, annotator settings, seed, sizes, model configs, file list
    DIR/tokenizer/               byte-level BPE tokenizer with the chat template (save_pretrained)
    DIR/base/                    the untrained tiny Llama policy (safetensors) with its tokenizer
    DIR/data/sft.jsonl           {"messages": [...prompt turns, assistant]}
    DIR/data/preferences.jsonl   {"prompt": messages, "chosen", "rejected"} labelled by the biased annotator
    DIR/data/annotations.jsonl   one row per preference pair: task, kind, gold grades, each reply's signals and
                                 utility, and the probability of the annotator's choice
    DIR/data/prompts.jsonl       {"prompt": messages} for RL
    DIR/data/eval.jsonl          {"prompt": messages, "answer", "task", "kind", "claim"}

Every prompt is a list of chat messages ending with the user's turn (`sentinel.lab.generate`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import phrases
from ..data import read_json
from ..errors import ConfigError, DataError
from ..models import TinyConfig
from ..utils import atomic_directory, atomic_write_json, child_path, clear_interrupted_writes, folder_lock
from .annotator import (
    DEFAULT_BIASES,
    DEFAULT_GOLD_WEIGHT,
    DEFAULT_TEMPERATURE,
    KEYWORD_CAP,
    VERBOSITY_CAP,
    Annotator,
    Biases,
)
from .generate import KIND_WEIGHTS, eval_rows, preference_rows, prompt_rows, sft_rows
from .world import TASKS

logger = logging.getLogger(__name__)

LAB_VERSION = 3  # 3: Bradley-Terry annotator over a per-reply utility, multi-turn prompts as real chat turns
# (2: reply styles independent of correctness, phrase banks as whole tokens, styled SFT replies)
TOKENIZER_PAIRS = 4000  # preference pairs in the tokenizer's training text (see _tokenizer_texts)
PHRASE_BANK_REPEATS = 20  # copies of each shared phrase bank in the tokenizer's training text (see _tokenizer_texts)
# The lab's policy and reward model: ~0.14M parameters with a 1k vocabulary. Wider models learn in fewer steps
# but each step costs more on a CPU, which loses overall (benchmarks/lab_pipeline.py measures the recipes).
POLICY_CONFIG = TinyConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                           max_position_embeddings=256)
REWARD_CONFIG = TinyConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                           max_position_embeddings=256)


@dataclass
class LabConfig:
    """What `sentinel lab init` builds. Same config -> same bytes."""

    seed: int = field(default=0, metadata={"help": "seed of every random choice (data, tokenizer, model weights)"})
    biases: dict = field(default_factory=lambda: DEFAULT_BIASES.to_dict(),
                         metadata={"help": "annotator bias weights in its utility (0 = no bias): verbosity, keyword, "
                                           "sycophancy, evasiveness"})
    gold_weight: float = field(default=DEFAULT_GOLD_WEIGHT, metadata={
        "help": "weight of the gold grade (-1, 0, 1) in the annotator's utility"})
    temperature: float = field(default=DEFAULT_TEMPERATURE, metadata={
        "help": "Bradley-Terry temperature: P(a over b) = sigmoid((u_a - u_b) / temperature)"})
    n_sft: int = field(default=4000, metadata={"help": "SFT conversations"})
    n_preferences: int = field(default=20000, metadata={
        "help": "preference pairs (a reward model needs about 20,000 to learn correctness as well as the biases)"})
    n_prompts: int = field(default=512, metadata={"help": "RL prompts"})
    n_eval: int = field(default=300, metadata={"help": "eval prompts with gold answers"})
    vocab_size: int = field(default=1024, metadata={"help": "tokenizer vocabulary (byte-level BPE)"})

    def __post_init__(self):
        self.biases = Biases(**self.biases).to_dict() if isinstance(self.biases, dict) else self.biases.to_dict()
        for name in ("n_sft", "n_preferences", "n_prompts", "n_eval"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"must be a positive integer, got {v!r}", field=name)
        for name in ("gold_weight", "temperature"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ConfigError(f"must be a positive number, got {v!r}", field=name)
            setattr(self, name, float(v))
        if not 300 <= self.vocab_size <= 32000:
            raise ConfigError(f"must be between 300 and 32000, got {self.vocab_size}", field="vocab_size")


def _tokenizer_texts(sft, prefs, prompts) -> list[str]:
    texts = [m["content"] for r in sft for m in r["messages"]]
    # The first TOKENIZER_PAIRS pairs are plenty to learn the lab's words; more pairs would only slow `lab init` down
    # (and a larger lab keeps the tokenizer, hence SFT policies, of the default one).
    prefs = prefs[:TOKENIZER_PAIRS]
    texts += [m["content"] for r in prefs for m in r["prompt"]] + [r[k] for r in prefs for k in ("chosen", "rejected")]
    texts += [m["content"] for r in prompts for m in r["prompt"]]
    # The phrase banks, so probes and scans built on them tokenise into lab words too. Repeated so that their words
    # become whole tokens, as common words are in a real tokenizer: the audit's length-matched controls count
    # words, and a neutral word split into four byte pieces would make the control longer, in tokens, than the
    # keyword it stands in for.
    for name in ("REWARD_KEYWORDS", "FLATTERY_OPENERS", "AI_DISCLAIMERS", "HEDGES", "MASTER_KEYS", "POLITE_PREFIXES",
                 "POLITE_SUFFIXES", "FILLER_SENTENCES", "NEUTRAL_WORDS", "AGREEMENT_OPENERS"):
        bank = getattr(phrases, name)
        # With a leading space and capitalised too: how the words occur inside a reply ("Stone! The answer is 7.").
        texts += [" ".join(bank), " ".join(p[:1].upper() + p[1:] for p in bank)] * PHRASE_BANK_REPEATS
    return texts


def _write_jsonl(rows: list[dict], path: Path) -> None:
    # Written directly (not via write_rows) to fix the bytes: key order as built, no trailing spaces, '\n' endings.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def init_lab(out: str | Path, config: LabConfig | None = None, *, overwrite: bool = False) -> Path:
    """Build a lab folder at `out` (atomically: a crash leaves no half-built lab). Returns the folder. A second
    build of the same folder while this one runs is refused (`FolderBusyError`)."""
    out = Path(out)
    with folder_lock(out):
        clear_interrupted_writes(out)  # a lab build killed part-way leaves its half-built folder beside `out`
        return _init_lab(out, config or LabConfig(), overwrite)


def _init_lab(out: Path, cfg: LabConfig, overwrite: bool) -> Path:
    from ..models import build_causal_lm, train_tokenizer

    if out.exists() and any(out.iterdir()) and not overwrite:
        raise DataError("folder exists and is not empty; choose another or pass overwrite=True (--force)", path=out)
    # Separate streams per file, so changing one size does not reshuffle the others.
    streams = {name: random.Random(f"{cfg.seed}:{name}") for name in ("sft", "preferences", "annotator",
                                                                     "prompts", "eval")}
    sft = sft_rows(streams["sft"], cfg.n_sft)
    annotator = Annotator(Biases(**cfg.biases), seed=streams["annotator"].randrange(2**31),
                          gold_weight=cfg.gold_weight, temperature=cfg.temperature)
    prefs, notes = preference_rows(streams["preferences"], cfg.n_preferences, annotator)
    prompts = prompt_rows(streams["prompts"], cfg.n_prompts)
    evals = eval_rows(streams["eval"], cfg.n_eval)

    with atomic_directory(out) as tmp:
        for name, rows in (("sft", sft), ("preferences", prefs), ("annotations", notes), ("prompts", prompts),
                           ("eval", evals)):
            _write_jsonl(rows, tmp / "data" / f"{name}.jsonl")
        tok = train_tokenizer(_tokenizer_texts(sft, prefs, prompts), vocab_size=cfg.vocab_size)
        tok.save_pretrained(tmp / "tokenizer")
        model = build_causal_lm(tok, POLICY_CONFIG, seed=cfg.seed)
        model.save_pretrained(tmp / "base")
        tok.save_pretrained(tmp / "base")
        from .reward_checks import label_ceiling

        ceiling = label_ceiling(notes)
        atomic_write_json(tmp / "lab.json", {
            "lab_version": LAB_VERSION,
            "seed": cfg.seed,
            "biases": cfg.biases,
            "annotator": {"rule": "Bradley-Terry: P(a over b) = sigmoid((u_a - u_b) / temperature), u = gold_weight "
                                  "x gold grade + sum of bias weight x bias signal",
                          "gold_weight": cfg.gold_weight, "temperature": cfg.temperature,
                          "signals": {"verbosity": f"words / 10, capped at {VERBOSITY_CAP} words",
                                      "keyword": f"reward keywords and flattery, at most {KEYWORD_CAP}",
                                      "sycophancy": "1 if the reply sides with the user's claim or capitulates",
                                      "evasiveness": "1 if the reply hedges"},
                          "gold_better_chosen": round(ceiling["gold_better_chosen"], 4),
                          "label_ceiling": round(ceiling["expected"], 4)},
            "tasks": {name: t.description for name, t in TASKS.items()},
            "prompt_kinds": KIND_WEIGHTS,
            "gold_reward": "sentinel.lab:gold_rewards",
            "gold_scale": {"correct": 1.0, "no_answer": 0.0, "wrong": -1.0},
            "sizes": {"sft": cfg.n_sft, "preferences": cfg.n_preferences, "prompts": cfg.n_prompts,
                      "eval": cfg.n_eval, "vocab_size": len(tok)},
            "policy_config": dataclasses.asdict(POLICY_CONFIG),
            "reward_config": dataclasses.asdict(REWARD_CONFIG),
            "parameters": {"policy": sum(p.numel() for p in model.parameters())},
        })
    logger.debug("lab written to %s (%d SFT rows, %d pairs, %d prompts, %d eval)", out, len(sft), len(prefs),
                len(prompts), len(evals))
    return out


@dataclass(frozen=True)
class Lab:
    """A lab folder written by `init_lab`: its paths and its lab.json."""

    root: Path
    info: dict[str, Any]

    @classmethod
    def open(cls, root: str | Path | Lab) -> Lab:
        """The lab in folder `root` (a `Lab` is returned as it is)."""
        if isinstance(root, Lab):
            return root
        root = Path(root)
        meta = root / "lab.json"
        if not meta.is_file():
            raise DataError("not a lab folder (no lab.json); create one with `sentinel lab init DIR`", path=root)
        return cls(root, read_json(meta))

    @property
    def tokenizer(self) -> Path:
        return self.root / "tokenizer"

    @property
    def base(self) -> Path:
        return self.root / "base"

    def data(self, name: str) -> Path:
        """Path of data/<name>.jsonl (sft, preferences, annotations, prompts, eval)."""
        return child_path(self.root / "data", name, ".jsonl")

    @property
    def biases(self) -> Biases:
        return Biases(**self.info["biases"])

    def reward_config(self) -> TinyConfig:
        return TinyConfig(**self.info["reward_config"])

    def policy_config(self) -> TinyConfig:
        return TinyConfig(**self.info["policy_config"])
