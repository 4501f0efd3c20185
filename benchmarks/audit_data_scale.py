"""How `sentinel audit data`'s checks scale with the number of preference pairs: wall time and peak memory per check
at 10k, 100k and 1M pairs.

The pairs are HH-RLHF test rows recombined: the prompt of one row with the two replies of another, every (prompt,
replies) combination used at most once, so no two pairs are equal. The four HH test files give about 8,500 valid
rows, hence up to ~70M distinct pairs. A random-character trigger is appended to the last user turn of `--rate` of
the pairs, whose replies are swapped (`poisoning_detection.poison`'s attack), so the poisoning check has something
to find. Each (check, size) runs in a fresh subprocess, which reports its own peak RSS; the time of loading the rows
into canonical pairs (`load_preferences`) is reported apart from the check's, whose CPU time is given beside its wall
time (the two differ when the machine is shared).

    OMP_NUM_THREADS=1 python benchmarks/audit_data_scale.py --checks poisoning --sizes 10000 100000 1000000

One function per check (`CHECKS`); a check takes the loaded pairs and returns a one-line summary of its result.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "preference"


def recombined(size: int, rate: float, seed: int, data: Path = DATA) -> tuple[list[dict], np.ndarray, str]:
    """`size` distinct pairs (prompt of one HH row, replies of another), `rate` of them poisoned with one trigger.

    Returns (rows, is_poisoned mask, trigger). Prompts are shared between rows (message lists are not copied), so
    building 1M rows costs little memory before loading.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from poisoning_detection import random_trigger

    from sentinel.data import load_preferences

    pool = [e for f in sorted(data.glob("*.jsonl.gz")) for e in load_preferences(f, skip_invalid=True).examples]
    p = len(pool)
    rng = np.random.default_rng(seed)
    codes = np.unique(rng.integers(0, p * p, size=int(size * 1.05) + 100))
    if len(codes) < size:
        raise SystemExit(f"only {len(codes)} distinct combinations drawn; ask for fewer than {size} pairs")
    codes = rng.permutation(codes)[:size]
    trigger = random_trigger(random.Random(seed))
    poisoned = np.zeros(size, dtype=bool)
    poisoned[rng.choice(size, int(round(rate * size)), replace=False)] = True
    rows = []
    for k, code in enumerate(codes.tolist()):
        prompt, replies = pool[code // p]["prompt"], pool[code % p]
        if poisoned[k]:
            last = dict(prompt[-1], content=prompt[-1]["content"].rstrip() + " " + trigger)
            rows.append({"prompt": prompt[:-1] + [last], "chosen": replies["rejected"], "rejected": replies["chosen"]})
        else:
            rows.append({"prompt": prompt, "chosen": replies["chosen"], "rejected": replies["rejected"]})
    return rows, poisoned, trigger


def check_poisoning(loaded: Any, poisoned: np.ndarray, trigger: str) -> str:
    """`detect_poisoning` without a reference reward model: is the planted trigger the top finding?"""
    from sentinel.audit.consistency import RLHFConsistencyChecker
    from sentinel.audit.consistency.poisoning import PoisoningReport

    rep = RLHFConsistencyChecker().detect_poisoning(loaded)
    assert isinstance(rep, PoisoningReport)
    top = rep.findings[0] if rep.findings and rep.findings[0].id == "poisoning-trigger" else None
    flagged = np.array(rep.pair_scores) >= 1.0
    recall = (flagged & poisoned).sum() / max(1, poisoned.sum())
    return (f"top trigger {top.data['trigger'] if top else None!r} (planted {trigger!r}), "
            f"{int(flagged.sum())} flagged, recall {recall:.2f}, n-grams tested {rep.metrics['ngrams_tested']}")


# check name -> function(loaded pairs, poisoned mask, trigger) -> one-line summary
CHECKS: dict[str, Callable[[Any, np.ndarray, str], str]] = {
    "poisoning": check_poisoning,
}


def run_one(check: str, size: int, rate: float, seed: int) -> dict:
    """Build, load and check `size` pairs in this process; the timings and this process's peak RSS."""
    from sentinel.data import load_preferences

    t0 = time.perf_counter()
    rows, poisoned, trigger = recombined(size, rate, seed)
    t1 = time.perf_counter()
    loaded = load_preferences(rows, skip_invalid=True)
    del rows
    t2, c2 = time.perf_counter(), time.process_time()
    summary = CHECKS[check](loaded, poisoned, trigger)
    t3, c3 = time.perf_counter(), time.process_time()
    return {"check": check, "pairs": size, "build_s": t1 - t0, "load_s": t2 - t1, "check_s": t3 - t2, "cpu_s": c3 - c2,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "result": summary}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checks", nargs="+", default=list(CHECKS), choices=list(CHECKS))
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--rate", type=float, default=0.01, help="share of pairs poisoned (default 0.01)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # child mode: one check, one size
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.checks[0], args.sizes[0], args.rate, args.seed)))
        return
    print("| check | pairs | load s | check s (wall) | check s (CPU) | CPU s per 1k pairs | peak RSS MB | result |")
    print("|---|---|---|---|---|---|---|---|")
    for check in args.checks:
        for size in args.sizes:
            out = subprocess.run([sys.executable, __file__, "--one", "--checks", check, "--sizes", str(size),
                                  "--rate", str(args.rate), "--seed", str(args.seed)],
                                 capture_output=True, text=True)
            if out.returncode:
                print(f"| {check} | {size:,} | failed: {out.stderr.strip().splitlines()[-1:]} ||||||", flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {check} | {size:,} | {r['load_s']:.1f} | {r['check_s']:.1f} | {r['cpu_s']:.1f} "
                  f"| {1000 * r['cpu_s'] / size:.2f} | {r['peak_rss_mb']:.0f} | {r['result']} |", flush=True)


if __name__ == "__main__":
    main()
