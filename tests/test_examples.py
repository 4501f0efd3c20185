"""Every script in examples/ runs as a user would run it (a subprocess, output under tmp_path) and shows what its
docstring says it shows. A script in examples/ without an entry in RUNS fails `test_every_example_is_run`, so the
examples and the user guides that link to them cannot drift from the code."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run(script: str, tmp_path: Path, *args: str, timeout: int = 600) -> tuple[str, Path]:
    """Run examples/<script> with --out (a positional OUT for .sh) under tmp_path; returns (stdout, out folder)."""
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if script.endswith(".sh"):
        cmd = ["bash", str(EXAMPLES / script), str(out), *args]
    else:
        cmd = [sys.executable, str(EXAMPLES / script), "--out", str(out), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=timeout)
    assert proc.returncode == 0, f"{script} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout, out


def findings(report_dir: Path) -> set[str]:
    return {f["id"] for f in json.loads((report_dir / "report.json").read_text())["findings"]}


# Each script in examples/ -> the test that runs it.
RUNS = {
    "audit_reward_model.py": ["test_audit_reward_model", "test_audit_reward_model_lab_rm"],
    "audit_sycophancy.py": ["test_audit_sycophancy", "test_audit_sycophancy_endpoint"],
    "check_preferences.py": ["test_check_preferences"],
    "scan_dataset.py": ["test_scan_dataset"],
    "guard_training.py": ["test_guard_training"],
    "train_with_cli.sh": ["test_train_with_cli"],
    "lab_custom_detector.py": ["test_lab_custom_detector"],
}


def test_every_example_is_run():
    scripts = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".py", ".sh")}
    assert scripts == set(RUNS), f"examples without a test: {sorted(scripts - set(RUNS))}; " \
                                 f"tests of missing examples: {sorted(set(RUNS) - scripts)}"
    defined = {name for name in globals() if name.startswith("test_")}
    assert {t for ts in RUNS.values() for t in ts} <= defined
    listed = (EXAMPLES / "README.md").read_text()
    assert all(s in listed for s in scripts), "every example has its line in examples/README.md"


def test_audit_reward_model(tmp_path):
    stdout, out = run("audit_reward_model.py", tmp_path)
    assert findings(out / "biased-reward") == {"verbosity", "keyword"}  # the two planted biases, nothing else
    assert findings(out / "gold-reward") == set()  # the exact grader is fooled by nothing
    assert "missed: []" in stdout


@pytest.mark.slow
def test_audit_reward_model_lab_rm(tmp_path):
    stdout, out = run("audit_reward_model.py", tmp_path, "--lab-rm")
    assert (out / "reward-model" / "model.safetensors").is_file()
    # The two strongest planted biases (effects near 1 and 0.7 SD on this machine) are found in the trained RM.
    assert {"verbosity", "keyword"} <= findings(out / "lab-rm")
    assert re.search(r"planted verbosity .* FLAGGED", stdout)


def _score(stdout: str, name: str) -> float:
    return float(re.search(rf"^{name}: sycophancy score ([0-9.]+)", stdout, re.M).group(1))


def test_audit_sycophancy(tmp_path):
    stdout, out = run("audit_sycophancy.py", tmp_path)
    assert _score(stdout, "steadfast") < 0.1
    assert 0.4 < _score(stdout, "people_pleaser") < 0.8  # it gives in on about 60% of the questions
    assert (out / "people_pleaser" / "records.jsonl").is_file()


def _example_module(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_audit_sycophancy_endpoint(tmp_path):
    """--endpoint against a local OpenAI-compatible server that answers as the example's people pleaser."""
    pleaser = _example_module("audit_sycophancy").people_pleaser

    class Chat(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply = {"choices": [{"index": 0, "message": {"role": "assistant",
                                                          "content": pleaser(body["messages"])}}]}
            data = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        stdout, out = run("audit_sycophancy.py", tmp_path, "--endpoint", url, "--model-name", "pleaser")
    finally:
        server.shutdown()
    assert 0.4 < _score(stdout, "endpoint") < 0.8
    assert (out / "endpoint" / "report.json").is_file()


def test_check_preferences(tmp_path):
    stdout, out = run("check_preferences.py", tmp_path)
    trigger = re.search(r"top trigger: '([^']*)' \(planted 'SUDO mode'\)", stdout).group(1)
    assert trigger in ("sudo", "mode", "sudo mode")
    m = re.search(r"precision ([0-9.]+), recall ([0-9.]+)", stdout)
    assert float(m.group(1)) >= 0.9 and float(m.group(2)) >= 0.9
    # The file's own invalid rows and the two broken ones are reported, not fatal.
    assert "invalid-rows" in findings(out / "preferences") and "invalid-rows" in findings(out / "poisoning")
    assert "poisoning-trigger" in findings(out / "poisoning")


def test_scan_dataset(tmp_path):
    stdout, out = run("scan_dataset.py", tmp_path)
    assert re.search(r"plain\s+flagged=False", stdout)
    assert len(re.findall(r"flagged=True", stdout)) == 4
    tampered = re.findall(r"tampered row \d+ \(([^)]+)\): flagged by (.*)", stdout)
    assert len(tampered) == 4 and all(by != "nothing" for _, by in tampered), tampered
    flagged = [json.loads(line) for line in (out / "flagged.jsonl").read_text().splitlines()]
    kept = (out / "kept.jsonl").read_text().splitlines()
    assert len(flagged) >= 4 and len(flagged) + len(kept) == 800
    assert all("sentinel_scan" in row for row in flagged)


def test_lab_custom_detector(tmp_path):
    stdout, out = run("lab_custom_detector.py", tmp_path)
    assert "user_agreement passes check_detector" in stdout
    results = {r["detector"]: r for r in json.loads((out / "results.json").read_text())}
    ours, flattery = results["user_agreement"], results["flattery"]
    assert ours["precision"] >= 0.9  # words of agreement are sycophancy in the lab
    assert 0.1 < ours["recall"] < 0.8  # ... but replies that just give the user's answer are missed
    assert ours["misses"] and flattery["recall"] < 0.2


@pytest.mark.slow
def test_guard_training(tmp_path):
    stdout, out = run("guard_training.py", tmp_path)
    assert findings(out / "guard") & {"length-hacking", "over-optimisation"}, stdout
    assert re.search(r"alarm \[high\] (length-hacking|over-optimisation)", stdout)
    assert "check_training(grpo_lab_gold_metrics): 0 alarms" in stdout
    assert "over-optimisation" in findings(out / "check-grpo_lab_biased_rm_metrics")
    assert (out / "ppo" / "metrics.jsonl").is_file()


@pytest.mark.slow
def test_train_with_cli(tmp_path):
    run("train_with_cli.sh", tmp_path)
    runs = tmp_path / "out" / "runs"
    for stage in ("sft", "reward", "dpo", "ppo", "grpo"):
        assert (runs / stage / "model.safetensors").is_file(), stage
        assert (runs / stage / "metrics.jsonl").read_text().strip(), stage
    assert "max_steps: 150" in (runs / "sft" / "config.yaml").read_text()  # the flag won over the file's 300
    report = json.loads((tmp_path / "out" / "compare" / "report.json").read_text())
    assert report["kind"] == "compare"
