"""A real headless Chromium for the tests, driven over the DevTools protocol on a pipe (fds 3/4, stdlib only):
load a page, evaluate JavaScript in it and take a screenshot."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

from conftest import skip_unless_ci


def chromium_binary() -> str:
    """Debian's chromium (``apt-get install chromium``); skipped when absent, except in CI."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    skip_unless_ci("no chromium on PATH: install Debian's chromium (apt-get install -y chromium)")


class Browser:
    """One headless Chromium with one page of ``width`` x ``height`` CSS pixels."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 2000, timeout: float = 60.0):
        self.timeout, self.next_id, self.buffer = timeout, 0, b""
        binary = chromium_binary()
        to_child, from_parent = os.pipe()
        from_child, to_parent = os.pipe()
        # Keep the pipe ends away from 3 and 4, which the child gets by dup2 below.
        child_in, child_out = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child, to_parent))
        self.write_fd, self.read_fd = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (from_parent, from_child))
        for fd in (to_child, from_parent, from_child, to_parent):
            os.close(fd)

        def wire():
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--no-first-run", "--no-default-browser-check", "--remote-debugging-pipe",
                f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"]
        self.process = subprocess.Popen(args, preexec_fn=wire, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(child_in)
        os.close(child_out)
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, page=True)

    def _message(self) -> dict:
        deadline = time.time() + self.timeout
        while b"\0" not in self.buffer:
            ready, _, _ = select.select([self.read_fd], [], [], max(0.0, deadline - time.time()))
            chunk = os.read(self.read_fd, 1 << 20) if ready else b""
            if not chunk:
                error = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None else ""
                raise RuntimeError(f"chromium did not answer within {self.timeout} s {error[-2000:]}")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, page: bool = False) -> dict:
        """Send one DevTools command (to the page's session when ``page``) and return its result."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if page:
            message["sessionId"] = self.session
        os.write(self.write_fd, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._message()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, page=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def load(self, path: Path) -> None:
        """Open a local file and wait until it and all its images have loaded."""
        self.call("Page.navigate", {"url": path.resolve().as_uri()}, page=True)
        deadline = time.time() + self.timeout
        ready = "document.readyState === 'complete' && [...document.images].every(i => i.complete)"
        while not self.evaluate(f"document.URL === {json.dumps(path.resolve().as_uri())} && {ready}"):
            if time.time() > deadline:
                raise RuntimeError(f"{path} did not finish loading within {self.timeout} s")
            time.sleep(0.1)

    def screenshot(self, out: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"}, page=True)["data"]
        out.write_bytes(base64.b64decode(data))
        return out

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except RuntimeError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process.stderr.close()
        os.close(self.write_fd)
        os.close(self.read_fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# What a test asks the page: the tables by class, and every image with whether it decoded and its natural size.
PAGE_FACTS = """JSON.stringify({
  results: document.querySelectorAll('table.results').length,
  claims: document.querySelectorAll('table.claims').length,
  sections: [...document.querySelectorAll('section')].map(s => s.id),
  images: [...document.images].map(i => ({complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
                                          alt: i.alt})),
  verdicts: Object.fromEntries(['holds', 'fails', 'noise', 'na'].map(
      c => [c, document.querySelectorAll('span.verdict.' + c).length])),
  height: document.documentElement.scrollHeight,
})"""


def page_facts(browser: Browser) -> dict:
    return json.loads(browser.evaluate(PAGE_FACTS))
