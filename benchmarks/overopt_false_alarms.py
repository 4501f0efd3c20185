"""How often the `over-optimisation` training check fires on simulated logs whose truth is known: false alarms on
flat noisy gold (under a proxy that rises steadily, and under one that saturates early), detections on gold that
falls while the proxy sits on its plateau. The logs are the test suite's (tests/helpers/consistency_logs.py), so the
figures in docs/guides/guard-training.md and the tests' bounds come from the same runs.

    python benchmarks/overopt_false_alarms.py [--seeds 200]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers"))

from consistency_logs import flat_gold_log, saturated_proxy_log  # noqa: E402

from sentinel import RLHFConsistencyChecker  # noqa: E402


def fires(rows: list[dict]) -> bool:
    return any(f.id == "over-optimisation" for f in RLHFConsistencyChecker().check_training(rows).findings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=200, help="simulated runs per scenario")
    args = ap.parse_args()
    k = args.seeds
    print(f"{'scenario':<58} {'over-optimisation':>18}")
    for n in (10, 20, 40):
        hits = sum(fires(flat_gold_log(n, s)) for s in range(k))
        print(f"{f'flat gold, rising proxy, {n} steps (false alarms)':<58} {hits:>9} of {k:<6}")
    hits = sum(fires(saturated_proxy_log(s, gold_falls=False)) for s in range(k))
    print(f"{'flat gold, saturated proxy, 150 steps (false alarms)':<58} {hits:>9} of {k:<6}")
    hits = sum(fires(saturated_proxy_log(s, gold_falls=True)) for s in range(k))
    print(f"{'gold falls 0.3, saturated proxy, 150 steps (detections)':<58} {hits:>9} of {k:<6}")


if __name__ == "__main__":
    main()
