"""Throughput of `scan` on one CPU core: the compiled matcher against the reference matcher, side by side in one run.

    python benchmarks/scan_throughput.py [--data FILE: default tests/data/preference/helpful-base-test.jsonl.gz;
        the full file is ../shared/data/preference/helpful-base-test.jsonl.gz] [--repeat 3]
        [--differential FILE ...: default the four HH-RLHF test files of ../shared/data/preference when present]
        [--no-lengths] [--baseline TREE: another checkout (e.g. ../main) whose `scan()` is timed on the same pairs]
        [--engines: RE2's set against Hyperscan on the same patterns, where `hyperscan` is installed]

Prints, for the reference and the compiled matcher on HH-RLHF prompt/chosen pairs: pairs per second for the pattern
detectors alone and for all detectors (with the ratios; CPU time, best of `--repeat` rounds in which the two
matchers take turns, so a machine whose speed drifts during the run moves both alike), the microseconds each
detector costs per pair, and the seconds per MB for texts of 100 KB to 4 MB of natural and adversarial text (a
linear scan has a flat column). Then the differential check: every prompt/chosen and prompt/rejected pair of the
`--differential` files scanned with both matchers, and the number of pairs whose results differ (must be 0). With
`--baseline`, `scan()` of that tree (before the compiled matcher: today's per-pair path) runs on the same pairs in a
subprocess pinned to the same core, and the ratio to this tree's `scan()` and `Scanner` is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sentinel.data import load_preferences, prompt_text
from sentinel.scan import Scanner, compiled_available, resolve_detectors
from sentinel.scan.matching import using

ROOT = Path(__file__).resolve().parents[1]
# Default: the subset that ships with the tests (the first 800 of its 2,354 rows), so the script runs from a
# clone; the published figures name the full file (--data ../shared/data/preference/helpful-base-test.jsonl.gz).
DEFAULT = ROOT / "tests" / "data" / "preference" / "helpful-base-test.jsonl.gz"
FULL = ROOT.parent / "shared" / "data" / "preference"
# The detectors whose work is matching patterns; repetition and verbosity count words, n-grams and compressibility.
PATTERN_DETECTORS = ["ai_disclaimer", "evasive", "flattery", "hidden_instruction", "keyword_stuffing", "master_key",
                     "polite_wrapper"]
MATCHERS = ("reference", "compiled")
SIZES = (100_000, 1_000_000, 4_000_000)  # characters


def best_of(repeat: int, fn) -> float:
    """Least CPU time of `repeat` runs of fn(), in seconds.

    CPU time of this process (`time.process_time`), not wall time: on a shared machine wall time also counts the
    time other processes held the core. The work is single-threaded, so this is the cost on one core.
    """
    return best_of_each(repeat, [fn])[0]


def best_of_each(repeat: int, fns) -> list[float]:
    """Least CPU time of each of `fns` over `repeat` rounds, the functions taking turns within a round: a machine
    that speeds up or slows down during the run (virtual machines do, by 10-20%) moves all of them alike."""
    times = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.process_time()
            fn()
            times[k] = min(times[k], time.process_time() - t0)
    return times


def rates(scanners: list[Scanner], pairs, repeat: int) -> list[float]:
    """Pairs per second of each scanner over `pairs` on one core, timed in turns (warm: the first pass builds the
    RE2 automaton)."""
    for s in scanners:
        list(s.scan_many(pairs))
    times = best_of_each(repeat, [lambda s=s: list(s.scan_many(pairs)) for s in scanners])
    return [len(pairs) / t for t in times]


def throughput(pairs, repeat: int) -> None:
    print(f"\n{'pairs/s on one core':<28}{'reference':>12}{'compiled':>12}{'ratio':>8}")
    for label, dets in (("pattern detectors (7)", PATTERN_DETECTORS), ("all detectors (9)", None)):
        ref, comp = rates([Scanner(dets, matcher=m) for m in MATCHERS], pairs, repeat)
        print(f"{label:<28}{ref:>12,.0f}{comp:>12,.0f}{comp / ref:>7.2f}x")
    print(f"(CPU time of one core, best of {repeat} rounds in which the two matchers take turns)")
    cold = Scanner(matcher="compiled")
    t0 = time.process_time()
    list(cold.scan_many(pairs[:200]))
    print(f"(the first 200 pairs of a fresh process, automaton still cold: {(time.process_time() - t0) / 200 * 1e6:.0f}"
          " us/pair; counted above only as warm-up)")

    print(f"\n{'us/pair, one detector alone':<28}{'reference':>12}{'compiled':>12}{'ratio':>8}")
    for det in resolve_detectors(None):
        us = {m: 1e6 / r for m, r in zip(MATCHERS, rates([Scanner([det], matcher=m) for m in MATCHERS], pairs, repeat))}
        print(f"{det.id:<28}{us['reference']:>12.1f}{us['compiled']:>12.1f}{us['reference'] / us['compiled']:>7.2f}x")
    print("(alone, a compiled detector also pays the set's pass over the pair, which all detectors share)")


# Timed in a subprocess on the baseline tree: its `scan()` over the pairs, best CPU time of `repeat` runs.
BASELINE = """
import json, os, sys, time
os.sched_setaffinity(0, {{{core}}})
from sentinel.data import load_preferences, prompt_text
from sentinel.scan import scan
loaded = load_preferences({data!r}, skip_invalid=True)
pairs = [(prompt_text(e["prompt"]), e["chosen"]) for e in loaded.examples]
[scan(p, r) for p, r in pairs]
times = []
for _ in range({repeat}):
    t0 = time.process_time()
    [scan(p, r) for p, r in pairs]
    times.append(time.process_time() - t0)
import sentinel
print(json.dumps({{"pairs": len(pairs), "rate": len(pairs) / min(times), "from": sentinel.__file__}}))
"""


def baseline(tree: str, data: str, pairs, repeat: int) -> None:
    """`scan()` pairs/s of `tree` against this tree's `scan()` and `Scanner`, on the same core."""
    core = sorted(os.sched_getaffinity(0))[0] if hasattr(os, "sched_getaffinity") else 0
    code = BASELINE.format(core=core, data=data, repeat=repeat)
    # Run from inside the baseline tree: `python -c` puts the working folder first on the import path.
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tree,
                          env={**os.environ, "PYTHONPATH": str(Path(tree).resolve())})
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    base = out["rate"]
    if not Path(out["from"]).resolve().is_relative_to(Path(tree).resolve()):
        raise SystemExit(f"the baseline imported sentinel from {out['from']}, not from {tree}")
    from sentinel.scan import scan

    list(Scanner().scan_many(pairs))
    here_scan = len(pairs) / best_of(repeat, lambda: [scan(p, r) for p, r in pairs])
    here = rates([Scanner()], pairs, repeat)[0]
    print(f"\n{'all detectors, pairs/s on one core':<44}{'pairs/s':>10}{'vs baseline':>13}")
    print(f"{'baseline tree ' + tree + ': scan()':<44}{base:>10,.0f}{1.0:>12.2f}x")
    print(f"{'this tree: scan(), compiled matcher':<44}{here_scan:>10,.0f}{here_scan / base:>12.2f}x")
    print(f"{'this tree: Scanner.scan_many, compiled':<44}{here:>10,.0f}{here / base:>12.2f}x")


def lengths(pairs) -> None:
    natural = " ".join(r for _, r in pairs)
    texts = {
        "natural prose": lambda n: (natural * (n // len(natural) + 1))[:n],
        "'a' * n": lambda n: "a" * n,
        "'ab ' * n/3": lambda n: ("ab " * (n // 3 + 1))[:n],
        "nested brackets": lambda n: ("[" * (n // 2) + "]" * (n // 2)),
        "'<!--' * n/4": lambda n: "<!--" * (n // 4),
        "'[hidden ' * n/8": lambda n: ("[hidden " * (n // 8 + 1))[:n],
    }
    for m in MATCHERS:
        scanner = Scanner(matcher=m)
        print(f"\n{m + ': seconds per MB':<26}" + "".join(f"{n // 1000:>8} KB" for n in SIZES))
        for name, make in texts.items():
            row = []
            for n in SIZES:
                t = make(n)
                row.append(best_of(1, lambda t=t, scanner=scanner: scanner.scan("Tell me about it", t)) * 1e6 / n)
            growth = f"   {SIZES[-1] // SIZES[0]}x longer: {row[-1] / row[0]:.2f}x the cost per MB"
            print(f"{name:<26}" + "".join(f"{v:>11.3f}" for v in row) + growth)


def differential(files: list[str]) -> int:
    """Scan every pair of `files` with both matchers; print and return the number of pairs whose results differ."""
    reference, compiled = Scanner(matcher="reference"), Scanner(matcher="compiled")
    total_diff = 0
    print(f"\n{'differential check':<44}{'pairs':>8}{'flagged':>9}{'differ':>8}")
    for f in files:
        loaded = load_preferences(f, skip_invalid=True)
        pairs = [(prompt_text(e["prompt"]), r) for e in loaded.examples for r in (e["chosen"], e["rejected"])]
        with using("reference"):
            a = [reference.scan_checked(p, r).to_dict() for p, r in pairs]
        with using("compiled"):
            b = [compiled.scan_checked(p, r).to_dict() for p, r in pairs]
        diff = sum(x != y for x, y in zip(a, b))
        total_diff += diff
        print(f"{Path(f).name:<44}{len(pairs):>8}{sum(x['flagged'] for x in a):>9}{diff:>8}")
    print(f"results that differ: {total_diff} (scores, thresholds, findings with evidence and spans compared)")
    return total_diff


def engines(pairs, repeat: int) -> None:
    """The multi-pattern engine alone: RE2's set (what the compiled matcher runs) against a Hyperscan database
    compiled from the same translated patterns in prefilter mode, on the same lowered texts (replies and prompts).

    Hyperscan is not a dependency: `pip install hyperscan` to run this comparison."""
    try:
        import hyperscan
    except ImportError:
        print("\n(hyperscan is not installed: the engine comparison is skipped; pip install hyperscan)")
        return
    from sentinel.scan.matching import PATTERNS, to_re2

    sources = [(i, f or to_re2(p)) for i, (p, f, _) in enumerate(PATTERNS._entries)]
    expressions, ids, flags = [], [], []
    base = hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_UCP | hyperscan.HS_FLAG_SINGLEMATCH \
        | hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_ALLOWEMPTY
    for i, src in sources:
        if src is None:
            continue
        flag = base | hyperscan.HS_FLAG_DOTALL
        for prefix, extra in (("(?si)", hyperscan.HS_FLAG_CASELESS), ("(?s)", 0)):
            if src.startswith(prefix):
                src, flag = src[len(prefix):], flag | extra
                break
        expressions.append(src.encode())
        ids.append(i)
        flags.append(flag)
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    t0 = time.perf_counter()
    db.compile(expressions=expressions, ids=ids, elements=len(expressions), flags=flags)
    compile_s = time.perf_counter() - t0
    scratch = hyperscan.Scratch(db)
    raw = [t.lower().encode() for p, r in pairs for t in (r, p)]
    full = PATTERNS._compiled()[0]

    def hs_pass():
        for b in raw:
            db.scan(b, match_event_handler=lambda *a: None, scratch=scratch)

    def re2_pass():
        for b in raw:
            full._match(b)

    print(f"\n{'one pass of all ' + str(len(expressions)) + ' patterns':<44}{'us/text':>10}")
    for name, fn in (("RE2 set (google-re2)", re2_pass), ("Hyperscan database, prefilter mode", hs_pass)):
        fn()
        print(f"{name:<44}{best_of(repeat, fn) / len(raw) * 1e6:>10.2f}")
    print(f"(Hyperscan compiled the database in {compile_s:.1f} s; {len(raw)} texts, replies and prompts, lowered)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--differential", nargs="*", default=None,
                    help="preference files to compare the matchers on (default: the HH-RLHF test files)")
    ap.add_argument("--no-lengths", action="store_true", help="skip the seconds-per-MB table")
    ap.add_argument("--baseline", help="another checkout of the project whose scan() to time on the same pairs")
    ap.add_argument("--engines", action="store_true",
                    help="also time RE2's set against Hyperscan on the same patterns (needs pip install hyperscan)")
    args = ap.parse_args()
    if not compiled_available():
        raise SystemExit("the compiled matcher needs google-re2: pip install google-re2")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    loaded = load_preferences(args.data, skip_invalid=True)
    pairs = [(prompt_text(e["prompt"]), e["chosen"]) for e in loaded.examples]
    chars = sum(len(p) + len(r) for p, r in pairs) / len(pairs)
    print(f"{len(pairs)} prompt/chosen pairs from {loaded.source}; mean {chars:.0f} characters per pair; "
          f"load average {os.getloadavg()[0]:.1f}")
    throughput(pairs, args.repeat)
    if args.baseline:
        baseline(args.baseline, args.data, pairs, args.repeat)
    if args.engines:
        engines(pairs, args.repeat)
    if not args.no_lengths:
        lengths(pairs)
    files = args.differential
    if files is None:
        folder = FULL if FULL.is_dir() else DEFAULT.parent
        files = sorted(str(p) for p in folder.glob("*-test.jsonl.gz"))
    if files and differential(files):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
