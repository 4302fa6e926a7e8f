"""Alert delivery as a user sees it: a channel that is down gets every alert later, once, in
order; digests; flood control; dead letters; routing by severity and rule; templates; email
threading; `notify-test` and `alerts`. Real apprise URLs to loopback receivers (json://,
mailto:// to aiosmtpd); the clock is ours where periods matter."""

from __future__ import annotations

import json
import logging
import time

import pytest
from conftest import Clock, Mailbox, run_newsmon
from fixtures import COURIER_ITEMS, DISPATCH_ITEMS, WATCHLIST, publish, write_config

from monitor import alert
from monitor.model import AlertMessage

HOUR = 3600.0


def feeds_of(web) -> list[dict]:
    courier, dispatch = publish(web)
    return [{"url": courier, "alert_on_first_poll": True}, {"url": dispatch, "alert_on_first_poll": True}]


def json_url(web, path: str) -> str:
    return f"json://127.0.0.1:{web.base.rsplit(':', 1)[1]}{path}"


def titles(web, path: str) -> list[str]:
    return [post["title"] for post in web.json_posts(path)]


def queue(running, channel: str, count: int, *, rule: str = "ttp-activity", start: int = 0, tag: str = "Story") -> None:
    """Queue `count` alerts (each its own story) to `channel` at the running app's clock."""
    for number in range(start, start + count):
        message = AlertMessage(rule=rule, title=f"{tag} {number:03d}: attack reported", url=f"https://news.example/{number}",
                               outlet="Indus Courier", published="2026-11-24T05:00:00+00:00",
                               snippet="The TTP claimed the attack.", highlights=((4, 7),), matched=("TTP",))
        running.store.queue_notice(rule, (channel,), message, running.clock())


def bodies(web, path: str) -> str:
    return "\n".join(post["message"] for post in web.json_posts(path))


# ---------------------------------------------------------------- a channel that is down


def test_smtp_down_for_three_cycles_then_up_delivers_every_alert_once_in_order(tmp_path, web):
    box = Mailbox()  # its port is chosen, nothing listens there yet
    path = write_config(tmp_path, feeds_of(web), {"email": [box.url]})
    for _ in range(3):
        assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    listed = json.loads(run_newsmon("--config", str(path), "alerts", "--json").stdout)["alerts"]
    assert [row["status"] for row in listed] == ["pending"] * 3
    assert listed[-1]["attempts"] == 3 and "127.0.0.1" in listed[-1]["last_error"]  # the oldest, tried every cycle
    status = run_newsmon("--config", str(path), "status").stdout
    assert "channel email: 3 pending · FAILING since " in status and "3 attempt(s)" in status and "Connection error" in status
    box.controller.start()
    try:
        assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
        assert run_newsmon("--config", str(path), "run", "--once").returncode == 0  # nothing more
    finally:
        box.controller.stop()
    detected = [row["title"] for row in reversed(listed)]  # oldest first: the order newsmon found them
    subjects = [subject for subject, _text in box.texts()]
    assert subjects == [f"[{rule}] {title}" for rule, title in zip(
        [row["rule"] for row in reversed(listed)], detected)]
    assert len(set(subjects)) == 3


def test_a_failing_target_is_retried_alone_and_the_channel_backs_off_as_a_whole(tmp_path, web, harness):
    web.add("/bad", "", status=500)
    path = write_config(tmp_path, [], {"both": [json_url(web, "/good"), json_url(web, "/bad")]})
    clock = Clock()
    running = harness.open(path, clock)
    queue(running, "both", 3)
    assert harness.drain(running) == (0, 1)
    assert titles(web, "/good") == ["[ttp-activity] Story 000: attack reported"]  # the first, then it stopped
    clock.advance(10)
    harness.drain(running)  # still backing off (30 s at least): nothing is tried
    assert sum(1 for method, p, _ in web.requests if p == "/bad") == 1
    web.routes["/bad"].status = 200
    clock.advance(60)
    assert harness.drain(running) == (3, 0)
    assert titles(web, "/good") == [f"[ttp-activity] Story {n:03d}: attack reported" for n in range(3)]
    assert titles(web, "/bad") == titles(web, "/good")  # its first alert once, then the rest, in order
    assert running.store.channel_state("both").failures == 0


def test_an_alert_unsent_after_48_hours_is_dead_listed_and_can_be_retried(tmp_path, web, harness, caplog):
    web.add("/down", "", status=503)
    path = write_config(tmp_path, [], {"ops": [json_url(web, "/down")]})
    clock = Clock()
    running = harness.open(path, clock)
    queue(running, "ops", 2)
    harness.drain(running)
    clock.advance(47 * HOUR)
    harness.drain(running, ignore_backoff=True)
    assert running.store.alert_counts() == {"pending": 2}
    clock.advance(1.1 * HOUR)
    with caplog.at_level(logging.ERROR, logger="newsmon.delivery"):
        harness.drain(running, ignore_backoff=True)
        harness.drain(running, ignore_backoff=True)
    dead_lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and "channel failing" not in r.getMessage()]
    assert len(dead_lines) == 2 and all("alert dead" in line and "--retry-dead" in line for line in dead_lines)
    assert running.store.alert_counts() == {"dead": 2}
    assert 'newsmon_alerts_dead_total{channel="ops"} 2.0' in running.metrics.render().decode()
    shown = run_newsmon("--config", str(path), "alerts", "--dead")
    assert shown.stdout.count("dead") >= 2 and "Story 000" in shown.stdout and "Story 001" in shown.stdout
    requeued = run_newsmon("--config", str(path), "alerts", "--retry-dead")
    assert requeued.stdout.startswith("2 dead or failed alerts queued again")
    clock.now = time.time() + 1  # the command requeued them with a fresh 48 h from the real time
    web.routes["/down"].status = 200
    assert harness.drain(running, ignore_backoff=True) == (2, 0)
    assert titles(web, "/down") == ["[ttp-activity] Story 000: attack reported", "[ttp-activity] Story 001: attack reported"]


# ---------------------------------------------------------------- digests and flood control


def test_a_digest_channel_gets_one_message_per_period_with_every_story(tmp_path, web, harness):
    path = write_config(tmp_path, [], {"hourly": {"urls": [json_url(web, "/digest")], "digest": "1h"},
                                       "now": [json_url(web, "/now")]})
    clock = Clock()  # on the hour
    running = harness.open(path, clock)
    for minute in (5, 20, 40):
        clock.now = 1_800_000_000 + minute * 60
        queue(running, "hourly", 2, start=minute, tag="Hourly")
        queue(running, "hourly", 1, start=minute, rule="iskp-activity", tag="Kabul")
        queue(running, "now", 1, start=minute, tag="Now")
        harness.drain(running)
    assert len(titles(web, "/now")) == 3  # immediate channels are not held back
    clock.now = 1_800_000_000 + 59 * 60
    harness.drain(running, ignore_backoff=True)
    assert web.json_posts("/digest") == []
    clock.now = 1_800_000_000 + HOUR + 20
    harness.drain(running)
    harness.drain(running)
    posts = web.json_posts("/digest")
    assert len(posts) == 1
    body = posts[0]["message"]
    for minute in (5, 20, 40):
        for number in (minute, minute + 1):
            assert body.count(f"Hourly {number:03d}: attack reported") == 1
        assert body.count(f"Kabul {minute:03d}: attack reported") == 1
    assert body.index("ttp-activity (6)") < body.index("iskp-activity (3)")  # grouped by rule
    assert "9 alerts" in body and "digest" in posts[0]["title"]
    # the next period: one message for what arrived in it, at its end
    clock.now = 1_800_000_000 + HOUR + 600
    queue(running, "hourly", 1, start=99, tag="Later")
    clock.now = 1_800_000_000 + 2 * HOUR - 5
    harness.drain(running)
    assert len(web.json_posts("/digest")) == 1
    clock.now = 1_800_000_000 + 2 * HOUR + 5
    harness.drain(running)
    posts = web.json_posts("/digest")
    assert len(posts) == 2 and "Later 099" in posts[1]["message"] and "Hourly" not in posts[1]["message"]
    assert running.store.alert_counts() == {"sent": 13}  # 9 + 1 in digests, 3 at once


def test_a_cron_digest_follows_its_timezone(tmp_path, web, harness):
    path = write_config(tmp_path, [], {"morning": {"urls": [json_url(web, "/am")], "digest": "0 8 * * *",
                                                   "timezone": "Asia/Karachi"}})
    clock = Clock(1_800_000_000)  # 08:00 UTC = 13:00 in Karachi
    running = harness.open(path, clock)
    queue(running, "morning", 2)
    clock.advance(14 * HOUR)  # 22:00 UTC, 03:00 in Karachi: not yet
    harness.drain(running)
    assert web.json_posts("/am") == []
    clock.advance(5 * HOUR + 60)  # 08:01 in Karachi
    harness.drain(running)
    assert len(web.json_posts("/am")) == 1


def test_status_says_when_a_digest_channel_sends_next(tmp_path, web, harness):
    path = write_config(tmp_path, [], {"daily": {"urls": [json_url(web, "/d")], "digest": "1d"}})
    running = harness.open(path, Clock(time.time()))
    queue(running, "daily", 2)
    running.store.close()
    midnight = time.strftime("%Y-%m-%d 00:00 UTC", time.gmtime(time.time() + 86400))
    assert f"channel daily: 2 pending · next digest {midnight}" in run_newsmon("--config", str(path), "status").stdout


def test_a_weekly_digest_keeps_its_alerts_past_48_hours(tmp_path, web, harness):
    path = write_config(tmp_path, [], {"weekly": {"urls": [json_url(web, "/week")], "digest": "0 8 * * mon",
                                                  "timezone": "Asia/Karachi"}})
    clock = Clock(1_800_000_000)  # Friday 2027-01-15, 08:00 UTC; the digest is Monday 03:00 UTC
    running = harness.open(path, clock)
    queue(running, "weekly", 3)
    for _ in range(11):  # 66 hours of the daemon's drains
        harness.drain(running)
        clock.advance(6 * HOUR)
    assert running.store.alert_counts() == {"pending": 3} and web.json_posts("/week") == []
    clock.advance(2 * HOUR)  # Monday 04:00 UTC
    harness.drain(running)
    (post,) = web.json_posts("/week")
    assert all(f"Story {n:03d}" in post["message"] for n in range(3))


def test_500_alerts_in_an_hour_with_max_per_hour_20_give_20_messages_and_summaries_nothing_dropped(tmp_path, web,
                                                                                                     harness):
    path = write_config(tmp_path, [], {"busy": {"urls": [json_url(web, "/busy")], "max_per_hour": 20}})
    clock = Clock()
    running = harness.open(path, clock)
    for number in range(500):  # one every 7 seconds: 500 within 58 minutes
        queue(running, "busy", 1, start=number)
        harness.drain(running)
        clock.advance(7)
    posts = web.json_posts("/busy")
    assert len(posts) == 20 and all(post["title"].startswith("[ttp-activity] Story") for post in posts)
    clock.now = 1_800_000_000 + HOUR + 1  # the hour since the first message is over
    harness.drain(running)
    posts = web.json_posts("/busy")
    summaries = posts[20:]
    assert len(summaries) >= 2, "480 alerts do not fit one message: the summary is split"
    assert all("flood control" in post["title"] for post in summaries)
    assert all(len(post["message"]) <= 32768 for post in summaries)  # apprise's json:// limit: nothing cut off
    everything = "\n".join(post["title"] + "\n" + post["message"] for post in posts)
    for number in range(500):
        assert everything.count(f"Story {number:03d}: attack reported") == 1, number
    assert running.store.alert_counts() == {"sent": 500}
    # after the summary the count starts again: the next alert goes out alone
    queue(running, "busy", 1, start=500)
    harness.drain(running)
    assert web.json_posts("/busy")[-1]["title"] == "[ttp-activity] Story 500: attack reported"


# ---------------------------------------------------------------- routing and templates


def test_channels_take_what_their_severity_and_rule_filters_let_in(tmp_path, web):
    watchlist = {**WATCHLIST, "rules": [{"name": "ttp-activity", "any": ["@ttp"], "severity": "high"},
                                        {"name": "iskp-activity", "any": ["@iskp"], "severity": "low"}]}
    channels = {"all": [json_url(web, "/all")],
                "urgent": {"urls": [json_url(web, "/urgent")], "min_severity": "high"},
                "kabul-desk": {"urls": [json_url(web, "/kabul")], "rules": ["iskp-activity"]}}
    path = write_config(tmp_path, feeds_of(web), channels, watchlist=watchlist)
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    assert len(titles(web, "/all")) == 3
    assert sorted(titles(web, "/urgent")) == sorted(f"[ttp-activity] {i['title']}" for i in COURIER_ITEMS
                                                     if "Flood" not in i["title"])
    assert titles(web, "/kabul") == [f"[iskp-activity] {DISPATCH_ITEMS[0]['title']}"]


def test_a_rule_naming_a_channel_that_refuses_it_is_a_config_error(tmp_path, web):
    watchlist = {**WATCHLIST, "rules": [{"name": "ttp-activity", "any": ["@ttp"], "channels": ["urgent"]}]}
    path = write_config(tmp_path, [], {"urgent": {"urls": [json_url(web, "/u")], "min_severity": "critical"}},
                        watchlist=watchlist)
    checked = run_newsmon("--config", str(path), "check")
    assert checked.returncode == 2
    assert "names channel 'urgent', which refuses it: its min_severity is 'critical'" in checked.stdout


def test_user_templates_fill_in_escaped_values(tmp_path, web):
    channels = {"mine": {"urls": [json_url(web, "/mine") + "?format=markdown"],
                         "title": "{severity}: {title}", "body": "{rule} | {entities} | {outlet} | {url}"}}
    path = write_config(tmp_path, feeds_of(web)[:1], channels)
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    posts = web.json_posts("/mine")
    assert sorted(post["title"] for post in posts) == sorted(f"medium: {i['title']}" for i in COURIER_ITEMS
                                                             if "Flood" not in i["title"])
    lakki = next(post["message"] for post in posts if "Lakki" in post["title"])
    assert lakki == f"ttp-activity | Tehreek-e-Taliban Pakistan, TTP | induscourier.example | {web.base}{COURIER_ITEMS[0]['path']}"


@pytest.mark.parametrize(("template", "expected"), [
    ("{headline}", "unknown placeholder {headline}"),
    ("{title.__class__}", "unknown placeholder {title.__class__}"),
    ("{title!r}", "takes no format or conversion"),
    ("{title", "expected '}'"),
])
def test_a_bad_template_is_reported_at_load(tmp_path, web, template, expected):
    path = write_config(tmp_path, [], {"mine": {"urls": [json_url(web, "/m")], "body": template}})
    checked = run_newsmon("--config", str(path), "check")
    assert checked.returncode == 2
    assert "channels.mine.body" in checked.stdout and expected in checked.stdout


@pytest.mark.parametrize(("table", "expected"), [
    ({"digest": "soon"}, "expected a period such as \"1h\" or \"1d\", or a cron expression"),
    ({"digest": "61 * * * *"}, "invalid cron expression"),
    ({"digest": "30s"}, "at least 1 minute"),
    ({"digest": "1h", "timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"timezone": "UTC"}, "only a digest or quiet_hours use a timezone"),
    ({"max_per_hour": 0}, "at least 1"),
    ({"min_outlets": 1.5}, "expected a whole number of at least 1"),
    ({"min_severity": "urgent"}, "expected one of low, medium, high, critical"),
    ({"rules": ["no-such-rule"]}, "unknown rule 'no-such-rule'"),
    ({"bogus": 1}, "unknown key 'bogus'"),
])
def test_channel_options_are_checked(tmp_path, web, table, expected):
    path = write_config(tmp_path, [], {"ops": {"urls": [json_url(web, "/x")], **table}})
    checked = run_newsmon("--config", str(path), "check")
    assert checked.returncode == 2 and expected in checked.stdout, checked.stdout


# ---------------------------------------------------------------- email threading


def test_alert_emails_carry_a_story_thread_reference(tmp_path, web, mailbox, harness):
    path = write_config(tmp_path, [], {"email": [mailbox.url]})
    running = harness.open(path, Clock())
    queue(running, "email", 1)
    story = running.store.alerts(limit=1)[0].story_id
    harness.drain(running)
    message = mailbox.messages[0]
    assert message["References"] == alert.thread_id(story, "ttp-activity")
    assert message["In-Reply-To"] is None  # only follow-ups reply
    assert len(message.get_all("Message-ID")) == 1  # apprise's own; a second one would be invalid


def test_after_a_merge_the_survivors_emails_thread_with_the_absorbed_storys(tmp_path, web, mailbox, harness):
    from monitor.store import dump_message

    path = write_config(tmp_path, [], {"email": [mailbox.url]})
    running = harness.open(path, Clock())
    queue(running, "email", 1, rule="other-rule")
    queue(running, "email", 1, rule="ttp-activity", start=1)
    older, newer = sorted(row.story_id for row in running.store.alerts(limit=2))
    harness.drain(running)  # both sent, each in its own thread
    running.store.merge_stories(older, newer, "a report joined both", running.clock())  # ttp-activity's alert moves
    update = AlertMessage(rule="ttp-activity", title="Toll rises", url="https://news.example/u", outlet="Indus Courier",
                          published=None, snippet="The toll rose.", highlights=(), matched=(), update=True)
    with running.store.transaction() as db:  # the follow-up routing queues when the story names a new entity
        db.execute("INSERT INTO alerts (rule, story_id, channel, seq, next_attempt, created, message) "
                   "VALUES ('ttp-activity', ?, 'email', 1, 0, 0, ?)", (older, dump_message(update)))
    harness.drain(running)
    last = mailbox.messages[-1]
    assert "Toll rises" in last["Subject"]
    assert alert.thread_id(newer, "ttp-activity") in last["References"]  # threads with the email sent before the merge
    assert last["In-Reply-To"] == alert.thread_id(older, "ttp-activity")


# ---------------------------------------------------------------- commands


def test_notify_test_reports_each_url_and_apprises_reason(tmp_path, web):
    web.add("/broken", "", status=500)
    path = write_config(tmp_path, [], {"ops": [json_url(web, "/fine"), json_url(web, "/broken")]})
    result = run_newsmon("--config", str(path), "notify-test", "ops")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok ") and "/fine" in lines[0]
    assert lines[1].startswith("FAILED ") and "/broken" in lines[1] and "500" in lines[1]
    assert titles(web, "/fine") == ["[notify-test] newsmon test alert: TTP attack reported in Khyber Pakhtunkhwa (sample)"]
    assert not (tmp_path / "state").exists()  # touches no state
    unknown = run_newsmon("--config", str(path), "notify-test", "opps")
    assert unknown.returncode == 2 and "no channel 'opps'" in unknown.stderr and "ops" in unknown.stderr


def test_alerts_lists_history_as_text_and_json(tmp_path, web):
    path = write_config(tmp_path, feeds_of(web), {"hook": [json_url(web, "/hook")]})
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    text = run_newsmon("--config", str(path), "alerts", "--since", "1h").stdout
    assert text.count(" sent ") == 3 and "→ hook" in text
    data = json.loads(run_newsmon("--config", str(path), "alerts", "--json").stdout)
    assert {row["status"] for row in data["alerts"]} == {"sent"}
    assert {row["rule"] for row in data["alerts"]} == {"ttp-activity", "iskp-activity"}
    assert all(row["via"] == "alert" and row["sent"] and row["url"].startswith("http") for row in data["alerts"])
    assert "no dead alerts" in run_newsmon("--config", str(path), "alerts", "--dead").stdout


def test_check_lists_channels_with_secrets_hidden(tmp_path, web):
    path = write_config(tmp_path, [], {"ops": {"urls": ["json://hookuser:Hook-Secret-2291@127.0.0.1:9/x"],
                                               "max_per_hour": 30}})
    checked = run_newsmon("--config", str(path), "check")
    assert checked.returncode == 0
    assert "channel ops: json://hookuser:****@127.0.0.1:9/x; max 30 per hour" in checked.stdout
    assert "Hook-Secret-2291" not in checked.stdout + checked.stderr

