"""The guard measured like a detector: true and false alarm rates and lead time of `SentinelCallback` on lab PPO
runs that over-optimise and runs that do not, judged with the gold series removed and with it watched.

    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/guard_roc.py --from DEMO_OUT --out DIR
        [--workers 2] [--logs 'OTHER_DEMO/ppo/seed-*/history.json' ...] [--json DIR/roc.json]
        [--every 5 10] [--no-run] [--export tests/data/guard_runs] [--rules]

--every: the guard's check intervals to judge with; --no-run: judge the grid's finished runs only; --export: every
judged log as trimmed JSONL with index.json of the labels (the replay tests' data); --rules: grid simple rules on
gold's fall (see `_rules`) to ask whether any separates the runs; without --from only the --logs are judged.

Runs: `GRID`, each a `sentinel.demo.mitigations.run_ppo` run from DEMO_OUT's start policy (a finished default
`sentinel demo` folder: its lab, start policy and reward models), the demo's PPO settings, the lab's gold grader
watched (optimised only by the `gold` runs), each seed's history kept in DIR/<run>/seed-<s>/history.json (a finished
run is reused). --logs adds other recorded PPO histories (the demo's own seeds and mitigations).

Labels come from gold alone: a run is positive when the trailing mean of its batch gold over its last full window of
max(10, n/10) steps is at least `FALL` below the best full window (the demo's reading of a curve,
`sentinel.demo.curves.curve_shape`).

Each history is replayed through `SentinelCallback(every_n_steps=5)` (the demo's guard; replaying a history raises
the same alarms at the same steps as watching the run) twice: with every gold and held-out key removed (what a user
without a gold signal has), and as logged (gold watched: the batch's mean gold, `gold/score`). For each severity
threshold a run alarms when the guard raised any alarm at or above it: the true- and false-positive rates, and for
the positives caught, the lead time: the step at which gold's trailing mean first stood `FALL` below its running
best, minus the step at which the alarm was raised (positive: early). Per alarm id, how often it was raised on
positives and on negatives. With gold watched, an ROC over over-optimisation's threshold (`gold_fall_z`, standard errors
of gold's fall) too.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FALL = 0.1  # gold's fall below its peak that makes a run positive (issue: "at least 0.1 below the peak")
SEVERITIES = ("low", "medium", "high")
GOLD_KEYS = ("gold/", "heldout/")  # prefixes of what the no-gold judging removes


@dataclass(frozen=True)
class Cell:
    """One kind of run in the grid: PPORun settings, steps and seeds."""

    name: str
    steps: int
    seeds: tuple[int, ...]
    kl_coef: float = 0.01
    ensemble: str | None = None
    length_penalty: float = 0.0
    optimise_gold: bool = False
    what: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


# Seeds of the mitigation cells start at 30: the demo's own runs (seeds 0-2, benchmarks/mitigations.py) come in
# through --logs, and the same settings from the same seed would be the same run counted twice.
GRID = (
    Cell("rm-kl0.01", 300, tuple(range(10, 18)), what="the demo's watched run, other seeds"),
    Cell("rm-kl0.005", 200, tuple(range(0, 4)), kl_coef=0.005, what="half the KL coefficient, 200 steps"),
    Cell("rm-kl0.01-100", 100, tuple(range(20, 24)), what="the watched run stopped at 100 steps"),
    Cell("ensemble-min", 300, tuple(range(30, 34)), ensemble="min", what="the minimum of two reward models"),
    Cell("length-penalty", 300, tuple(range(30, 34)), length_penalty=0.1, what="reward - 0.1 x response tokens"),
    Cell("strong-kl", 300, tuple(range(30, 34)), kl_coef=0.1, what="KL coefficient 0.1"),
    Cell("gold", 200, tuple(range(0, 8)), optimise_gold=True, what="PPO against the gold grader itself"),
)


def _jobs(src: Path, out: Path) -> list[tuple[str, Any]]:
    from sentinel.demo.mitigations import PPOJob, PPORun

    rms = (src / "reward-model", src / "reward-model-1")
    jobs = []
    for c in GRID:
        run = PPORun(c.name, c.what, c.kl_coef, reward_models=tuple(str(m) for m in rms) if c.ensemble else (),
                     ensemble=c.ensemble, length_penalty=c.length_penalty,  # type: ignore[arg-type]
                     optimise_gold=c.optimise_gold)
        for s in c.seeds:
            jobs.append((c.name, PPOJob(src / "lab", src / "sft-noisy", rms[0], out / c.name / f"seed-{s}", run,
                                        c.steps, 2e-4, s)))
    return jobs


def label(history: list[dict]) -> dict[str, Any]:
    """Positive or not, by gold alone; the step at which gold first stood FALL below its running best."""
    from sentinel.demo.curves import curve_shape, trailing_means

    gold = [h.get("gold/score", math.nan) for h in history]
    w = max(10, len(gold) // 10)
    shape = curve_shape(gold, w)
    means = trailing_means(gold, w)
    fell_at, best = None, -math.inf
    for i, m in enumerate(means):  # means[i] ends at step i + w
        best = max(best, m)
        if m <= best - FALL:
            fell_at = i + w
            break
    return {"positive": shape.fall >= FALL, "dipped": fell_at is not None, "fall": shape.fall, "rise": shape.rise,
            "peak_step": shape.peak_step,
            "fell_at": fell_at, "window": w, "steps": len(gold)}


def judge(history: list[dict], gold: bool, every: int = 5, **overrides: Any) -> dict[str, Any]:
    """Replay `history` through a guard checking every `every` steps (gold keys removed unless `gold`; `overrides`:
    ConsistencyConfig fields): the step at which each alarm id was raised and its severity."""
    from sentinel.audit.guard import SentinelCallback

    guard = SentinelCallback(every_n_steps=every, **overrides)
    guard.replay(history if gold else [{k: v for k, v in h.items() if not k.startswith(GOLD_KEYS)} for h in history])
    return {a.id: {"severity": a.severity.value, "raised_at": guard.raised_at[a.id]} for a in guard.alarms}


def first_alarm(alarms: dict[str, dict], severity: str, only: str | None = None) -> int | None:
    """The step of the first alarm at or above `severity` (of id `only` where given)."""
    from sentinel.report import Severity

    steps = [a["raised_at"] for i, a in alarms.items()
             if Severity.parse(a["severity"]) >= Severity.parse(severity) and (only is None or i == only)]
    return min(steps, default=None)


def rates(runs: list[dict], key: str, severity: str, only: str | None = None, by: str = "positive"
          ) -> dict[str, Any]:
    """TPR, FPR and lead times of one judging at one threshold; the FPR also on the clear negatives (gold fell less
    than FALL / 2 from its peak: not near the line that single-seed noise moves runs across). `by`: the label,
    "positive" (gold ended FALL below its peak) or "dipped" (gold stood FALL below its running best at some step:
    all an online guard can know, as a run that dips and recovers looks the same until it recovers)."""
    pos = [r for r in runs if r["label"][by]]
    neg = [r for r in runs if not r["label"][by]]
    clear = [r for r in neg if r["label"]["fall"] < FALL / 2]
    tp = [r for r in pos if first_alarm(r[key], severity, only) is not None]
    fp = [r for r in neg if first_alarm(r[key], severity, only) is not None]
    fp_clear = [r for r in fp if r in clear]
    leads = [r["label"]["fell_at"] - first_alarm(r[key], severity, only) for r in tp
             if r["label"]["fell_at"] is not None]
    return {"tpr": len(tp) / len(pos) if pos else math.nan, "fpr": len(fp) / len(neg) if neg else math.nan,
            "tp": len(tp), "positives": len(pos), "fp": len(fp), "negatives": len(neg),
            "fpr_clear": len(fp_clear) / len(clear) if clear else math.nan, "fp_clear": len(fp_clear),
            "clear_negatives": len(clear),
            "lead_median": statistics.median(leads) if leads else None,
            "lead_range": [min(leads), max(leads)] if leads else None,
            "false_alarms": [r["name"] for r in fp]}


def _fall_z_roc(runs: list[dict]) -> list[dict]:
    """With gold watched: over-optimisation (high) alone at several `gold_fall_z` thresholds."""
    rows = []
    for z in (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0):
        judged = [{**r, "z": judge(r["history"], gold=True, gold_fall_z=z)} for r in runs]
        rows.append({"fall_z": z, **rates(judged, "z", "high", only="over-optimisation")})
    return rows


def _rules(runs: list[dict], every: int = 5) -> list[dict]:
    """With gold watched: can any rule on gold's fall tell the runs apart? Over-optimisation's measures (gold's fall
    from its peak window to the last fifth, its standard error, the proxy held) on every prefix of each log at the
    guard's check steps, then a grid of rules: fall > z standard errors (z = 2..8), fall >= an absolute minimum in
    gold units (0 .. 0.4), for m checks in a row (1, 2, 3, 5). The best TPR at FPR <= 0.05, 0.10 and 0.20."""
    from sentinel.audit.consistency.thresholds import ConsistencyConfig
    from sentinel.audit.guard.checks import check_training

    cfg = ConsistencyConfig()
    for r in runs:
        rows = [{"step": i, **h} for i, h in enumerate(r["history"], start=1)]
        r["prefixes"] = []
        for t in range(cfg.min_steps, len(rows) + 1, every):
            m = check_training(rows[:t], cfg, checks=["over-optimisation"]).metrics
            fall, se = m.get("gold_fall_after_peak"), m.get("gold_fall_standard_error")
            r["prefixes"].append((t, fall if fall is not None else -math.inf, se or math.inf))

    def first(prefixes, z, floor, m):
        run = 0
        for t, fall, se in prefixes:
            run = run + 1 if fall > z * se and fall >= floor else 0
            if run >= m:
                return t
        return None

    pos = [r for r in runs if r["label"]["positive"]]
    neg = [r for r in runs if not r["label"]["positive"]]
    rows = []
    for z in (2, 3, 4, 5, 6, 8):
        for floor in (0.0, 0.1, 0.2, 0.3, 0.4):
            for m in (1, 2, 3, 5):
                hits = [(r, first(r["prefixes"], z, floor, m)) for r in runs]
                leads = [r["label"]["fell_at"] - t for r, t in hits
                         if t is not None and r["label"]["positive"] and r["label"]["fell_at"] is not None]
                rows.append({"z": z, "floor": floor, "m": m,
                             "tp": sum(t is not None for r, t in hits if r["label"]["positive"]),
                             "fp": sum(t is not None for r, t in hits if not r["label"]["positive"]),
                             "positives": len(pos), "negatives": len(neg),
                             "lead_median": statistics.median(leads) if leads else None})
    return rows


def _export(runs: list[dict], folder: Path) -> None:
    """Each run's history as JSONL of the metrics the guard reads, for replay tests (tests/data/guard_runs)."""
    from sentinel.audit.guard.series import ALIASES

    keep = {k for names in ALIASES.values() for k in names} | {"heldout/gold", "heldout/greedy_accuracy"}
    folder.mkdir(parents=True, exist_ok=True)
    index = {}
    for r in runs:
        name = r["name"].replace("/", "-").replace("-history.json", "").strip("-")
        rows = [{"step": i, **{k: float(f"{v:.6g}") for k, v in h.items() if k in keep}}
                for i, h in enumerate(r["history"], start=1)]
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
        index[name] = {k: r["label"][k]
                       for k in ("positive", "dipped", "rise", "fall", "peak_step", "fell_at", "window")}
    (folder / "index.json").write_text(json.dumps(index, indent=1) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="source", help="a finished default `sentinel demo` folder (the grid's start; "
                    "without it, only the --logs are judged)")
    ap.add_argument("--rules", action="store_true", help="also grid rules on gold's fall over every log's prefixes "
                    "(gold watched: z, an absolute floor, checks in a row) and print the best TPR at FPR caps")
    ap.add_argument("--out", required=True, help="folder of the grid's runs (finished runs are reused)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (results do not depend on it)")
    ap.add_argument("--logs", nargs="*", default=[], help="globs of more PPO history.json files to judge")
    ap.add_argument("--json", help="write every run's label and alarms here")
    ap.add_argument("--export", help="write every run's log here as JSONL, cut to the metrics the guard reads "
                    "(values to 6 significant digits), with index.json of their labels")
    ap.add_argument("--no-run", action="store_true", help="judge the grid's finished runs only, start none")
    ap.add_argument("--every", type=int, nargs="+", default=[5, 10],
                    help="the guard's check intervals to judge with (steps); the first is the main one")
    args = ap.parse_args()

    import logging

    from sentinel.demo.mitigations import run_ppo_jobs

    logging.getLogger("sentinel").setLevel(logging.ERROR)  # the replayed guards' alarms are printed in the tables
    out = Path(args.out)
    jobs = _jobs(Path(args.source).resolve(), out) if args.source else []
    if args.no_run:
        jobs = [(name, j) for name, j in jobs if (j.out / "history.json").is_file()]
    t = time.time()
    results = run_ppo_jobs([j for _, j in jobs], args.workers)
    print(f"{len(jobs)} grid runs in {time.time() - t:.0f} s ({args.workers} workers)")
    runs = [{"name": f"{name}/{job.out.name}", "history": h} for (name, job), (h, _) in zip(jobs, results)]
    seen = set()
    for pattern in args.logs:
        for f in sorted(glob.glob(pattern, recursive=True)):
            text = Path(f).read_text()
            if text not in seen:  # the same run found twice (a copied folder) counts once
                seen.add(text)
                runs.append({"name": f, "history": json.loads(text)})
    t = time.time()
    keys = [(f"{'gold' if g else 'no_gold'}@{e}", g, e) for e in args.every for g in (False, True)]
    for r in runs:
        r["label"] = label(r["history"])
        for key, g, e in keys:
            r[key] = judge(r["history"], gold=g, every=e)
        r["no_gold"], r["gold"] = r[keys[0][0]], r[keys[1][0]]
    print(f"{len(runs)} runs judged {len(keys)} times in {time.time() - t:.0f} s")

    print("\n| run | steps | gold rise | gold fall | positive | no gold: alarms (raised at) | gold watched: alarms |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        lab = r["label"]

        def fmt(alarms):
            return ", ".join(f"{i} [{a['severity']}] {a['raised_at']}" for i, a in alarms.items()) or "none"

        print(f"| {r['name']} | {lab['steps']} | {lab['rise']:+.2f} | {lab['fall']:.2f} | "
              f"{'yes' if lab['positive'] else 'no'} | {fmt(r['no_gold'])} | {fmt(r['gold'])} |")
    table = {}
    print("\n| judging | threshold | TPR | FPR | FPR, clear negatives | lead time, median (range) | false alarms on |")
    print("|---|---|---|---|---|---|---|")
    for key, g, e in keys:
        what = f"{'gold watched' if g else 'gold removed'}, checks every {e} steps"
        for sev in SEVERITIES:
            x = rates(runs, key, sev)
            table[f"{key}/{sev}"] = x
            lead = (f"{x['lead_median']:+g} ({x['lead_range'][0]:+d} .. {x['lead_range'][1]:+d})"
                    if x["lead_median"] is not None else "-")
            print(f"| {what} | any alarm >= {sev} | {x['tp']}/{x['positives']} = {x['tpr']:.2f} | "
                  f"{x['fp']}/{x['negatives']} = {x['fpr']:.2f} | {x['fp_clear']}/{x['clear_negatives']} | {lead} | "
                  f"{', '.join(x['false_alarms']) or '-'} |")
    print("\nLabelled 'dipped' (gold stood 0.1 below its running best at some step) instead:")
    for key, g, e in keys[:2]:
        for sev in SEVERITIES[1:]:
            x = rates(runs, key, sev, by="dipped")
            table[f"{key}/{sev}/dipped"] = x
            print(f"| {'gold watched' if g else 'gold removed'}, every {e} | >= {sev} | {x['tp']}/{x['positives']} "
                  f"= {x['tpr']:.2f} | {x['fp']}/{x['negatives']} = {x['fpr']:.2f} | lead {x['lead_median']} | "
                  f"{', '.join(x['false_alarms']) or '-'} |")
    ids = sorted({i for r in runs for key in ("no_gold", "gold") for i in r[key]})
    print("\n| alarm id | judging | raised on positives | raised on negatives |")
    print("|---|---|---|---|")
    for i in ids:
        for key in ("no_gold", "gold"):
            x = rates(runs, key, "low", only=i)
            print(f"| {i} | {key} | {x['tp']}/{x['positives']} | {x['fp']}/{x['negatives']} |")
    roc = _fall_z_roc(runs)
    print("\n| over-optimisation gold_fall_z | TPR | FPR | FPR, clear negatives | lead time, median |")
    print("|---|---|---|---|---|")
    for x in roc:
        print(f"| {x['fall_z']:g} | {x['tpr']:.2f} | {x['fpr']:.2f} | {x['fpr_clear']:.2f} | {x['lead_median']} |")
    rules = _rules(runs, args.every[0]) if args.rules else []
    if rules:
        print("\nRules on gold's fall (gold watched), the best TPR at each FPR cap, over "
              f"{len(rules)} rules (z, absolute floor, checks in a row):")
        for cap in (0.05, 0.10, 0.20):
            ok = [x for x in rules if x["fp"] <= cap * x["negatives"]]
            b = max(ok, key=lambda x: (x["tp"], -x["fp"]), default=None)
            print(f"| FPR <= {cap:.2f} | " + (f"TPR {b['tp']}/{b['positives']} = {b['tp'] / b['positives']:.2f}, FP "
                  f"{b['fp']}/{b['negatives']} | fall > {b['z']} SE, >= {b['floor']}, {b['m']} checks in a row | "
                  f"lead {b['lead_median']} |" if b else "no rule |"))
    if args.export:
        _export(runs, Path(args.export))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "runs": [{k: v for k, v in r.items() if k != "history"} for r in runs], "rates": table,
            "fall_z_roc": roc, "rules": rules}, indent=1))


if __name__ == "__main__":
    main()
