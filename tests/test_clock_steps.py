"""The wall clock steps (#15, A4): set back by hand, corrected by NTP, or three days ahead
after a VM resumes. Polls keep their pace, /healthz stays healthy, and a jump ahead alone
kills no alert; dead letters still come when delivery really keeps failing.

Real `newsmon` processes under libfaketime, whose offset a file holds and the test rewrites
while they run; monotonic time stays real (so asyncio's timers keep working). Loopback feeds
and json:// receivers."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from conftest import ROOT, free_port, run_newsmon, wait_for
from fixtures import COURIER_ITEMS, publish, write_config

from monitor import times

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
pytestmark = pytest.mark.skipif(not FAKETIME.exists(),
                                reason=f"libfaketime is not installed ({FAKETIME}; Debian package 'faketime')")

INTERVAL = 2.0  # the feeds' poll interval: any duration above zero is accepted
TICK = 5.0  # how often the daemon looks for a step (daemon.TICK)
DAY = 86400


STEPPED = re.compile(r"wall clock stepped by ([+-]\d+)s: schedules and waits moved with it")


def said_step(log: str, seconds: int) -> bool:
    """Whether the daemon said it noticed a wall-clock step of `seconds`, to within 2 s: the
    host's own clock discipline moves the wall clock too while a test's step is applied (this
    machine's was seen slewing 5 ms a second, and a CI run once read the 3-day step other than
    to the second)."""
    return any(abs(int(found) - seconds) <= 2 for found in STEPPED.findall(log))


class FakeClock:
    """The wall-clock offset, in seconds, of every process started with `env()`."""

    def __init__(self, directory: Path):
        self.path = directory / "faketime"
        self.set(0)

    def set(self, offset: int) -> None:
        fresh = self.path.with_name("faketime.new")
        fresh.write_text(f"{offset:+d}\n")
        os.replace(fresh, self.path)  # never a half-written offset

    def env(self) -> dict[str, str]:
        return {"LD_PRELOAD": str(FAKETIME), "FAKETIME_TIMESTAMP_FILE": str(self.path), "FAKETIME_NO_CACHE": "1",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


class Daemon:
    """`newsmon run` in a subprocess, its log in a file the test reads as it grows."""

    def __init__(self, config: Path, env: dict[str, str]):
        self.log = config.parent / "newsmon.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(config), "run"], cwd=ROOT,
                                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=log)

    def said(self, text: str) -> bool:
        return text in self.log.read_text()

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        return code, self.log.read_text()


class Watch:
    """Samples in a thread: every 50 ms, when each GET of `path` arrived (monotonic time); with
    `health`, every 200 ms from the first GET on, what /healthz answered."""

    def __init__(self, web, path: str, health: str | None = None):
        self.web, self.path, self.health = web, path, health
        self.arrivals: list[float] = []
        self.answers: list[int | None] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        seen, turn = 0, 0
        while not self.done.wait(0.05):
            count = self.web.gets(self.path)
            self.arrivals += [time.monotonic()] * (count - seen)
            seen, turn = count, turn + 1
            if self.health and count and turn % 4 == 0:
                self.answers.append(status_of(self.health))

    def since(self, moment: float) -> list[float]:
        return [at for at in self.arrivals if at > moment]

    def close(self) -> None:
        self.done.set()
        self.thread.join()


def status_of(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def scheduler_tick(metrics: str) -> float:
    """The (faked) wall-clock time of the scheduler's last tick, from /metrics."""
    with urllib.request.urlopen(metrics, timeout=2) as response:
        text = response.read().decode()
    return float(re.search(r"^newsmon_last_scheduler_tick_timestamp_seconds (\S+)$", text, re.M).group(1))


class Receiver:
    """A json:// receiver on a chosen loopback port, started only when asked: until then the
    port is closed and deliveries to it fail (connection refused)."""

    def __init__(self, port: int):
        self.port, self.posts, self.server = port, [], None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        posts = self.posts

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                posts.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def alerts(path: Path) -> list[dict]:
    listed = run_newsmon("--config", str(path), "alerts", "--json", timeout=30)
    assert listed.returncode == 0, listed.stderr
    return json.loads(listed.stdout)["alerts"]


def status(path: Path) -> dict:
    shown = run_newsmon("--config", str(path), "status", "--json", timeout=30)
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def moment(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def run_once(path: Path, clock: FakeClock) -> str:
    result = run_newsmon("--config", str(path), "run", "--once", env=clock.env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Invalid argument" not in result.stderr, result.stderr
    return result.stderr


def faketime_works(clock: FakeClock) -> None:
    """The preload really moves the clock of a child process (else every test here proves nothing)."""
    clock.set(-DAY)
    probe = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], capture_output=True, text=True,
                           env={**os.environ, **clock.env()}, timeout=30)
    clock.set(0)
    assert probe.returncode == 0 and abs(float(probe.stdout) - (time.time() - DAY)) < 60, probe.stdout + probe.stderr


# ---------------------------------------------------------------- a daemon whose clock steps


def test_a_step_back_then_its_correction_keep_polls_on_pace_and_healthz_healthy(tmp_path, web):
    clock = FakeClock(tmp_path)
    faketime_works(clock)
    courier, _dispatch = publish(web)
    port = free_port()
    hook = web.base.replace("http://", "json://") + "/hook"
    path = write_config(tmp_path, [{"url": courier, "interval": f"{INTERVAL:g}s"}], {"hook": [hook]},
                        http={"listen": f"127.0.0.1:{port}"})
    daemon = Daemon(path, clock.env())
    watch = Watch(web, "/courier/rss.xml", health=f"http://127.0.0.1:{port}/healthz")
    metrics = f"http://127.0.0.1:{port}/metrics"
    try:
        assert wait_for(lambda: len(watch.arrivals) >= 2 and watch.answers[-1:] == [200] and scheduler_tick(metrics),
                        timeout=30), daemon.log.read_text()
        before = scheduler_tick(metrics)

        clock.set(-600)  # ten minutes back
        stepped = time.monotonic()
        # polled on within an interval of the step being noticed (the daemon looks every TICK); the
        # first poll after the step may have been under way before it
        assert wait_for(lambda: len(watch.since(stepped)) >= 2, timeout=TICK + 2 * INTERVAL * 1.1 + 2.5), \
            f"polls since the step: {watch.since(stepped)}\n{daemon.log.read_text()}"
        assert said_step(daemon.log.read_text(), -600), daemon.log.read_text()
        # the scheduler's tick (what /healthz looks at) runs on the new clock: no 503 once 30 s have gone by
        assert wait_for(lambda: scheduler_tick(metrics) < before - 500, timeout=TICK + 3)
        assert wait_for(lambda: len(watch.since(stepped)) >= 4, timeout=2 * INTERVAL * 1.1 + 2.5)

        clock.set(0)  # corrected: ten minutes forward
        corrected = time.monotonic()
        assert wait_for(lambda: said_step(daemon.log.read_text(), 600), timeout=TICK + 3), daemon.log.read_text()
        noticed = time.monotonic()
        time.sleep(3 * INTERVAL)
        after = watch.since(corrected)
        assert watch.since(noticed), f"no poll since the correction was noticed (polls since it: {after})"
        # on pace, not a burst of the runs the ten minutes "missed": APScheduler coalesces them into one
        # run, whose successor may follow it within the interval; then one poll per interval
        gaps = [later - earlier for earlier, later in zip(after, after[1:])]
        assert len(after) <= (time.monotonic() - corrected) / INTERVAL + 2, gaps
        assert sum(gap < INTERVAL / 2 for gap in gaps) <= 1, gaps
        assert wait_for(lambda: scheduler_tick(metrics) > before, timeout=TICK + 3)
    finally:
        watch.close()
        code, log = daemon.stop()
    assert code == 0, log
    assert len(watch.answers) > 40 and set(watch.answers) == {200}, watch.answers
    assert "Traceback" not in log and "Invalid argument" not in log, log


def test_a_jump_of_three_days_while_the_channel_is_down_kills_no_alert(tmp_path, web):
    clock = FakeClock(tmp_path)
    courier, _dispatch = publish(web, courier_items=COURIER_ITEMS[:1])
    receiver = Receiver(free_port())  # nothing listens there: the channel is down
    path = write_config(tmp_path, [{"url": courier, "interval": f"{INTERVAL:g}s", "alert_on_first_poll": True}],
                        {"hook": [receiver.url]})
    daemon = Daemon(path, clock.env())
    try:
        assert wait_for(lambda: daemon.said("channel failed channel=hook attempt=1"), timeout=30), daemon.log.read_text()

        clock.set(3 * DAY)
        # a new article: its alert kicks an outbox round, which looks for expired alerts first
        # (whether the daemon has noticed the step by then or not)
        publish(web, courier_items=COURIER_ITEMS)
        assert wait_for(lambda: daemon.log.read_text().count("match rule=ttp-activity") == 2, timeout=10), \
            daemon.log.read_text()
        wait_for(lambda: daemon.said("wall clock stepped"), timeout=TICK + 3)
        time.sleep(1)
        listed = alerts(path)
        channel = status(path)["channels"][0]
        now = time.time() + 3 * DAY  # the daemon's clock
    finally:
        code, log = daemon.stop()
    assert [row["status"] for row in listed] == ["pending", "pending"], listed
    assert said_step(log, 3 * DAY), log
    # the waits kept their real length: the old alert is as old as it really is, the new one just
    # queued, and the channel's next try is seconds away, not three days more (also when an
    # outbox round came between the step and the daemon noticing it)
    assert all(now - 120 < moment(row["queued"]) < now + 5 for row in listed), (times.iso(now), listed)
    assert channel["name"] == "hook" and 1 <= channel["consecutive_failures"] <= 2, channel
    assert now - 60 < moment(channel["retry_at"]) < now + 2 * 72, (times.iso(now), channel)
    assert code == 0, log
    assert "alert dead" not in log
    assert "Traceback" not in log and "Invalid argument" not in log, log


# ---------------------------------------------------------------- `run --once` on a clock that jumped


def test_a_jump_of_three_days_between_runs_delivers_every_alert_on_a_channel_that_is_up(tmp_path, web):
    clock = FakeClock(tmp_path)
    courier, _dispatch = publish(web)
    receiver = Receiver(free_port())
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}], {"hook": [receiver.url]})
    said = run_once(path, clock)  # the channel is down
    assert "channel failed channel=hook attempt=1" in said and "alerts_sent=0 alerts_pending=2" in said

    clock.set(3 * DAY)
    receiver.start()
    try:
        said = run_once(path, clock)
    finally:
        receiver.stop()
    assert "alerts_sent=2 alerts_pending=0" in said and "alert dead" not in said, said
    listed = alerts(path)
    assert [(row["status"], row["attempts"]) for row in listed] == [("sent", 1), ("sent", 2)], listed
    assert sorted(post["title"] for post in receiver.posts) == sorted(f"[{row['rule']}] {row['title']}" for row in listed)


def test_alerts_still_die_when_their_channel_keeps_failing_for_48_hours(tmp_path, web):
    clock = FakeClock(tmp_path)
    courier, _dispatch = publish(web)
    receiver = Receiver(free_port())  # never started: the channel stays down
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}], {"hook": [receiver.url]})
    for hours in (0, 1, 2):  # three failed runs: the channel's last three attempts all failed
        clock.set(hours * 3600)
        run_once(path, clock)

    clock.set(49 * 3600)
    said = run_once(path, clock)
    assert said.count("alert dead: not delivered within 48 h") == 2, said
    listed = alerts(path)
    assert [(row["status"], row["attempts"]) for row in listed] == [("dead", 0), ("dead", 3)], listed
