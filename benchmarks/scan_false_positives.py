"""False-positive rate of each scan detector on human-preferred replies (HH-RLHF helpful-base test, `chosen`).

The chosen replies of a helpfulness data set are benign by construction, so every flag there is a false
positive. The `rejected` replies are shown alongside for contrast (not a ground truth of hacking).

    python benchmarks/scan_false_positives.py [--data FILE: default tests/data/preference/helpful-base-test.jsonl.gz;
        the full file is ../shared/data/preference/helpful-base-test.jsonl.gz]
        [--show DETECTOR]   # print the flagged chosen replies of one detector, with evidence
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sentinel.data import load_preferences, prompt_text
from sentinel.scan import DETECTORS, scan

# Default: the subset that ships with the tests (the first 800 of its 2,354 rows), so the script runs from a
# clone; the published figures name the full file (--data ../shared/data/preference/helpful-base-test.jsonl.gz).
DEFAULT = Path(__file__).resolve().parents[1] / "tests" / "data" / "preference" / "helpful-base-test.jsonl.gz"


def flag_rates(pairs: list[tuple[str, str]]) -> tuple[dict[str, float], dict[str, list[tuple[str, str, float]]]]:
    """Share of replies each detector flags at its default threshold, and the flagged (prompt, reply, score)."""
    counts = dict.fromkeys(DETECTORS, 0)
    flagged: dict[str, list] = {name: [] for name in DETECTORS}
    for prompt, reply in pairs:
        for f in scan(prompt, reply).findings:
            counts[f.id] += 1
            flagged[f.id].append((prompt, reply, f.score, f.evidence))
    return {k: v / len(pairs) for k, v in counts.items()}, flagged


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--show", help="print the chosen replies this detector flags")
    ap.add_argument("--limit", type=int, default=10)
    args = ap.parse_args()
    loaded = load_preferences(args.data, skip_invalid=True)
    prompts = [prompt_text(e["prompt"]) for e in loaded.examples]
    chosen, flagged = flag_rates(list(zip(prompts, (e["chosen"] for e in loaded.examples))))
    rejected, _ = flag_rates(list(zip(prompts, (e["rejected"] for e in loaded.examples))))
    print(f"{loaded.source}: {len(prompts)} pairs")
    print(f"{'detector':<20}{'threshold':>10}{'chosen FP %':>13}{'rejected %':>12}")
    for name in DETECTORS:
        threshold = DETECTORS.get(name).threshold
        print(f"{name:<20}{threshold:>10.2f}{100 * chosen[name]:>13.2f}{100 * rejected[name]:>12.2f}")
    if args.show:
        for prompt, reply, score, evidence in flagged[args.show][: args.limit]:
            print(f"\n--- score {score:.2f} evidence {evidence!r}")
            print(f"PROMPT: ...{prompt[-200:]!r}\nREPLY: {reply[:600]!r}")


if __name__ == "__main__":
    main()
