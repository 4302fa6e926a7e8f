"""Corroboration, as a user sees it: a channel with `min_outlets = 2` alerts only on events a
second outlet reported in its own words, while other channels alert at once; an event nobody
else reports within the story window is recorded as not corroborated and never sent; the
alert's 48-hour deadline counts from its release. Feeds and webhook receivers on loopback,
hand-written reports (tests/data/event_reports.toml), real apprise and SQLite."""

from __future__ import annotations

import json
import sqlite3
import time

from conftest import run_newsmon
from fixtures import write_config
from test_events_end_to_end import WATCHLIST, serve_reports

from monitor import cli


def channels(web) -> dict:
    base = web.base.replace("http://", "json://")
    return {"now": [base + "/now"], "corroborated": {"urls": [base + "/corroborated"], "min_outlets": 2}}


def test_a_min_outlets_channel_alerts_only_on_corroborated_events(tmp_path, web):
    feeds = serve_reports(web)  # five outlets report a Bannu bombing; one of them also a Lakki Marwat raid
    path = write_config(tmp_path, feeds, channels(web), watchlist=WATCHLIST)

    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    now = [post["title"] for post in web.json_posts("/now")]
    corroborated = web.json_posts("/corroborated")
    assert len(now) == 2 and any("Lakki" in title for title in now)
    assert len(corroborated) == 1 and "Lakki" not in corroborated[0]["title"]
    assert "5 outlets reported it independently" in corroborated[0]["message"]
    held = json.loads(run_newsmon("--config", str(path), "alerts", "--held", "--json").stdout)["alerts"]
    assert [(alert["channel"], alert["status"], alert["held"]) for alert in held] == [
        ("corroborated", "held", "min_outlets 2")]
    assert "Lakki" in held[0]["title"]
    listing = run_newsmon("--config", str(path), "alerts").stdout
    assert "waits for min_outlets 2" in listing

    assert cli.main(["--config", str(path), "run", "--once"]) == 0  # nothing new: each sent once, the other still held
    assert len(web.json_posts("/now")) == 2 and len(web.json_posts("/corroborated")) == 1


def test_a_second_outlet_releases_the_held_alert_and_its_deadline_counts_from_then(tmp_path, web):
    feeds = serve_reports(web)
    first = next(feed for feed in feeds if "frontierpost" in feed["url"])
    second = next(feed for feed in feeds if "khybernews" in feed["url"])
    path = write_config(tmp_path, [first], channels(web), watchlist=WATCHLIST)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert len(web.json_posts("/now")) == 2 and web.json_posts("/corroborated") == []

    path = write_config(tmp_path, [first, second], channels(web), watchlist=WATCHLIST)
    released_after = time.time()
    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    (post,) = web.json_posts("/corroborated")
    assert "Bannu" in post["title"] and "khybernews.example" in post["message"]
    assert len(web.json_posts("/now")) == 2  # the other channel had alerted already: not again
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        (created, expires), = db.execute("SELECT created, expires FROM alerts WHERE channel = 'corroborated' "
                                         "AND status = 'sent'").fetchall()
    assert expires >= released_after + 48 * 3600 > created + 48 * 3600


def test_an_event_nobody_else_reports_is_recorded_as_not_corroborated(tmp_path, web):
    feeds = serve_reports(web)
    first = next(feed for feed in feeds if "frontierpost" in feed["url"])
    path = write_config(tmp_path, [first], channels(web), watchlist=WATCHLIST, story_window="1s")
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    time.sleep(1.2)
    result = run_newsmon("--config", str(path), "run", "--once")

    assert result.returncode == 0, result.stderr
    assert "alert not corroborated: no second outlet reported story" in result.stderr
    assert web.json_posts("/corroborated") == [] and len(web.json_posts("/now")) == 2
    held = json.loads(run_newsmon("--config", str(path), "alerts", "--held", "--json").stdout)["alerts"]
    assert sorted(alert["status"] for alert in held) == ["uncorroborated", "uncorroborated"]
    assert all(alert["note"].startswith("not corroborated") for alert in held)


def test_min_outlets_must_be_a_whole_number(tmp_path, web):
    path = write_config(tmp_path, [], {"x": {"urls": ["json://127.0.0.1:9/x"], "min_outlets": 0}})
    result = run_newsmon("--config", str(path), "check")
    assert result.returncode == 2
    assert "at 'channels.x.min_outlets': expected a whole number of at least 1, got 0" in result.stdout
