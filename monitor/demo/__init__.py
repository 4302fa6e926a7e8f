"""`newsmon demo`: bundled sample feeds and article pages, written by the newsmon developers
(fictional outlets, fictional events), served from a loopback web server."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import tomli_w

DATA = resources.files(__package__) / "data"
FEEDS = (
    ("frontier-ledger.xml", "The Frontier Ledger (demo)", "application/rss+xml"),
    ("kabul-wire.atom", "Kabul Wire (demo)", "application/atom+xml"),
)


def _read(kind: str, name: str) -> bytes | None:
    if "/" in name or name.startswith("."):
        return None
    item = DATA / kind / name
    return item.read_bytes() if item.is_file() else None


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "newsmon-demo"
    base = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = self.path.split("?")[0].strip("/").split("/")
        body = _read(parts[0], parts[1]) if len(parts) == 2 and parts[0] in ("feeds", "articles") else None
        if body is None:
            self.send_error(404)
            return
        body = body.replace(b"{{BASE}}", self.base.encode())
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        kind = {".xml": "application/rss+xml", ".atom": "application/atom+xml"}.get(Path(parts[1]).suffix,
                                                                                    "text/html; charset=utf-8")
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet: the demo prints alerts, not hits
        pass


@contextlib.contextmanager
def serve() -> Iterator[str]:
    """Serve the sample feeds and pages on 127.0.0.1 (a free port); yields the base URL."""
    handler = type("Handler", (_Handler,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    handler.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="newsmon-demo-http", daemon=True)
    thread.start()
    try:
        yield handler.base
    finally:
        server.shutdown()
        server.server_close()


def write_config(directory: Path, base: str) -> Path:
    """Write the demo's configuration and watchlist into `directory`; returns the config path."""
    (directory / "watchlist.toml").write_bytes((DATA / "watchlist.toml").read_bytes())
    settings = {
        "newsmon": {
            "state_dir": "state",
            "poll_interval": "15m",
            "include": ["watchlist.toml"],
            "allow_private_networks": ["127.0.0.0/8", "::1/128"],  # the demo's pages are on loopback
            "alert_max_age": "36500d",  # the sample items carry fixed dates; alert on them whenever it runs
        },
        "feeds": [
            {"url": f"{base}/feeds/{name}", "outlet": outlet, "alert_on_first_poll": True}
            for name, outlet, _kind in FEEDS
        ],
        "channels": {"console": {"urls": ["console://"]}},
    }
    path = directory / "config.toml"
    path.write_text("# Written by 'newsmon demo'.\n" + tomli_w.dumps(settings), encoding="utf-8")
    return path
