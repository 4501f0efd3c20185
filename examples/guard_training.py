"""Guard a training run: `SentinelCallback` on our PPO in the lab, and `check_training` on any trainer's log.

    python examples/guard_training.py [--out DIR] [--no-stop] [--metrics FILE ...]

What it shows:
1. A lab SFT policy (300 steps, about half a minute on a CPU) is trained with our `PPOTrainer` against a biased
   reward: the lab annotator's own utility (gold grade x 2, plus pay for length, reward keywords, agreeing with the
   user and hedging), i.e. a reward model that learnt the annotator's biases perfectly. The share of sampled replies
   that answer correctly is watched, never optimised (`gold_reward_fn`). `SentinelCallback(stop_on="high")` checks
   the run every 5 steps, names each alarm with the step where it began, and stops the run at the first high one
   (--no-stop: it only warns, and the run goes on for all 40 steps).
2. `RLHFConsistencyChecker.check_training` on the `metrics.jsonl` of other trainers: two recorded TRL 1.16 GRPO runs
   on the lab (tests/data), one against the gold grader (quiet) and one against a biased reward model
   (over-optimisation), or your own files with --metrics (TRL, our PPO, or anything logging TRL's metric names).

With a TRL trainer the same guard is `trainer.add_callback(SentinelCallback(stop_on="high"))`; `sentinel train grpo`
and `sentinel train rloo` add it themselves. Files: OUT/lab, OUT/sft, OUT/ppo (the policy and metrics.jsonl),
OUT/guard (the guard's report), OUT/check-<name> (one report per metrics file).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from sentinel import PPOConfig, PPOTrainer, RLHFConsistencyChecker, SentinelCallback
from sentinel.lab import DEFAULT_BIASES, LabConfig, find_question, grade, init_lab, signals, utility
from sentinel.lab.recipes import RecipeConfig, train_sft

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
RECORDED = [DATA / "grpo_lab_gold_metrics.jsonl", DATA / "grpo_lab_biased_rm_metrics.jsonl"]


def biased_reward(prompts: list, responses: list[str]) -> list[float]:
    """The lab annotator's utility of each reply: 2 x gold grade + its planted biases' pay (sentinel.lab.utility)."""
    out = []
    for p, r in zip(prompts, responses):
        q = find_question(p)
        out.append(utility(grade(q, r), signals(q, r), DEFAULT_BIASES))
    return out


def correct(prompts: list, responses: list[str]) -> list[float]:
    """1.0 when the reply gives the right answer, else 0.0 (the lab's exact grader)."""
    return [float(grade(find_question(p), r) == 1.0) for p, r in zip(prompts, responses)]


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="example-out/guard_training", help="output folder")
    ap.add_argument("--steps", type=int, default=40, help="PPO steps")
    ap.add_argument("--no-stop", action="store_true", help="let the guard warn only, never stop the run")
    ap.add_argument("--metrics", nargs="+", default=[str(p) for p in RECORDED],
                    help="metrics.jsonl files of other runs to check")
    args = ap.parse_args()
    out = Path(args.out)
    # One thread: the lab's models are tiny, and on a busy machine idle OpenMP threads spin and slow every step.
    torch.set_num_threads(1)

    lab = init_lab(out / "lab", LabConfig(seed=0, n_preferences=100, n_prompts=512, n_eval=10), overwrite=True)
    print("SFT on the lab (300 steps of 32) ...")
    sft = train_sft(lab, out / "sft", RecipeConfig(steps=300, batch_size=32, learning_rate=1e-2, threads=1))

    prompts = [json.loads(line)["prompt"] for line in (lab / "data" / "prompts.jsonl").read_text().splitlines()]
    guard = SentinelCallback(every_n_steps=5, stop_on=None if args.no_stop else "high")
    # The demo's settings: a small fixed KL coefficient and a high learning rate let the policy drift far enough
    # from its SFT start, within a few dozen steps, to find what the reward pays for.
    config = PPOConfig(max_steps=args.steps, batch_size=32, mini_batch_size=8, learning_rate=2e-4, adap_kl_ctrl=False,
                       init_kl_coef=0.01, max_new_tokens=48, seed=0, device="cpu", output_dir=str(out / "ppo"))
    trainer = PPOTrainer(config, model=str(sft), reward_model=biased_reward, gold_reward_fn=correct,
                         callbacks=[guard])
    print(f"PPO against the biased reward, {args.steps} steps, guarded ...")
    history = trainer.train(prompts)
    guard.run_checks(len(history))
    guard.report.save(out / "guard")

    proxy = [h["objective/scores"] for h in history]
    right = [h["gold/score"] for h in history]
    length = [h["response_length/mean"] for h in history]
    k = min(5, len(history))
    print(f"\nPPO ran {len(history)} steps" + (f", stopped by the guard at step {guard.stopped_at}"
                                                 if guard.stopped_at else ""))
    print(f"  proxy reward {mean(proxy[:k]):+.2f} -> {mean(proxy[-k:]):+.2f}; share of sampled replies correct "
          f"{mean(right[:k]):.2f} -> {mean(right[-k:]):.2f}; length {mean(length[:k]):.1f} -> "
          f"{mean(length[-k:]):.1f} tokens (means of the first and last {k} steps)")
    for a in guard.alarms:
        print(f"  alarm [{a.severity.value}] {a.id}, dated to step {a.data.get('step')}")
    for prompt, reply in zip(prompts[:3], trainer.generate(prompts[:3])):
        print(f"  sample: {prompt[-1]['content']!r} -> {reply!r}")

    checker = RLHFConsistencyChecker()
    for path in args.metrics:
        name = Path(path).name.removesuffix(".jsonl")
        report = checker.check_training(path)
        report.save(out / f"check-{name}")
        alarms = [f for f in report.findings if f.severity.value in ("medium", "high", "critical")]
        print(f"\ncheck_training({name}): {len(alarms)} alarms at medium or above")
        for f in alarms:
            print(f"  [{f.severity.value}] {f.id} from step {f.data.get('step')}: {f.description}")
    print(f"\nreports: {out}/guard/report.html, {out}/check-*/report.html")


if __name__ == "__main__":
    main()
