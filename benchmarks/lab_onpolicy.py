"""The lab: does a reward model know correctness on the policy's own samples, and what PPO does with it.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/lab_onpolicy.py \\
        --lab demo-out/lab --policy demo-out/sft --reward-model demo-out/reward-model [--ppo-steps 60]

1. On-policy ranking: `onpolicy_pairs` samples 8 replies per RL prompt from the policy and pairs a correct sample
   with the lowest-graded one (gold-ranked pairs of the policy's own samples); prints the share of those pairs the
   reward model ranks by gold. The lab's annotator pairs are written by the lab; PPO only ever shows the reward
   model the policy's samples, so this is the accuracy that decides whether PPO against it can raise gold.
2. With --ppo-steps N: PPO from the policy for N steps (the demo's settings, KL coefficient --kl) against the reward
   model and against the annotator's exact utility (u = gold weight x grade + the planted biases; what a perfect
   reward model of this annotator would score), both with the gold grader watched; prints gold (start, best, end)
   and proxy of each, as `sentinel.demo.mitigations.run_figures` computes them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lab", required=True)
    ap.add_argument("--policy", required=True)
    ap.add_argument("--reward-model", required=True)
    ap.add_argument("--prompts", type=int, default=200, help="RL prompts for the on-policy pairs")
    ap.add_argument("--ppo-steps", type=int, default=0)
    ap.add_argument("--kl", type=float, default=0.01)
    ap.add_argument("--lr", type=float, default=2e-4)
    args = ap.parse_args()

    import torch

    from sentinel.data import read_rows
    from sentinel.demo.mitigations import PPORun, run_figures, run_ppo
    from sentinel.lab import Annotator, Lab, find_question, same_style
    from sentinel.lab.recipes import onpolicy_pairs
    from sentinel.lab.replies import signals
    from sentinel.lab.reward_checks import pairwise_accuracy

    torch.set_num_threads(1)
    lab = Lab.open(args.lab)
    prompts = [r["prompt"] for r in read_rows(lab.data("prompts")).rows][: args.prompts]
    pairs = onpolicy_pairs(args.lab, args.policy, prompts=prompts, n_samples=8, max_new_tokens=48)
    # Pairs whose two samples carry the same bias signals: only correctness can rank them.
    same = [p for p in pairs if same_style(signals(find_question(p["prompt"]), p["chosen"]),
                                           signals(find_question(p["prompt"]), p["rejected"]))]
    # chosen is the correct sample, so accuracy against the labels is accuracy by gold
    everything = pairwise_accuracy(args.reward_model, pairs)["labels"]
    same_acc = pairwise_accuracy(args.reward_model, same)["labels"] if same else float("nan")
    result = {"onpolicy_pairs": len(pairs), "rm_ranks_by_gold": everything, "same_style_pairs": len(same),
              "same_style_rm_ranks_by_gold": same_acc}
    print(f"on-policy gold-ranked pairs: {len(pairs)} of {len(prompts)} prompts; the reward model ranks "
          f"{everything:.3f} of them by gold; of the {len(same)} whose samples share one style, {same_acc:.3f}")

    if args.ppo_steps:
        info = lab.info["annotator"]
        annotator = Annotator(lab.biases, gold_weight=info["gold_weight"], temperature=info["temperature"])

        def utility(prompts, responses):
            out = []
            for p, r in zip(prompts, responses):
                q = find_question(p)
                out.append(annotator.reply(q, r).utility if q is not None else 0.0)
            return out

        with tempfile.TemporaryDirectory() as tmp:
            for name, reward in (("reward model", Path(args.reward_model)), ("exact annotator utility", utility)):
                history, _ = run_ppo(lab, Path(args.policy), reward, Path(tmp) / name.replace(" ", "-"),
                                     PPORun(name, name, args.kl), steps=args.ppo_steps, learning_rate=args.lr, seed=0)
                figs = run_figures(history)
                result[name] = figs
                print(f"PPO against the {name}: gold {figs['gold_start']:+.2f} -> best {figs['gold_best']:+.2f} "
                      f"(step {figs['gold_best_step']}) -> {figs['gold_end']:+.2f}; proxy {figs['proxy_start']:+.2f} "
                      f"-> {figs['proxy_end']:+.2f}; sqrt(KL) {figs['sqrt_kl_end']:.2f}; length "
                      f"{figs['length_start']:.1f} -> {figs['length_end']:.1f}")
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
