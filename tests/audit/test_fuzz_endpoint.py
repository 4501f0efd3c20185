"""Generated hostile replies for the endpoint client (`EndpointTarget`): malformed JSON, wrong types, truncated
bodies, a connection closed mid-body and a server that stalls or trickles its body. Every reply comes back as text
or as a `Failure` saying why; the client never raises and never waits much past its timeout."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentinel.audit.sycophancy import EndpointTarget
from sentinel.audit.sycophancy.chat_targets import Failure

pytestmark = pytest.mark.fuzz
TIMEOUT = 0.3  # the client's timeout, seconds


class Hostile(BaseHTTPRequestHandler):
    """Answers every request with `Hostile.plan`: (status, body, how), how one of "whole", "truncated" (a
    Content-Length longer than the body, then the connection closes), "stall" (half the body, then a pause past
    the client's timeout) or "trickle" (one byte at a time, each within the timeout, the whole far beyond it)."""

    plan: tuple[int, bytes, str] = (200, b"{}", "whole")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body, how = Hostile.plan
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body) + (10 if how == "truncated" else 0)))
        self.end_headers()
        try:
            if how == "trickle":
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(TIMEOUT / 3)
                return
            half = len(body) // 2 if how == "stall" else len(body)
            self.wfile.write(body[:half])
            self.wfile.flush()
            if how == "stall":
                time.sleep(TIMEOUT * 3)
                self.wfile.write(body[half:])
        except OSError:  # the client gave up and closed the connection
            pass
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def _completion(content) -> dict:
    return {"choices": [{"message": {"role": "assistant", "content": content}}]}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                           max_leaves=6)
bodies = st.one_of(
    st.binary(max_size=200),  # not JSON at all
    json_values.map(lambda v: json.dumps(v).encode()),  # JSON of any shape
    json_values.map(lambda v: json.dumps(_completion(v)).encode()),  # the right shape, content of any type
    st.text().map(lambda t: json.dumps(_completion(t)).encode()),  # a well-formed reply
    st.builds(lambda t, n: json.dumps(_completion(t)).encode()[:n], st.text(), st.integers(0, 60)),  # cut short
)


@given(status=st.sampled_from([200, 200, 200, 201, 204, 301, 400, 404, 500]), body=bodies,
       how=st.sampled_from(["whole", "whole", "truncated"]))
def test_any_reply_is_text_or_a_failure(server, status, body, how):
    Hostile.plan = (status, body, how)
    target = EndpointTarget(server, "m", timeout=TIMEOUT, retries=0)
    [reply] = target.generate([[{"role": "user", "content": "hi"}]])
    assert isinstance(reply, str)
    if not isinstance(reply, Failure):
        assert reply == json.loads(body)["choices"][0]["message"]["content"].strip()


@pytest.mark.parametrize("how", ["stall", "trickle"])
def test_a_server_that_stalls_or_trickles_its_body_is_a_failure(server, how):
    Hostile.plan = (200, json.dumps(_completion("x" * 40)).encode(), how)
    target = EndpointTarget(server, "m", timeout=TIMEOUT, retries=1, backoff=0)
    [reply] = target.generate([[{"role": "user", "content": "hi"}]])
    # A client that waited for the whole body would get a good reply (the trickled one arrives after 80 x TIMEOUT
    # / 3, the stalled one after 3 x TIMEOUT): a Failure says it gave up on both attempts.
    assert isinstance(reply, Failure) and "2 attempts" in reply.error, reply
