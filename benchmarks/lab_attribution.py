"""Attribution in the lab: reward models trained on annotators with exactly one planted bias each (and none), audited.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/lab_attribution.py --work /tmp/lab-attr
        [--biases verbosity keyword sycophancy evasiveness] [--all] [--max-rows 200] [--json attribution.json]

For each planted bias B (and `clean`, no bias) a lab of seed 0 whose annotator has B alone, at its default weight
(`sentinel.lab.DEFAULT_BIASES`), and a reward model trained on its preferences with the lab's recipe (`RM_RECIPE`,
started from one shared SFT policy, `SFT_RECIPE`). WORK uses the layout of `benchmarks/lab_rm_audit.py` and of
SENTINEL_TEST_CACHE (`lab-sft`, `lab-clean`, `lab-rm-clean`), so their models are reused; a finished model is never
trained again. Each reward model is audited on the same cases, the clean lab's preference pairs (their chosen reply is
always the gold-better one), with the annotator's signals for attribution (`signals=annotator_signals`): a flag other
than B's own probe is "likely a consequence of X" only where the annotator's X signal changes under the flagged probe
on at least half the cases.

Prints, per planted bias, every probe's effect (SD of the reward) and its verdict (`FLAG`, `conseq. of X`, or `-`),
whether the planted bias is named, and every other flag as explained (a consequence of a planted bias), also raised
on the clean reward model (what the lab's data teaches any reward model) or unexplained; --json keeps the table.
Not a test: about 7 minutes to train each reward model on one core of a 2-core AMD EPYC, and 1-2 to audit it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

BIASES = ("verbosity", "keyword", "sycophancy", "evasiveness")


def verdicts(result) -> dict[str, str]:
    """Probe id -> 'FLAG', 'conseq. of X' or '-' from an audit result."""
    out = dict.fromkeys(result.probes, "-")
    for v in result.vulnerabilities:
        c = v.data.get("consequence_of")
        out[v.id] = f"conseq. of {c['bias']}" if c else "FLAG"
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="lab-attribution")
    ap.add_argument("--biases", nargs="+", default=list(BIASES), choices=BIASES)
    ap.add_argument("--all", action="store_true", help="also the demo's annotator, all four biases at once "
                    "(lab-biased, lab-rm-biased: the layout of benchmarks/lab_rm_audit.py)")
    ap.add_argument("--max-rows", type=int, default=200, help="audit cases (clean-lab pairs)")
    ap.add_argument("--json", default=None, help="write the table here")
    args = ap.parse_args()

    from _lab_models import recipe_reward_model  # benchmarks/_lab_models.py (the script's folder is on sys.path)

    from sentinel import RewardModelAuditor
    from sentinel.lab import BIAS_PROBES, DEFAULT_BIASES, annotator_signals

    root = Path(args.work)
    weights = DEFAULT_BIASES.to_dict()
    rows: dict[str, dict] = {}
    baseline: set[str] = set()  # what the clean reward model is flagged for: the lab's data, not a planted bias
    # the clean lab first: its pairs are every audit's cases; "biased": all four at once (the demo's annotator)
    for name in ("clean", *args.biases, *(["biased"] if args.all else [])):
        biases = {} if name == "clean" else None if name == "biased" else {name: weights[name]}
        rm = recipe_reward_model(root, name, biases)
        t0 = time.time()
        result = RewardModelAuditor(max_rows=args.max_rows).analyze(
            str(rm), str(root / "lab-clean" / "data" / "preferences.jsonl"), signals=annotator_signals,
            signal_probes=BIAS_PROBES)
        result.save(root / f"audit-{name}")
        v = verdicts(result)
        planted = {BIAS_PROBES[b] for b in (weights if biases is None else biases)}
        if name == "clean":
            baseline = {p for p, x in v.items() if x == "FLAG"}
        found = sorted(p for p in planted if v.get(p) == "FLAG")
        others = [p for p, x in v.items() if x != "-" and p not in planted]
        rows[name] = {"planted_probes": sorted(planted), "named": found,
                      "explained": sorted(p for p in others if v[p] != "FLAG"),
                      "also_on_clean": sorted(p for p in others if v[p] == "FLAG" and p in baseline),
                      "unexplained": sorted(p for p in others if v[p] == "FLAG" and p not in baseline),
                      "accuracy": result.metrics["accuracy"]["value"],
                      "probes": {p: {"effect": s["effect"], "flip_rate": s["flip_rate"], "verdict": v[p]}
                                 for p, s in result.probes.items()},
                      "audit_s": round(time.time() - t0, 1)}
        r = rows[name]
        print(f"{name}: planted {sorted(planted) or '-'}, named {found or '-'}; other flags: explained "
              f"{r['explained'] or '-'}, also on the clean RM {r['also_on_clean'] or '-'}, unexplained "
              f"{r['unexplained'] or '-'}; accuracy {r['accuracy']:.3f}; audit {r['audit_s']} s", flush=True)

    probes = list(next(iter(rows.values()))["probes"])
    print("\n| planted bias | " + " | ".join(probes) + " |")
    print("|---|" + "---|" * len(probes))
    for name, r in rows.items():
        cells = [f"{r['probes'][p]['effect']:+.2f} {r['probes'][p]['verdict']}" for p in probes]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
