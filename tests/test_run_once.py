"""`newsmon run --once` says what happened: on a terminal, a summary naming the failing feeds,
what was held back and until when, and why entries did not alert; exit 1 when every feed is
failing; a feed failing for a day said again at WARNING (for the README's cron line). `status`
shows each feed's last alert and what it recorded without alerting; `stories` filters and
shows publication times; `enable` / `disable` take a feed's name.

Real `newsmon` processes (on a pseudo-terminal where the terminal matters), loopback feeds."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from conftest import ROOT, Clock, run_newsmon
from fixtures import COURIER_ITEMS, page, publish, rfc822_days_ago, rss, write_config

HOOK = "/hook"


def on_terminal(*args: str, env: dict | None = None) -> tuple[int, str]:
    """Run newsmon with stdout and stderr on a pseudo-terminal, as a person at a shell does;
    returns (exit status, what the terminal showed)."""
    leader, follower = os.openpty()
    process = subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=ROOT, stdout=follower, stderr=follower,
                               stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has gone
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(timeout=60), shown.decode("utf-8", "replace").replace("\r\n", "\n")


def hook(web) -> str:
    return web.base.replace("http://", "json://") + HOOK


def test_every_feed_failing_exits_1_and_the_summary_names_them(tmp_path, web):
    feeds = [{"url": f"{web.base}/gone-{n}.xml"} for n in range(3)] + [{"url": "http://127.0.0.1:9/closed.xml"}]
    path = write_config(tmp_path, feeds, {"hook": [hook(web)]})
    code, shown = on_terminal("--config", str(path), "run", "--once")
    assert code == 1, shown
    assert "newsmon: polled 4 of 4 feeds: 0 new entries, 0 alerts sent" in shown
    assert "4 feeds failing: " in shown and f"{web.base}/gone-0.xml (http: HTTP 404" in shown
    assert "http://127.0.0.1:9/closed.xml (connect: " in shown

    again = run_newsmon("--config", str(path), "--log-level", "warning", "run", "--once")
    assert again.returncode == 1
    assert again.stdout == ""  # not a terminal (cron): no summary; nothing new to warn about
    assert "feed failed" not in again.stderr

    code, shown = on_terminal("--config", str(path), "run", "--once")  # now they back off
    assert code == 1
    assert "polled 0 of 4 feeds" in shown and "4 feeds held back until " in shown and "4 feeds failing" in shown


def test_one_working_feed_is_enough_for_exit_0(tmp_path, web):
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier}, {"url": f"{web.base}/gone.xml"}], {"hook": [hook(web)]})
    code, shown = on_terminal("--config", str(path), "run", "--once")
    assert code == 0
    assert "1 feed failing: " in shown and "/gone.xml (http: HTTP 404" in shown


def test_a_feed_failing_for_a_day_is_said_again_once(tmp_path, web, harness, caplog):
    path = write_config(tmp_path, [{"url": f"{web.base}/gone.xml", "interval": "1h"}], {"hook": [hook(web)]},
                        max_backoff="1h")
    clock = Clock()
    running = harness.open(path, clock)
    warnings = lambda: [r.getMessage() for r in caplog.records
                        if r.levelno == logging.WARNING and "gone.xml" in r.getMessage()]
    with caplog.at_level(logging.DEBUG, logger="newsmon"):
        harness.poll_all(running)
        assert len(warnings()) == 1 and warnings()[0].startswith("feed failed")
        for _ in range(20):  # polled every hour or so for most of a day (22.2 h): quiet
            clock.advance(3600 * 1.11)
            harness.poll_all(running)
        assert len(warnings()) == 1
        clock.advance(3600 * 2.2)  # 24.4 h since it was said
        harness.poll_all(running)
        assert len(warnings()) == 2
        assert warnings()[1].startswith("feed still failing") and "said once a day" in warnings()[1]


def test_why_nothing_alerted_is_said(tmp_path, web):
    courier, _dispatch = publish(web)
    old = [{**item, "guid": f"old-{n}", "path": f"/old/{n}.html", "date": rfc822_days_ago(30)}
           for n, item in enumerate(COURIER_ITEMS)]
    for item in old:
        web.add(item["path"], page(item["path"], item["title"], "Archive", *item["body"]))
    archive = web.add("/archive.xml", rss("Archive", old), "application/rss+xml")
    path = write_config(tmp_path, [{"url": courier}, {"url": archive, "alert_on_first_poll": True}],
                        {"hook": [hook(web)]})
    code, shown = on_terminal("--config", str(path), "run", "--once")
    assert code == 0
    assert "polled 2 of 2 feeds: 6 new entries, 0 alerts sent" in shown
    assert "3 entries recorded without alerting: the first poll of a new feed" in shown
    assert "3 entries recorded without alerting: published more than 7 days ago (alert_max_age)" in shown

    status = run_newsmon("--config", str(path), "status")
    assert status.returncode == 0
    assert "last alert never · 3 entries recorded without alerting (first poll of a new feed)" in status.stdout
    assert "last alert never · 3 entries recorded without alerting (published before alert_max_age)" in status.stdout
    feeds = json.loads(run_newsmon("--config", str(path), "status", "--json").stdout)["feeds"]
    assert [feed["recorded_without_alerting"] for feed in feeds] == [{"first poll": 3}, {"too old": 3}]

    fresh = {"guid": "new-1", "path": "/courier/new.html", "title": "Checkpoint attacked in Bannu",
             "summary": "The TTP claimed it.", "body": ("The TTP claimed an attack on a checkpoint in Bannu.",)}
    web.add(fresh["path"], page(fresh["path"], fresh["title"], "Indus Courier", *fresh["body"]))
    web.add("/courier/rss.xml", rss("Indus Courier", [fresh, *COURIER_ITEMS]), "application/rss+xml")
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    status = run_newsmon("--config", str(path), "status", "--json")
    courier_row = json.loads(status.stdout)["feeds"][0]
    assert courier_row["last_alert"] is not None and courier_row["recorded_without_alerting"] == {"first poll": 3}


def test_stories_filter_by_rule_limit_and_show_publication_times(tmp_path, web):
    courier, dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True},
                                   {"url": dispatch, "alert_on_first_poll": True}], {"hook": [hook(web)]})
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    every = json.loads(run_newsmon("--config", str(path), "stories", "--json").stdout)["stories"]
    assert len(every) == 5
    iskp = json.loads(run_newsmon("--config", str(path), "stories", "--rule", "iskp-activity", "--json").stdout)
    assert [story["title"] for story in iskp["stories"]] == ["Blast near Kabul ministry, several hurt"]
    assert iskp["stories"][0]["articles"][0]["published"] is not None
    limited = json.loads(run_newsmon("--config", str(path), "stories", "--limit", "2", "--json").stdout)
    assert len(limited["stories"]) == 2
    text = run_newsmon("--config", str(path), "stories", "--rule", "iskp-activity").stdout
    assert text.count("Blast near Kabul ministry, several hurt") == 1  # each title once
    assert "(published " in text


def test_enable_and_disable_take_a_feeds_name(tmp_path, web):
    courier, _dispatch = publish(web)
    path = write_config(tmp_path, [{"url": courier, "name": "Indus Courier"}], {"hook": [hook(web)]})
    assert run_newsmon("--config", str(path), "run", "--once").returncode == 0
    disabled = run_newsmon("--config", str(path), "disable", "indus courier")
    assert disabled.returncode == 0 and disabled.stdout.startswith(f"{courier}: disabled")
    enabled = run_newsmon("--config", str(path), "enable", "Indus Courier")
    assert enabled.returncode == 0 and enabled.stdout.startswith(f"{courier}: enabled")
    wrong = run_newsmon("--config", str(path), "enable", "Indus Couriers")
    assert wrong.returncode == 1 and "did you mean 'Indus Courier'?" in wrong.stderr


def test_run_once_says_a_failed_channel_is_retried_at_the_next_run(tmp_path, web):
    courier, _dispatch = publish(web)
    web.add(HOOK, "{}", "application/json", status=500)
    path = write_config(tmp_path, [{"url": courier, "alert_on_first_poll": True}], {"hook": [hook(web)]})
    result = run_newsmon("--config", str(path), "run", "--once")
    assert result.returncode == 0
    assert "channel failed channel=hook" in result.stderr and "retry at the next run" in result.stderr
    assert "retry in " not in result.stderr


def test_article_pages_that_cannot_be_fetched_are_said_once_per_poll(tmp_path, web):
    courier, _dispatch = publish(web)
    for item in COURIER_ITEMS:
        web.add(item["path"], "gone", "text/plain", status=503)
    path = write_config(tmp_path, [{"url": courier}], {"hook": [hook(web)]})
    result = run_newsmon("--config", str(path), "--log-level", "warning", "run", "--once")
    assert result.returncode == 0
    lines = [line for line in result.stderr.splitlines() if "article pages not read" in line]
    assert len(lines) == 1, result.stderr
    assert f"feed={courier} count=3 kinds=http" in lines[0] and "full-text matches may be missed" in lines[0]


def test_progress_is_said_every_few_seconds_during_a_long_cycle(capsys):
    from monitor.cli import once

    clock = Clock(0.0)
    progress = once.Progress(100, clock=clock)
    for _ in range(50):  # 50 feeds, one every 0.25 s: 12.5 s
        clock.advance(0.25)
        progress()
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["newsmon: 20 of 100 feeds polled (5 s)", "newsmon: 40 of 100 feeds polled (10 s)"]


def test_a_run_whose_feeds_bring_nothing_new_does_not_read_the_story_window(tmp_path, web):
    """Start-up does not grow with history: the near-duplicate signatures of the story window
    are read only by a run that has an article to place in a story."""
    courier, _dispatch = publish(web, courier_items=COURIER_ITEMS[:-1])
    path = write_config(tmp_path, [{"url": courier}], {"hook": [hook(web)]})
    first = run_newsmon("--config", str(path), "--log-level", "debug", "run", "--once")
    assert first.returncode == 0, first.stderr
    assert "story window read (rebuilt): 0 signatures" in first.stderr  # the first poll records articles
    quiet = run_newsmon("--config", str(path), "--log-level", "debug", "run", "--once")
    assert quiet.returncode == 0, quiet.stderr
    assert "new_entries=0" in quiet.stderr and "story window read" not in quiet.stderr
    publish(web)  # one more item
    news = run_newsmon("--config", str(path), "--log-level", "debug", "run", "--once")
    assert news.returncode == 0, news.stderr
    # the window the first run saved at its stop (monitor.window)
    assert f"story window read (saved): {len(COURIER_ITEMS) - 1} signatures" in news.stderr and "new_entries=1" in news.stderr
