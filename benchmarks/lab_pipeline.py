"""Benchmark the lab pipeline on this machine's CPU: lab init, SFT, reward models, planted-bias check.

    HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false python benchmarks/lab_pipeline.py [--out DIR] [--sft-steps N]

Prints, and writes to DIR/results.json:
  - `lab init` wall time (default sizes: 4000 SFT rows, 4000 pairs);
  - SFT wall time, CPU time (this process) and gold accuracy of the policy on the eval split (greedy decoding, graded by gold_reward);
  - reward models (started from the SFT policy) trained on the biased and on the clean preferences (the last 500
    pairs held out): wall time,
    held-out strict pairwise accuracy against the annotator's labels and against gold, and the Bayes ceiling of
    the labels (`sentinel.lab.probe.label_ceiling`: biases fire at random, so no model can exceed it);
  - for both reward models, the bias probes of `sentinel.lab.probe.bias_preferences` (share of single-bias pairs
    where the RM prefers the bias-favoured reply, and the mean reward shift).
Targets from the lab issue: init < 10 s, SFT >= 90% gold accuracy in < 2 min on 2 cores, RM >= 85% held-out.
There is no peer tool for this world, so no ratio is printed; the clean RM is the control for the bias check.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")


def main() -> None:
    from sentinel.data import read_rows
    from sentinel.lab import LabConfig, init_lab
    from sentinel.lab.evaluate import evaluate
    from sentinel.lab.probe import bias_preferences, label_ceiling, pairwise_accuracy
    from sentinel.lab.recipes import SFT_RECIPE, RecipeConfig, preference_split, train_reward, train_sft

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--sft-steps", type=int, default=SFT_RECIPE["steps"])
    ap.add_argument("--sft-batch", type=int, default=SFT_RECIPE["batch_size"])
    ap.add_argument("--sft-lr", type=float, default=SFT_RECIPE["learning_rate"])
    ap.add_argument("--rm-steps", type=int, default=400)
    ap.add_argument("--rm-lr", type=float, default=3e-3)
    ap.add_argument("--holdout", type=int, default=500)
    ap.add_argument("--skip", nargs="*", default=[], choices=["sft", "rm"], help="stages to skip")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="lab-bench-"))
    res: dict = {"threads_for_training": 1, "cpu_count": os.cpu_count()}

    t, c = time.perf_counter(), time.process_time()
    init_lab(out / "lab", LabConfig(seed=0), overwrite=True)
    res["init_s"], res["init_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    init_lab(out / "lab-clean", LabConfig(seed=0, biases={}), overwrite=True)
    print(f"lab init: {res['init_s']:.1f} s ({res['init_cpu_s']:.1f} s CPU)")

    if "sft" not in args.skip:
        t, c = time.perf_counter(), time.process_time()
        train_sft(out / "lab", out / "sft", RecipeConfig(steps=args.sft_steps, batch_size=args.sft_batch,
                                                         learning_rate=args.sft_lr))
        res["sft_s"], res["sft_cpu_s"] = time.perf_counter() - t, time.process_time() - c
        ev = evaluate(out / "sft", out / "lab" / "data" / "eval.jsonl", device="cpu")
        res["sft"] = {k: ev[k] for k in ("accuracy", "mean_gold", "n", "by_task", "by_kind")}
        print(f"SFT: {args.sft_steps} steps of {args.sft_batch} in {res['sft_s']:.1f} s "
              f"({res['sft_cpu_s']:.1f} s CPU); gold accuracy {ev['accuracy']:.3f} "
              f"on {ev['n']} eval prompts")
        print("  by task: " + ", ".join(f"{k} {v:.2f}" for k, v in ev["by_task"].items()))

    if "rm" not in args.skip:
        for name in ("lab", "lab-clean"):
            train, held = preference_split(out / name, args.holdout)
            t = time.perf_counter()
            init = out / "sft" if "sft" not in args.skip else None
            rm = train_reward(out / name, out / f"rm-{name}", RecipeConfig(steps=args.rm_steps, batch_size=32,
                                                                           learning_rate=args.rm_lr), pairs=train,
                              init=init)
            secs = time.perf_counter() - t
            acc = pairwise_accuracy(rm, held, device="cpu")
            probes = bias_preferences(rm, device="cpu")
            notes = read_rows(out / name / "data" / "annotations.jsonl").rows[-args.holdout:]
            ceiling = label_ceiling(notes, json.loads((out / name / "lab.json").read_text())["biases"])
            res[f"rm_{name}"] = {"train_s": secs, "heldout_accuracy": acc, "label_ceiling": ceiling,
                                 "probes": probes}
            print(f"RM on {name} preferences: {args.rm_steps} steps in {secs:.1f} s; held-out accuracy "
                  f"{acc['labels']:.3f} vs labels (Bayes ceiling {ceiling['expected']:.3f}), {acc['gold']:.3f} "
                  f"vs gold ({acc['n']} pairs)")
            for probe, v in probes.items():
                print(f"  {probe:13s} prefers the biased reply {v['prefers_biased']:.2f} "
                      f"(mean shift {v['mean_shift']:+.2f})")
    (out / "results.json").write_text(json.dumps(res, indent=2))
    print(f"results in {out / 'results.json'}")


if __name__ == "__main__":
    main()
