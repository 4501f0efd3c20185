"""PPO in the lab against a rule reward that knows the right answer: does gold accuracy rise?

    python benchmarks/ppo_gold.py --out runs/ppo-gold [--reward correct-brief] [--steps 150] [--learning-rate 1e-4]
        [--lab DIR --sft DIR]   # lab folders; built into --out when not given (a minute or two)

Starts from the lab's SFT policy, trains PPO on the lab's prompts (DIR/data/prompts.jsonl) against a rule reward
built on the gold grader, and prints, before and after: greedy gold accuracy on the lab's eval split
(`sentinel.lab.evaluate`, per task), and the mean reward of sampled responses during training (first and last
5 steps). Defaults: `sentinel.train.ppo.hyperparams.LAB_RECIPE`. Rewards (`--reward`):

    gold           the gold grade itself: 1 correct, 0 no answer, -1 wrong
    correct        1 when correct, else 0
    correct-brief  1 when correct, else 0, minus 0.02 per word beyond the shortest answer form (5 words); the
                   default: the issue's 'answer correctly and briefly' (with `gold`, abstaining (0) beats a wrong
                   answer (-1), and on the current lab PPO learned to abstain: greedy accuracy fell; docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _lab_models import lab_models  # benchmarks/_lab_models.py (the script's folder is on sys.path)


def make_reward(kind: str):
    from sentinel.lab import gold_rewards

    def reward(prompts, responses):
        golds = gold_rewards(prompts, responses)
        if kind == "gold":
            return golds
        correct = [1.0 if g == 1.0 else 0.0 for g in golds]
        if kind == "correct":
            return correct
        return [c - 0.02 * max(0, len(r.split()) - 5) for c, r in zip(correct, responses)]

    return reward


def accuracy(model, tokenizer, eval_file: Path) -> dict:
    from sentinel.lab.evaluate import evaluate

    return evaluate(model, eval_file, tokenizer=tokenizer)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/ppo-gold")
    ap.add_argument("--lab")
    ap.add_argument("--sft")
    ap.add_argument("--reward", choices=["gold", "correct", "correct-brief"], default="correct-brief")
    from sentinel.train.ppo.hyperparams import LAB_RECIPE as R

    ap.add_argument("--steps", type=int, default=R["max_steps"])
    ap.add_argument("--batch-size", type=int, default=R["batch_size"])
    ap.add_argument("--mini-batch-size", type=int, default=R["mini_batch_size"])
    ap.add_argument("--learning-rate", type=float, default=R["learning_rate"])
    ap.add_argument("--kl-coef", type=float, default=R["init_kl_coef"], help="initial KL coefficient")
    ap.add_argument("--adaptive-kl", action="store_true", help="adaptive KL controller (default: fixed)")
    ap.add_argument("--temperature", type=float, default=R["temperature"], help="sampling temperature")
    ap.add_argument("--max-new-tokens", type=int, default=R["max_new_tokens"])
    ap.add_argument("--vf-coef", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    import torch

    from sentinel.train.ppo import PPOConfig, PPOTrainer
    from sentinel.train.ppo.prompts import load_prompts

    torch.set_num_threads(args.threads)
    lab, sft, _ = lab_models(args.out, args.lab, args.sft, with_rm=False)
    eval_file = lab / "data" / "eval.jsonl"
    config = PPOConfig(learning_rate=args.learning_rate, batch_size=args.batch_size,
                       mini_batch_size=args.mini_batch_size, ppo_epochs=4, max_new_tokens=args.max_new_tokens,
                       adap_kl_ctrl=args.adaptive_kl, init_kl_coef=args.kl_coef, temperature=args.temperature,
                       vf_coef=args.vf_coef, max_steps=args.steps, seed=args.seed)
    trainer = PPOTrainer(config=config, model=str(sft), reward_model=make_reward(args.reward))
    before = accuracy(trainer.policy, trainer.tokenizer, eval_file)
    t0 = time.perf_counter()
    history = trainer.train(load_prompts(lab / "data" / "prompts.jsonl"))
    seconds = time.perf_counter() - t0
    after = accuracy(trainer.policy, trainer.tokenizer, eval_file)

    def mean(rows, k):
        return sum(r[k] for r in rows) / len(rows)

    first, last = history[:5], history[-5:]
    print(f"reward {args.reward}, {len(history)} steps of {args.batch_size} prompts, lr {args.learning_rate}, "
          f"KL coef {args.kl_coef} ({'adaptive' if args.adaptive_kl else 'fixed'}), {seconds:.0f} s")
    print(f"mean reward (sampled, first/last 5 steps): {mean(first, 'objective/scores'):.3f} -> "
          f"{mean(last, 'objective/scores'):.3f}; KL {mean(last, 'objective/kl'):.2f} nats; "
          f"response length {mean(first, 'response_length/mean'):.1f} -> {mean(last, 'response_length/mean'):.1f}")
    print(f"greedy gold accuracy on {before['n']} eval prompts: {before['accuracy']:.3f} -> {after['accuracy']:.3f}"
          f" (mean gold {before['mean_gold']:.3f} -> {after['mean_gold']:.3f})")
    for task in before["by_task"]:
        print(f"  {task:<9} {before['by_task'][task]:.2f} -> {after['by_task'][task]:.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps({
        "args": vars(args), "before": {k: before[k] for k in ("accuracy", "mean_gold", "by_task", "by_kind")},
        "after": {k: after[k] for k in ("accuracy", "mean_gold", "by_task", "by_kind")},
        "history": history}, indent=1))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
