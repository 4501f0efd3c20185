"""The lab: does a reward model rank the policy's own samples by gold, against the annotator it learnt from.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/lab_onpolicy.py \\
        --lab LAB --policy POLICY --reward-model RM [--reward-model RM2 ...] [--prompts 800] [--exclude PAIRS.jsonl]

PPO only ever shows the reward model the policy's samples, so whether PPO against it can raise gold depends on how
it ranks *those*, not the lab's templated pairs. This samples 8 replies (temperature 1.0, 48 new tokens) to each of
--prompts held-out prompts (none of the lab's RL or eval prompts, none in --exclude: the prompts of a reward model's
on-policy training pairs) and pairs, per prompt, a correct sample with the lowest-graded one (`onpolicy_pairs`:
gold-ranked pairs of the policy's own samples). Printed per reward model: the share of those pairs it ranks by gold
(ties count as wrong), and the same on the pairs whose two samples carry the same bias signals (only correctness can
rank them). Beside it, the annotator's own agreement with gold on the same pairs: its mean probability of choosing
the correct sample (the Bradley-Terry draw's), and the share its utility ranks correctly. The reward model learns
the annotator, so those are its ceiling.
"""

from __future__ import annotations

import argparse
import json
import random


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", required=True)
    ap.add_argument("--policy", required=True, help="the policy whose samples are ranked (the demo's PPO start)")
    ap.add_argument("--reward-model", action="append", required=True, help="a reward-model folder (repeatable)")
    ap.add_argument("--prompts", type=int, default=800, help="held-out prompts to sample (8 replies each)")
    ap.add_argument("--exclude", action="append", default=[],
                    help="a JSONL file of rows with a 'prompt' whose prompts are not drawn (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

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
    prompts = [p for _, p in fresh_questions(lab, args.prompts, random.Random(f"{args.seed}:held-out"), exclude)]
    pairs = onpolicy_pairs(lab, args.policy, prompts=prompts, n_samples=8, max_new_tokens=48, seed=args.seed)
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
    for rm in args.reward_model:
        # chosen is the correct sample, so accuracy against the labels is accuracy by gold
        acc = pairwise_accuracy(rm, pairs)["labels"]
        acc_same = pairwise_accuracy(rm, same)["labels"] if same else float("nan")
        result["reward_models"][rm] = {"ranks_by_gold": acc, "same_style_ranks_by_gold": acc_same}
        print(f"{rm}: ranks {acc:.3f} of the pairs by gold; {acc_same:.3f} of the same-style ones")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
