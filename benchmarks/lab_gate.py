"""The lab's over-optimisation gate: PPO against the annotator's *exact* utility (a perfect reward model of the
biased annotator), several seeds, the gold grade only watched. Gold must rise and then fall on the seeds' mean curve
before a learned reward model can be expected to show the curve (issue: the demo proves its story, step 0).

    python benchmarks/lab_gate.py --out runs/gate [--lab DIR --sft DIR] [--noisy 0.4] [--gold-weight 3]
        [--kl 0.005] [--steps 100] [--lr 2e-4] [--temperature 1.0] [--seeds 0 1 2]

The SFT policy is the lab's recipe trained 1000 steps (built into --out unless --sft), fine-tuned on demonstrations of
which a share `--noisy` give a wrong answer (`sentinel.lab.recipes.noisy_sft`: a start with room to improve) unless
--noisy 0. PPO runs as the demo's (batch 32, mini-batch 8, 4 epochs, 48 new tokens, fixed KL coefficient). Prints,
per seed and for the mean curve (trailing means over --window steps, full windows only): gold at the first window,
its peak and step, the last window, rise = peak - first and fall = peak - last; writes curves.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def exact_utility(lab, gold_weight: float):
    """fn(prompts, responses) -> the annotator's utility of each reply, with `gold_weight` for correctness."""
    from sentinel.lab import find_question
    from sentinel.lab.annotator import utility
    from sentinel.lab.replies import signals
    from sentinel.lab.world import grade

    biases = lab.biases

    def fn(prompts, responses):
        out = []
        for p, r in zip(prompts, responses):
            q = find_question(p)
            out.append(0.0 if q is None else utility(grade(q, r), signals(q, r), biases, gold_weight))
        return out

    return fn


def shape(curve: list[float], w: int) -> dict[str, float]:
    """First, peak (and step), last, rise and fall of `curve` through trailing full windows of `w` (the demo's)."""
    from sentinel.demo.curves import curve_shape

    return curve_shape(curve, w).as_dict()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--lab", help="lab folder (default: built into OUT/lab, seed 0)")
    ap.add_argument("--sft", help="SFT policy folder (default: the lab's SFT recipe, trained into OUT/sft)")
    ap.add_argument("--noisy", type=float, default=0.4, help="share of wrong demonstrations in the fine-tune (0: none)")
    ap.add_argument("--gold-weight", type=float, default=3.0)
    ap.add_argument("--kl", type=float, default=0.005, help="fixed KL coefficient")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--reward-model", help="a learned reward-model folder to optimise instead of the exact utility "
                    "(the demo's question: does the curve survive the reward model's own errors?)")
    args = ap.parse_args()

    import torch
    from _lab_models import noisy_start

    from sentinel.lab import LabConfig, gold_rewards, init_lab
    from sentinel.lab.build import Lab
    from sentinel.train.ppo import PPOConfig, PPOTrainer

    torch.set_num_threads(1)
    out = Path(args.out)
    lab_dir = Path(args.lab) if args.lab else out / "lab"
    if not (lab_dir / "lab.json").is_file():
        init_lab(lab_dir, LabConfig(seed=0), overwrite=True)
    lab = Lab.open(lab_dir)
    _, start = noisy_start(out, lab_dir, args.sft, args.noisy)
    prompts = [json.loads(line)["prompt"] for line in lab.data("prompts").read_text().splitlines()]
    reward = args.reward_model or exact_utility(lab, args.gold_weight)
    curves = {}
    for seed in args.seeds:
        t = time.time()
        cfg = PPOConfig(learning_rate=args.lr, batch_size=32, mini_batch_size=8, ppo_epochs=4, max_new_tokens=48,
                        adap_kl_ctrl=False, init_kl_coef=args.kl, max_steps=args.steps, seed=seed,
                        temperature=args.temperature, device="cpu", save_steps=10 ** 9,
                        output_dir=str(out / f"ppo-{seed}"))
        shares: list[tuple[float, float]] = []  # per step: share of samples graded correct, and wrong

        def graded(p, r, shares=shares):
            g = gold_rewards(p, r)
            shares.append((sum(x == 1.0 for x in g) / len(g), sum(x == -1.0 for x in g) / len(g)))
            return g

        history = PPOTrainer(cfg, model=str(start), reward_model=reward, gold_reward_fn=graded).train(prompts)
        curves[seed] = {k: [h[k] for h in history] for k in ("gold/score", "objective/scores", "objective/kl")}
        curves[seed]["correct"] = [c for c, _ in shares]
        curves[seed]["wrong"] = [w for _, w in shares]
        print(f"seed {seed}: {time.time() - t:.0f} s; gold {shape(curves[seed]['gold/score'], args.window)}; "
              f"correct {shape(curves[seed]['correct'], args.window)}", flush=True)
    mean = [sum(c["gold/score"][i] for c in curves.values()) / len(curves) for i in range(args.steps)]
    proxy = [sum(c["objective/scores"][i] for c in curves.values()) / len(curves) for i in range(args.steps)]
    result = {"settings": vars(args), "mean_gold": shape(mean, args.window), "mean_proxy": shape(proxy, args.window)}
    (out / "curves.json").write_text(json.dumps({"result": result, "curves": curves}, indent=1))
    g = result["mean_gold"]
    print(f"mean of {len(curves)} seeds: gold first {g['first']:+.3f}, peak {g['peak']:+.3f} at step "
          f"{g['peak_step']}, last {g['last']:+.3f}: rise {g['rise']:+.3f}, fall {g['fall']:.3f}; proxy "
          f"{result['mean_proxy']['first']:+.2f} -> {result['mean_proxy']['last']:+.2f}")
    print("gate (rise >= 0.15 and fall >= 0.15):", "PASS" if g["rise"] >= 0.15 and g["fall"] >= 0.15 else "FAIL")


if __name__ == "__main__":
    main()
