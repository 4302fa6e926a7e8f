"""`newsmon route-test` agrees with what the daemon then does. One table of cases drives both:
for each, `route-test --json` says per channel what an alert of the rule would meet at a time
(sent now, held for quiet hours until 07:00, silenced, waiting for a second outlet, folded by
flood control, into the 08:00 digest, after group_wait, held back while the channel fails, not
routed, and whether it escalates); then a real feed on loopback brings a report the rule
matches, at that time on a controllable clock, and the real drain delivers it through real
apprise to webhook receivers: nothing goes before the time route-test named, and it goes then.
"""

from __future__ import annotations

import email.utils
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from conftest import Clock
from fixtures import rss, write_config

from monitor import cli
from monitor.model import AlertMessage

KARACHI = ZoneInfo("Asia/Karachi")
HOUR = 3600.0
TITLE = "Gunmen attack checkpoint in Bannu"
QUIET = {"quiet_hours": ["22:00-07:00", "sat-sun 00:00-24:00"], "timezone": "Asia/Karachi"}


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=KARACHI).timestamp()


def silence(matchers: dict, hours: float = 6, resend: bool = False):
    def make(running):
        running.store.add_silence(matchers, running.clock() + hours * HOUR, "everyone knows", running.clock(),
                                  by="ana", resend=resend)
    return make


def sent_before(minutes: float):
    """An alert of the rule sent alone on ops `minutes` before the case's time."""
    def make(running, harness):
        running.clock.advance(-minutes * 60)
        message = AlertMessage(rule="ttp-activity", title="Earlier TTP statement", url=None, outlet="dawn.com",
                               published=None, snippet="The TTP said so.", highlights=(), matched=("TTP",))
        running.store.queue_notice("ttp-activity", ("ops",), message, running.clock())
        harness.drain(running)
        running.clock.advance(minutes * 60)
    return make


def failing(retry_in: float):
    def make(running):
        running.store.set_channel_state("ops", failures=2, retry_at=running.clock() + retry_in, last_error="HTTP 503",
                                        failing_since=running.clock() - 300)
    return make


# (id, ops channel table, rule severity, rule extras, local time in Karachi, setup, outcome on ops)
CASES = [
    ("sent-now", {}, "medium", {}, "2026-12-07T12:00", None, "sent"),
    ("quiet-hours", QUIET, "medium", {}, "2026-12-07T23:00", None, "quiet-hours"),
    ("quiet-hours-critical", QUIET, "critical", {}, "2026-12-07T23:00", None, "sent"),
    ("weekend", QUIET, "medium", {}, "2026-12-04T22:00", None, "quiet-hours"),  # Friday 22:00 to Monday 07:00
    ("silenced", {}, "medium", {}, "2026-12-07T12:00", silence({"rule": ["ttp-activity"]}), "silenced"),
    ("silence-elsewhere", {}, "medium", {}, "2026-12-07T12:00", silence({"channel": ["duty"]}), "sent"),
    ("silence-below", {}, "high", {}, "2026-12-07T12:00", silence({"severity": "medium"}), "sent"),
    ("min-outlets", {"min_outlets": 2}, "medium", {}, "2026-12-07T12:00", None, "waiting-outlets"),
    ("flood", {"max_per_hour": 1}, "medium", {}, "2026-12-07T12:00", sent_before(10), "folded"),
    ("flood-room", {"max_per_hour": 2}, "medium", {}, "2026-12-07T12:00", sent_before(10), "sent"),
    ("digest", {"digest": "0 8 * * *", "timezone": "Asia/Karachi"}, "medium", {}, "2026-12-07T12:00", None, "digest"),
    ("filtered", {"min_severity": "high"}, "medium", {}, "2026-12-07T12:00", None, "not-routed"),
    ("group-wait", {}, "medium", {"group_wait": "2m"}, "2026-12-07T12:00", None, "group-wait"),
    ("failing", {}, "medium", {}, "2026-12-07T12:00", failing(600), "retrying"),
    ("escalates", {"escalate_after": "15m", "escalate_to": "duty"}, "critical", {}, "2026-12-07T12:00", None, "sent"),
    ("escalation-quiet", {**QUIET, "escalate_after": "15m", "escalate_to": "duty"}, "critical", {}, "2026-12-07T23:00",
     None, "sent"),
]


def configure(tmp_path, web, table: dict, severity: str, extras: dict, published: float):
    base = web.base.replace("http://", "json://")
    item = {"guid": "bannu-1", "path": "/bannu.html", "title": TITLE, "summary": "The TTP claimed the attack in Bannu.",
            "date": email.utils.format_datetime(datetime.fromtimestamp(published, KARACHI))}
    feed = web.add("/feed.xml", rss("Frontier Post", [item]), "application/rss+xml")
    watchlist = {"entities": {"ttp": {"names": ["TTP"]}},
                 "rules": [{"name": "ttp-activity", "any": ["@ttp"], "severity": severity, **extras}]}
    return write_config(tmp_path, [{"url": feed, "full_text": False, "alert_on_first_poll": True}],
                        {"ops": {"urls": [base + "/ops"], **table}, "duty": [base + "/duty"]}, watchlist=watchlist)


def route_test(path, when: float, capsys) -> dict:
    capsys.readouterr()
    iso = datetime.fromtimestamp(when, KARACHI).isoformat()
    assert cli.main(["--config", str(path), "route-test", "--rule", "ttp-activity", "--at", iso, "--json"]) == 0
    return {item["channel"]: item for item in json.loads(capsys.readouterr().out)["channels"]}


def delivered(web, path: str) -> bool:
    return any(TITLE in post["title"] or TITLE in post["message"] for post in web.json_posts(path))


@pytest.mark.parametrize(("table", "severity", "extras", "local", "setup", "outcome"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_route_test_says_what_the_daemon_then_does(tmp_path, web, harness, capsys, table, severity, extras, local,
                                                   setup, outcome):
    when = at(local)
    path = configure(tmp_path, web, table, severity, extras, when - 600)
    running = harness.open(path, Clock(when))
    if setup is not None:
        setup(running, harness) if setup.__code__.co_argcount == 2 else setup(running)
    said = route_test(path, when, capsys)["ops"]
    assert said["outcome"] == outcome, said["why"]

    harness.poll_all(running)
    harness.drain(running)
    rows = [row for row in running.store.alerts(limit=None) if row.channel == "ops" and row.title == TITLE]
    if outcome == "sent":
        assert delivered(web, "/ops")
    elif outcome == "not-routed":
        assert rows == [] and not delivered(web, "/ops")
    elif outcome == "silenced":
        assert [row.status for row in rows] == ["silenced"] and not delivered(web, "/ops")
    elif outcome == "waiting-outlets":
        assert [(row.status, row.held) for row in rows] == [("held", "min_outlets 2")]
    else:  # held until a time: not a second before it, and then
        until = datetime.fromisoformat(said["until"]).timestamp()
        assert until > when and not delivered(web, "/ops")
        running.clock.now = until - 1
        harness.drain(running)
        assert not delivered(web, "/ops"), f"sent before {said['until']}"
        running.clock.now = until
        harness.drain(running)
        assert delivered(web, "/ops"), f"not sent at {said['until']}: {said['why']}"

    if said["escalates"]:
        assert said["escalates"] == "escalates to duty after 15 min if unacknowledged"
        running.clock.now = when + 15 * 60 + 1
        harness.drain(running)
        escalations = [post["title"] for post in web.json_posts("/duty") if "Escalation" in post["title"]]
        assert escalations == [f"[ttp-activity] Escalation: {TITLE}"]
    elif outcome != "not-routed":
        running.clock.advance(HOUR)
        harness.drain(running)
        assert not any("Escalation" in post["title"] for post in web.json_posts("/duty"))


def test_route_test_names_what_a_silence_depends_on_and_reads_like_a_sentence(tmp_path, web, harness, capsys):
    when = at("2026-12-07T23:00")
    path = configure(tmp_path, web, {**QUIET, "escalate_after": "15m", "escalate_to": "duty"}, "medium", {}, when)
    running = harness.open(path, Clock(when))
    silence({"outlet": ["dawn.com"], "channel": ["ops"]})(running)
    said = route_test(path, when, capsys)["ops"]
    assert said["outcome"] == "silenced-if"
    assert said["why"].startswith("silenced by silence 1 if the report has outlet dawn.com")
    assert "otherwise held for quiet hours until 2026-12-08 07:00 PKT (Asia/Karachi)" in said["why"]

    capsys.readouterr()
    assert cli.main(["--config", str(path), "route-test", "--rule", "ttp-activity", "--severity", "critical",
                     "--at", "2026-12-07T23:00+05:00"]) == 0
    text = capsys.readouterr().out
    assert "an alert of rule ttp-activity (severity critical) about a new story" in text
    assert "otherwise sent now; escalates to duty after 15 min if unacknowledged\n" in text
    assert "  duty: sent now" in text


@pytest.mark.parametrize(("argv", "said"), [
    (["--rule", "nope"], "no rule named 'nope'"),
    (["--rule", "ttp-activity", "--at", "tomorrow"], "is not a time such as"),
    (["--rule", "ttp-activity", "--story", "99"], "no story 99"),
])
def test_route_test_refuses_what_it_cannot_judge(tmp_path, web, harness, capsys, argv, said):
    path = configure(tmp_path, web, {}, "medium", {}, at("2026-12-07T12:00"))
    harness.open(path, Clock(at("2026-12-07T12:00")))
    assert cli.main(["--config", str(path), "route-test", *argv]) == 2
    assert said in capsys.readouterr().err
