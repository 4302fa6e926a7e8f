"""`kill -9` at random moments while the daemon polls and delivers to a slow receiver: no due
alert is lost, at most one is sent twice per kill, and the database stays intact.

A real daemon in a subprocess, a real feed that grows by one matching entry per cycle, and a
real json:// receiver that takes its time over every alert."""

from __future__ import annotations

import collections
import random
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import ROOT, wait_for
from fixtures import RFC822, write_config

WORDS = ("checkpoint convoy district bazaar bridge garrison valley pass highway market tribal council border "
         "village outpost camp station compound mosque school clinic road river hill ridge fort depot tunnel "
         "ambush raid patrol curfew siege drone rocket mortar sniper blast claim statement militants officials "
         "police soldiers elders residents witnesses spokesman commander governor minister").split()


def entry(number: int, rng: random.Random) -> tuple[str, str]:
    """A matching entry unlike every other (no two join one story)."""
    words = rng.sample(WORDS, 9)
    title = f"Report {number:02d}: TTP {' '.join(words[:5])}"
    return title, f"The TTP was named in a report about {' '.join(words[4:])} in case {number}."


def feed(items: list[tuple[str, str]]) -> str:
    entries = "".join(f"<item><title>{title}</title><guid isPermaLink=\"false\">crash-{index}</guid>"
                      f"<pubDate>{RFC822}</pubDate><description>{text}</description></item>"
                      for index, (title, text) in enumerate(items))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Crash Wire</title>{entries}</channel></rss>'


def start(path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "run"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_kill_9_at_random_moments_loses_nothing_and_duplicates_at_most_one_per_kill(tmp_path, web):
    rng = random.Random(20261124)
    items: list[tuple[str, str]] = []
    web.add("/crash.xml", feed(items), "application/rss+xml")
    web.add("/slow", "{}", "application/json", delay=0.25)
    port = web.base.rsplit(":", 1)[1]
    path = write_config(tmp_path, [{"url": f"{web.base}/crash.xml", "alert_on_first_poll": True, "full_text": False,
                                    "interval": "1s"}], {"hook": [f"json://127.0.0.1:{port}/slow"]})
    process = start(path)
    kills = 0
    logs = []
    try:
        for cycle in range(36):
            items.append(entry(cycle, rng))
            web.add("/crash.xml", feed(items), "application/rss+xml")
            time.sleep(rng.uniform(0.2, 1.2))
            if rng.random() < 0.3:
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=10)
                logs.append(process.stderr.read())
                kills += 1
                process = start(path)
        titles = [title for title, _ in items]
        delivered = lambda: {post["title"].removeprefix("[ttp-activity] ") for post in web.json_posts("/slow")}
        assert wait_for(lambda: set(titles) <= delivered(), timeout=90), (
            f"never delivered: {sorted(set(titles) - delivered())}")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        logs.append(process.stderr.read())
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert kills >= 5, "the seed should kill the daemon several times"
    counts = collections.Counter(post["title"] for post in web.json_posts("/slow"))
    duplicates = sum(count - 1 for count in counts.values())
    assert len(counts) == len(items) == 36
    assert duplicates <= kills, f"{duplicates} duplicates for {kills} kills: {counts.most_common(5)}"
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall() == [("sent", 36)]
    assert not any("Traceback" in log for log in logs), "\n".join(logs)


FORKSERVER_LEFT = """
import multiprocessing, socket, sys, time
from multiprocessing import forkserver
if sys.argv[1] == "quiet":
    multiprocessing.get_context("forkserver").set_forkserver_preload(["monitor.forkserver_hook"])
forkserver.ensure_running()
pid = forkserver._forkserver._forkserver_pid
client = socket.socket(socket.AF_UNIX)
client.connect(forkserver._forkserver._forkserver_address)
client.close()  # a request begun and never finished, as when newsmon is killed while asking for a worker
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        done, _status = __import__("os").waitpid(pid, __import__("os").WNOHANG)
    except ChildProcessError:
        break
    if done:
        break
    time.sleep(0.05)
"""


def test_a_forkserver_left_mid_request_by_a_killed_newsmon_exits_without_a_traceback():
    """What the kill -9 test met at random: the sandbox's forkserver, its newsmon killed while
    asking it for a worker, used to print the standard library's EOFError traceback into the
    log. With newsmon's preload it exits quietly; without it (the control) the traceback shows."""
    runs = {mode: subprocess.run([sys.executable, "-c", FORKSERVER_LEFT, mode], capture_output=True, text=True,
                                 timeout=60, cwd=ROOT) for mode in ("quiet", "default")}
    assert "EOFError" in runs["default"].stderr  # the control: the stdlib's forkserver says it
    assert runs["quiet"].stderr == ""
