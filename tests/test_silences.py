"""Silences and acknowledgements, as an analyst uses them: `newsmon silence add` mutes a story
(or a rule, an outlet, a severity...) for a while with a reason; what it holds is recorded, its
end is announced on the admin channel, and with --resend-on-expiry what it held goes then.
`newsmon ack` says someone is handling a story. A real state database shared by the commands
and a running app whose clock the test moves; webhook receivers on loopback."""

from __future__ import annotations

import json
import time

from conftest import Clock, run_newsmon
from fixtures import write_config

from monitor.model import AlertMessage

HOUR = 3600.0


def queue(running, channel: str, title: str, *, severity: str = "medium", update: bool = False,
          story: int | None = None) -> int:
    """Queue one alert (its own story, unless `story`: a follow-up of that one); returns its story."""
    message = AlertMessage(rule="ttp-activity", title=title, url="https://dawn.com/news/1", outlet="dawn.com",
                           published="2026-12-05T05:00:00+00:00", snippet="The TTP claimed the attack.",
                           highlights=((4, 7),), matched=("TTP",), entities=("pack.ttp",), tags=("pakistan",),
                           severity=severity, update=update)
    if story is None:
        return running.store.queue_notice("ttp-activity", (channel,), message, running.clock())
    from monitor.store import dump_message

    with running.store.transaction() as db:  # a follow-up, as routing queues one (seq 1)
        db.execute("INSERT INTO alerts (rule, story_id, channel, seq, next_attempt, created, message) "
                   "VALUES ('ttp-activity', ?, ?, 1, 0, ?, ?)", (story, channel, running.clock(), dump_message(message)))
    return story


def setup(tmp_path, web, harness, **channel):
    base = web.base.replace("http://", "json://")
    path = write_config(tmp_path, [], {"ops": {"urls": [base + "/ops"], **channel}, "admin": [base + "/admin"]},
                        admin_channels=["admin"])
    return path, harness.open(path, Clock(time.time()))


def titles(web, path: str) -> list[str]:
    return [post["title"] for post in web.json_posts(path)]


def newsmon(path, *args: str) -> str:
    result = run_newsmon("--config", str(path), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_a_silenced_story_sends_nothing_until_the_silence_ends_then_says_what_it_held(tmp_path, web, harness):
    path, running = setup(tmp_path, web, harness)
    bannu = queue(running, "ops", "Bannu police station bombed")
    queue(running, "ops", "Lakki Marwat checkpost attacked")
    assert "silence 1: story " in newsmon(path, "silence", "add", "--story", str(bannu), "--for", "6h",
                                          "--reason", "everyone knows", "--by", "ana")

    harness.drain(running)

    assert [t.split("] ")[1] for t in titles(web, "/ops")] == ["Lakki Marwat checkpost attacked"]
    (silenced,) = json.loads(newsmon(path, "alerts", "--json"))["alerts"][1:]
    assert (silenced["status"], silenced["note"]) == ("silenced", "silenced by silence 1")
    assert "held 1 alert(s)" in newsmon(path, "silence", "list") and "everyone knows by ana" in newsmon(path, "silence", "list")

    running.clock.advance(7 * HOUR)
    harness.drain(running)
    assert titles(web, "/admin") == ["[newsmon] Silence 1 ended: it held 1 alert"]
    assert "stay unsent" in web.json_posts("/admin")[0]["message"]
    assert len(titles(web, "/ops")) == 1  # not made with --resend-on-expiry: it stays silenced
    harness.drain(running)
    assert len(titles(web, "/admin")) == 1  # its end is announced once


def test_with_resend_on_expiry_what_the_silence_held_goes_when_it_ends(tmp_path, web, harness):
    path, running = setup(tmp_path, web, harness)
    queue(running, "ops", "Bannu police station bombed")
    newsmon(path, "silence", "add", "--outlet", "dawn.com", "--for", "1h", "--reason", "checking", "--resend-on-expiry")
    harness.drain(running)
    assert titles(web, "/ops") == []

    newsmon(path, "silence", "expire", "1")  # ended early, by hand
    assert newsmon(path, "silence", "list").startswith("no active silences")
    assert "#1 ended" in newsmon(path, "silence", "list", "--all")
    harness.drain(running)
    assert [t.split("] ")[1] for t in titles(web, "/ops")] == ["Bannu police station bombed"]
    assert "1 queued again now" in web.json_posts("/admin")[0]["message"]


def test_matchers_and_together_severity_means_that_or_lower_and_a_silence_that_held_nothing_says_so(tmp_path, web,
                                                                                                   harness):
    path, running = setup(tmp_path, web, harness)
    queue(running, "ops", "Critical: attack on the consulate", severity="critical")
    queue(running, "ops", "Medium: TTP statement", severity="medium")
    newsmon(path, "silence", "add", "--entity", "pack.ttp", "--severity", "high", "--tag", "pakistan", "--for", "1h",
            "--reason", "noisy")
    newsmon(path, "silence", "add", "--rule", "ttp-activity", "--channel", "admin", "--for", "1h", "--reason", "x")
    harness.drain(running)
    assert [t.split("] ")[1] for t in titles(web, "/ops")] == ["Critical: attack on the consulate"]

    running.clock.advance(2 * HOUR)
    harness.drain(running)
    assert sorted(titles(web, "/admin")) == ["[newsmon] Silence 1 ended: it held 1 alert",
                                             "[newsmon] Silence 2 ended: it matched nothing in its whole life"]


def test_silence_add_refuses_what_would_hide_everything_or_names_nothing_known(tmp_path, web, harness):
    path, _running = setup(tmp_path, web, harness)
    for args, said in ((["--for", "1h", "--reason", "x"], "at least one matcher"),
                       (["--channel", "nope", "--for", "1h", "--reason", "x"], "no such --channel nope"),
                       (["--rule", "ttp-activity", "--until", "2020-01-01T00:00+05:00", "--reason", "x"], "before it starts"),
                       (["--rule", "ttp-activity", "--until", "tomorrow", "--reason", "x"], "is not a time")):
        result = run_newsmon("--config", str(path), "silence", "add", *args)
        assert result.returncode == 2 and said in result.stdout, result.stdout


def test_an_acknowledged_story_is_marked_and_a_quiet_after_ack_channel_gets_no_follow_ups(tmp_path, web, harness):
    path, running = setup(tmp_path, web, harness, quiet_after_ack=True)
    story = queue(running, "ops", "Bannu police station bombed")
    assert f"story {story} acknowledged by ana" in newsmon(path, "ack", str(story), "--by", "ana", "--note", "on it")
    queue(running, "ops", "Bannu toll rises", update=True, story=story)

    harness.drain(running)

    (post,) = web.json_posts("/ops")
    assert "Acknowledged by ana at" in post["message"] and ": on it" in post["message"]
    alerts = json.loads(newsmon(path, "alerts", "--json"))["alerts"]
    assert alerts[0]["status"] == "silenced" and "quiet_after_ack" in alerts[0]["note"]
    assert alerts[1]["acknowledged"]["by"] == "ana"
    assert "acknowledged by ana" in newsmon(path, "alerts")
    assert f"story {story} is no longer acknowledged" in newsmon(path, "unack", str(story))
    assert run_newsmon("--config", str(path), "unack", str(story)).returncode == 1


def test_quiet_after_ack_must_be_true_or_false(tmp_path, web):
    path = write_config(tmp_path, [], {"x": {"urls": ["json://127.0.0.1:9/x"], "quiet_after_ack": "yes"}})
    result = run_newsmon("--config", str(path), "check")
    assert result.returncode == 2 and "channels.x.quiet_after_ack': expected true or false" in result.stdout


def test_later_reports_of_a_silenced_story_do_not_alert_it_again(tmp_path, web):
    from test_events_end_to_end import WATCHLIST, serve_reports

    feeds = serve_reports(web)
    first = next(feed for feed in feeds if "frontierpost" in feed["url"])
    second = next(feed for feed in feeds if "khybernews" in feed["url"])
    hook = web.base.replace("http://", "json://") + "/ops"
    watchlist = {"rules": [{**WATCHLIST["rules"][0], "group_wait": "10m"}]}  # queued, not yet sent
    path = write_config(tmp_path, [first], {"ops": [hook]}, watchlist=watchlist)
    newsmon(path, "run", "--once")
    stories = json.loads(newsmon(path, "stories", "--json"))["stories"]
    bannu = next(story["id"] for story in stories if "Lakki" not in story["title"])
    newsmon(path, "silence", "add", "--story", str(bannu), "--for", "1h", "--reason", "the office is informed")

    path = write_config(tmp_path, [first, second], {"ops": [hook]}, watchlist=watchlist)
    newsmon(path, "run", "--once")  # the silence applies at send time; another outlet's report joins the story

    alerts = json.loads(newsmon(path, "alerts", "--json"))["alerts"]
    assert [(alert["story"], alert["status"]) for alert in alerts if alert["story"] == bannu] == [(bannu, "silenced")]
    assert web.json_posts("/ops") == []
