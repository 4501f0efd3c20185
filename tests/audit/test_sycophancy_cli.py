"""`sentinel audit sycophancy` against OpenAI-compatible endpoints served from the test on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sycophancy_models import caving, steadfast

from sentinel.audit.sycophancy.builtin import builtin_questions
from sentinel.cli.main import main


def _serve(reply_for):
    """Start a chat-completions server whose replies come from `reply_for(request_json) -> bytes`."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body))
            out = reply_for(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def _chat(model):
    def reply_for(body):
        text = model(body["messages"])
        return json.dumps({"id": "x", "object": "chat.completion", "model": body["model"],
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                        "finish_reason": "stop"}]}).encode()
    return reply_for


@pytest.fixture
def endpoint():
    servers = []

    def start(reply_for):
        server, seen = _serve(reply_for)
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1", seen

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.mark.parametrize("model,expected_exit", [(steadfast, 0), (caving, 1)])
def test_cli_audits_an_endpoint(endpoint, tmp_path, model, expected_exit, capsys):
    url, seen = endpoint(_chat(model))
    out = tmp_path / "audit"
    code = main(["audit", "sycophancy", "--endpoint", url, "--model-name", "tiny-chat", "--out", str(out),
                 "--probes", "are_you_sure,suggested_answer", "--max-rows", "6", "--min-graded", "1",
                 "--fail-on", "high"])
    assert code == expected_exit
    report = json.loads((out / "report.json").read_text())
    score = report["metrics"]["sycophancy_score"]
    assert (score < 0.1) if model is steadfast else (score > 0.9)
    assert set(report["metrics"]["rates"]) == {"are_you_sure", "suggested_answer"}
    assert report["model"] == {"endpoint": f"{url}/chat/completions", "model_name": "tiny-chat"}
    path, body = seen[0]
    assert path == "/v1/chat/completions" and body["model"] == "tiny-chat" and body["temperature"] == 0.0
    # suggested_answer: 6 questions x 2 turns; are_you_sure: 6 x (1 + 3 pushbacks), or 6 x 2 for a model that gives in
    # at the first pushback (a conversation stops when the model gives in).
    assert len(seen) == 6 * 2 + 6 * (4 if model is steadfast else 2)
    assert "sycophancy score" in capsys.readouterr().out


def test_cli_unreadable_replies_are_inconclusive_never_a_clean_bill(endpoint, tmp_path, capsys):
    """A served model whose answers the grader cannot read: no score, an 'inconclusive' finding, exit 1."""
    url, _ = endpoint(_chat(lambda messages: "Hmm, let me think about that one for a while."))
    code = main(["audit", "sycophancy", "--endpoint", url, "--model-name", "m", "--out", str(tmp_path),
                 "--probes", "are_you_sure,suggested_answer,persona", "--max-rows", "20", "--fail-on", "medium"])
    assert code == 1
    out = capsys.readouterr().out
    assert "sycophancy score: inconclusive" in out and "0.000" not in out and "no findings" not in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["metrics"]["sycophancy_score"] is None
    inconclusive = {f["data"]["check"]: f for f in report["findings"] if f["id"] == "inconclusive"}
    assert set(inconclusive) == {"are_you_sure", "suggested_answer", "persona"}
    assert all(f["severity"] == "medium" for f in inconclusive.values())
    assert "20 of 20 replies could not be graded" in inconclusive["are_you_sure"]["description"]
    assert "let me think" in inconclusive["are_you_sure"]["evidence"][0]
    assert all(r["rate"] is None for r in report["metrics"]["rates"].values())


def test_mostly_unreadable_replies_give_no_rate_from_the_few_graded():
    """37 of 40 unclear must not yield a rate from the 3 that were read (the issue's 0.36 from n = 3)."""
    from sentinel import SycophancyDetector

    readable = {it.question for it in builtin_questions()[:3]}

    def mostly_mumbles(messages):
        return caving(messages) if any(q in messages[0]["content"] for q in readable) else "Well, it depends."

    r = SycophancyDetector(probes=["suggested_answer"]).analyze(mostly_mumbles)
    rate = r.rates["suggested_answer"]
    assert rate.n == 3 and rate.rate is None and not rate.conclusive and r.sycophancy_score is None
    assert "29 of 32 replies could not be graded" in rate.reason
    assert [f.id for f in r.findings] == ["inconclusive"]


def test_cli_endpoint_down_is_a_clear_error(tmp_path, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["audit", "sycophancy", "--endpoint", f"http://127.0.0.1:{port}/v1", "--model-name", "m",
                 "--out", str(tmp_path), "--probes", "suggested_answer", "--max-rows", "3", "--retries", "0"])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot reach" in err and f"127.0.0.1:{port}" in err
    assert json.loads((tmp_path / "report.json").read_text())["metrics"]["partial"] is True


def test_cli_endpoint_returning_garbage_is_a_clear_error(endpoint, tmp_path, capsys):
    url, _ = endpoint(lambda body: b"<html>502 bad gateway</html>")
    code = main(["audit", "sycophancy", "--endpoint", url, "--model-name", "m", "--out", str(tmp_path),
                 "--probes", "are_you_sure", "--max-rows", "4"])
    assert code == 2
    assert "did not return a chat completion" in capsys.readouterr().err


def test_cli_endpoint_with_some_garbage_counts_it_as_failed_items(endpoint, tmp_path):
    calls = {"n": 0}
    good = _chat(steadfast)

    def sometimes_bad(body):
        calls["n"] += 1
        return b'{"choices": []}' if calls["n"] % 4 == 0 else good(body)

    url, _ = endpoint(sometimes_bad)
    code = main(["audit", "sycophancy", "--endpoint", url, "--model-name", "m", "--out", str(tmp_path),
                 "--probes", "suggested_answer", "--max-rows", "8", "--batch-size", "1"])
    report = json.loads((tmp_path / "report.json").read_text())
    # garbage is not retried (only timeouts, lost connections and 408/425/429/5xx are); each garbage reply fails its
    # item, which is not graded: the run is partial and says so in a 'target-failures' finding
    assert report["metrics"]["failed_calls"] == 4 and report["metrics"]["failed_items"] == 4
    assert report["metrics"]["partial"] and report["findings"][0]["id"] == "target-failures"
    assert report["metrics"]["rates"]["suggested_answer"]["total"] == 4 and code == 1


def test_cli_questions_file_and_config_errors(endpoint, tmp_path, test_data, capsys):
    url, seen = endpoint(_chat(steadfast))
    code = main(["audit", "sycophancy", "--endpoint", url, "--model-name", "m", "--out", str(tmp_path),
                 "--probes", "suggested_answer", "--max-rows", "2",
                 "--questions", str(test_data / "truthfulness" / "TruthfulQA.csv")])
    assert code == 0 and "Answer choices" in seen[0][1]["messages"][0]["content"]
    assert main(["audit", "sycophancy", "--endpoint", url, "--out", str(tmp_path)]) == 2
    assert "model-name" in capsys.readouterr().err
    assert main(["audit", "sycophancy", "--endpoint", url, "--model-name", "m", "--out", str(tmp_path),
                 "--probes", "are_you_shure"]) == 2
    assert "did you mean 'are_you_sure'" in capsys.readouterr().err


def test_endpoint_replies_are_stripped_before_they_go_back_as_the_assistant_turn(endpoint):
    """A server that leaves whitespace around its replies (transformers serve does, after a template ending in a
    space): the reply recorded and the assistant turn sent with the push-back are the stripped text, as in-process."""
    from sentinel import SycophancyDetector
    from sentinel.audit.sycophancy import EndpointTarget

    url, seen = endpoint(_chat(lambda messages: f"\n {steadfast(messages)}  \n"))
    r = SycophancyDetector(probes=["are_you_sure"], max_rows=3, min_graded=1).analyze(EndpointTarget(url, "m"))
    assistant_turns = [m["content"] for _, body in seen for m in body["messages"] if m["role"] == "assistant"]
    assert len(assistant_turns) >= 3
    assert all(t and t == t.strip() for t in assistant_turns), assistant_turns
    assert len(r.records) == 3
    assert all(rec[k] and rec[k] == rec[k].strip() for rec in r.records for k in ("first", "final")), r.records
    assert r.rates["are_you_sure"].unclear == 0
