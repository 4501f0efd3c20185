"""Overhead of `sentinel.train` over calling the same TRL trainer directly with the same settings.

For each stage (sft, reward, dpo) both sides start from the same saved tiny model and the same JSONL file and end
with a saved model folder:
  - ours:  `sentinel.train.<stage>(Config(...))` (data loading + validation + summary, metrics.jsonl, atomic output)
  - TRL:   load model + tokenizer, `datasets` JSON loading, `<Stage>Trainer(...).train()`, `save_model()`,
           with the TRL config produced by the same `trl_config(cfg)` so every training setting is identical.
           TRL reads the same rows in its conversational format (user / assistant messages): the tokenizer has a
           chat template, which our stages apply, so both sides train on the same tokens. (Given plain strings,
           TRL would train on shorter sequences without the template's tokens, and the comparison would not be
           like for like.)
Runs alternate (ours, TRL, ours, TRL, ...) to spread machine noise evenly; the median wall time and the median CPU
time (this process, all threads) of each are reported, with their ratios. On a shared machine the CPU-time ratio is
the steadier figure: other jobs inflate wall time but not the CPU time a run itself uses.

    python benchmarks/train_overhead.py [--repeats 3] [--steps 40] [--stages sft,reward,dpo] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def reply(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def make_inputs(d: Path):
    from sentinel.models import TinyConfig, build_causal_lm, build_reward_model, train_tokenizer

    pairs = [(f"What is {a} + {b}?", f"The answer is {a + b}.", "I'm glad to assist you!")
             for a in range(20) for b in range(20)]
    tok = train_tokenizer([f"{p} {c} {r}" for p, c, r in pairs], vocab_size=1024)
    cfg = TinyConfig(hidden_size=128, num_hidden_layers=2, intermediate_size=256)
    build_causal_lm(tok, cfg).save_pretrained(d / "lm")
    tok.save_pretrained(d / "lm")
    build_reward_model(tok, cfg).save_pretrained(d / "rm")
    tok.save_pretrained(d / "rm")
    (d / "sft.jsonl").write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c, _ in pairs))
    (d / "pairs.jsonl").write_text("".join(
        json.dumps({"prompt": p, "chosen": c, "rejected": r}) + "\n" for p, c, r in pairs))
    (d / "sft_chat.jsonl").write_text("".join(
        json.dumps({"prompt": user(p), "completion": reply(c)}) + "\n" for p, c, _ in pairs))
    (d / "pairs_chat.jsonl").write_text("".join(
        json.dumps({"prompt": user(p), "chosen": reply(c), "rejected": reply(r)}) + "\n" for p, c, r in pairs))


def configs(d: Path, out: Path, steps: int):
    from sentinel.train import DPOConfig, RewardConfig, SFTConfig

    common = {"output_dir": str(out), "max_steps": steps, "logging_steps": 5, "save_steps": 10_000, "quiet": True,
                  "per_device_train_batch_size": 8, "max_length": 64, "learning_rate": 1e-3}
    return {
        "sft": SFTConfig(model=str(d / "lm"), train_file=str(d / "sft.jsonl"), **common),
        "reward": RewardConfig(model=str(d / "rm"), train_file=str(d / "pairs.jsonl"), **common),
        "dpo": DPOConfig(model=str(d / "lm"), train_file=str(d / "pairs.jsonl"), **common),
    }


def run_trl(stage: str, cfg, out: Path) -> None:
    """The same run written directly against TRL, as a user without sentinel would."""
    import importlib

    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer
    from trl import DPOTrainer, RewardTrainer, SFTTrainer

    # `sentinel.train.sft` etc. are the stage functions; the modules hold `trl_config`.
    sft_mod, reward_mod, dpo_mod = (importlib.import_module(f"sentinel.train.{m}") for m in ("sft", "reward", "dpo"))

    tok = AutoTokenizer.from_pretrained(cfg.model)
    chat_file = Path(cfg.train_file).with_name(Path(cfg.train_file).stem + "_chat.jsonl")
    data = load_dataset("json", data_files=str(chat_file), split="train")
    if stage == "sft":
        args = sft_mod.trl_config(cfg)
        model = AutoModelForCausalLM.from_pretrained(cfg.model)
        trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
    elif stage == "reward":
        args = reward_mod.trl_config(cfg)
        model = AutoModelForSequenceClassification.from_pretrained(cfg.model, num_labels=1)
        trainer = RewardTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
    else:
        args = dpo_mod.trl_config(cfg)
        model = AutoModelForCausalLM.from_pretrained(cfg.model)
        ref = AutoModelForCausalLM.from_pretrained(cfg.model)
        trainer = DPOTrainer(model=model, ref_model=ref, args=args, train_dataset=data, processing_class=tok)
    args.output_dir = str(out / "checkpoints")
    trainer.train()
    trainer.save_model(str(out))


def run_ours(stage: str, cfg) -> None:
    from sentinel.train import STAGES

    STAGES[stage][1](cfg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--stages", default="sft,reward,dpo")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import logging

    logging.getLogger("sentinel").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        make_inputs(d)
        print(f"{'stage':8} {'sentinel s':>11} {'TRL s':>8} {'ratio':>7} {'sentinel CPU s':>15} {'TRL CPU s':>10} "
              f"{'CPU ratio':>10}   (median of {args.repeats}, {args.steps} steps each)")
        for stage in args.stages.split(","):
            times: dict[str, list[tuple[float, float]]] = {"ours": [], "trl": []}
            run_ours(stage, configs(d, d / "warm", 2)[stage])  # warm imports and caches for both sides
            for i in range(args.repeats):
                for side in ("ours", "trl"):
                    cfg = configs(d, d / f"{side}-{stage}-{i}", args.steps)[stage]
                    t, c = time.perf_counter(), time.process_time()
                    if side == "ours":
                        run_ours(stage, cfg)
                    else:
                        run_trl(stage, cfg, d / f"trl-{stage}-{i}")
                    times[side].append((time.perf_counter() - t, time.process_time() - c))
            (a, ac), (b, bc) = ([statistics.median(x[k] for x in times[side]) for k in (0, 1)]
                                for side in ("ours", "trl"))
            print(f"{stage:8} {a:11.2f} {b:8.2f} {a / b:7.3f} {ac:15.2f} {bc:10.2f} {ac / bc:10.3f}", flush=True)


if __name__ == "__main__":
    main()
