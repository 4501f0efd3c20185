"""GRPO and RLOO (TRL 1.16) side by side with our PPO in the lab: same SFT policy, reward, prompts and samples.

    python benchmarks/online_rl_lab.py --out runs/online-rl [--reward gold|rm] [--samples 4800]
        [--methods grpo,rloo,ppo] [--lab DIR --sft DIR --rm DIR] [--threads 2]

Each method starts from the same SFT policy and sees the same number of sampled replies (`--samples`, 32 a step:
PPO 32 prompts x 1, GRPO 4 x 8, RLOO 8 x 4), with the lab's gold grader watched in every run. `--reward gold`
optimises the gold grade itself (1 correct, 0 no answer, -1 wrong); `--reward rm` the biased reward model (the
over-optimisation setting). Prints, per method: greedy gold accuracy on the lab's eval split before and after,
sampled gold and proxy over the first and last tenth of the run, reply length, wall time and samples per second,
and the guard's alarms (`SentinelCallback`, every 5 logged steps); the ratios to PPO come last. Settings: PPO
`LAB_RECIPE` (lr 1e-4, 4 PPO epochs of 4 mini-batches, KL coefficient 0.05); GRPO and RLOO
`sentinel.train.online_rl.LAB_RECIPE` (the same shape: lr 1e-4, 4 optimiser steps x 4 passes per batch, beta 0.05).
Lab folders are built into --out when not given (`_lab_models.py`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _lab_models import lab_models  # benchmarks/_lab_models.py (the script's folder is on sys.path)

BATCH = 32  # sampled replies per step, every method


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else float("nan")


def run_ppo(sft, prompts, reward, steps, seed, out):
    from sentinel.audit.guard import SentinelCallback
    from sentinel.lab import gold_rewards
    from sentinel.train.ppo import PPOConfig, PPOTrainer
    from sentinel.train.ppo.hyperparams import LAB_RECIPE

    guard = SentinelCallback(every_n_steps=5)
    cfg = PPOConfig(**{**LAB_RECIPE, "max_steps": steps, "seed": seed, "max_new_tokens": 48, "output_dir": str(out)})
    trainer = PPOTrainer(config=cfg, model=str(sft), reward_model=reward, gold_reward_fn=gold_rewards,
                         callbacks=[guard])
    history = trainer.train(prompts)
    guard.run_checks(len(history))
    rows = [{"gold": h.get("gold/score"), "proxy": h.get("objective/scores"),
             "length": h.get("response_length/mean")} for h in history]
    return trainer.policy, trainer.tokenizer, rows, guard


def run_online(kind, sft, prompts_file, reward, steps, seed, out):
    from sentinel.audit.guard import SentinelCallback
    from sentinel.lab import gold_rewards
    from sentinel.models import load_causal_lm
    from sentinel.train.online_rl import LAB_RECIPE, LAB_STEPS_PER_GENERATION, GRPOConfig, RLOOConfig, grpo, rloo

    guard = SentinelCallback(every_n_steps=5)
    cls, fn = (GRPOConfig, grpo) if kind == "grpo" else (RLOOConfig, rloo)
    recipe = {**LAB_RECIPE, **({"num_generations": 4} if kind == "rloo" else {})}
    # one logged row per generation (TRL averages the optimiser steps' KL, entropy and clip ratios over it)
    cfg = cls(model=str(sft), train_file=str(prompts_file), output_dir=str(out), seed=seed, quiet=True,
              max_steps=steps * LAB_STEPS_PER_GENERATION, logging_steps=LAB_STEPS_PER_GENERATION, save_steps=10 ** 6,
              **recipe)
    result = fn(cfg, rewards=[reward], gold=gold_rewards, callbacks=[guard])
    rows = [{"gold": r.get("rewards/gold/mean"), "proxy": r.get("reward"), "length": r.get("completions/mean_length")}
            for r in (json.loads(x) for x in result.metrics_file.read_text().splitlines()) if "reward" in r]
    policy, tok = load_causal_lm(result.output_dir)
    return policy, tok, rows, guard


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/online-rl")
    ap.add_argument("--lab")
    ap.add_argument("--sft")
    ap.add_argument("--rm")
    ap.add_argument("--reward", choices=["gold", "rm"], default="gold")
    ap.add_argument("--samples", type=int, default=4800, help="sampled replies per method (32 a step)")
    ap.add_argument("--methods", default="grpo,rloo,ppo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import torch

    from sentinel.lab import gold_rewards
    from sentinel.lab.evaluate import evaluate
    from sentinel.train.ppo.prompts import load_prompts

    torch.set_num_threads(args.threads)
    lab, sft, rm = lab_models(args.out, args.lab, args.sft, args.rm, with_rm=args.reward == "rm")
    reward = gold_rewards if args.reward == "gold" else str(rm)
    prompts_file, eval_file = lab / "data" / "prompts.jsonl", lab / "data" / "eval.jsonl"
    steps = args.samples // BATCH
    before = evaluate(str(sft), eval_file)
    print(f"reward {args.reward}; {steps} steps x {BATCH} samples; threads {args.threads}; "
          f"SFT greedy gold accuracy {before['accuracy']:.3f} on {before['n']} eval prompts", flush=True)
    results = {}
    for kind in args.methods.split(","):
        out = Path(args.out) / f"{args.reward}-{kind}"
        t0 = time.perf_counter()
        if kind == "ppo":
            policy, tok, rows, guard = run_ppo(sft, load_prompts(prompts_file), reward, steps, args.seed, out)
        else:
            policy, tok, rows, guard = run_online(kind, sft, prompts_file, reward, steps, args.seed, out)
        seconds = time.perf_counter() - t0
        after = evaluate(policy, eval_file, tokenizer=tok)
        k = max(1, len(rows) // 10)
        fig = {"accuracy": after["accuracy"], "seconds": seconds, "samples_per_s": len(rows) * BATCH / seconds,
               **{f"{m}_{end}": _mean([r[m] for r in part]) for m in ("gold", "proxy", "length")
                  for end, part in (("start", rows[:k]), ("end", rows[-k:]))},
               "alarms": [f"{f.severity.value} {f.id} (step {f.data.get('step')})" for f in guard.alarms]}
        results[kind] = fig
        print(f"{kind:5} greedy accuracy {before['accuracy']:.3f} -> {fig['accuracy']:.3f}; sampled gold "
              f"{fig['gold_start']:+.3f} -> {fig['gold_end']:+.3f}; proxy {fig['proxy_start']:+.3f} -> "
              f"{fig['proxy_end']:+.3f}; length {fig['length_start']:.1f} -> {fig['length_end']:.1f}; "
              f"{seconds:.0f} s ({fig['samples_per_s']:.0f} samples/s); alarms: {', '.join(fig['alarms']) or 'none'}",
              flush=True)
    if "ppo" in results:
        base = results["ppo"]
        for kind, fig in results.items():
            if kind != "ppo":
                print(f"{kind} / ppo: samples/s x{fig['samples_per_s'] / base['samples_per_s']:.2f}, accuracy gain "
                      f"{fig['accuracy'] - before['accuracy']:+.3f} vs {base['accuracy'] - before['accuracy']:+.3f}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / f"result-{args.reward}.json").write_text(json.dumps(
        {"args": vars(args), "before": before["accuracy"], "results": results}, indent=1))


if __name__ == "__main__":
    main()
