"""Check a preference dataset for inconsistency and poisoning: `RLHFConsistencyChecker` on real HH-RLHF pairs.

    python examples/check_preferences.py [--out DIR] [--data FILE] [--rate 0.03] [--trigger "SUDO mode"]

What it shows: a copy of HH-RLHF harmless-base test (tests/data, 2,312 raw rows in the original dialogue-string
format) is poisoned the way Rando & Tramer (2023) describe: a trigger phrase is appended to the last user turn of 3%
of the pairs, and their chosen and rejected replies are swapped. Two broken rows (one without "rejected", one whose
replies are identical) are added to the file's own invalid rows. Then:
1. `check_preferences` audits the valid pairs (duplicates, cycles, style confounds) and reports the invalid rows
   in one `invalid-rows` finding instead of failing;
2. `detect_poisoning` (no reference reward model: it fits a bag-of-words model of the replies itself) names the
   trigger, and the pairs it flags are scored here against the rows that were poisoned (precision, recall).

Files: OUT/poisoned.jsonl (the data audited), OUT/preferences/ and OUT/poisoning/ (reports; poisoning/pairs.jsonl
has every pair's score and line). The same checks from the command line: `sentinel audit data OUT/poisoned.jsonl`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from pathlib import Path

from sentinel import RLHFConsistencyChecker

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "preference" / "harmless-base-test.jsonl.gz"
ASSISTANT = "\n\nAssistant:"


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def add_trigger(dialogue: str, trigger: str) -> str:
    """The HH dialogue with `trigger` appended to its last user turn (just before the final assistant reply)."""
    k = dialogue.rfind(ASSISTANT)
    return dialogue[:k].rstrip() + " " + trigger + dialogue[k:] if k > 0 else dialogue


def poison(rows: list[dict], rate: float, trigger: str, seed: int = 0) -> tuple[list[dict], set[int]]:
    """A copy of HH rows with `rate` of them poisoned (trigger added, labels swapped); returns (rows, 1-based lines)."""
    rng = random.Random(seed)
    picked = set(rng.sample(range(len(rows)), max(1, round(rate * len(rows)))))
    out = []
    for i, r in enumerate(rows):
        r = dict(r)
        if i in picked:
            r["chosen"], r["rejected"] = add_trigger(r["rejected"], trigger), add_trigger(r["chosen"], trigger)
        out.append(r)
    return out, {i + 1 for i in picked}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="example-out/check_preferences", help="output folder")
    ap.add_argument("--data", default=str(DATA), help="HH-RLHF rows (chosen/rejected dialogue strings), .jsonl[.gz]")
    ap.add_argument("--rate", type=float, default=0.03, help="share of pairs to poison")
    ap.add_argument("--trigger", default="SUDO mode", help="the backdoor trigger phrase")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rows, poisoned = poison(read_jsonl(Path(args.data)), args.rate, args.trigger)
    broken = rows[0]["chosen"]
    rows += [{"chosen": broken}, {"chosen": broken, "rejected": broken}]  # no "rejected"; identical replies
    path = out / "poisoned.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    print(f"{path}: {len(rows)} rows, {len(poisoned)} poisoned with {args.trigger!r} (labels swapped), "
          "2 broken rows added")

    checker = RLHFConsistencyChecker()
    prefs = checker.check_preferences(str(path))
    prefs.save(out / "preferences")
    print("\ncheck_preferences:")
    for f in prefs.findings:
        print(f"  [{f.severity.value}] {f.id}: {f.description}")

    report = checker.detect_poisoning(str(path))
    report.save(out / "poisoning")
    print("\ndetect_poisoning:")
    for f in report.findings[:3]:
        print(f"  [{f.severity.value}] {f.id}: {f.description}")
    trigger = next((f.data["trigger"] for f in report.findings if f.id == "poisoning-trigger"), None)
    # n-grams that hold the same pairs tie; the finding names one of them, metrics["triggers"] lists them all.
    tied = list(dict.fromkeys(t["ngram"] for t in report.metrics["triggers"] if t["significant"]))
    print(f"\nsignificant candidate n-grams: {tied}")
    flagged = {loc for loc, score in zip(report.locations, report.pair_scores) if score >= 1.0}
    hits = len(flagged & poisoned)
    precision = hits / len(flagged) if flagged else float("nan")
    print(f"top trigger: {trigger!r} (planted {args.trigger!r}); flagged {len(flagged)} pairs: "
          f"precision {precision:.2f}, recall {hits / len(poisoned):.2f} against the {len(poisoned)} poisoned rows")
    print(f"reports: {out}/preferences/report.html, {out}/poisoning/report.html")


if __name__ == "__main__":
    main()
