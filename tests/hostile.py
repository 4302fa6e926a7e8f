"""Servers that misbehave on purpose, hostile payloads, and a way to measure a run's memory.

Everything listens on loopback only (127.0.0.1, or ::1 where noted). The servers write raw
HTTP by hand, so that a test can stream a gzip bomb, drip a byte a second or never end a body,
and they count every accepted *connection*, not only complete requests: a test proving that
the address guard refuses before connecting asserts `connections == 0`.

Payloads are generated lazily: the 1 GB gzip bomb and the 50 MB feed are streamed, never
built in memory (the client gives up long before the end).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MB = 1000 * 1000


# ---------------------------------------------------------------- the server


@dataclass
class Exchange:
    """One request as a route sees it: the request line and headers, and the raw socket files."""

    method: str
    target: str  # as sent: a path, an absolute URL (a proxied request) or host:port (CONNECT)
    headers: http.client.HTTPMessage
    rfile: object
    wfile: object
    stop: threading.Event

    @property
    def path(self) -> str:
        if self.target.startswith(("http://", "https://")):
            rest = self.target.split("://", 1)[1]
            return "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        return self.target

    def head(self, status: int = 200, headers: dict | None = None, reason: str = "") -> None:
        lines = [f"HTTP/1.1 {status} {reason or http.client.responses.get(status, 'Status')}"]
        lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
        lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        self.wfile.flush()


Route = Callable[[Exchange], None]


class HostileServer:
    """A threaded loopback HTTP server whose routes are functions writing raw HTTP.

    `requests` logs (method, target, headers) of every request; `connections` counts every
    accepted connection, even one that never sent a request. One request per connection."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.fallback: Route | None = None  # for every path without a route (e.g. a proxy)
        self.requests: list[tuple[str, str, dict]] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with owner.lock:
                    owner.connections += 1
                try:
                    line = self.rfile.readline(65537).decode("latin-1").strip()
                    if not line:
                        return
                    method, target, _version = line.split(" ", 2)
                    headers = http.client.parse_headers(self.rfile)
                    with owner.lock:
                        owner.requests.append((method, target, dict(headers)))
                    exchange = Exchange(method, target, headers, self.rfile, self.wfile, owner.stopping)
                    route = owner.routes.get(exchange.path.split("?")[0]) or owner.fallback
                    if route is None:
                        exchange.head(404, {"Content-Type": "text/plain", "Content-Length": "9"})
                        self.wfile.write(b"not found")
                    else:
                        route(exchange)
                except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError, ValueError):
                    pass  # the client gave up: exactly what these routes are for

        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class Server(socketserver.ThreadingTCPServer):
            address_family = family
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server((host, port), Handler)
        self.port = self.server.server_address[1]
        self.host = host
        self.base = f"http://[{host}]:{self.port}" if family == socket.AF_INET6 else f"http://{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.base + path

    def gets(self, path: str) -> int:
        with self.lock:
            return sum(1 for method, target, _ in self.requests
                       if method == "GET" and (target == path or target.endswith(f":{self.port}{path}")))

    def start(self) -> HostileServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer().start()
    yield server
    server.stop()


# ---------------------------------------------------------------- routes


def static(body: bytes | str, content_type: str = "text/html; charset=utf-8", status: int = 200,
           headers: dict | None = None) -> Route:
    data = body.encode() if isinstance(body, str) else body

    def route(exchange: Exchange) -> None:
        exchange.head(status, {"Content-Type": content_type, "Content-Length": str(len(data)), **(headers or {})})
        exchange.wfile.write(data)
    return route


def redirect(location: str, status: int = 302) -> Route:
    def route(exchange: Exchange) -> None:
        exchange.head(status, {"Location": location, "Content-Length": "0"})
    return route


FEED_START = b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Hostile</title>\n'


def gzip_bomb(decoded: int = 1000 * MB, content_type: str = "application/rss+xml") -> Route:
    """`Content-Encoding: gzip`, about 1 MB on the wire that inflates to `decoded` bytes (an
    XML prologue, then spaces). Compressed a megabyte at a time as it is sent: neither side
    ever holds the whole thing."""
    def route(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": content_type, "Content-Encoding": "gzip"})  # ends at close
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
        exchange.wfile.write(compressor.compress(FEED_START))
        block = b" " * MB
        for _ in range(decoded // MB):
            if exchange.stop.is_set():
                return
            piece = compressor.compress(block)
            if piece:
                exchange.wfile.write(piece)
        exchange.wfile.write(compressor.flush())
    return route


def endless(content_type: str = "application/rss+xml", limit_seconds: float = 60.0) -> Route:
    """A feed that never ends: items as fast as the client takes them, no Content-Length
    (stops when the client hangs up, or after `limit_seconds` as a safety net)."""
    item = b"<item><title>More</title><description>" + b"x" * 200 + b"</description></item>\n"
    chunk = item * (65536 // len(item))

    def route(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": content_type})
        exchange.wfile.write(FEED_START)
        until = time.monotonic() + limit_seconds
        while time.monotonic() < until and not exchange.stop.is_set():
            exchange.wfile.write(chunk)
    return route


def drip(body: bytes, interval: float = 1.0, content_type: str = "application/rss+xml") -> Route:
    """An honest Content-Length, then one byte every `interval` seconds: every read succeeds
    in time, so only a total deadline ends it."""
    def route(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": content_type, "Content-Length": str(len(body))})
        for index in range(len(body)):
            if exchange.stop.wait(interval):
                return
            exchange.wfile.write(body[index:index + 1])
            exchange.wfile.flush()
    return route


def big_feed(size: int = 50 * MB, declare: bool = True) -> Route:
    """A well-formed feed of exactly `size` bytes, generated while it is sent."""
    item = b"<item><title>Filler</title><description>" + b"y" * 400 + b"</description></item>\n"
    end = b"</channel></rss>\n"

    def route(exchange: Exchange) -> None:
        exchange.head(200, {"Content-Type": "application/rss+xml", **({"Content-Length": str(size)} if declare else {})})
        exchange.wfile.write(FEED_START)
        left = size - len(FEED_START) - len(end)
        chunk = item * (65536 // len(item))
        while left > 0 and not exchange.stop.is_set():
            piece = chunk[:left] if left >= len(chunk) else b" " * left
            exchange.wfile.write(piece)
            left -= len(piece)
        exchange.wfile.write(end)
    return route


def forward_proxy(log: list[str]) -> Route:
    """A minimal HTTP forward proxy: records the absolute URL of every request (or the
    host:port of a CONNECT, which it refuses) and relays plain-HTTP GETs."""
    def route(exchange: Exchange) -> None:
        log.append(exchange.target)
        if exchange.method != "GET" or not exchange.target.startswith("http://"):
            exchange.head(405, {"Content-Length": "0"})
            return
        rest = exchange.target.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        upstream = http.client.HTTPConnection(host.strip("[]"), int(port or 80), timeout=10)
        try:
            upstream.request("GET", "/" + path, headers={"Accept": exchange.headers.get("Accept", "*/*")})
            reply = upstream.getresponse()
            body = reply.read()
        finally:
            upstream.close()
        kept = {key: value for key, value in reply.getheaders()
                if key.lower() in ("content-type", "etag", "last-modified", "location")}
        exchange.head(reply.status, {**kept, "Content-Length": str(len(body))})
        exchange.wfile.write(body)
    return route


# ---------------------------------------------------------------- payloads


def rss_feed(items: list[dict], title: str = "Hostile Herald", prologue: str = "") -> bytes:
    """A small RSS 2.0 feed; each item: title, link, summary and optional guid/author/date."""
    parts = []
    for item in items:
        extra = "".join(f"<{tag}>{item[key]}</{tag}>" for key, tag in
                        (("guid", "guid"), ("author", "author"), ("date", "pubDate")) if key in item)
        parts.append(f"<item><title>{item['title']}</title><link>{item['link']}</link>"
                     f"<description>{item['summary']}</description>{extra}</item>")
    return (f'<?xml version="1.0" encoding="utf-8"?>\n{prologue}<rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://hostile.example/</link>\n" + "\n".join(parts) + "\n</channel></rss>\n").encode()


def author_regex_feed(length: int = 96_000) -> bytes:
    """feedparser's e-mail regex in `_sync_author_detail` is quadratic on a long run of
    characters from `[a-zA-Z0-9_.+-]` with no `@`: 40 KB takes ~5 s, this ~100 KB feed ~30 s,
    holding the GIL in one `re.search`."""
    return rss_feed([{"title": "Quiet day", "link": "https://hostile.example/a", "summary": "Nothing.",
                      "author": "a" * length}])


def entity_feed(value_size: int = 60_000, references: int = 20_000) -> bytes:
    """A ~120 KB feed whose one entity declaration is "safe" by feedparser's rule (plain text)
    but referenced 20 000 times: expat refuses it (amplification limit), then feedparser's
    loose parser expands every reference: 1.2 GB in one string join, more after."""
    prologue = f'<!DOCTYPE rss [\n<!ENTITY boom "{"x" * value_size}">\n]>\n'
    return rss_feed([{"title": "Expansion", "link": "https://hostile.example/b", "summary": "&boom;" * references}],
                    prologue=prologue)


def repeated_paragraphs_page(size: int = 4_500_000) -> bytes:
    """An article page of one linked paragraph repeated to `size` bytes. trafilatura's cost on
    it grows faster than linearly (about 10 s for 4 MB on the reference machine)."""
    paragraph = ("<p>Officials said the <a href='/more'>situation</a> remained tense through the evening "
                 "and roads were closed.</p>\n")
    body = paragraph * (size // len(paragraph))
    return (f"<!doctype html><html><head><title>Repeated</title></head><body><article>"
            f"<h1>Repeated</h1>{body}</article></body></html>").encode()


HTML_NOT_A_FEED = b"""<!doctype html><html><head><title>Welcome to our homepage</title></head>
<body><h1>Latest news</h1><p>Our feed has moved. Please visit the homepage for updates.</p>
<ul><li><a href="/a">A story</a></li><li><a href="/b">Another story</a></li></ul></body></html>"""


# ---------------------------------------------------------------- measuring a run


_MEASURE = r"""
import ctypes, json, os, resource, signal, subprocess, sys, time
# Become a child subreaper: when newsmon exits, its orphaned descendants (the forkserver and
# any worker it had not reaped) are re-parented to this process instead of init, so every
# process of the run is waited for by someone in the chain and RUSAGE_CHILDREN's ru_maxrss is
# the peak resident size of the largest of them.
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER) failed: errno {ctypes.get_errno()}")
out, timeout = sys.argv[1], float(sys.argv[2])
started = time.monotonic()
child = subprocess.Popen(sys.argv[3:])
try:
    code = child.wait(timeout)
except subprocess.TimeoutExpired:
    child.kill()
    child.wait()
    code = "timeout"
elapsed = time.monotonic() - started
deadline = time.monotonic() + 15
while True:
    try:
        pid, _status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == 0:
        if time.monotonic() > deadline:
            for task in os.listdir("/proc/self/task"):
                for stray in open(f"/proc/self/task/{task}/children").read().split():
                    os.kill(int(stray), signal.SIGKILL)
        time.sleep(0.02)
with open(out, "w") as handle:
    json.dump({"code": code, "elapsed": elapsed,
               "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}, handle)
"""


@dataclass
class MeasuredRun:
    returncode: int | str
    stdout: str
    stderr: str
    elapsed: float  # seconds, the newsmon command alone
    peak_rss: int  # bytes: the largest peak resident set of any process of the run


def run_measured(*args: str, timeout: float = 120) -> MeasuredRun:
    """Run `python -m monitor ARGS` and measure the peak memory of every process it started
    (main process, forkserver, sandbox workers, killed ones included)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        report = handle.name
    try:
        done = subprocess.run([sys.executable, "-c", _MEASURE, report, str(timeout), sys.executable, "-m", "monitor",
                               *args], capture_output=True, text=True, timeout=timeout + 30, cwd=ROOT,
                              env=dict(os.environ))
        with open(report) as handle:
            result = json.load(handle)
    finally:
        os.unlink(report)
    return MeasuredRun(result["code"], done.stdout, done.stderr, result["elapsed"], result["peak_kb"] * 1024)


# ---------------------------------------------------------------- small helpers


@dataclass
class StubResolver:
    """Stands in for aiohttp's resolver inside `GuardedResolver`: answers every name with
    `addresses` and never touches the network."""

    addresses: list[str]
    asked: list[str] = field(default_factory=list)

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict]:
        self.asked.append(host)
        return [{"hostname": host, "host": address, "port": port,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET, "proto": 0, "flags": 0}
                for address in self.addresses]

    async def close(self) -> None:
        pass


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def nap(seconds: float, value: object = None) -> object:
    """A sandbox task that takes `seconds` of wall time (importable by the workers)."""
    time.sleep(seconds)
    return value


def stamp_after(seconds: float) -> float:
    """A sandbox task that sleeps `seconds` and returns when it ended (for 0: when it started)."""
    time.sleep(seconds)
    return time.time()


def spin(seconds: float) -> int:
    """A sandbox task that burns CPU for `seconds` (holds the worker's GIL throughout)."""
    until = time.monotonic() + seconds
    count = 0
    while time.monotonic() < until:
        count += 1
    return count


def die(code: int = 1) -> None:
    """A sandbox task whose process dies outright (as a hard crash in C code would)."""
    os._exit(code)


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (Linux /proc), children first."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                children = [int(child) for child in handle.read().split()]
        except OSError:
            continue
        for child in children:
            found.append(child)
            found.extend(descendants(child))
    return found


def running(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
