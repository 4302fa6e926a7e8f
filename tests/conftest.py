"""Real parts for tests: loopback HTTP servers for feeds, pages and webhooks, and a real SMTP
server (aiosmtpd). Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import http.server
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent


def corpus_dir() -> Path | None:
    """The shared test corpus named by NEWSMON_CORPUS, or None when unset or missing."""
    value = os.environ.get("NEWSMON_CORPUS")
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_dir() else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Route:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: bool = True
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow server)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs `cli.main` in-process points the root logger at its captured stdout;
    put the handlers back, so later tests do not write to a closed stream ("Logging error")."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)



class _QuietServer(http.server.ThreadingHTTPServer):
    """A client that hangs up before the whole answer is written (newsmon stops reading a body
    past its size cap, or a poll cancelled at stop) is normal for a server: not printed. Printed
    from the server's thread, it landed in whichever test was capturing stderr then."""

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class WebServer:
    """A loopback web server with a mutable routing table and a log of requests."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, headers)
        self.times: list[float] = []  # time.monotonic() of each of `requests`
        self.posts: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        server_self = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                with server_self.lock:
                    server_self.requests.append(("GET", self.path, dict(self.headers)))
                    server_self.times.append(time.monotonic())
                    route = server_self.routes.get(self.path)
                if route is None:
                    self._send(404, b"not found", "text/plain")
                    return
                if route.delay:
                    time.sleep(route.delay)
                tag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
                if route.etag and self.headers.get("If-None-Match") == tag:
                    self.send_response(304)
                    self.send_header("ETag", tag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                extra = dict(route.headers)
                if route.etag:
                    extra["ETag"] = tag
                self._send(route.status, route.body, route.content_type, extra)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with server_self.lock:
                    server_self.requests.append(("POST", self.path, dict(self.headers)))
                    server_self.times.append(time.monotonic())
                    route = server_self.routes.get(self.path)
                if route is not None and route.delay:
                    time.sleep(route.delay)
                with server_self.lock:
                    status = route.status if route else 200
                    if status < 400:
                        server_self.posts.append((self.path, body))
                self._send(status, b"{}", "application/json")

            def _send(self, status: int, body: bytes, kind: str, extra: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8", **options) -> str:
        if isinstance(body, str):
            body = body.replace("{BASE}", self.base).encode()
        self.routes[path] = Route(body, content_type, **options)
        return self.base + path

    def gets(self, path: str) -> int:
        return sum(1 for method, p, _ in self.requests if method == "GET" and p == path)

    def json_posts(self, path: str) -> list[dict]:
        return [json.loads(body) for p, body in self.posts if p == path]


@pytest.fixture
def web() -> Iterator[WebServer]:
    server = WebServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


class Mailbox:
    """A real SMTP server on loopback that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=newsmon@example.org&to=analyst@example.org"

    def texts(self) -> list[tuple[str, str]]:
        """(subject, plain-text body + html body) of every message."""
        out = []
        for message in self.messages:
            parts = [part.get_content() for part in message.walk() if part.get_content_type() in ("text/plain", "text/html")]
            out.append((str(message["Subject"]), "\n".join(parts)))
        return out


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.controller.start()
    yield box
    box.controller.stop()


def run_newsmon(*args: str, env: dict | None = None, timeout: float = 120):
    """Run the real command in a subprocess; returns the CompletedProcess."""
    import subprocess

    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=ROOT)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Clock:
    """A controllable clock for `App.clock`."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Harness:
    """One event loop for a test's whole life, as in the daemon (aiohttp sessions belong to it)."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()
        self.opened = []

    def open(self, path, clock):
        from monitor import app as app_module

        running = app_module.open_app(app_module.check(path), workers=1)
        running.clock = clock
        self.opened.append(running)
        return running

    def poll_all(self, running):
        """Poll every feed of `running` once, in order."""
        from monitor import pipeline

        async def go():
            return [await pipeline.poll(running, feed) for feed in running.config.feeds]
        return self.runner.run(go())

    def drain(self, running, **options):
        from monitor import pipeline

        return self.runner.run(pipeline.deliver(running, **options))

    def close_app(self, running) -> None:
        """Stop one app (as a daemon stops), e.g. to open its state again as after a restart."""
        self.opened.remove(running)
        self.runner.run(running.close())

    def close(self) -> None:
        for running in self.opened:
            self.runner.run(running.close())
        self.runner.close()


@pytest.fixture
def harness():
    made = Harness()
    yield made
    made.close()
