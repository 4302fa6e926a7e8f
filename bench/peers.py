"""The tools newsmon is measured against, and what every tool of the side-by-side runs needs:
a configuration in a fresh directory, the command of each phase, and what it recorded.

- rss2email 3.13 (Debian's `rss2email`, `/usr/bin/r2e`, Debian's python3): its own config file
  and data file (`r2e -c CONFIG -d DATA`), one `[feed.fN]` section per feed, default settings
  except the transport: SMTP to the harness's loopback sink. Cold: `r2e run --no-send` (the
  entries are recorded as seen, nothing is mailed); then `r2e run`, which mails every new entry.
- feed2exec 0.19 (Debian's `feed2exec`): its own ini file and database (`--config`,
  `--database`), one section per feed with its default output plugin, `maildir` (every new
  item written as a mail into a local Maildir: it has no SMTP output). Cold: `fetch --catchup`
  (items recorded, the plugin told to do nothing permanent); then `fetch`.
- newsmon: `python -m monitor --config X run --once`, the demo watchlist, a `mailto://` channel
  to the loopback sink, feeds with `alert_on_first_poll = false` (cold: recorded, no alerts)
  and `full_text = false` (feed only) or the default (full text).

Both peers poll one feed at a time (feed2exec without `--parallel`, as it runs by default) and
never fetch article pages.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import threading
import tomllib
from pathlib import Path

import tomli_w

from bench import scenarios

R2E = "/usr/bin/r2e"
FEED2EXEC = "/usr/bin/feed2exec"
INSTALL = "sudo apt-get install -y rss2email feed2exec"
TOKEN = re.compile(r"/n/\d+/([0-9a-f]+-[0-9a-f]+)")  # a published entry's link, as bench.farm writes it
TOOLS = ("rss2email", "feed2exec", "newsmon feed-only", "newsmon full text")


def missing() -> list[str]:
    """The peers' commands that are not installed."""
    return [path for path in (R2E, FEED2EXEC) if not os.access(path, os.X_OK)]


def versions() -> dict[str, str]:
    """Debian package versions of the peers and of the libraries they run on."""
    out = {}
    for package in ("rss2email", "feed2exec", "python3-feedparser", "python3-html2text", "python3"):
        try:
            out[package] = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True,
                                          text=True, check=False, timeout=10).stdout.strip() or "not installed"
        except OSError:
            out[package] = "unknown"
    return out


class SmtpSink:
    """An SMTP server on 127.0.0.1 (aiosmtpd, a thread of the harness, so never counted as a
    tool's CPU) that counts messages and the published entries they name."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.lock = threading.Lock()
        self.messages = 0
        self.tokens: set[str] = set()
        with socket.socket() as probe:  # aiosmtpd cannot listen on port 0 and say which port it got
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        text = raw.decode("utf-8", "replace")
        try:  # the decoded parts: a body may be base64 or quoted-printable
            message = email.message_from_bytes(raw, policy=email.policy.default)
            text += "\n".join(str(part.get_content()) for part in message.walk()
                              if part.get_content_maintype() == "text")
        except Exception:  # noqa: BLE001 (the raw text is still searched)
            pass
        with self.lock:
            self.messages += 1
            self.tokens.update(TOKEN.findall(text))
        return "250 OK"

    def take(self) -> tuple[int, set[str]]:
        """Messages and tokens since the last call."""
        with self.lock:
            out = (self.messages, self.tokens)
            self.messages, self.tokens = 0, set()
        return out

    def stop(self) -> None:
        self.controller.stop()


def peer_env(home: Path) -> dict[str, str]:
    """Debian's python3 with nothing of ours: no virtualenv, no PYTHONPATH, a home of its own."""
    env = {key: value for key, value in os.environ.items()
           if "proxy" not in key.lower() and key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(home / ".cache"), LANG="C.UTF-8")
    return env


class Tool:
    """One tool set up in `directory` for `urls`; `command(phase)` runs it, `recorded()` says
    how many entries its state knows, `mailed()` how many mails it wrote outside the sink."""

    name = ""

    def __init__(self, directory: Path, urls: list[str], smtp_port: int):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        self.directory = directory
        self.urls = urls
        self.smtp_port = smtp_port
        self.setup()

    def setup(self) -> None:
        raise NotImplementedError

    def command(self, phase: str) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return peer_env(self.directory)

    def recorded(self) -> int:
        raise NotImplementedError

    def mailed(self) -> int | None:
        return None  # mails go to the SMTP sink


class Rss2email(Tool):
    name = "rss2email"

    def setup(self) -> None:
        lines = ["[DEFAULT]", "to = analyst@example.org", "from = rss2email@example.org", "email-protocol = smtp",
                 f"smtp-server = 127.0.0.1:{self.smtp_port}", "smtp-auth = False", "smtp-ssl = False", ""]
        for number, url in enumerate(self.urls):
            lines += [f"[feed.f{number}]", f"url = {url}", ""]
        (self.directory / "rss2email.cfg").write_text("\n".join(lines), encoding="utf-8")

    def command(self, phase: str) -> list[str]:
        return [R2E, "-c", str(self.directory / "rss2email.cfg"), "-d", str(self.directory / "rss2email.json"),
                "run", *(["--no-send"] if phase == "cold" else [])]

    def recorded(self) -> int:
        data = json.loads((self.directory / "rss2email.json").read_text(encoding="utf-8"))
        return sum(len(feed.get("seen") or {}) for feed in data["feeds"])


class Feed2exec(Tool):
    name = "feed2exec"

    def setup(self) -> None:
        lines = []
        for number, url in enumerate(self.urls):
            lines += [f"[f{number}]", f"url = {url}", "output = feed2exec.plugins.maildir", f"mailbox = {self.directory / 'Maildir'}",
                      "folder = feeds", "args = analyst@example.org", ""]
        (self.directory / "feed2exec.ini").write_text("\n".join(lines), encoding="utf-8")

    def command(self, phase: str) -> list[str]:
        return [FEED2EXEC, "--config", str(self.directory / "feed2exec.ini"), "--database",
                str(self.directory / "feed2exec.db"), "fetch", *(["--catchup"] if phase == "cold" else [])]

    def recorded(self) -> int:
        with sqlite3.connect(self.directory / "feed2exec.db") as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            table = "feedcache" if "feedcache" in tables else sorted(t for t in tables if "cache" in t)[0]
            return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def mailed(self) -> int:
        folder = self.directory / "Maildir" / "feeds" / "new"
        return len(list(folder.iterdir())) if folder.is_dir() else 0


class Newsmon(Tool):
    full_text = False

    @property
    def name(self) -> str:  # type: ignore[override]
        return "newsmon full text" if self.full_text else "newsmon feed-only"

    def setup(self) -> None:
        watchlist = tomllib.loads(scenarios.WATCHLIST.read_text(encoding="utf-8"))
        feeds = [{"url": url, "alert_on_first_poll": False, **({} if self.full_text else {"full_text": False})}
                 for url in self.urls]
        mail = f"mailto://127.0.0.1:{self.smtp_port}?from=newsmon@example.org&to=analyst@example.org"
        document = {"newsmon": {"state_dir": "state", "include": [], "allow_private_networks": ["127.0.0.0/8"]},
                    "feeds": feeds, "channels": {"mail": {"urls": [mail]}}, **watchlist}
        (self.directory / "config.toml").write_text(tomli_w.dumps(document), encoding="utf-8")

    def command(self, phase: str) -> list[str]:
        return scenarios.NEWSMON + ["--config", str(self.directory / "config.toml"), "run", "--once"]

    def env(self) -> dict[str, str]:
        return scenarios.clean_env()

    def recorded(self) -> int:
        with sqlite3.connect(self.directory / "state" / "newsmon.db") as db:
            return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]

    def articles(self) -> int:
        with sqlite3.connect(self.directory / "state" / "newsmon.db") as db:
            return db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]

    def stories_of(self, tokens: list[str]) -> tuple[int, int, int]:
        """Of the published entries named by `tokens` (their links end in the token): how many
        were recorded, in how many stories, and how many of those stories have a sent alert.
        With full text, entries whose pages report one incident join one story, which alerts
        once: that is the join working, not an entry lost."""
        with sqlite3.connect(self.directory / "state" / "newsmon.db") as db:
            stories = {}
            for token in tokens:
                row = db.execute("SELECT story_id FROM articles WHERE url LIKE ?", (f"%/n/%/{token}",)).fetchone()
                if row is not None:
                    stories[token] = row[0]
            alerted = {story for (story,) in db.execute("SELECT DISTINCT story_id FROM alerts WHERE status = 'sent'")}
        return len(stories), len(set(stories.values())), len(set(stories.values()) & alerted)


class NewsmonFullText(Newsmon):
    full_text = True


def make(name: str, directory: Path, urls: list[str], smtp_port: int) -> Tool:
    kinds = {"rss2email": Rss2email, "feed2exec": Feed2exec, "newsmon feed-only": Newsmon,
             "newsmon full text": NewsmonFullText}
    return kinds[name](directory, urls, smtp_port)
