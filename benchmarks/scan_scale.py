"""Rows per second of `scan_dataset` with the local engine and with the Ray engine on 1 and 2 workers, on one file.

    python benchmarks/scan_scale.py [--data FILE ...: default the four HH-RLHF test files of
        ../shared/data/preference] [--copies 24] [--workers 1 2] [--no-outputs] [--workdir DIR]

The files are decompressed and concatenated `--copies` times into one uncompressed JSONL file (a gzip file cannot be
cut into byte ranges, so the Ray engine would read it as one shard), which each engine then scans in full, writing
the kept and flagged rows to JSONL files as `sentinel scan FILE --kept ... --flagged ...` does (`--no-outputs`: the
scan alone). Ray is started once (`ray.init(num_cpus=<the CPUs this process may use>)`) and warmed up on 100 rows,
neither timed; each Ray run's time includes starting its actors. Printed per run: wall seconds, rows per second,
the ratio to the local engine, the driver's CPU seconds (all its threads: with Ray, its scheduling loop too, which
costs in proportion to the wall time) and those of its main thread alone (with Ray: receiving the shards' results,
counting them and writing the outputs, the serial part), with the rows per CPU second of that thread. A projection
for more cores divides the rows by the smaller of (workers x the local engine's rows per CPU second, the work of one
core) and the main thread's rows per CPU second. Results are checked to be identical to the local engine's (counts,
findings without their timestamps, and the bytes of both outputs).
"""

from __future__ import annotations

import argparse
import filecmp
import gzip
import os
import shutil
import tempfile
import time
from pathlib import Path

from sentinel.scan.dataset import scan_dataset

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT.parent / "shared" / "data" / "preference"


def build(files: list[str], copies: int, path: Path) -> int:
    """Concatenate the decompressed `files` `copies` times into `path`; returns the number of lines."""
    text = b""
    for f in files:
        raw = gzip.decompress(Path(f).read_bytes()) if f.endswith(".gz") else Path(f).read_bytes()
        text += raw if raw.endswith(b"\n") else raw + b"\n"
    with open(path, "wb") as out:
        for _ in range(copies):
            out.write(text)
    return text.count(b"\n") * copies


def run(path: Path, workdir: Path, engine: str, workers: int | None, outputs: bool) -> dict:
    tag = f"{engine}-{workers or 0}"
    kept, flagged = workdir / f"kept-{tag}.jsonl", workdir / f"flagged-{tag}.jsonl"
    wall, cpu, main_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    ds = scan_dataset(str(path), engine=engine, workers=workers, keep_rows=False,
                      out=str(kept) if outputs else None, flagged_out=str(flagged) if outputs else None)
    wall, cpu, main_cpu = time.perf_counter() - wall, time.process_time() - cpu, time.thread_time() - main_cpu
    report = ds.report.to_dict()
    report.pop("created")
    return {"tag": tag, "rows": ds.rows, "wall": wall, "cpu": cpu, "main_cpu": main_cpu, "report": report,
            "summary": ds.summary(), "outputs": (kept, flagged) if outputs else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=None, help="JSONL(.gz) files (default: the HH-RLHF test files)")
    ap.add_argument("--copies", type=int, default=24, help="times the files are repeated (default 24: 205,248 rows)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray worker counts to time")
    ap.add_argument("--no-outputs", action="store_true", help="do not write the kept and flagged rows")
    ap.add_argument("--workdir", help="folder for the data file and outputs (default: a temporary folder)")
    args = ap.parse_args()
    import ray

    files = args.data or sorted(str(p) for p in FULL.glob("*-test.jsonl.gz"))
    if not files:
        raise SystemExit(f"no data: give --data FILE ... (the default files are in {FULL})")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="scan-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "rows.jsonl"
    lines = build(files, args.copies, path)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    print(f"{lines:,} rows ({path.stat().st_size / 1e6:.0f} MB) from {len(files)} file(s) x {args.copies}; "
          f"{cpus} CPUs; load average {os.getloadavg()[0]:.1f}; outputs {'off' if args.no_outputs else 'on'}")
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        warm = workdir / "warm.jsonl"  # the driver's first Ray Data run imports and sets up more: not timed
        with open(path, "rb") as f:
            warm.write_bytes(b"".join(f.readline() for _ in range(100)))
        scan_dataset(str(warm), engine="ray", workers=1, keep_rows=False)
        base = run(path, workdir, "local", None, not args.no_outputs)
        results = [base] + [run(path, workdir, "ray", w, not args.no_outputs) for w in args.workers]
    finally:
        ray.shutdown()
    print(f"\n{'engine':<14}{'wall s':>9}{'rows/s':>10}{'vs local':>10}{'driver CPU s':>14}{'main thread':>13}"
          f"{'rows/main CPU s':>17}")
    for r in results:
        outputs = r["outputs"] is None or all(filecmp.cmp(a, b, shallow=False)
                                              for a, b in zip(r["outputs"], base["outputs"]))
        same = r["report"] == base["report"] and r["summary"] == base["summary"] and outputs
        if not same:
            raise SystemExit(f"{r['tag']}: results differ from the local engine's")
        rate = r["rows"] / r["wall"]
        print(f"{r['tag']:<14}{r['wall']:>9.1f}{rate:>10,.0f}{rate / (base['rows'] / base['wall']):>9.2f}x"
              f"{r['cpu']:>14.1f}{r['main_cpu']:>13.1f}{r['rows'] / r['main_cpu']:>17,.0f}")
    print("results identical to the local engine's: counts, findings, kept and flagged outputs byte for byte")
    if not args.workdir:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
