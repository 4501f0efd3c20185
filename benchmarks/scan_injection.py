"""Instruction injections: recall of `hidden_instruction` on a held-out set, false positives on HH-RLHF, and cost.

Side by side in one run: today's detector (`sentinel.scan.detectors.hidden_instruction`) and the one before the
injection families (`benchmarks/_hidden_instruction_before.py`, a frozen copy).

    python benchmarks/scan_injection.py [--data ../shared/data/preference/helpful-base-test.jsonl.gz]
        [--cases tests/data/injection/cases.json] [--split heldout7] [--repeat 3]

Prints, for each detector:
- recall on the injections of `--split` (each placed in every carrier reply of that split: at the end, in the
  middle or at the start, by turn), per family, and the benign near-misses of that split it flags;
- false positives on the `chosen` replies of the HH-RLHF file (benign by construction), each one listed;
- CPU microseconds per prompt/chosen pair on one core (best of `--repeat`), and the ratio new / before.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from sentinel.data import load_preferences, prompt_text
from sentinel.scan.detectors.hidden_instruction import HiddenInstruction

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _hidden_instruction_before import HiddenInstructionBefore  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "preference" / "helpful-base-test.jsonl.gz"
DEFAULT_CASES = ROOT / "tests" / "data" / "injection" / "cases.json"


def place(reply: str, injection: str, k: int) -> str:
    """`injection` inside `reply`: at the end, after the first sentence, or at the start (k mod 3)."""
    if k % 3 == 0:
        return reply + "\n\n" + injection
    if k % 3 == 1:
        first, _, rest = reply.partition(". ")
        return f"{first}. {injection} {rest}"
    return injection + "\n\n" + reply


def injected(cases: dict, split: str) -> list[tuple[str, str, str, str]]:
    """(case id, family, prompt, reply with the injection) for every injection x carrier of `split`."""
    out = []
    for inj in (c for c in cases["injections"] if c["split"] == split):
        for j, carrier in enumerate(cases["carriers"][split]):
            k = j + int(inj["id"][1:])
            out.append((inj["id"], inj["family"], carrier["prompt"], place(carrier["reply"], inj["text"], k)))
    return out


def flagged(det, prompt: str, reply: str) -> tuple[bool, object]:
    score, span = det.score(prompt, reply)
    return score >= det.threshold, span


def cpu_us_per_pair(det, pairs: list[tuple[str, str]], repeat: int) -> float:
    """Least CPU time of `repeat` passes over `pairs`, in microseconds per pair (this process, one thread)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for p, r in pairs:
            det.score(p, r)
        best = min(best, time.process_time() - t0)
    return best / len(pairs) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="HH-RLHF preference file whose chosen replies are benign")
    ap.add_argument("--cases", default=str(DEFAULT_CASES), help="the injection evaluation set (JSON)")
    ap.add_argument("--split", default="heldout7", help="which part of the set to report recall on")
    ap.add_argument("--repeat", type=int, default=3, help="timing passes; the least CPU time is kept")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as scan_throughput.py
    cases = json.loads(Path(args.cases).read_text(encoding="utf-8"))
    dets = {"before": HiddenInstructionBefore(), "now": HiddenInstruction()}

    rows = injected(cases, args.split)
    clean = [c for c in cases["clean"] if c["split"] == args.split]
    print(f"{args.split}: {len(rows)} injected replies ({len(rows) // max(1, len(cases['carriers'][args.split]))} "
          f"injections x {len(cases['carriers'][args.split])} carriers), {len(clean)} benign near-misses")
    families = sorted({fam for _, fam, _, _ in rows})
    print(f"{'detector':<10}{'recall':>10}" + "".join(f"{f:>17}" for f in families) + f"{'near-miss FP':>14}")
    missed: dict[str, list[str]] = {}
    for name, det in dets.items():
        hits: Counter = Counter()
        totals: Counter = Counter()
        missed[name] = []
        for case_id, fam, prompt, reply in rows:
            totals[fam] += 1
            ok, _ = flagged(det, prompt, reply)
            hits[fam] += ok
            if not ok and case_id not in missed[name]:
                missed[name].append(case_id)
        fp = [c["id"] for c in clean if flagged(det, c["prompt"], c["reply"])[0]]
        recall = sum(hits.values()) / len(rows)
        print(f"{name:<10}{recall:>10.3f}" + "".join(f"{hits[f]:>12}/{totals[f]:<4}" for f in families)
              + f"{len(fp):>10}/{len(clean)}" + (f"  {fp}" if fp else ""))
    print(f"missed by now: {missed['now'] or 'none'}")

    loaded = load_preferences(args.data, skip_invalid=True)
    pairs = [(prompt_text(e["prompt"]), e["chosen"]) for e in loaded.examples]
    print(f"\n{loaded.source}: {len(pairs)} prompt/chosen pairs")
    for name, det in dets.items():
        fps = [(p, span) for p, r in pairs for ok, span in [flagged(det, p, r)] if ok]
        print(f"{name:<10} false positives {len(fps)} ({100 * len(fps) / len(pairs):.2f}%)")
        for p, span in fps:
            family = getattr(span, "family", "") or "-"
            print(f"    [{family}, {span.field}] {span.text!r}  (prompt ...{p[-80:]!r})")

    print("\ncost (CPU time, one core), prompt/chosen pairs:")
    costs = {name: cpu_us_per_pair(det, pairs, args.repeat) for name, det in dets.items()}
    for name, us in costs.items():
        print(f"{name:<10}{us:>8.1f} us/pair")
    print(f"ratio now/before: {costs['now'] / costs['before']:.2f}x")


if __name__ == "__main__":
    main()
