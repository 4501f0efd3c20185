"""How `sentinel audit data`'s checks scale with the number of preference pairs: wall time and peak memory per check
at 10k, 100k and 1M pairs.

The pairs are HH-RLHF test rows recombined: the prompt of one row with the two replies of another, every (prompt,
replies) combination used at most once, so no two pairs are equal. The four HH test files give about 8,500 valid
rows, hence up to ~70M distinct pairs. For the poisoning check a random-character trigger is appended to the last
user turn of `--rate` of the pairs, whose replies are swapped (`poisoning_detection.poison`'s attack); for the other
checks, exact repeats, label-swapped repeats (0.1% of the rows each) and three-pair preference cycles (0.05%) are
planted (`plant_inconsistencies`), so that each check has something to find. Each (check, size) runs in a fresh
subprocess, which reports its own peak RSS, and in brackets the peak once the rows were loaded (what the check adds
is the difference); the time of loading the rows into canonical pairs (`load_preferences`) is reported apart from
the check's, whose CPU time is given beside its wall time (the two differ when the machine is shared).

    OMP_NUM_THREADS=1 python benchmarks/audit_data_scale.py --checks poisoning repeats cycles confounds \
        --sizes 10000 100000 1000000

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


def plant_inconsistencies(rows: list[dict], seed: int) -> dict[str, int]:
    """Plant, in place, what the preference checks look for, at 0.1% of the rows each: exact repeats, repeats with the
    labels swapped (conflicting duplicates), and preference cycles (three pairs A > B > C > A on one prompt: 0.05%
    of the rows, three rows each). Each planted row overwrites a distinct row; returns how many of each."""
    rng = np.random.default_rng(seed + 1)
    n = len(rows)
    k = max(1, n // 1000)
    cycles = max(1, n // 2000)
    slots = rng.choice(n, size=2 * k + 2 * k + 4 * cycles, replace=False)  # sources and targets, never shared
    src, dst = slots[:2 * k], slots[2 * k:4 * k]
    for i in range(k):
        rows[dst[i]] = dict(rows[src[i]])
    for i in range(k, 2 * k):
        r = rows[src[i]]
        rows[dst[i]] = {"prompt": r["prompt"], "chosen": r["rejected"], "rejected": r["chosen"]}
    rest = slots[4 * k:]
    for c in range(cycles):
        base, a, b, d = (rows[j] for j in rest[4 * c:4 * c + 4])
        replies = (a["chosen"], b["chosen"], d["chosen"])
        for j, (x, y) in zip(rest[4 * c + 1:4 * c + 4], zip(replies, replies[1:] + replies[:1])):
            rows[j] = {"prompt": base["prompt"], "chosen": x, "rejected": y}
    return {"repeats": k, "conflicts": k, "cycles": cycles}


def check_poisoning(loaded: Any, truth: dict) -> str:
    """`detect_poisoning` without a reference reward model: is the planted trigger the top finding?"""
    from sentinel.audit.consistency import RLHFConsistencyChecker
    from sentinel.audit.consistency.poisoning import PoisoningReport

    rep = RLHFConsistencyChecker().detect_poisoning(loaded)
    assert isinstance(rep, PoisoningReport)
    top = rep.findings[0] if rep.findings and rep.findings[0].id == "poisoning-trigger" else None
    flagged = np.array(rep.pair_scores) >= 1.0
    poisoned = truth["poisoned"]
    recall = (flagged & poisoned).sum() / max(1, poisoned.sum())
    return (f"top trigger {top.data['trigger'] if top else None!r} (planted {truth['trigger']!r}), "
            f"{int(flagged.sum())} flagged, recall {recall:.2f}, n-grams tested {rep.metrics['ngrams_tested']}")


def check_repeats(loaded: Any, truth: dict) -> str:
    """Exact and near repeats and conflicting duplicates (`preferences.index_pairs` + `duplicates`)."""
    from sentinel.audit.consistency.preferences import duplicates, index_pairs
    from sentinel.audit.consistency.thresholds import ConsistencyConfig

    _, m = duplicates(loaded, index_pairs(loaded.examples), ConsistencyConfig())
    return (f"conflicting duplicates {m['conflicting_duplicates']} (planted {truth['conflicts']}), repeats "
            f"{m['repeated_pairs']} (planted {truth['repeats']}), near: {m['near_conflicting_duplicates']} "
            f"conflicting, {m['near_repeated_pairs']} repeated")


def check_cycles(loaded: Any, truth: dict) -> str:
    """Preference cycles (`preferences.index_pairs` + `cycles`)."""
    from sentinel.audit.consistency.preferences import cycles, index_pairs
    from sentinel.audit.consistency.thresholds import ConsistencyConfig

    _, m = cycles(loaded, index_pairs(loaded.examples), ConsistencyConfig())
    return f"cycles {m['intransitive_cycles']} (planted {truth['cycles']})"


def check_confounds(loaded: Any, truth: dict) -> str:
    """Style confounds (`preferences.confounds`): one binomial test per feature."""
    from sentinel.audit.consistency.preferences import confounds
    from sentinel.audit.consistency.thresholds import ConsistencyConfig

    findings, _, _ = confounds(loaded, ConsistencyConfig())
    return f"{len(findings)} confounds flagged: {', '.join(sorted(f.id for f in findings)) or 'none'}"


# check name -> function(loaded pairs, what was planted) -> one-line summary
CHECKS: dict[str, Callable[[Any, dict], str]] = {
    "poisoning": check_poisoning,
    "repeats": check_repeats,
    "cycles": check_cycles,
    "confounds": check_confounds,
}


def run_one(check: str, size: int, rate: float, seed: int) -> dict:
    """Build, load and check `size` pairs in this process; the timings and this process's peak RSS."""
    from sentinel.data import load_preferences

    t0 = time.perf_counter()
    rows, poisoned, trigger = recombined(size, rate if check == "poisoning" else 0.0, seed)
    truth: dict[str, Any] = {"poisoned": poisoned, "trigger": trigger}
    if check != "poisoning":
        truth.update(plant_inconsistencies(rows, seed))
    t1 = time.perf_counter()
    loaded = load_preferences(rows, skip_invalid=True)
    del rows
    loaded_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t2, c2 = time.perf_counter(), time.process_time()
    summary = CHECKS[check](loaded, truth)
    t3, c3 = time.perf_counter(), time.process_time()
    return {"check": check, "pairs": size, "build_s": t1 - t0, "load_s": t2 - t1, "check_s": t3 - t2, "cpu_s": c3 - c2,
            "loaded_rss_mb": loaded_rss, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "result": summary}


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
    print("| check | pairs | load s | check s (wall) | check s (CPU) | CPU s per 1k pairs | peak RSS MB (after load) "
          "| result |")
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
                  f"| {1000 * r['cpu_s'] / size:.2f} | {r['peak_rss_mb']:.0f} ({r['loaded_rss_mb']:.0f}) "
                  f"| {r['result']} |", flush=True)


if __name__ == "__main__":
    main()
