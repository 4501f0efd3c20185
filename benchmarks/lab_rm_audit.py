"""The lab: audit reward models trained on the biased and on the clean annotator.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/lab_rm_audit.py --work /tmp/lab-audit

Builds two labs (seed 0; default biases, and no bias), an SFT policy and, from it, a reward model on each with the
lab's recipes (`sentinel.lab.recipes.SFT_RECIPE` / `RM_RECIPE`, the settings of the test fixtures), unless WORK
already holds them (the layout is that of SENTINEL_TEST_CACHE, so a fixture cache can be reused). Then audits both
on the clean lab's pairs (their chosen reply is always the gold-better one), with the annotator's bias signals for
attribution ("likely a consequence of X"), and prints each probe's effect and the findings. Not a test: a few
minutes on a laptop CPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="lab-audit")
    ap.add_argument("--max-rows", type=int, default=200)
    args = ap.parse_args()

    from _lab_models import recipe_reward_model  # benchmarks/_lab_models.py (the script's folder is on sys.path)

    from sentinel import RewardModelAuditor
    from sentinel.lab import BIAS_PROBES, annotator_signals

    root = Path(args.work)
    for name, biases in (("biased", None), ("clean", {})):  # the SFT policy on the biased lab, as the fixtures
        recipe_reward_model(root, name, biases)
    cases = str(root / "lab-clean" / "data" / "preferences.jsonl")
    for name in ("biased", "clean"):
        result = RewardModelAuditor(max_rows=args.max_rows).analyze(
            str(root / f"lab-rm-{name}"), cases, signals=annotator_signals, signal_probes=BIAS_PROBES)
        result.save(root / f"audit-{name}")
        acc = result.metrics["accuracy"]
        print(f"\n{name} annotator: strict accuracy {acc['value']:.3f} on clean pairs; effect (SD) / flip rate: "
              + ", ".join(f"{k} {v['effect']:+.2f}/{v['flip_rate']:.2f}" for k, v in result.probes.items()))
        for v in result.vulnerabilities:
            print(f"  [{v.severity.value}] {v}")


if __name__ == "__main__":
    main()
