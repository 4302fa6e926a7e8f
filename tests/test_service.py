"""newsmon as a service: systemd notification and watchdog, reload, one daemon per state
directory, JSON logs, and the shipped units."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ROOT, run_newsmon, wait_for
from fixtures import publish, write_config


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET: like systemd, it reads every
    message as it comes (a reader that stops reading is tested apart)."""

    def __init__(self, directory: Path):
        self.path = directory / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while not self.closed.is_set():
            try:
                message = self.sock.recv(4096).decode()
            except (TimeoutError, BlockingIOError, socket.timeout):
                continue
            except OSError:
                return
            with self.lock:
                self.messages.append(message)

    def collect(self) -> list[str]:
        with self.lock:
            return list(self.messages)

    def seen(self, text: str) -> bool:
        return any(text in message for message in self.collect())


def start(path: Path, env: dict | None = None) -> subprocess.Popen:
    full = {**__import__("os").environ, **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(path), "run"], cwd=ROOT, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"no clean stop within 10 s:\n{process.stderr.read()}") from None
    return code, process.stderr.read()


def test_notify_watchdog_reload_and_stop(tmp_path, web):
    courier, dispatch = publish(web)
    hook = web.base.replace("http://", "json://") + "/hook"
    path = write_config(tmp_path, [{"url": courier}], {"hook": [hook]})
    notify = NotifySocket(tmp_path)
    process = start(path, {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
    try:
        assert wait_for(lambda: notify.seen("READY=1"), timeout=30)
        assert wait_for(lambda: sum("WATCHDOG=1" in m for m in notify.collect()) >= 2, timeout=10)
        assert any(m.startswith("STATUS=") for m in notify.collect())

        good = path.read_text()
        path.write_text("feedz = 1\n" + good + '\n[[rules]]\nname = "x"\nany = ["y"]\nchannels = ["nope"]\n')
        process.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert process.poll() is None  # a broken config does not stop it

        write_config(tmp_path, [{"url": courier}, {"url": dispatch}], {"hook": [hook]})
        assert run_newsmon("--config", str(path), "reload").returncode == 0
        assert wait_for(lambda: web.gets("/dispatch/atom.xml") >= 1, timeout=20)  # the new feed is polled
    finally:
        started = time.monotonic()
        code, stderr = stop(process)
    assert code == 0 and time.monotonic() - started < 10
    assert "reload refused" in stderr and "unknown key 'feedz'" in stderr and "unknown channel 'nope'" in stderr
    assert "reloaded feeds=2 added=1 removed=0" in stderr
    assert "Traceback" not in stderr
    assert notify.seen("STOPPING=1")


def test_a_second_daemon_on_the_same_state_refuses_to_start(tmp_path, web):
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier}], {"hook": ["json://127.0.0.1:9/x"]})
    first = start(path)
    try:
        assert wait_for(lambda: (tmp_path / "state" / "newsmon.pid").exists() and web.gets("/courier/rss.xml") >= 1,
                        timeout=30)
        second = run_newsmon("--config", str(path), "run", timeout=30)
        assert second.returncode == 1
        assert f"is already running on {tmp_path / 'state'}" in second.stderr and str(first.pid) in second.stderr
        once = run_newsmon("--config", str(path), "run", "--once", timeout=30)
        assert once.returncode == 1  # cron runs wait their turn instead of racing the daemon
    finally:
        code, _stderr = stop(first)
    assert code == 0
    assert not (tmp_path / "state" / "newsmon.pid").exists()
    assert run_newsmon("--config", str(path), "reload").returncode == 1  # nobody to reload


def test_json_logs_carry_the_fields(tmp_path, web):
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}], {"hook": ["json://127.0.0.1:9/x"]})
    result = run_newsmon("--config", str(path), "--log-format", "json", "run", "--once")
    assert result.returncode == 0
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    matches = [line for line in lines if line["message"].startswith("match ")]
    assert matches and all(line["feed"] == courier and line["rule"] == "ttp-activity" for line in matches)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


UNIT = ROOT / "systemd" / "newsmon.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_shipped_unit_verifies_and_scores_2_or_better(tmp_path):
    unit = tmp_path / "newsmon.service"
    unit.write_text(UNIT.read_text().replace("/opt/newsmon/.venv/bin/newsmon", str(Path(sys.executable).parent / "newsmon")))
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stderr
    security = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)], capture_output=True,
                              text=True, timeout=60)
    score = float(security.stdout.split("Overall exposure level for newsmon.service:")[1].split()[0])
    assert score <= 2.0, security.stdout
    text = UNIT.read_text()
    assert "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" in text and "PrivateNetwork" not in text
    assert "Type=notify" in text and "WatchdogSec=" in text and "ExecReload=" in text and "DynamicUser=yes" in text


def test_metrics_and_healthz_reflect_a_real_cycle(tmp_path, web):
    import urllib.request

    from conftest import free_port

    courier, dispatch = publish(web)
    port = free_port()
    hook = web.base.replace("http://", "json://") + "/hook"
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}, {"url": web.base + "/missing.xml"}],
                        {"hook": [hook]}, http={"listen": f"127.0.0.1:{port}"})
    process = start(path)
    try:
        assert wait_for(lambda: len(web.json_posts("/hook")) == 2, timeout=60)

        def fetch(route):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{route}", timeout=5) as response:
                    return response.status, response.read().decode()
            except OSError:
                return None, ""

        assert wait_for(lambda: 'newsmon_polls_total{result="failed"}' in fetch("/metrics")[1], timeout=20)
        status, text = fetch("/metrics")
        assert 'newsmon_polls_total{result="new"} 1.0' in text
        assert 'newsmon_fetch_errors_total{kind="http"} 1.0' in text
        assert 'newsmon_alerts_sent_total{channel="hook"} 2.0' in text
        assert 'newsmon_matches_total{rule="ttp-activity"} 2.0' in text
        assert "newsmon_alerts_pending 0.0" in text
        assert "newsmon_alert_latency_seconds_count 2.0" in text
        assert 'newsmon_alerts_held{reason="quiet_hours"} 0.0' in text and "newsmon_silences_active 0.0" in text
        assert "newsmon_unacknowledged_critical 0.0" in text  # the rules are 'medium'
        assert 'newsmon_channel_failing_seconds{channel="hook"} 0.0' in text
        assert fetch("/healthz") == (200, "ok\n")
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr


def test_a_notify_socket_nobody_reads_does_not_stall_the_daemon(tmp_path, web):
    """systemd's side stops reading (its queue fills with watchdog pings): the daemon keeps
    polling and still stops cleanly on SIGTERM."""
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier, "interval": "1m"}], {"hook": ["json://127.0.0.1:9/x"]})
    deaf = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    deaf.bind(str(tmp_path / "notify.sock"))  # never read
    process = start(path, {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "100000"})
    try:
        assert wait_for(lambda: web.gets("/courier/rss.xml") >= 1, timeout=30)
        time.sleep(3)  # 60 pings: far more than a datagram queue holds
        assert process.poll() is None
    finally:
        started = time.monotonic()
        code, stderr = stop(process)
        deaf.close()
    assert code == 0 and time.monotonic() - started < 10
    assert "stopped" in stderr and "Traceback" not in stderr


def test_the_daily_prune_runs_on_the_event_loop_and_forgets_old_entries(tmp_path, web, caplog):
    """The retention job runs where the store's connection lives: it used to be a plain function,
    which APScheduler runs in a worker thread, where SQLite refuses the connection every day."""
    import asyncio
    import logging
    from datetime import datetime, timezone

    from monitor import app as app_module, daemon

    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier}], {}, retention="1d")
    running = app_module.open_app(app_module.check(path), workers=1)

    async def scenario() -> None:
        from monitor import pipeline

        await pipeline.poll(running, running.config.feeds[0])
        service = daemon.Daemon(running, grace=1)
        task = asyncio.create_task(service.run())
        await asyncio.sleep(0.5)  # started: its start-up prune found nothing old
        running.clock = lambda: time.time() + 3 * 86400  # three days on: every entry is past retention
        service.scheduler.get_job("prune").modify(next_run_time=datetime.now(timezone.utc))
        await asyncio.sleep(1.5)
        service.stop()
        await task

    with caplog.at_level(logging.INFO):
        asyncio.run(scenario())
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert any("pruned entries=" in r.getMessage() for r in caplog.records)
