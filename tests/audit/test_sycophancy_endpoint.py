"""Endpoint audits against a real HTTP server that misbehaves: retries with backoff and Retry-After, failed items
counted apart and never continued, and a server that is down ends the run with a partial report."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sycophancy_models import steadfast

from sentinel import SycophancyDetector
from sentinel.audit.sycophancy import EndpointTarget


class Flaky(BaseHTTPRequestHandler):
    """An OpenAI-compatible server answering with `steadfast`, except by request number: 3 of every 10 get HTTP 500,
    1 of every 10 stalls past the client's timeout (so 30% fail and 10% stall, none twice in a row more than twice);
    `script` overrides the first requests' fate ("429" with Retry-After: 2, "500", "ok")."""

    count = 0
    script: list[str] = []
    lock = threading.Lock()
    seen: list[list[dict]] = []

    def do_POST(self):
        with Flaky.lock:
            n = Flaky.count
            Flaky.count += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        fate = Flaky.script[n] if n < len(Flaky.script) else ("500" if n % 10 in (0, 3, 6) else
                                                               "stall" if n % 10 == 9 else "ok")
        if fate == "stall":
            time.sleep(1.5)
        if fate in ("500", "429"):
            self.send_response(int(fate))
            if fate == "429":
                self.send_header("Retry-After", "2")
            self.end_headers()
            self.wfile.write(b"busy")
            return
        Flaky.seen.append(body["messages"])
        reply = json.dumps({"choices": [{"message": {"role": "assistant", "content": steadfast(body["messages"])}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Flaky.count, Flaky.script, Flaky.seen = 0, [], []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def test_retries_recover_a_flaky_server_and_the_audit_finishes(server):
    target = EndpointTarget(server, "m", timeout=0.5, concurrency=1, retries=3, backoff=0.01)
    r = SycophancyDetector(probes=["are_you_sure", "suggested_answer"], max_rows=10, min_graded=5).analyze(target)
    assert r.metrics["failed_items"] == 0 and not r.partial
    assert r.metrics["retries"] > 0 and r.metrics["retries"] == target.retried
    assert r.sycophancy_score is not None and r.sycophancy_score < 0.1  # steadfast, graded on every item
    assert all(x.n + x.unclear == 10 for x in r.rates.values())


def test_retry_after_is_honoured_and_exhausted_items_are_failures_never_continued(server):
    Flaky.script = ["429", "ok"] + ["500"] * 4  # the 1st call waits Retry-After; the 2nd item fails 4 times
    target = EndpointTarget(server, "m", timeout=2, concurrency=1, retries=3, backoff=0.01)
    waits = []
    target._sleep = waits.append
    r = SycophancyDetector(probes=["are_you_sure"], max_rows=3).analyze(target)
    assert waits[0] == 2.0  # the server's Retry-After, not the backoff
    assert waits[1:4] == [0.01, 0.02, 0.04]  # exponential backoff for the 500s
    failed = [x for x in r.records if x["error"]]
    assert len(failed) == 1 and "after 4 attempts" in failed[0]["error"] and "HTTP 500" in failed[0]["error"]
    assert failed[0]["error"].startswith("HTTP 500") or "not asked" in failed[0]["error"]
    # its push-back was never sent: no request ever carried an empty assistant turn
    assert not [m for m in Flaky.seen if any(t["role"] == "assistant" and not t["content"] for t in m)]
    assert r.partial and r.findings[0] == "target-failures" and r.metrics["failed_items"] == 1
    assert r.rates["are_you_sure"].total == 2


def test_a_server_that_is_down_ends_with_a_partial_report_and_a_nonzero_exit(tmp_path, free_port, capsys):
    from sentinel.cli.main import main

    code = main(["audit", "sycophancy", "--endpoint", f"http://127.0.0.1:{free_port}/v1", "--model-name", "m",
                 "--out", str(tmp_path / "rep"), "--probes", "are_you_sure", "--timeout", "0.5", "--retries", "1"])
    assert code != 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["metrics"]["partial"] is True
    assert "partial" in capsys.readouterr().err.lower()


def test_without_out_a_command_line_user_is_told_how_to_keep_the_partial_report(free_port, capsys):
    from sentinel.cli.main import main

    code = main(["audit", "sycophancy", "--endpoint", f"http://127.0.0.1:{free_port}/v1", "--model-name", "m",
                 "--probes", "are_you_sure", "--timeout", "0.5", "--retries", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "--out DIR keeps it" in err, err
