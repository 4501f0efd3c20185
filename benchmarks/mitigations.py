"""The mitigations of over-optimisation on several seeds: the demo's side-by-side table with the seeds' spread.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/mitigations.py --out DIR [--from DEMO_OUT]
        [--seeds 3] [--workers 2]

`sentinel demo` runs each mitigation on one seed, which cannot tell a lead from noise. This runs the demo's
pipeline with `mitigation_seeds` = --seeds (each mitigation on the same seeds as the watched PPO runs, from the same
start policy and step budget). With --from, the finished stages of a default demo run (lab, SFT, start policy, reward
pairs and models, the PPO seeds, its one-seed mitigation runs) are linked into --out, so only the other seeds of the
mitigation runs are new. Prints one row per run
(sampled gold at the end and at its best: the seeds' mean and range; proxy, sqrt(KL), length at the end; greedy gold
accuracy of the first seed) and the verdict: a winner only where its worst seed ends above every other run's best.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

STAGES = ("lab", "sft", "sft-noisy", "reward-pairs", "reward-model", "reward-model-1", "reward-model-2", "ppo", "dpo")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder (a demo folder of its own)")
    ap.add_argument("--from", dest="source", help="a finished default `sentinel demo` folder whose stages to reuse")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per mitigation run")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (results do not depend on it)")
    args = ap.parse_args()

    from sentinel.demo.run import DemoConfig, run_demo

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.source:
        source = Path(args.source).resolve()
        for name in STAGES:
            if (source / name).exists() and not (out / name).exists():
                (out / name).symlink_to(source / name, target_is_directory=True)
        for run in sorted(source.glob("mitigations/*/seed-*")):  # the demo's own mitigation seeds
            dest = out / run.relative_to(source)
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.symlink_to(run, target_is_directory=True)
    cfg = DemoConfig(mitigation_seeds=args.seeds, ppo_seeds=max(args.seeds, DemoConfig().ppo_seeds),
                     workers=args.workers)
    t = time.time()
    report = run_demo(out, cfg)
    print(f"demo with {args.seeds} seeds per mitigation: {time.time() - t:.0f} s (stages reused from "
          f"{args.source or 'nothing'})")
    table = next(f for f in report.findings if f.id == "demo/mitigations").evidence
    cols = ["run", "seeds", "gold start", "gold best", "best at step", "gold end", "gold end, seeds' range",
            "proxy end", "sqrt(KL) end", "length end", "greedy gold accuracy"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for row in table:
        print("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |")
    m = report.metrics
    print(f"winner: {m.get('mitigation/winner')}: {m.get('mitigation/winner_reason')}")
    print(json.dumps({k: v for k, v in m.items() if k.startswith(("ppo/", "mitigation/"))}, indent=1, default=str))


if __name__ == "__main__":
    main()
