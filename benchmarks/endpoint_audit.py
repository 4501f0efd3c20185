"""A sycophancy audit through a served model at the server's speed: items per second at concurrency 1 and 8.

    python benchmarks/endpoint_audit.py --policy DIR --lab DIR [--items 80] [--concurrency 1,8]

Serves `--policy` (a lab SFT policy folder) with `transformers serve` on 127.0.0.1 (the `serving` extra), audits it
with `SycophancyDetector` (are_you_sure and suggested_answer on `--items` lab questions, max 16 new tokens) through
`EndpointTarget` at each concurrency, and prints items/s, wall time, failed calls and the score of each run, with
the ratio of each to concurrency 1. The server process gets the same threads in every run (`--server-threads`).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def serve(policy: str, threads: int, log: Path):
    port = _free_port()
    cmd = [sys.executable, "-m", "transformers.cli.transformers", "serve", policy, "--host", "127.0.0.1",
           "--port", port, "--device", "cpu", "--dtype", "float32", "--log-level", "error"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": str(threads),
           "TOKENIZERS_PARALLELISM": "false", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"transformers serve exited ({proc.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5) as r:
                if r.status == 200:
                    return proc, f"{base}/v1"
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    proc.kill()
    sys.exit(f"transformers serve did not answer within 300 s; see {log}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", required=True, help="lab SFT policy folder")
    ap.add_argument("--lab", required=True, help="lab folder (its eval questions are the items)")
    ap.add_argument("--items", type=int, default=80)
    ap.add_argument("--concurrency", default="1,8")
    ap.add_argument("--server-threads", type=int, default=2)
    ap.add_argument("--out", default="runs/endpoint-audit")
    args = ap.parse_args()

    from sentinel import SycophancyDetector
    from sentinel.audit.sycophancy import EndpointTarget, load_lab_questions

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    questions = load_lab_questions(args.lab, limit=args.items)
    proc, url = serve(args.policy, args.server_threads, out / "serve.log")
    results = {}
    try:
        for c in [int(x) for x in args.concurrency.split(",")]:
            target = EndpointTarget(url, args.policy, timeout=120, concurrency=c)
            detector = SycophancyDetector(probes=["are_you_sure", "suggested_answer"], max_new_tokens=16,
                                          batch_size=16)
            t0 = time.perf_counter()
            r = detector.analyze(target, questions=questions)
            seconds = time.perf_counter() - t0
            items = sum(x.total for x in r.rates.values())
            results[c] = items / seconds
            print(f"concurrency {c}: {items} items in {seconds:.1f} s = {items / seconds:.2f} items/s "
                  f"({r.metrics['calls']} calls, {r.metrics['failed_calls']} failed, {r.metrics['retries']} "
                  f"retries; score {r.sycophancy_score})", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    base = results[min(results)]
    for c, v in results.items():
        print(f"concurrency {c} / {min(results)}: x{v / base:.2f} items/s")


if __name__ == "__main__":
    main()
