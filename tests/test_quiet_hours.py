"""Quiet hours and escalation, with a clock the test moves: a channel's quiet hours hold what is
not critical and hand it over in one summary when they end (in the channel's time zone, across
a restart, over a whole weekend without going dead); an unacknowledged critical alert escalates
once to the duty channel, an acknowledged one never. Webhook receivers on loopback, a real
state database and real apprise."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import Clock, run_newsmon
from fixtures import write_config

from monitor import schedule
from monitor.model import AlertMessage

KARACHI = ZoneInfo("Asia/Karachi")
HOUR = 3600.0


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=KARACHI).timestamp()


def queue(running, channel: str, title: str, severity: str) -> int:
    message = AlertMessage(rule="ttp-activity", title=title, url="https://dawn.com/news/1", outlet="dawn.com",
                           published=None, snippet="The TTP claimed the attack.", highlights=((4, 7),),
                           matched=("TTP",), severity=severity)
    return running.store.queue_notice("ttp-activity", (channel,), message, running.clock())


def titles(web, path: str) -> list[str]:
    return [post["title"] for post in web.json_posts(path)]


def config(tmp_path, web, **channel):
    base = web.base.replace("http://", "json://")
    zone = {"timezone": "Asia/Karachi"} if "quiet_hours" in channel else {}
    return write_config(tmp_path, [], {"ops": {"urls": [base + "/ops"], **zone, **channel}, "duty": [base + "/duty"]})


def test_quiet_hours_hold_what_is_not_critical_and_hand_it_over_in_one_summary(tmp_path, web, harness):
    path = config(tmp_path, web, quiet_hours=["22:00-07:00"])
    running = harness.open(path, Clock(at("2026-12-05T23:00")))
    queue(running, "ops", "Medium: TTP statement", "medium")
    queue(running, "ops", "Critical: attack on the consulate", "critical")
    harness.drain(running)
    assert titles(web, "/ops") == ["[ttp-activity] Critical: attack on the consulate"]  # at once
    held = run_newsmon("--config", str(path), "alerts", "--held").stdout
    assert "quiet hours until 2026-12-06 07:00 PKT" in held
    status = run_newsmon("--config", str(path), "status").stdout
    assert "held on ops: 1 (quiet hours until 2026-12-06 07:00 PKT) until 2026-12-06 02:00 UTC" in status, status
    assert "unacknowledged critical: 1" in status and "Critical: attack on the consulate" in status

    running.clock.advance(3 * HOUR)  # 02:00: newsmon restarts; nothing is lost
    harness.close_app(running)
    running = harness.open(path, Clock(at("2026-12-06T02:00")))
    queue(running, "ops", "Low: another statement", "low")
    harness.drain(running)
    assert len(titles(web, "/ops")) == 1

    running.clock.now = at("2026-12-06T07:00")
    harness.drain(running)
    summary = web.json_posts("/ops")[1]
    assert summary["title"].startswith("newsmon · ops: 2 alerts held during quiet hours")
    assert "Medium: TTP statement" in summary["message"] and "Low: another statement" in summary["message"]
    harness.drain(running)
    assert len(titles(web, "/ops")) == 2  # once


def test_the_morning_summary_counts_as_one_message_toward_max_per_hour(tmp_path, web, harness):
    path = config(tmp_path, web, quiet_hours=["22:00-07:00"], max_per_hour=2)
    running = harness.open(path, Clock(at("2026-12-05T23:00")))
    for number in range(3):
        queue(running, "ops", f"Medium: statement {number}", "medium")
    harness.drain(running)
    running.clock.now = at("2026-12-06T07:00")
    harness.drain(running)
    assert titles(web, "/ops")[0].startswith("newsmon · ops: 3 alerts held during quiet hours")
    running.clock.advance(300)
    queue(running, "ops", "Medium: first of the morning", "medium")
    queue(running, "ops", "Medium: second of the morning", "medium")
    harness.drain(running)
    assert titles(web, "/ops")[1:] == ["[ttp-activity] Medium: first of the morning"]  # the summary was one of two
    running.clock.now = at("2026-12-06T08:00")
    harness.drain(running)
    assert "Medium: second of the morning" in web.json_posts("/ops")[2]["message"]  # folded, then sent


def test_a_weekend_window_holds_an_alert_57_hours_without_letting_it_go_dead(tmp_path, web, harness):
    path = config(tmp_path, web, quiet_hours=["22:00-07:00", "sat-sun 00:00-24:00"])
    running = harness.open(path, Clock(at("2026-12-04T22:00")))  # a Friday
    queue(running, "ops", "Medium: TTP statement", "medium")
    harness.drain(running)
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        (until, expires), = db.execute("SELECT next_attempt, expires FROM alerts").fetchall()
    assert until == at("2026-12-07T07:00") and expires == until + 48 * HOUR  # Monday 07:00, 57 hours on

    running.clock.now = at("2026-12-07T06:59")
    harness.drain(running)
    assert titles(web, "/ops") == []
    running.clock.now = at("2026-12-07T07:00")
    harness.drain(running)
    assert len(titles(web, "/ops")) == 1


def test_an_unacknowledged_critical_alert_escalates_once_and_an_acknowledged_one_never(tmp_path, web, harness):
    path = config(tmp_path, web, escalate_after="15m", escalate_to="duty")
    running = harness.open(path, Clock(at("2026-12-05T10:00")))
    ignored = queue(running, "ops", "Critical: attack on the consulate", "critical")
    handled = queue(running, "ops", "Critical: staff house hit", "critical")
    queue(running, "ops", "Medium: TTP statement", "medium")  # below escalate_min_severity
    harness.drain(running)
    assert len(titles(web, "/ops")) == 3
    assert run_newsmon("--config", str(path), "ack", str(handled), "--by", "ana").returncode == 0

    running.clock.advance(14 * 60)
    harness.drain(running)
    assert titles(web, "/duty") == []
    running.clock.advance(2 * 60)
    harness.drain(running)
    running.clock.advance(HOUR)
    harness.drain(running)

    assert titles(web, "/duty") == ["[ttp-activity] Escalation: Critical: attack on the consulate"]
    assert "ESCALATION: not acknowledged within 15 min on ops" in web.json_posts("/duty")[0]["message"]
    assert ignored != handled


@pytest.mark.parametrize(("table", "said"), [
    ({"quiet_hours": ["22:00-7"]}, "expected a window such as"),
    ({"quiet_hours": ["xyz 22:00-07:00"]}, "unknown day"),
    ({"escalate_to": "duty"}, "escalation needs both"),
    ({"escalate_after": "15m", "escalate_to": "nobody"}, "no channel named 'nobody'"),
    ({"escalate_after": "15m", "escalate_to": "ops"}, "cannot escalate to itself"),
    ({"heartbeat": "1m"}, "at 'channels.ops.heartbeat': a heartbeat more often than every 5 minutes is noise"),
    ({"heartbeat": 24}, "at 'channels.ops.heartbeat': expected a duration"),
])
def test_quiet_hours_and_escalation_settings_are_checked(tmp_path, web, table, said):
    result = run_newsmon("--config", str(config(tmp_path, web, **{"quiet_hours": ["22:00-07:00"], **table})), "check")
    assert result.returncode == 2 and said in result.stdout, result.stdout


def test_a_window_that_crosses_midnight_belongs_to_the_day_it_starts():
    friday = ("fri 22:00-07:00",)
    assert schedule.quiet_until(friday, "Asia/Karachi", at("2026-12-05T03:00")) == at("2026-12-05T07:00")  # Saturday
    assert schedule.quiet_until(friday, "Asia/Karachi", at("2026-12-06T03:00")) is None  # Sunday morning


@pytest.mark.parametrize(("settings", "said"), [
    ({"failing_alert_after": "soon"}, "at 'newsmon.failing_alert_after': bad duration 'soon'"),
    ({"heartbeat_url": "ftp://hc.example/ping/0f6e"}, "at 'newsmon.heartbeat_url': expected an http:// or https:// URL"),
    ({"heartbeat_url": "${NEWSMON_TEST_UNSET_PING}"}, "at 'newsmon.heartbeat_url': environment variable 'NEWSMON_TEST_UNSET_PING' is not set"),
])
def test_the_proof_of_life_settings_are_checked_with_their_path(tmp_path, web, settings, said):
    base = web.base.replace("http://", "json://")
    path = write_config(tmp_path, [], {"ops": [base + "/ops"]}, **settings)
    result = run_newsmon("--config", str(path), "check")
    assert result.returncode == 2 and said in result.stdout, result.stdout
    assert "0f6e" not in result.stdout  # a ping URL's path is its secret


def test_check_lists_a_channels_heartbeat(tmp_path, web):
    path = config(tmp_path, web, heartbeat="24h")
    result = run_newsmon("--config", str(path), "check")
    assert result.returncode == 0 and "heartbeat every 24 h" in result.stdout, result.stdout
