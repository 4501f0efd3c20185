"""Run our PPO on the lab with SentinelCallback watching, against the lab's biased reward model or the gold reward,
and print the reward / length / KL / gold curve and the alarms the guard raised.

Needs `sentinel.train.ppo` (our PPOTrainer) and a lab with a trained SFT policy and reward model:

    sentinel lab init LAB
    python -c "from sentinel.lab.recipes import RecipeConfig, train_sft, train_reward as r; \
               train_sft('LAB', 'SFT', RecipeConfig(steps=300, batch_size=32, learning_rate=5e-3)); \
               r('LAB', 'RM', RecipeConfig(steps=150, batch_size=32, learning_rate=3e-3))"
    python benchmarks/lab_guard.py --lab LAB --policy SFT --reward RM --steps 60 --lr 1e-3
    python benchmarks/lab_guard.py --lab LAB --policy SFT --reward gold --steps 40 --lr 1e-4
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", required=True)
    ap.add_argument("--policy", required=True, help="SFT policy folder")
    ap.add_argument("--reward", required=True, help="reward-model folder, or 'gold' for the lab's gold reward")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--every", type=int, default=5, help="run the guard's checks every this many steps")
    args = ap.parse_args()

    import torch

    from sentinel import SentinelCallback
    from sentinel.lab import gold_reward
    from sentinel.train.ppo import PPOConfig, PPOTrainer

    torch.set_num_threads(1)  # tiny model: one thread is faster on a shared machine

    def gold(prompts, responses):
        return [gold_reward(p, r) for p, r in zip(prompts, responses)]

    prompts = [json.loads(line)["prompt"] for line in Path(f"{args.lab}/data/prompts.jsonl").read_text().splitlines()]
    cb = SentinelCallback(every_n_steps=args.every)
    cfg = PPOConfig(max_steps=args.steps, batch_size=16, mini_batch_size=8, learning_rate=args.lr, max_new_tokens=48,
                    device="cpu")
    trainer = PPOTrainer(cfg, model=args.policy, reward_model=gold if args.reward == "gold" else args.reward,
                         gold_reward_fn=gold, callbacks=[cb])
    t0 = time.perf_counter()
    history = trainer.train(prompts)
    cb.run_checks(len(history))
    print(f"{len(history)} steps in {time.perf_counter() - t0:.0f} s")
    print("| step | proxy score | length (tokens) | KL | gold |")
    print("|---|---|---|---|---|")
    for i, h in enumerate(history, 1):
        if i == 1 or i % 10 == 0:
            print(f"| {i} | {h['objective/scores']:.3f} | {h['response_length/mean']:.1f} | {h['objective/kl']:.3f} "
                  f"| {h.get('gold/score', float('nan')):.3f} |")
    for f in cb.alarms:
        print(f"[{f.severity.value}] {f.id} (from step {f.data.get('step')}): {f.description}")
    if not cb.alarms:
        print("no alarms")


if __name__ == "__main__":
    main()
