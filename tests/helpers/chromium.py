"""Open a local HTML file in headless Chromium and report what a reader would see, over the DevTools protocol.

No browser-automation package is needed: Chromium speaks the protocol over a pipe (`--remote-debugging-pipe`: it
reads commands from fd 3 and writes replies to fd 4, each a JSON object ended by a NUL byte).
`open_page(path)` returns the console errors (console.error calls, uncaught exceptions, failed resource loads),
every image's decode result, the tables with their cell counts, and the element counts a test asks for.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

# Runs in the page: decode every <img> (a broken or missing image rejects) and describe the tables.
_INSPECT = """(async () => {
  const images = await Promise.all([...document.images].map(async (img) => {
    try { await img.decode(); return {src: img.getAttribute('src').slice(0, 40), ok: img.naturalWidth > 0,
                                      width: img.naturalWidth, height: img.naturalHeight}; }
    catch (e) { return {src: (img.getAttribute('src') || '').slice(0, 40), ok: false, error: String(e)}; }
  }));
  const tables = [...document.querySelectorAll('table')].map(t => ({
    id: t.id, cls: t.className, rows: t.rows.length, cells: t.querySelectorAll('td, th').length,
    visible: t.getBoundingClientRect().height > 0}));
  return {title: document.title, images, tables, text: document.body.innerText};
})()"""


def find_chromium() -> str | None:
    """The Chromium executable: $SENTINEL_CHROMIUM, else the first of CANDIDATES on PATH; None when absent."""
    env = os.environ.get("SENTINEL_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


class _Pipe:
    def __init__(self, proc, to_browser, from_browser):
        self.proc, self.out, self.inp = proc, to_browser, from_browser
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.inp], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.inp, 65536)
            if not chunk:
                raise RuntimeError(f"Chromium closed the pipe (exit {self.proc.poll()})")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events[i]
        while True:
            ev = self._read_message(deadline)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev


def open_page(path: str | Path, executable: str, timeout: float = 60) -> dict:
    """Load `path` in headless Chromium; return {"errors": [...], "images": [...], "tables": [...], "text": str}."""
    profile = tempfile.mkdtemp(prefix="sentinel-chromium-")
    r_cmd, w_cmd = os.pipe()  # we write commands -> Chromium reads them on fd 3
    r_ev, w_ev = os.pipe()  # Chromium writes replies on fd 4 -> we read them

    # Copies above any fd number the child could need, so moving them onto 3 and 4 never overwrites one with the
    # other; a fresh Python (no threads, unlike a preexec_fn in this process) moves them, then becomes Chromium.
    high_cmd, high_ev = fcntl.fcntl(r_cmd, fcntl.F_DUPFD_CLOEXEC, 100), fcntl.fcntl(w_ev, fcntl.F_DUPFD_CLOEXEC, 100)
    trampoline = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
                  "os.execv(sys.argv[3], sys.argv[3:])")
    args = [executable, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            f"--user-data-dir={profile}", "about:blank"]
    proc = subprocess.Popen([sys.executable, "-c", trampoline, str(high_cmd), str(high_ev), *args],
                            pass_fds=(high_cmd, high_ev), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for fd in (r_cmd, w_ev, high_cmd, high_ev):
        os.close(fd)
    pipe = _Pipe(proc, w_cmd, r_ev)
    try:
        target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
        session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            pipe.send(f"{domain}.enable", session=session)
        pipe.events.clear()
        pipe.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session=session)
        pipe.wait_for("Page.loadEventFired", timeout=timeout)
        result = pipe.send("Runtime.evaluate", {"expression": _INSPECT, "awaitPromise": True, "returnByValue": True},
                           session=session, timeout=timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page inspection failed: {result['exceptionDetails']}")
        page = result["result"]["value"]
        errors = []
        for ev in pipe.events:
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in
                                                      params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                errors.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:300])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        page["errors"] = errors
        with contextlib.suppress(RuntimeError, TimeoutError):
            pipe.send("Browser.close", timeout=10)
        return page
    finally:
        os.close(w_cmd)
        os.close(r_ev)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
