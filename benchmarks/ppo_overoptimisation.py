"""Reward over-optimisation in the lab: PPO against the biased reward model (the proxy) while the exact gold
reward is only watched.

    python benchmarks/ppo_overoptimisation.py --out runs/overopt [--steps 80] [--kl-coef 0.01]
        [--lab DIR --sft DIR --rm DIR]   # lab folders; built into --out when not given (a few minutes)

Writes `curve.jsonl` and `curve.csv` (one row per PPO step: proxy score, gold score, KL, sqrt(KL), response length,
share of responses carrying each planted bias signal) and prints where the gold reward peaked. Gao et al. 2022
predict: the proxy keeps rising with sqrt(KL) while the gold reward peaks and falls; the biased annotator's
favourite styles (padding, flattery, hedges) make the responses drift longer.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

from _lab_models import lab_models  # benchmarks/_lab_models.py (the script's folder is on sys.path)


class StyleTracker:
    """Per step: mean response length in words and the share of responses showing each bias signal."""

    def __init__(self):
        self.rows = []

    def __call__(self, prompts, responses):
        from sentinel.lab import find_question, signals

        sig = [signals(find_question(p), r) for p, r in zip(prompts, responses)]
        row = {"words": sum(len(r.split()) for r in responses) / len(responses)}
        row["share_keywords"] = sum(s.keywords > 0 for s in sig) / len(sig)
        row["share_hedges"] = sum(s.hedges for s in sig) / len(sig)
        row["share_agrees"] = sum(s.agrees for s in sig) / len(sig)
        self.rows.append(row)
        return [0.0] * len(responses)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/overopt")
    ap.add_argument("--lab")
    ap.add_argument("--sft")
    ap.add_argument("--rm")
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--kl-coef", type=float, default=0.01, help="fixed KL coefficient (small, to let it drift)")
    ap.add_argument("--learning-rate", type=float, default=1e-3)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from sentinel.lab import gold_rewards
    from sentinel.models import as_reward_fn
    from sentinel.train.ppo import PPOConfig, PPOTrainer
    from sentinel.train.ppo.prompts import load_prompts

    torch.set_num_threads(args.threads)
    lab, sft, rm = lab_models(args.out, args.lab, args.sft, args.rm)
    out = Path(args.out)
    tracker = StyleTracker()
    gold = as_reward_fn(gold_rewards)

    def gold_and_style(prompts, responses):
        tracker(prompts, responses)
        return gold(prompts, responses)

    config = PPOConfig(learning_rate=args.learning_rate, batch_size=32, mini_batch_size=8, ppo_epochs=4,
                       max_new_tokens=args.max_new_tokens, adap_kl_ctrl=False, init_kl_coef=args.kl_coef,
                       max_steps=args.steps, seed=0, output_dir=str(out / "policy"))
    trainer = PPOTrainer(config=config, model=str(sft), reward_model=str(rm), gold_reward_fn=gold_and_style)
    history = trainer.train(load_prompts(lab / "data" / "prompts.jsonl"))
    rows = []
    for i, (h, style) in enumerate(zip(history, tracker.rows), start=1):
        kl = max(h["objective/kl"], 0.0)
        rows.append({"step": i, "proxy": h["objective/scores"], "gold": h.get("gold/score"), "kl": h["objective/kl"],
                     "sqrt_kl": math.sqrt(kl), "response_tokens": h["response_length/mean"], **style})
    out.mkdir(parents=True, exist_ok=True)
    (out / "curve.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with (out / "curve.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    def smooth(key, i, k=5):
        window = [r[key] for r in rows[max(0, i - k + 1) : i + 1]]
        return sum(window) / len(window)

    golds = [smooth("gold", i) for i in range(len(rows))]
    peak = max(range(len(rows)), key=golds.__getitem__)
    first, last = rows[0], rows[-1]
    print(f"{len(rows)} steps; curve in {out / 'curve.jsonl'} and curve.csv")
    print(f"proxy (biased RM): {smooth('proxy', 0):.3f} -> {smooth('proxy', len(rows) - 1):.3f} (5-step means)")
    print(f"gold: start {golds[0]:.3f}, peak {golds[peak]:.3f} at step {rows[peak]['step']}, end {golds[-1]:.3f}")
    print(f"response length (tokens): {first['response_tokens']:.1f} -> {last['response_tokens']:.1f}; "
          f"KL {last['kl']:.2f} nats at the end")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
