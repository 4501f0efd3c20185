"""The sycophancy detector through a real OpenAI-compatible server: `transformers serve` on the lab SFT policy,
started and stopped by the test on 127.0.0.1, audited through `EndpointTarget` with the lab's probes (real chat turns:
question / answer / push-back). Needs the `serving` extra (`pip install 'sentinel-rlhf[serving]'`, part of `dev`);
skips, saying what is missing, without it."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from sentinel import SycophancyDetector
from sentinel.audit.sycophancy import EndpointTarget, load_lab_questions

SERVED_PROBES = ["are_you_sure", "suggested_answer"]
N_ITEMS = 80
MIN_CLEAR = 0.9  # issue 15: clear (graded) answers for at least 90% of lab items
START_TIMEOUT_S = 300  # loading torch and a tiny model; generous for a loaded 2-core machine

# What `transformers serve` imports beyond transformers itself (transformers' `serving` extra).
SERVE_MODULES = ("fastapi", "uvicorn", "openai", "pydantic")


def _serve_unavailable() -> str | None:
    missing = [m for m in SERVE_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        return (f"transformers serve needs {', '.join(missing)}: install the serving extra "
                "(pip install 'sentinel-rlhf[serving]')")
    try:
        from transformers.cli import serve  # noqa: F401
    except ImportError as e:
        return f"transformers serve cannot be imported: {e}"
    return None


def _tail(path: Path, chars: int = 3000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-chars:] or "(no output)"


def _wait_until_ready(proc: subprocess.Popen, base: str, log: Path, timeout: float) -> None:
    """Poll GET /health until it answers 200; fail with the server's output if it exits or never answers."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            pytest.fail(f"transformers serve exited with code {code} before answering on {base}; "
                        f"its output ends with:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=5) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except (urllib.error.URLError, OSError) as e:
            last = str(getattr(e, "reason", e))
        time.sleep(0.5)
    pytest.fail(f"transformers serve did not answer GET {base}/health within {timeout:.0f} s (last: {last}); "
                f"its output ends with:\n{_tail(log)}")


@pytest.fixture
def served_lab_sft(lab_sft, free_port, tmp_path, monkeypatch):
    """`transformers serve <lab_sft>` on 127.0.0.1:<free port>, pinned to that folder; yields (base URL, model name)
    and stops the server afterwards."""
    why = _serve_unavailable()
    if why:
        pytest.skip(why)
    # A proxy set in the environment must not see requests to the local server (urllib honours *_proxy).
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    model = str(lab_sft)
    base = f"http://127.0.0.1:{free_port}"
    log = tmp_path / "serve.log"
    # CPU and float32: the same numbers as the in-process target, on any machine (GPU or not).
    cmd = [sys.executable, "-m", "transformers.cli.transformers", "serve", model, "--host", "127.0.0.1",
           "--port", free_port, "--device", "cpu", "--dtype", "float32", "--log-level", "error"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_until_ready(proc, base, log, START_TIMEOUT_S)
        yield f"{base}/v1", model, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _clear_rate(result) -> tuple[float, int, int]:
    """Share of the items (over both probes) whose replies could be graded: 1 - unclear / asked."""
    total = sum(r.total for r in result.rates.values())
    unclear = sum(r.unclear for r in result.rates.values())
    return 1 - unclear / total, unclear, total


def _replies(result) -> dict[tuple[str, str], tuple[str, str]]:
    keys = {"are_you_sure": ("first", "final"), "suggested_answer": ("neutral", "suggested")}
    return {(r["probe"], r["id"]): tuple(r[k] for k in keys[r["probe"]]) for r in result.records}


@pytest.mark.slow
def test_lab_sft_policy_served_by_transformers_gives_clear_answers(served_lab_sft, lab_dir, record_property):
    url, model, log = served_lab_sft
    questions = load_lab_questions(lab_dir, limit=N_ITEMS)
    detector = SycophancyDetector(probes=SERVED_PROBES, max_new_tokens=16, batch_size=16)

    start = time.monotonic()
    served = detector.analyze(EndpointTarget(url, model, timeout=120), questions=questions)
    record_property("served_seconds", round(time.monotonic() - start, 1))
    clear, unclear, total = _clear_rate(served)
    record_property("served_clear_rate", clear)
    record_property("served_score", served.sycophancy_score)
    unreadable = [u for r in served.rates.values() for u in r.unreadable]
    assert served.metrics["failed_calls"] == 0, (served.notes, _tail(log))  # a local server answers every call
    assert total == len(SERVED_PROBES) * len(questions)
    assert clear >= MIN_CLEAR, (f"{unclear} of {total} served replies could not be graded; e.g. {unreadable}")

    # The same items in-process (HFChatTarget, same greedy decoding): the server formats the real chat turns with the
    # folder's chat template and stops at its generation config's eos, so it should say what the model says here.
    in_process = SycophancyDetector(probes=SERVED_PROBES, max_new_tokens=16, batch_size=16)
    local = in_process.analyze(model, questions=questions)
    record_property("inprocess_clear_rate", _clear_rate(local)[0])
    record_property("inprocess_score", local.sycophancy_score)
    a, b = _replies(served), _replies(local)
    assert a.keys() == b.keys()
    differ = [(k, a[k], b[k]) for k in a if a[k] != b[k]]
    record_property("replies_differing", len(differ))
    # Batched left-padded decoding may flip a near-tie now and then; a template or eos mismatch changes most replies.
    assert len(differ) <= 0.1 * len(a), differ[:5]
