"""A local group robot for push tests: an HTTP server on a free loopback port that records every
request (path, query, JSON body) and answers from a script: {"errcode": 0} by default, or an
error code, an HTTP status, or silence (a hang longer than the client's timeout)."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


@dataclass
class Robot:
    url: str
    requests: list[dict] = field(default_factory=list)
    script: list[tuple] = field(default_factory=list)   # answers in order, then ("ok",)

    def answer(self) -> tuple:
        return self.script.pop(0) if self.script else ("ok",)


@contextlib.contextmanager
def robot(path: str = "/cgi-bin/webhook/send?key=test-key",
          script: list[tuple] | None = None) -> Iterator[Robot]:
    """Serve a robot; ("ok",), ("errcode", n, msg), ("http", status), ("hang", seconds)."""
    state = Robot("", script=list(script or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parsed = urllib.parse.urlsplit(self.path)
            state.requests.append({"path": parsed.path, "query": urllib.parse.parse_qs(parsed.query),
                                   "content_type": self.headers.get("Content-Type"),
                                   "json": json.loads(body.decode("utf-8"))})
            kind, *rest = state.answer()
            if kind == "hang":
                time.sleep(rest[0])
                return
            if kind == "http":
                self.send_response(rest[0])
                self.end_headers()
                return
            code, message = (rest[0], rest[1]) if kind == "errcode" else (0, "ok")
            payload = json.dumps({"errcode": code, "errmsg": message}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def png(width: int = 40, height: int = 20, color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


class FakeRenderer:
    """Stands in for Chromium in tests that need images but not their looks: every chart is a
    small PNG (a distinct colour per chart), SVG and PDF are placeholders."""

    def __init__(self):
        self.calls = 0

    def image(self, fig, fmt: str, *, width: int, height: int, scale: float = 1) -> bytes:
        self.calls += 1
        if fmt == "png":
            return png(color=(self.calls * 20 % 255, 30, 30))
        return f"<{fmt} {self.calls}>".encode()

    def pdf(self, html: str, fit: str | None = None) -> bytes:
        self.calls += 1
        return b"%PDF-1.4 fake " + str(self.calls).encode()
