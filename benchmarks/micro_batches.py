"""Sorted micro-batches against transformers' default sampler: the demo's SFT, reward-model and DPO steps, timed.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/micro_batches.py --from DEMO_OUT [--steps 100]
        [--micro-batches 4] [--repeats 2]

`TrainConfig.sort_micro_batches` draws each optimiser step's examples at random, as the default sampler does, and cuts
them into `gradient_accumulation_steps` micro-batches of similar length. This trains each recipe of a finished `sentinel
demo` folder (its lab, SFT policy, start policy and reward pairs) for --steps steps both ways, one after the other on
one thread, --repeats times, and prints the median seconds per step of each and their ratio. Whether the demo's
reward model still ranks its policy's samples by gold: `benchmarks/lab_onpolicy.py` on the demo's folder.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="source", required=True, help="a finished `sentinel demo` folder")
    ap.add_argument("--steps", type=int, default=100, help="optimiser steps per timed run")
    ap.add_argument("--micro-batches", type=int, default=4, help="micro-batches per step of the sorted runs")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs of each kind (the median is printed)")
    args = ap.parse_args()

    import torch

    from sentinel.data import read_rows
    from sentinel.demo.run import DEMO_RM
    from sentinel.lab.recipes import (
        DPO_RECIPE,
        NOISY_SFT,
        SFT_RECIPE,
        RecipeConfig,
        noisy_sft_rows,
        onpolicy_pairs,
        train_dpo,
        train_reward,
        train_sft,
    )

    torch.set_num_threads(1)
    demo = Path(args.source)
    lab, start = demo / "lab", demo / "sft-noisy"
    rm_pairs = read_rows(demo / "reward-pairs" / "pairs.jsonl").rows
    dpo_pairs = onpolicy_pairs(lab, start, n_samples=8)
    sft_rows = noisy_sft_rows(read_rows(lab / "data" / "sft.jsonl").rows, 0.4)
    recipes = {
        "SFT": (SFT_RECIPE, lambda out, cfg: train_sft(lab, out, cfg)),
        "SFT (noisy)": (NOISY_SFT, lambda out, cfg: train_sft(lab, out, cfg, init=demo / "sft", rows=sft_rows)),
        "reward model": (DEMO_RM, lambda out, cfg: train_reward(lab, out, cfg, pairs=rm_pairs, init=start, blocks=2)),
        "DPO": (DPO_RECIPE, lambda out, cfg: train_dpo(lab, out, start, cfg, pairs=dpo_pairs)),
    }
    results = {}
    with tempfile.TemporaryDirectory(prefix="micro-") as tmp:
        for name, (recipe, train) in recipes.items():
            times: dict[int, list[float]] = {1: [], args.micro_batches: []}
            for rep in range(args.repeats):
                for micro in times:
                    cfg = RecipeConfig(**{**recipe, "steps": args.steps, "threads": 1, "micro_batches": micro})
                    t = time.perf_counter()
                    train(Path(tmp) / f"{name}-{micro}-{rep}", cfg)
                    times[micro].append((time.perf_counter() - t) / args.steps)
            plain, fast = (statistics.median(times[m]) for m in times)
            results[name] = {"s_per_step_default": plain, "s_per_step_sorted": fast, "speedup": plain / fast}
            print(f"{name:13s} {plain:.3f} s/step default sampler, {fast:.3f} s/step {args.micro_batches} sorted "
                  f"micro-batches: {plain / fast:.2f}x", flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
