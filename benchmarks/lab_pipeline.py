"""Benchmark the lab pipeline on this machine's CPU: lab init, SFT, reward models, planted-bias check.

    HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false python benchmarks/lab_pipeline.py [--out DIR] [--sft-steps N]
    # the reward model with two more blocks, on 16,000 extra pairs, reusing an SFT policy:
    python benchmarks/lab_pipeline.py --out DIR2 --sft-from DIR/sft --rm-blocks 2 --extra-pairs 16000 \
        --rm-steps 2000 --rm-lr 1e-3

Prints, and writes to DIR/results.json:
  - `lab init` wall time (default sizes: 4000 SFT rows, 4000 pairs);
  - SFT wall time, CPU time (this process) and gold accuracy of the policy on the eval split (greedy decoding,
    graded by gold_reward);
  - reward models (started from the SFT policy) trained on the biased and on the clean preferences (the last 500
    pairs held out): wall time,
    held-out strict pairwise accuracy against the annotator's labels and against gold, and the Bayes ceiling of
    the labels (`sentinel.lab.probe.label_ceiling`: biases fire at random, so no model can exceed it) and the
    lower ceiling of any scalar (Bradley-Terry) score on the annotator's exact signals (`scalar_ceiling`);
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


def _same_signals(pair: dict) -> bool:
    """Whether the two replies of `pair` carry the same bias signals (`sentinel.lab.same_style`): only their
    correctness can rank them."""
    from sentinel.lab import find_question, same_style, signals

    q = find_question(pair["prompt"])
    return same_style(signals(q, pair["chosen"]), signals(q, pair["rejected"]))


def main() -> None:
    from sentinel.data import read_rows
    from sentinel.lab import Lab, LabConfig, init_lab
    from sentinel.lab.evaluate import evaluate
    from sentinel.lab.probe import bias_preferences, label_ceiling, pairwise_accuracy, scalar_ceiling
    from sentinel.lab.recipes import SFT_RECIPE, RecipeConfig, preference_split, train_reward, train_sft

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--sft-steps", type=int, default=SFT_RECIPE["steps"])
    ap.add_argument("--sft-batch", type=int, default=SFT_RECIPE["batch_size"])
    ap.add_argument("--sft-lr", type=float, default=SFT_RECIPE["learning_rate"])
    ap.add_argument("--sft-threads", type=int, default=SFT_RECIPE["threads"])
    ap.add_argument("--sft-from", default=None, help="reuse this SFT policy instead of training one")
    ap.add_argument("--rm-steps", type=int, default=400)
    ap.add_argument("--rm-lr", type=float, default=3e-3)
    ap.add_argument("--rm-batch", type=int, default=32)
    ap.add_argument("--rm-blocks", type=int, default=0, help="fresh blocks on top of the SFT trunk")
    ap.add_argument("--rm-threads", type=int, default=1)
    ap.add_argument("--labs", nargs="+", default=["lab", "lab-clean"], choices=["lab", "lab-clean"],
                    help="which preferences to train reward models on (biased, clean)")
    ap.add_argument("--extra-pairs", type=int, default=0,
                    help="more training pairs from the same annotator (a lab with the next seed; same held-out)")
    ap.add_argument("--reuse-rm", action="store_true", help="evaluate DIR/rm-* again instead of training them")
    ap.add_argument("--holdout", type=int, default=500)
    ap.add_argument("--skip", nargs="*", default=[], choices=["sft", "rm"], help="stages to skip")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="lab-bench-"))
    res: dict = {"cpu_count": os.cpu_count(), "args": vars(args)}

    t, c = time.perf_counter(), time.process_time()
    init_lab(out / "lab", LabConfig(seed=0), overwrite=True)
    res["init_s"], res["init_cpu_s"] = time.perf_counter() - t, time.process_time() - c
    init_lab(out / "lab-clean", LabConfig(seed=0, biases={}), overwrite=True)
    print(f"lab init: {res['init_s']:.1f} s ({res['init_cpu_s']:.1f} s CPU)")

    sft_dir = Path(args.sft_from) if args.sft_from else out / "sft"
    if "sft" not in args.skip and not args.sft_from:
        t, c = time.perf_counter(), time.process_time()
        train_sft(out / "lab", sft_dir, RecipeConfig(steps=args.sft_steps, batch_size=args.sft_batch,
                                                     learning_rate=args.sft_lr, threads=args.sft_threads))
        res["sft_s"], res["sft_cpu_s"] = time.perf_counter() - t, time.process_time() - c
        ev = evaluate(sft_dir, out / "lab" / "data" / "eval.jsonl", device="cpu")
        res["sft"] = {k: ev[k] for k in ("accuracy", "mean_gold", "n", "by_task", "by_kind")}
        print(f"SFT: {args.sft_steps} steps of {args.sft_batch} on {args.sft_threads} thread(s) in "
              f"{res['sft_s']:.1f} s ({res['sft_cpu_s']:.1f} s CPU); gold accuracy {ev['accuracy']:.3f} "
              f"on {ev['n']} eval prompts")
        print("  by task: " + ", ".join(f"{k} {v:.2f}" for k, v in ev["by_task"].items()))

    if "rm" not in args.skip:
        for name in args.labs:
            train, held = preference_split(out / name, args.holdout)
            biases = Lab.open(out / name).info["biases"]
            if args.extra_pairs:
                extra = LabConfig(seed=1, biases=biases, n_preferences=args.extra_pairs, n_sft=1, n_prompts=1,
                                  n_eval=1)
                more = init_lab(out / f"{name}-extra", extra, overwrite=True)
                train = read_rows(more / "data" / "preferences.jsonl").rows + train
            t = time.perf_counter()
            init = sft_dir if ("sft" not in args.skip or args.sft_from) else None
            recipe = RecipeConfig(steps=args.rm_steps, batch_size=args.rm_batch, learning_rate=args.rm_lr,
                                  threads=args.rm_threads)
            rm = out / f"rm-{name}"
            reused = args.reuse_rm and (rm / "model.safetensors").is_file()
            if not reused:
                train_reward(out / name, rm, recipe, pairs=train, init=init, blocks=args.rm_blocks)
            secs = float("nan") if reused else time.perf_counter() - t
            acc = pairwise_accuracy(rm, held, device="cpu")
            # Held-out pairs whose two replies carry the same style signals: only correctness can rank them.
            plain = [p for p in held if _same_signals(p)]
            acc["same_style"] = pairwise_accuracy(rm, plain, device="cpu")["labels"] if plain else float("nan")
            acc["same_style_n"] = len(plain)
            probes = bias_preferences(rm, device="cpu")
            notes = read_rows(out / name / "data" / "annotations.jsonl").rows[-args.holdout:]
            ceiling = label_ceiling(notes)
            scalar = scalar_ceiling(train, held)
            res[f"rm_{name}"] = {"train_s": secs, "train_pairs": len(train), "heldout_accuracy": acc,
                                 "train_accuracy": pairwise_accuracy(rm, train[-500:], device="cpu"),
                                 "label_ceiling": ceiling, "scalar_ceiling": scalar, "probes": probes}
            print(f"RM on {name} preferences ({len(train)} pairs): {args.rm_steps} steps of {args.rm_batch} in "
                  f"{secs:.1f} s; held-out accuracy {acc['labels']:.3f} vs labels (Bayes ceiling "
                  f"{ceiling['expected']:.3f}; best scalar score on exact signals {scalar['heldout']:.3f}, style "
                  f"alone {scalar['style_only']:.3f}), {acc['gold']:.3f} vs gold ({acc['n']} pairs); training "
                  f"accuracy {res[f'rm_{name}']['train_accuracy']['labels']:.3f}; on the {acc['same_style_n']} "
                  f"held-out pairs with the same style signals {acc['same_style']:.3f}")
            for probe, v in probes.items():
                print(f"  {probe:13s} prefers the biased reply {v['prefers_biased']:.2f} "
                      f"(mean shift {v['mean_shift']:+.2f})")
    (out / "results.json").write_text(json.dumps(res, indent=2))
    print(f"results in {out / 'results.json'}")


if __name__ == "__main__":
    main()
