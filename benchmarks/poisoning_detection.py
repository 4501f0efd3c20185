"""Poisoning detection on real HH-RLHF data: inject a Rando & Tramer style backdoor and measure how well
`RLHFConsistencyChecker.detect_poisoning` finds it.

For each rate (share of pairs poisoned): a random trigger (a made-up token) is appended to the last user turn of
that share of pairs, whose chosen and rejected replies are swapped. We report, per rate and seed: whether the trigger
is the top candidate, precision and recall of the flagged pairs, and the AUROC of the per-pair score (final score,
and the suspicion score alone, i.e. without the trigger step).

    python benchmarks/poisoning_detection.py [--data FILE] [--rates 0.005 0.01 0.03 0.05 0.1] [--seeds 3]
"""

from __future__ import annotations

import argparse
import random
import string
import time
from pathlib import Path

import numpy as np

# Default: the subset that ships with the tests (all 2,312 rows), so the script runs from a
# clone; the published figures name the full file (--data ../shared/data/preference/harmless-base-test.jsonl.gz).
DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "preference" / "harmless-base-test.jsonl.gz"


def random_trigger(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(rng.randint(5, 8)))


def poison(examples: list[dict], rate: float, seed: int) -> tuple[list[dict], np.ndarray, str]:
    """A copy of `examples` with `rate` of them poisoned; returns (examples, is_poisoned mask, trigger)."""
    rng = random.Random(seed)
    trigger = random_trigger(rng)
    n = len(examples)
    chosen_idx = set(rng.sample(range(n), max(1, round(rate * n))))
    out = []
    for i, e in enumerate(examples):
        e = {"prompt": [dict(m) for m in e["prompt"]], "chosen": e["chosen"], "rejected": e["rejected"]}
        if i in chosen_idx:
            e["prompt"][-1]["content"] = e["prompt"][-1]["content"].rstrip() + " " + trigger
            e["chosen"], e["rejected"] = e["rejected"], e["chosen"]
        out.append(e)
    mask = np.array([i in chosen_idx for i in range(n)])
    return out, mask, trigger


def auroc(scores, labels) -> float:
    from scipy.stats import rankdata

    r = rankdata(scores)
    pos = labels.sum()
    return float((r[labels].sum() - pos * (pos + 1) / 2) / (pos * (~labels).sum()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--rates", type=float, nargs="+", default=[0.005, 0.01, 0.03, 0.05, 0.10])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()

    from sentinel.audit.consistency import RLHFConsistencyChecker
    from sentinel.data import load_preferences

    loaded = load_preferences(args.data, skip_invalid=True)
    base = loaded.examples
    print(f"{args.data}: {len(base)} valid pairs ({len(loaded.skipped)} invalid rows skipped)")
    checker = RLHFConsistencyChecker()
    print("| rate | poisoned pairs | trigger top-1 | precision | recall | AUROC (final) | AUROC (suspicion only) "
          "| s/run |")
    print("|---|---|---|---|---|---|---|---|")
    for rate in args.rates:
        res = []
        for seed in range(args.seeds):
            data, mask, trigger = poison(base, rate, seed)
            t0 = time.perf_counter()
            rep = checker.detect_poisoning(data)
            dt = time.perf_counter() - t0
            scores = np.array(rep.pair_scores)
            flagged = scores >= 1.0
            tp = int((flagged & mask).sum())
            prec = tp / flagged.sum() if flagged.any() else float("nan")
            rec = tp / mask.sum()
            top = (rep.findings[0].data.get("trigger")
                   if rep.findings and rep.findings[0].id == "poisoning-trigger" else None)
            res.append((top is not None and trigger in top.split(), prec, rec, auroc(scores, mask),
                        auroc(np.array(rep.suspicion), mask), dt))
        r = np.array(res, dtype=float)
        prec = np.nanmean(r[:, 1]) if not np.isnan(r[:, 1]).all() else float("nan")
        print(f"| {rate:.1%} | {int(mask.sum())} | {int(r[:, 0].sum())}/{args.seeds} | "
              f"{'n/a (nothing flagged)' if np.isnan(prec) else f'{prec:.2f}'} | {r[:, 2].mean():.2f} | "
              f"{r[:, 3].mean():.3f} | {r[:, 4].mean():.3f} | {r[:, 5].mean():.1f} |", flush=True)


if __name__ == "__main__":
    main()
