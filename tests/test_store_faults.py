"""The state database in trouble while `newsmon run` works (#15, Part B): a full filesystem, a
read-only one, the file deleted, its pages corrupted, its lock held by another process. Each
time newsmon says so in one line (no traceback), /healthz answers 503 naming it, nothing is sent
twice, and once the trouble clears newsmon goes on with nothing lost.

Real parts only: the daemon in a subprocess, a real tmpfs (or a loop-mounted ext4 image) as its
state directory, a real SQLite file, a real second process holding its lock, a loopback feed
and a loopback json:// receiver. Mounting needs root; without it those tests are skipped."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, free_port, run_newsmon, wait_for
from fixtures import RFC822, write_config

QUIET = {"guid": "wheat", "title": "Wheat prices ease in Kabul markets",
         "text": "Traders reported lower flour prices after new shipments arrived."}
# Three matching entries, unlike each other: three stories, three alerts.
FIRST = {"guid": "bannu", "title": "TTP fighters attack a checkpoint in Bannu district",
         "text": "The TTP claimed the overnight attack on the Bannu checkpoint; two guards were hurt."}
SECOND = {"guid": "miranshah", "title": "Supply convoy ambushed near Miranshah",
          "text": "Officials blamed the TTP for an ambush on a supply convoy on the road to Miranshah."}
THIRD = {"guid": "peshawar", "title": "Leaflets in Peshawar schools carry threats",
         "text": "Police said leaflets signed by the TTP were left at three schools in Peshawar."}


def rss(*items: dict) -> str:
    entries = "".join(f"<item><title>{item['title']}</title><guid isPermaLink=\"false\">{item['guid']}</guid>"
                      f"<pubDate>{RFC822}</pubDate><description>{item['text']}</description></item>"
                      for item in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Frontier Wire</title>{entries}</channel></rss>'


def publish(web, *items: dict) -> str:
    return web.add("/wire.xml", rss(*items), "application/rss+xml")


def hook_url(web) -> str:
    return f"json://127.0.0.1:{web.base.rsplit(':', 1)[1]}/hook"


def received(web, item: dict) -> int:
    """How many times the receiver accepted `item`'s alert."""
    return sum(post["title"].endswith(item["title"]) for post in web.json_posts("/hook"))


def in_flight(web, count: int = 1) -> bool:
    """Whether `count` alerts have reached the receiver (accepted or still being answered)."""
    return sum(method == "POST" and path == "/hook" for method, path, _ in list(web.requests)) >= count


class Daemon:
    """`newsmon run` in a subprocess, its log read as it is written."""

    def __init__(self, config: Path, port: int | None = None):
        self.config = config
        self.port = port
        self.process = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run"], cwd=ROOT,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def said(self, text: str, timeout: float = 15.0) -> bool:
        return wait_for(lambda: text in self.log, timeout=timeout)

    def errors(self) -> list[str]:
        return [line for line in self.lines if " ERROR " in line]

    def healthz(self) -> tuple[int | None, str, float]:
        """(status, body, seconds it took) of /healthz."""
        started = time.monotonic()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as response:
                status, body = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read().decode()
        except OSError as error:
            status, body = None, str(error)
        return status, body, time.monotonic() - started

    def stop(self, within: float = 20.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took to exit). Killed, and failed, past `within`."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"no stop within {within:.0f} s after SIGTERM:\n{self.log}") from None
        self.reader.join(timeout=5)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def running(config: Path, port: int | None = None):
    daemon = Daemon(config, port)
    try:
        yield daemon
    finally:
        daemon.kill()


def mount(*arguments: str) -> None:
    done = subprocess.run(["mount", *arguments], capture_output=True, text=True)
    if done.returncode:
        raise OSError(done.stderr.strip())


def unmount(path: Path) -> None:
    if subprocess.run(["umount", str(path)], capture_output=True).returncode:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path):
    """A 20 MB tmpfs at tmp_path/state (skipped where mounting is not allowed)."""
    state = tmp_path / "state"
    state.mkdir()
    try:
        mount("-t", "tmpfs", "-o", "size=20m,mode=0755", "tmpfs", str(state))
    except OSError as error:
        pytest.skip(f"cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): {error}")
    try:
        yield state
    finally:
        unmount(state)


def fill(directory: Path) -> Path:
    """Fill `directory`'s filesystem to the last page; returns the filler file."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096, 1):
            while True:
                try:
                    os.write(descriptor, b"\0" * size)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(descriptor)
    return filler


def alerts(config: Path) -> dict[str, str]:
    """{title: status} of every alert, from `newsmon alerts --json`."""
    listed = run_newsmon("--config", str(config), "alerts", "--json", timeout=30)
    assert listed.returncode == 0, listed.stderr
    return {row["title"]: row["status"] for row in json.loads(listed.stdout)["alerts"]}


def lines_naming(text: str, words: str) -> list[str]:
    return [line for line in text.splitlines() if words in line]


# ---------------------------------------------------------------- a full filesystem


def test_a_full_filesystem_sends_nothing_twice_says_so_once_and_loses_nothing(tmp_path, tmpfs, web):
    """An alert is in flight when the filesystem fills: the receiver takes it, its "sent" mark
    cannot be written. It is not sent again; the next alert is not sent at all (its "sending"
    mark cannot be written first); a new entry cannot be recorded. One ERROR line, /healthz
    503 naming the full filesystem, `status` saying so. Space freed: every alert arrives once."""
    publish(web, QUIET)
    web.add("/hook", "{}", "application/json", delay=1.5)  # the receiver takes its time: a send is in flight a while
    port = free_port()
    config = write_config(tmp_path, [{"url": f"{web.base}/wire.xml", "interval": "1s", "full_text": False}],
                          {"hook": [hook_url(web)]}, state_dir=str(tmpfs), http={"listen": f"127.0.0.1:{port}"})
    with running(config, port) as daemon:
        assert daemon.said("feed added", timeout=30), daemon.log
        publish(web, QUIET, FIRST, SECOND)
        assert wait_for(lambda: in_flight(web), timeout=15), daemon.log
        filler = fill(tmpfs)  # while the first alert is being answered
        assert daemon.said("full filesystem", timeout=10), daemon.log
        publish(web, QUIET, FIRST, SECOND, THIRD)  # a new entry while the disk is full
        health, during = [], time.monotonic() + 5
        while time.monotonic() < during:
            health.append(daemon.healthz())
            time.sleep(0.5)
        status = run_newsmon("--config", str(config), "status", timeout=30)
        assert (received(web, FIRST), received(web, SECOND), received(web, THIRD)) == (1, 0, 0)
        filler.unlink()
        assert daemon.said("state database recording again", timeout=15), daemon.log
        assert wait_for(lambda: received(web, SECOND) and received(web, THIRD), timeout=20), daemon.log
        time.sleep(1)  # nothing more comes
        after = daemon.healthz()
        code, _took = daemon.stop()
    assert code == 0, daemon.log
    assert (received(web, FIRST), received(web, SECOND), received(web, THIRD)) == (1, 1, 1)
    assert all(answer == 503 and "full filesystem" in body for answer, body, _took in health), health
    assert after[:2] == (200, "ok\n")
    assert "Traceback" not in daemon.log
    errors = daemon.errors()
    assert len(errors) == 1 and "full filesystem" in errors[0] and "nothing is lost" in errors[0], errors
    assert alerts(config) == {FIRST["title"]: "sent", SECOND["title"]: "sent", THIRD["title"]: "sent"}
    assert "alerts: 3 sent" in run_newsmon("--config", str(config), "status", timeout=30).stdout
    said = status.stdout + status.stderr
    assert len(lines_naming(said, "full filesystem")) == 1, said  # `status` says so, in one line


# ---------------------------------------------------------------- a filesystem turned read-only


@pytest.fixture
def ext4(tmp_path):
    """An ext4 filesystem in a 32 MB image, loop-mounted at tmp_path/state with
    errors=remount-ro: the kernel turns it read-only by itself on an error, as it does a disk's.
    (A read-only remount by hand is refused while newsmon has its database open for writing:
    "mount point is busy".) Yields (image, mount point); skipped where loop mounts are not allowed."""
    image, state = tmp_path / "state.img", tmp_path / "state"
    state.mkdir()
    with open(image, "wb") as handle:
        handle.truncate(32 << 20)
    try:
        made = subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], capture_output=True, text=True)
        if made.returncode:
            raise OSError(made.stderr.strip())
        mount("-o", "loop,errors=remount-ro", str(image), str(state))
    except OSError as error:
        pytest.skip(f"cannot make and loop-mount an ext4 image (needs mkfs.ext4 and root): {error}")
    try:
        yield image, state
    finally:
        unmount(state)


def turn_read_only(state: Path) -> None:
    """What ext4 does on a disk error with errors=remount-ro: every write fails from now on."""
    device = subprocess.run(["findmnt", "-no", "SOURCE", str(state)], capture_output=True, text=True).stdout.strip()
    trigger = Path("/sys/fs/ext4") / Path(device).name / "trigger_fs_error"
    if not trigger.exists():
        pytest.skip(f"{trigger} is missing: this kernel cannot be asked for an ext4 error")
    trigger.write_text("newsmon test\n")


def test_a_filesystem_turned_read_only_sends_nothing_twice_and_a_restart_on_it_says_so(tmp_path, ext4, web):
    """The disk turns read-only while an alert is in flight: one ERROR line naming it, /healthz
    503 naming it, nothing sent twice while it lasts. `newsmon run` on the read-only state says
    so in one line and exits 1. Mounted read-write again, newsmon goes on: every alert arrives,
    the one in flight at most twice (its "sent" mark went with the fault)."""
    image, state = ext4
    publish(web, QUIET)
    web.add("/hook", "{}", "application/json", delay=1.5)
    port = free_port()
    config = write_config(tmp_path, [{"url": f"{web.base}/wire.xml", "interval": "1s", "full_text": False}],
                          {"hook": [hook_url(web)]}, state_dir=str(state), http={"listen": f"127.0.0.1:{port}"})
    with running(config, port) as daemon:
        assert daemon.said("feed added", timeout=30), daemon.log
        publish(web, QUIET, FIRST, SECOND)
        assert wait_for(lambda: in_flight(web), timeout=15), daemon.log
        turn_read_only(state)
        assert daemon.said(" ERROR ", timeout=10), daemon.log
        publish(web, QUIET, FIRST, SECOND, THIRD)
        health, during = [], time.monotonic() + 4
        while time.monotonic() < during:
            health.append(daemon.healthz())
            time.sleep(0.5)
        status = run_newsmon("--config", str(config), "status", timeout=30)
        assert (received(web, FIRST), received(web, SECOND), received(web, THIRD)) == (1, 0, 0)
        _code, took = daemon.stop()
    assert took < 20, daemon.log  # systemd's TimeoutStopSec
    assert all(answer == 503 and "read-only" in body for answer, body, _took in health), health
    assert "Traceback" not in daemon.log
    errors = daemon.errors()
    assert len(errors) == 1 and "read-only" in errors[0], errors
    said = status.stdout + status.stderr
    assert len(lines_naming(said, "read-only")) == 1, said

    # the administrator checks the filesystem; newsmon started on it while it is still read-only says so
    unmount(state)
    subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True)
    mount("-o", "loop,ro", str(image), str(state))
    refused = run_newsmon("--config", str(config), "run", timeout=30)
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "read-only" in refused.stderr.lower(), refused.stderr
    status = run_newsmon("--config", str(config), "status", timeout=30)
    said = status.stdout + status.stderr
    assert "Traceback" not in said and len(lines_naming(said, "read-only")) == 1, said

    unmount(state)
    mount("-o", "loop", str(image), str(state))
    with running(config, port) as again:
        assert wait_for(lambda: received(web, SECOND) and received(web, THIRD), timeout=20), again.log
        code, _took = again.stop()
    assert code == 0 and "Traceback" not in again.log, again.log
    assert received(web, FIRST) <= 2 and (received(web, SECOND), received(web, THIRD)) == (1, 1)
    assert alerts(config) == {FIRST["title"]: "sent", SECOND["title"]: "sent", THIRD["title"]: "sent"}


# ---------------------------------------------------------------- the database deleted


def test_a_database_deleted_while_running_is_put_back_with_its_pending_alerts(tmp_path, web):
    """`rm newsmon.db*` while alerts wait for a channel that is down: the daemon puts the
    database back (it still has it open) and says so; what it records afterwards goes into the
    new file; after a restart every pending alert is still there."""
    publish(web, QUIET, FIRST, SECOND)
    config = write_config(tmp_path, [{"url": f"{web.base}/wire.xml", "interval": "1s", "full_text": False,
                                      "alert_on_first_poll": True}],
                          {"down": [f"json://127.0.0.1:{free_port()}/nobody"]})  # nothing listens there
    state = tmp_path / "state"
    with running(config) as daemon:
        assert daemon.said("channel failed", timeout=30), daemon.log
        for name in ("newsmon.db", "newsmon.db-wal", "newsmon.db-shm"):
            (state / name).unlink(missing_ok=True)
        publish(web, QUIET, FIRST, SECOND, THIRD)  # recorded while the file is gone, or after it is back
        assert daemon.said("is back at", timeout=15), daemon.log
        assert daemon.said(f"title={THIRD['title']!r}", timeout=15), daemon.log
        code, _took = daemon.stop()
    assert code == 0, daemon.log
    assert "putting it back" in daemon.log and "Traceback" not in daemon.log
    assert not any("read-only" in line for line in daemon.errors()), daemon.errors()  # deleted is not "read-only"
    assert alerts(config) == {FIRST["title"]: "pending", SECOND["title"]: "pending", THIRD["title"]: "pending"}
    with contextlib.closing(sqlite3.connect(state / "newsmon.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------- the database corrupted


def test_a_corrupted_database_is_unhealthy_and_said_once_with_the_repair(tmp_path, web):
    """Garbage over the pages that hold the entries and articles (a bad sector's worth) while
    the daemon runs: /healthz answers 503 naming the corruption for as long as it lasts (it
    used to answer 200: `SELECT 1` still works), and one ERROR line gives the repair. Writes
    that miss those pages (the heartbeat's) still succeed: they must not make newsmon say it
    "records again", then fail again, every few seconds."""
    publish(web, QUIET, FIRST)
    port = free_port()
    config = write_config(tmp_path, [{"url": f"{web.base}/wire.xml", "interval": "1s", "full_text": False}],
                          {"hook": [hook_url(web)]}, http={"listen": f"127.0.0.1:{port}"})
    path = tmp_path / "state" / "newsmon.db"
    with running(config, port) as daemon:
        assert daemon.said("feed added", timeout=30), daemon.log
        assert daemon.healthz()[:2] == (200, "ok\n")
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as db:
            assert db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0  # everything into the file itself
            pages = [row[0] for row in db.execute("SELECT rootpage FROM sqlite_schema WHERE tbl_name IN "
                                                  "('entries', 'articles') AND rootpage > 1")]
        with open(path, "r+b") as handle:
            for page in pages:
                handle.seek((page - 1) * 4096)
                handle.write(b"\xde\xad\xbe\xef" * 1024)
            os.fsync(handle.fileno())
        publish(web, QUIET, FIRST, SECOND)  # the next poll reads the entries
        assert wait_for(lambda: daemon.healthz()[0] == 503, timeout=10), daemon.log
        health, during = [], time.monotonic() + 7  # more than a heartbeat
        while time.monotonic() < during:
            health.append(daemon.healthz())
            time.sleep(0.5)
        _code, took = daemon.stop()
    assert took < 20, daemon.log
    assert all(answer == 503 and "corrupt" in body for answer, body, _took in health), health
    assert "Traceback" not in daemon.log
    errors = daemon.errors()
    assert len(errors) == 1 and "corrupt" in errors[0] and ".recover" in errors[0], errors
    assert "recording again" not in daemon.log, daemon.log


# ---------------------------------------------------------------- the lock held by another process

LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(60)
"""


@contextlib.contextmanager
def locked(path: Path):
    """Another process holds the database's write lock while this is entered (killed at the
    end, which lets go of the lock, as any process's death does)."""
    holder = subprocess.Popen([sys.executable, "-c", LOCKER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_held_by_another_process_stalls_nothing(tmp_path, web):
    """A second process holds the write lock: /healthz keeps answering at once, other feeds are
    still polled, a new entry waits and is recorded when the lock goes, its alert sent once; a
    SIGTERM while the lock is held is obeyed within systemd's 20 s."""
    publish(web, QUIET)
    web.add("/other.xml", rss({**QUIET, "guid": "other"}), "application/rss+xml")
    port = free_port()
    config = write_config(tmp_path, [{"url": f"{web.base}/wire.xml", "interval": "1s", "full_text": False},
                                     {"url": f"{web.base}/other.xml", "interval": "1s", "full_text": False}],
                          {"hook": [hook_url(web)]}, http={"listen": f"127.0.0.1:{port}"})
    path = tmp_path / "state" / "newsmon.db"
    with running(config, port) as daemon:
        assert wait_for(lambda: daemon.log.count("feed added") == 2, timeout=30), daemon.log
        with locked(path):
            publish(web, QUIET, FIRST)
            polled, health, until = web.gets("/other.xml"), [], time.monotonic() + 6
            while time.monotonic() < until:
                health.append(daemon.healthz())
                time.sleep(0.5)
            assert web.gets("/other.xml") >= polled + 3  # the other feed was polled on
            assert received(web, FIRST) == 0
        assert wait_for(lambda: received(web, FIRST), timeout=15), daemon.log
        with locked(path):
            time.sleep(1.5)  # writes are waiting for it
            code, took = daemon.stop()
    assert took < 20, daemon.log
    assert all(answer == 200 and took < 1 for answer, _body, took in health), health  # a lock is waited for, not a fault
    assert received(web, FIRST) == 1
    assert daemon.log.count(f"title={FIRST['title']!r}") == 1
    assert "Traceback" not in daemon.log

