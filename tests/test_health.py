"""Proof that alerts still flow: a channel down longer than `failing_alert_after` is said once on
the admin channel and once when it recovers (an ERROR line when it is the only admin channel);
a channel's `heartbeat` says newsmon is watching; `heartbeat_url` is fetched while newsmon is
healthy (the daemon on its watchdog's beat, `run --once` after a cycle with no failing channel)
and not otherwise. A controllable clock, webhook receivers on loopback, real apprise and SQLite."""

from __future__ import annotations

import logging

from conftest import Clock, run_newsmon, wait_for
from fixtures import write_config
from test_service import NotifySocket, start, stop

from monitor.model import AlertMessage

HOUR = 3600.0


def queue(running, channel: str = "ops") -> None:
    message = AlertMessage(rule="ttp-activity", title="TTP claims attack in Bannu", url="https://dawn.com/news/1",
                           outlet="dawn.com", published=None, snippet="The TTP claimed the attack.", highlights=(),
                           matched=("TTP",), severity="high")
    running.store.queue_notice("ttp-activity", (channel,), message, running.clock())


def titles(web, path: str) -> list[str]:
    return [post["title"] for post in web.json_posts(path)]


def test_a_channel_down_longer_than_failing_alert_after_is_said_once_and_so_is_its_recovery(tmp_path, web, harness):
    web.add("/ops", "", status=503)
    base = web.base.replace("http://", "json://")
    path = write_config(tmp_path, [], {"ops": [base + "/ops"], "admin": [base + "/admin"]}, admin_channels=["admin"],
                        failing_alert_after="1h")
    running = harness.open(path, Clock())
    queue(running)
    harness.drain(running)
    for _ in range(2):  # 30 and 60 min after the first failure: not yet an hour of failing
        running.clock.advance(30 * 60)
        harness.drain(running, ignore_backoff=True)
    assert titles(web, "/admin") == []
    running.clock.advance(60)
    harness.drain(running, ignore_backoff=True)
    assert titles(web, "/admin") == ["[newsmon] Channel ops has been failing for 1 h 1 min"]
    assert "HTTP 503" in web.json_posts("/admin")[0]["message"] or "503" in web.json_posts("/admin")[0]["message"]
    assert 'newsmon_channel_failing_seconds{channel="ops"} 3660.0' in running.metrics.render().decode()
    status = run_newsmon("--config", str(path), "status").stdout
    assert "channel ops:" in status and "FAILING since" in status, status

    for _ in range(3):  # still down: nothing more said
        running.clock.advance(20 * 60)
        harness.drain(running, ignore_backoff=True)
    assert len(titles(web, "/admin")) == 1

    web.add("/ops", "")  # back
    running.clock.advance(60)
    harness.drain(running, ignore_backoff=True)
    assert titles(web, "/ops") == ["[ttp-activity] TTP claims attack in Bannu"]
    assert titles(web, "/admin")[1] == "[newsmon] Channel ops recovered after 2 h 2 min"
    assert 'newsmon_channel_failing_seconds{channel="ops"} 0.0' in running.metrics.render().decode()
    running.clock.advance(HOUR)
    harness.drain(running, ignore_backoff=True)
    assert len(titles(web, "/admin")) == 2 and len(titles(web, "/ops")) == 1


def test_when_the_failing_channel_is_the_only_admin_channel_it_is_one_error_line(tmp_path, web, harness, caplog):
    web.add("/ops", "", status=503)
    path = write_config(tmp_path, [], {"ops": [web.base.replace("http://", "json://") + "/ops"]})
    running = harness.open(path, Clock())
    queue(running)
    with caplog.at_level(logging.INFO, logger="newsmon.delivery"):
        harness.drain(running)
        for _ in range(4):
            running.clock.advance(30 * 60)
            harness.drain(running, ignore_backoff=True)
        web.add("/ops", "")
        harness.drain(running, ignore_backoff=True)
    errors = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("channel failing for 1 h 30 min channel=ops")
    assert "only admin channel" in errors[0]
    assert titles(web, "/ops") == ["[ttp-activity] TTP claims attack in Bannu"]  # no notice to itself
    assert any("channel recovered channel=ops after 2 h 0 min failing" in r.getMessage() for r in caplog.records)


def test_a_heartbeat_channel_hears_that_newsmon_is_watching_once_per_period(tmp_path, web, harness):
    base = web.base.replace("http://", "json://")
    path = write_config(tmp_path, [{"url": web.base + "/feed.xml"}], {"ops": [base + "/ops"],
                        "beat": {"urls": [base + "/beat"], "heartbeat": "24h"}})
    running = harness.open(path, Clock())
    harness.drain(running)  # newsmon sees the setting: the first heartbeat is a period later
    queue(running)
    running.clock.advance(23 * HOUR)
    harness.drain(running)
    assert titles(web, "/beat") == []
    running.clock.advance(HOUR)
    harness.drain(running)
    assert titles(web, "/beat") == ["[newsmon] newsmon is watching 1 feed; 1 alert in the last 24 h"]
    assert "If this message stops coming" in web.json_posts("/beat")[0]["message"]
    running.clock.advance(60)
    harness.drain(running)
    assert len(titles(web, "/beat")) == 1
    running.clock.advance(24 * HOUR)
    harness.drain(running)
    assert titles(web, "/beat")[1] == "[newsmon] newsmon is watching 1 feed; 0 alerts in the last 24 h"


def test_run_once_pings_the_heartbeat_url_only_after_a_cycle_with_no_failing_channel(tmp_path, web):
    base = web.base.replace("http://", "json://")
    web.add("/ping", "OK")
    path = write_config(tmp_path, [], {"ops": [base + "/ops"]}, heartbeat_url=web.base + "/ping")
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    assert web.gets("/ping") == 1

    web.add("/ops", "", status=503)
    assert run_newsmon("--config", str(path), "notify-test", "ops").returncode == 1
    from monitor import store  # an alert waits for ops, which fails this cycle

    with store.open_existing(tmp_path / "state") as opened:
        message = AlertMessage(rule="ttp-activity", title="TTP claims attack", url=None, outlet="dawn.com",
                               published=None, snippet="The TTP claimed it.", highlights=(), matched=("TTP",))
        opened.queue_notice("ttp-activity", ("ops",), message, __import__("time").time())
    result = run_newsmon("--config", str(path), "run", "--once")
    assert result.returncode == 0 and web.gets("/ping") == 1
    assert "heartbeat_url not pinged: channel ops failing" in result.stderr
    assert "/ping" not in result.stderr.replace(web.base + "/ping", "")  # only the host is ever logged


def test_the_daemon_pings_the_heartbeat_url_on_its_watchdogs_beat_at_most_once_a_minute(tmp_path, web):
    web.add("/hc/0f6e1a", "OK")
    path = write_config(tmp_path, [], {"ops": [web.base.replace("http://", "json://") + "/ops"]},
                        heartbeat_url=web.base + "/hc/0f6e1a")
    notify = NotifySocket(tmp_path)
    process = start(path, {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
    try:
        assert wait_for(lambda: web.gets("/hc/0f6e1a") == 1, timeout=30)
        assert wait_for(lambda: sum("WATCHDOG=1" in m for m in notify.collect()) >= 4, timeout=10)
        assert web.gets("/hc/0f6e1a") == 1  # four watchdog pings, one GET: at most once a minute
    finally:
        code, stderr = stop(process)
    assert code == 0 and "Traceback" not in stderr and "0f6e1a" not in stderr
