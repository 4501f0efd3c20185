"""The lab: does a reward model rank the policy's own samples by gold, against the annotator it learnt from.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/lab_onpolicy.py \\
        --lab LAB --policy POLICY --reward-model RM [--reward-model RM2 ...] [--prompts 800] [--exclude PAIRS.jsonl]
    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/lab_onpolicy.py --train OUT \\
        [--rm-steps 3000] [--mix half|onpolicy|templated] [--onpolicy-prompts 2000] [--rm-init policy|sft]

PPO only ever shows the reward model the policy's samples, so whether PPO against it can raise gold depends on how
it ranks *those*, not the lab's templated pairs. This samples 8 replies (temperature 1.0, 48 new tokens, seed
--sample-seed) to each of --prompts held-out prompts (drawn from a stream of their own; none of the lab's RL or eval
prompts, none in --exclude, the prompts of a reward model's on-policy training pairs) and pairs, per prompt, a correct
sample with the lowest-graded one (`onpolicy_pairs`: gold-ranked pairs of the policy's own samples). Printed per
reward model: the share of those pairs it ranks by gold (ties count as wrong), the same on the pairs whose two
samples carry the same bias signals (only correctness can rank them), and its accuracy on the lab's last 500
templated pairs (against the labels and by gold). Beside it, the annotator's own agreement with gold on the same
pairs: its mean probability of choosing the correct sample (the Bradley-Terry draw's), and the share its utility ranks
correctly. The reward model learns the annotator, so those are its ceiling.

--train OUT builds the demo's reward model first: a lab of seed 0 with gold weight --gold-weight (OUT/lab), the
policy (the lab's SFT recipe at 1000 steps, fine-tuned on 40% wrong demonstrations: `_lab_models.noisy_start`),
`annotated_onpolicy_pairs` of it (--onpolicy-prompts prompts, 4 samples each, labelled by the annotator, never by
gold; pairs of identical samples left out), and a reward model (`train_reward`, two fresh blocks on the trunk of
--rm-init, batches of 32, lr 2e-3) trained on --mix: the on-policy pairs and as many of the lab's templated pairs
(half), the on-policy pairs alone, or the templated ones alone. Its on-policy prompts are then excluded from the
held-out ones, and it is measured as above.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path


def train_mixed_reward_model(out: Path, args) -> tuple[Path, Path, Path]:
    """(lab, policy, reward model) built into `out` as the docstring says; finished folders are reused."""
    from _lab_models import noisy_start

    from sentinel.data import read_rows, write_rows
    from sentinel.lab import LabConfig, init_lab
    from sentinel.lab.recipes import RecipeConfig, annotated_onpolicy_pairs, train_reward

    lab_dir = out / "lab"
    if not (lab_dir / "lab.json").is_file():
        init_lab(lab_dir, LabConfig(seed=0, gold_weight=args.gold_weight), overwrite=True)
    sft, policy = noisy_start(out, lab_dir)
    pairs_file = out / f"onpolicy-pairs-{args.onpolicy_prompts}.jsonl"
    if not pairs_file.is_file():
        t = time.time()
        pairs, _ = annotated_onpolicy_pairs(lab_dir, policy, n_prompts=args.onpolicy_prompts, k=4)
        write_rows(pairs, pairs_file)
        print(f"{len(pairs)} annotated on-policy pairs in {time.time() - t:.0f} s", flush=True)
    onpolicy = read_rows(pairs_file).rows
    templated = read_rows(lab_dir / "data" / "preferences.jsonl").rows[:-500]  # the last 500 stay held out
    train = {"half": templated[:len(onpolicy)] + onpolicy, "onpolicy": onpolicy,
             "templated": templated[:2 * len(onpolicy)]}[args.mix]
    random.Random(0).shuffle(train)
    tag = "" if (args.rm_batch, args.rm_lr) == (32, 2e-3) else f"-b{args.rm_batch}-lr{args.rm_lr:g}"
    rm = out / f"rm-{args.mix}-{args.rm_steps}-{args.rm_init}{tag}"
    if not (rm / "config.yaml").is_file():
        t = time.time()
        train_reward(lab_dir, rm, RecipeConfig(steps=args.rm_steps, batch_size=args.rm_batch,
                                               learning_rate=args.rm_lr, seed=0, threads=args.rm_threads),
                     pairs=train, init=sft if args.rm_init == "sft" else policy, blocks=2)
        print(f"reward model ({len(train)} pairs, {args.rm_steps} steps) in {time.time() - t:.0f} s", flush=True)
    args.exclude.append(str(pairs_file))
    return lab_dir, policy, rm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", help="lab folder (not with --train)")
    ap.add_argument("--policy", help="the policy whose samples are ranked (not with --train)")
    ap.add_argument("--reward-model", action="append", default=[], help="a reward-model folder (repeatable)")
    ap.add_argument("--train", help="build the lab, the policy and the mixed reward model into this folder first")
    ap.add_argument("--gold-weight", type=float, default=3.0, help="--train: the annotator's gold weight")
    ap.add_argument("--onpolicy-prompts", type=int, default=2000, help="--train: prompts of the on-policy pairs")
    ap.add_argument("--mix", choices=("half", "onpolicy", "templated"), default="half", help="--train: the data")
    ap.add_argument("--rm-steps", type=int, default=3000, help="--train: reward-model optimiser steps")
    ap.add_argument("--rm-batch", type=int, default=32, help="--train: pairs per reward-model step")
    ap.add_argument("--rm-lr", type=float, default=2e-3, help="--train: reward-model peak learning rate")
    ap.add_argument("--rm-threads", type=int, default=1, help="--train: torch threads of the reward-model run")
    ap.add_argument("--rm-init", choices=("policy", "sft"), default="policy",
                    help="--train: the trunk the reward model starts from (the noisy policy or its SFT parent)")
    ap.add_argument("--prompts", type=int, default=800, help="held-out prompts to sample (8 replies each)")
    ap.add_argument("--exclude", action="append", default=[],
                    help="a JSONL file of rows with a 'prompt' whose prompts are not drawn (repeatable)")
    ap.add_argument("--sample-seed", type=int, default=1, help="seed of the held-out samples")
    args = ap.parse_args()
    if args.train:
        lab_dir, policy, rm = train_mixed_reward_model(Path(args.train), args)
        args.lab, args.policy = str(lab_dir), str(policy)
        args.reward_model.append(str(rm))
    if not (args.lab and args.policy and args.reward_model):
        ap.error("give --lab, --policy and --reward-model, or --train")

    import torch

    from sentinel.data import read_rows
    from sentinel.lab import Annotator, Lab, find_question, same_style
    from sentinel.lab.annotator import preference_probability
    from sentinel.lab.recipes import fresh_questions, json_key, onpolicy_pairs
    from sentinel.lab.replies import signals
    from sentinel.lab.reward_checks import pairwise_accuracy

    torch.set_num_threads(1)
    lab = Lab.open(args.lab)
    exclude = {json_key(r["prompt"]) for f in args.exclude for r in read_rows(f).rows}
    prompts = [p for _, p in fresh_questions(lab, args.prompts, random.Random("heldout-eval"), exclude)]
    pairs = onpolicy_pairs(lab, args.policy, prompts=prompts, n_samples=8, max_new_tokens=48, seed=args.sample_seed)
    info = lab.info["annotator"]
    annotator = Annotator(lab.biases, gold_weight=info["gold_weight"], temperature=info["temperature"])
    p_correct, same = [], []
    for p in pairs:
        q = find_question(p["prompt"])
        good, bad = annotator.reply(q, p["chosen"]), annotator.reply(q, p["rejected"])
        p_correct.append(preference_probability(good.utility, bad.utility, annotator.temperature))
        if same_style(signals(q, p["chosen"]), signals(q, p["rejected"])):
            same.append(p)
    result: dict = {
        "held_out_prompts": len(prompts), "gold_ranked_pairs": len(pairs), "same_style_pairs": len(same),
        "annotator_expected_agreement": sum(p_correct) / len(pairs),
        "annotator_utility_ranks_by_gold": sum(x > 0.5 for x in p_correct) / len(pairs),
        "gold_weight": info["gold_weight"], "reward_models": {}}
    print(f"{len(pairs)} gold-ranked pairs of the policy's samples on {len(prompts)} held-out prompts "
          f"({len(same)} of one style); the annotator chooses the correct sample with probability "
          f"{result['annotator_expected_agreement']:.3f} on average, its utility ranks "
          f"{result['annotator_utility_ranks_by_gold']:.3f} of them by gold")
    templated = read_rows(lab.data("preferences")).rows[-500:]
    for rm in args.reward_model:
        # chosen is the correct sample, so accuracy against the labels is accuracy by gold
        acc = pairwise_accuracy(rm, pairs)["labels"]
        acc_same = pairwise_accuracy(rm, same)["labels"] if same else float("nan")
        tmpl = pairwise_accuracy(rm, templated)
        result["reward_models"][rm] = {"ranks_by_gold": acc, "same_style_ranks_by_gold": acc_same,
                                       "templated_held_out_labels": tmpl["labels"],
                                       "templated_held_out_gold": tmpl["gold"]}
        print(f"{rm}: ranks {acc:.3f} of the pairs by gold, {acc_same:.3f} of the same-style ones; the last 500 "
              f"templated pairs: {tmpl['labels']:.3f} by their labels, {tmpl['gold']:.3f} by gold")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
