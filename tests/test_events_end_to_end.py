"""One alert per event, as a user sees it: five outlets' feeds, served on loopback, each carry
their own report of one incident, and one of them also a different incident by the same group
in the same province; one `newsmon run --once` sends exactly two alerts, each listing its
outlets. The reports are hand-written (tests/data/event_reports.toml), so this runs without
the shared corpus."""

from __future__ import annotations

import html
import sqlite3
import tomllib
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

from conftest import run_newsmon
from fixtures import page, write_config

from monitor import cli, store

DATA = Path(__file__).parent / "data" / "event_reports.toml"
SERVED = ("bannu-police-station", "lakki-checkpost")


def feed(outlet: str, items: list[tuple[str, str, datetime, str]]) -> str:
    entries = "\n".join(
        f"""<item><title>{html.escape(title)}</title><link>{{BASE}}/{outlet}/{slug}.html</link>
<guid isPermaLink="false">{outlet}-{slug}</guid><pubDate>{format_datetime(published)}</pubDate>
<description>{html.escape(text)}</description></item>"""
        for title, text, published, slug in items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{outlet}</title><link>https://{outlet}/</link><description>news</description>
{entries}
</channel></rss>"""


def serve_reports(web) -> list[dict]:
    data = tomllib.loads(DATA.read_text(encoding="utf-8"))
    # the latest noon (UTC) already past: an hour or two before it is the same day, whatever the
    # time the test runs (run just after midnight, "two hours ago" was yesterday, and a report
    # published then of "Saturday" meant the Saturday before)
    now = (datetime.now(timezone.utc) - timedelta(hours=12)).replace(hour=12, minute=0, second=0, microsecond=0)
    by_outlet: dict[str, list] = {}
    pages: set[str] = set()
    for number, report in enumerate(data["report"]):
        if report["event"] not in SERVED:
            continue
        incident = now - timedelta(days=data["events"][report["event"]]["incident_days_ago"])
        published = min(now - timedelta(days=report["days_ago"], hours=2), now - timedelta(hours=1))

        def filled(text: str) -> str:
            return text.replace("{weekday}", incident.strftime("%A")).replace(
                "{date}", f"{incident.day} {incident:%B %Y}")

        slug = f"{report['event']}-{number}"
        title, text = filled(report["title"]), filled(report["text"])
        if report.get("page"):  # the feed has the title; the page has the report
            paragraphs = [*text.split("\n"), *report["background"]]
            web.add(f"/{report['outlet']}/{slug}.html", page(f"/{report['outlet']}/{slug}.html", title, report["outlet"],
                                                              *paragraphs))
            pages.add(report["outlet"])
            text = title
        by_outlet.setdefault(report["outlet"], []).append((title, text, published, slug))
    feeds = []
    for outlet, items in by_outlet.items():
        url = web.add(f"/{outlet}/rss.xml", feed(outlet, items), "application/rss+xml")
        feeds.append({"url": url, "outlet": outlet, "full_text": outlet in pages, "alert_on_first_poll": True})
    return feeds


WATCHLIST = {"rules": [{"name": "kp-attacks", "any": ["Bannu", "Lakki Marwat", "Khyber Pakhtunkhwa"]}]}


def test_five_outlets_reporting_one_incident_send_one_alert_listing_them(tmp_path, web):
    feeds = serve_reports(web)
    hook = web.base.replace("http://", "json://") + "/hook"
    path = write_config(tmp_path, feeds, {"hook": [hook]}, watchlist=WATCHLIST)

    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    posts = web.json_posts("/hook")
    assert len(posts) == 2, [post["title"] for post in posts]
    bannu = next(post for post in posts if "Lakki" not in post["title"])
    lakki = next(post for post in posts if "Lakki" in post["title"])
    for outlet in ("frontierpost.example", "khybernews.example", "pakobserver.example", "tribalwire.example",
                   "asiadesk.example"):
        assert outlet in bannu["message"], bannu["message"]
    assert "frontierpost.example" in lakki["message"] and "khybernews.example" not in lakki["message"]
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        stories = db.execute("SELECT COUNT(DISTINCT story_id), COUNT(*) FROM articles").fetchone()
        page_text = db.execute("SELECT LENGTH(text) FROM articles WHERE source = 'page'").fetchall()
    assert stories == (2, 6)
    assert page_text and page_text[0][0] > 2000  # an extracted page: its features were read in a worker

    assert cli.main(["--config", str(path), "run", "--once"]) == 0  # nothing new: nothing sent again
    assert len(web.json_posts("/hook")) == 2


def test_stories_of_an_older_newsmon_become_events_without_alerting_again(tmp_path, web):
    """A state written before events (schema 8: no features) is migrated: its stories keep their
    ids, their articles' features are read from their stored text once, and another outlet's own
    report of an old story joins it instead of alerting again."""
    feeds = serve_reports(web)
    first = next(feed for feed in feeds if "frontierpost" in feed["url"])
    hook = web.base.replace("http://", "json://") + "/hook"
    path = write_config(tmp_path, [first], {"hook": [hook]}, watchlist=WATCHLIST)
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    assert len(web.json_posts("/hook")) == 2  # its Bannu and Lakki Marwat reports
    database = tmp_path / "state" / "newsmon.db"
    with sqlite3.connect(database) as db:  # as newsmon 0.x (schema 8) left it
        for statement in ("DROP INDEX stories_merged", "DROP INDEX alerts_silence", "DROP TABLE silences",
                          "DROP TABLE acks", "ALTER TABLE alerts DROP COLUMN silence_id",
                          "ALTER TABLE alerts DROP COLUMN escalated"):
            db.execute(statement)
        for table, column in (("articles", "features"), ("articles", "copy_of"), ("stories", "merged_into"),
                              ("stories", "merged_at"), ("stories", "merged_why"), ("alerts", "held"), ("alerts", "note"),
                              ("channels", "failing_since"), ("channels", "failing_notice"), ("channels", "heartbeat_at"),
                              ("stories", "facts")):
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        db.execute("PRAGMA user_version = 8")
    for saved in database.parent.glob("*-window.pickle"):  # nor did it keep its story window between runs
        saved.unlink()

    second = next(feed for feed in feeds if "khybernews" in feed["url"])
    path = write_config(tmp_path, [first, second], {"hook": [hook]}, watchlist=WATCHLIST)
    result = run_newsmon("--config", str(path), "run", "--once")

    assert result.returncode == 0, result.stderr
    assert "event features read again for 2 articles" in result.stderr
    assert len(web.json_posts("/hook")) == 2  # the new report joined the old story: nothing sent again
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        assert db.execute("SELECT COUNT(DISTINCT story_id), COUNT(*), COUNT(features) FROM articles").fetchone() == (2, 3, 3)
