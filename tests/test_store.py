"""The state database: migrations from every earlier schema keep what was there."""

from __future__ import annotations

import sqlite3

import pytest

from monitor import store
from monitor.errors import StoreError


def test_a_version_1_database_is_migrated_without_losing_pending_alerts(tmp_path):
    path = tmp_path / "newsmon.db"
    with sqlite3.connect(path) as db:
        for statement in store.split_statements(store.MIGRATIONS[0]):
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO feeds (url, fetch_url, created) VALUES ('https://a.example/rss', 'https://a.example/rss', 1)")
        db.execute("INSERT INTO stories (first_seen, title) VALUES (1, 'x')")
        db.execute("""INSERT INTO alerts (rule, story_id, channel, next_attempt, created, message)
                      VALUES ('r', 1, 'email', 1, 1, '{"rule": "r", "title": "t", "url": null, "outlet": "o",
                      "published": null, "snippet": "s", "highlights": [], "matched": []}')""")
    with store.open_store(tmp_path) as opened:
        assert opened.db.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        (pending,) = opened.pending("email", 10)
        assert pending.rule == "r" and pending.message.title == "t"
        assert opened.feed("https://a.example/rss").id == 1  # the feed keeps its id


def test_a_database_from_a_newer_newsmon_is_refused(tmp_path):
    with sqlite3.connect(tmp_path / "newsmon.db") as db:
        db.execute(f"PRAGMA user_version = {store.SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer newsmon"):
        store.open_store(tmp_path)


def test_the_database_is_in_wal_mode_with_full_sync(tmp_path):
    with store.open_store(tmp_path) as opened:
        assert opened.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert opened.db.execute("PRAGMA synchronous").fetchone()[0] == 2


def stored(tmp_path, column: str):
    with sqlite3.connect(tmp_path / "newsmon.db") as db:
        row = db.execute(f"SELECT {column} FROM feeds").fetchone()
        return row[0] if row else None  # None too while the feed's row waits for a commit


def test_an_unchanged_poll_is_seen_at_once_and_written_with_the_next_transaction(tmp_path):
    """A 304 is the most common write: it waits for the next transaction (one fsync for many)."""
    opened = store.open_store(tmp_path)
    feed = opened.feed("https://a.example/rss")
    opened.feed_failed(feed.id, "http", "503", now=100.0, next_poll=None)
    opened.feed_unchanged(feed.id, etag='"v2"', last_modified=None, now=200.0, next_poll=7400.0)
    seen = opened.feed("https://a.example/rss")  # the process sees it at once
    assert (seen.etag, seen.last_success, seen.error_count, seen.last_error, seen.next_poll) == ('"v2"', 200.0, 0, None, 7400.0)
    assert stored(tmp_path, "last_success") is None  # not written yet: another process sees the old row
    opened.set_silent(feed.id, 300.0)  # any write transaction takes it along, first
    assert stored(tmp_path, "last_success") == 200.0 and stored(tmp_path, "etag") == '"v2"'
    opened.feed_unchanged(feed.id, etag='"v2"', last_modified=None, now=400.0)
    opened.feed_unchanged(feed.id, etag='"v3"', last_modified=None, now=500.0)  # the later one wins
    opened.close()  # closing writes what waits
    assert stored(tmp_path, "last_success") == 500.0 and stored(tmp_path, "etag") == '"v3"'
    assert stored(tmp_path, "silent_since") == 300.0


def entry_count(tmp_path) -> int:
    with sqlite3.connect(tmp_path / "newsmon.db") as db:
        return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


def test_entries_without_alerts_are_read_at_once_and_committed_with_the_next_transaction(tmp_path):
    """An entry that queues no alert needs no fsync of its own: lost in a crash, it is read
    from its feed again (its feed's validators are committed with it or not at all)."""
    from monitor.model import Article, Entry

    opened = store.open_store(tmp_path)
    feed = opened.feed("https://a.example/rss")
    first = Entry("guid:1", "Title", "https://a.example/1", "", "", None, "h1")
    article = Article("https://a.example/1", "Title", "Some text " * 20, "page", "a.example", None)
    article_id, _story = opened.record_entry(feed.id, first, article, [], [], canonical_link="a.example/1", now=1.0)
    copy = Entry("guid:2", "Title", "https://a.example/1?utm_source=x", "", "", None, "h2")
    opened.link_entry(feed.id, copy, "a.example/1", article_id, now=2.0)
    assert set(opened.known_entries(feed.id)) == {"guid:1", "guid:2"}  # this connection reads it at once
    assert entry_count(tmp_path) == 0  # not committed yet: another connection does not see them
    opened.feed_succeeded(feed.id, etag='"v1"', last_modified=None, body_hash="b", now=3.0, next_poll=None)
    assert entry_count(tmp_path) == 0 and stored(tmp_path, "etag") is None  # the poll's validators wait with them
    opened.flush()
    assert entry_count(tmp_path) == 2 and stored(tmp_path, "etag") == '"v1"'  # committed together

    opened.link_entry(feed.id, Entry("guid:3", "Title", "https://a.example/1#top", "", "", None, "h3"),
                      "a.example/1", article_id, now=4.0)
    opened.db.close()  # newsmon dies: what waited is gone, and nothing else
    with store.open_store(tmp_path) as reopened:
        assert set(reopened.known_entries(feed.id)) == {"guid:1", "guid:2"}
        assert reopened.feed("https://a.example/rss").etag == '"v1"'


def test_feeds_polled_together_commit_once_they_are_done_and_leave_no_lock(tmp_path, web, harness):
    """Silent entries and a poll's validators wait for a commit (see above); the last poll
    running commits them, so once polling stops another process sees every feed's entries and
    can write at once (a CLI's `ack` does not wait for the daemon's next heartbeat)."""
    import asyncio
    import time

    from fixtures import rss, write_config

    from monitor import pipeline

    feeds = []
    for name in ("north", "south", "east"):
        items = [{"guid": f"{name}-{n}", "path": f"/{name}/{n}.html", "title": f"{name} item {n}",
                  "summary": f"Report {n} from the {name}."} for n in range(3)]
        feeds.append({"url": web.add(f"/{name}.xml", rss(name, items), "application/rss+xml"), "full_text": False})
    path = write_config(tmp_path, feeds, {"desk": [web.base.replace("http://", "json://") + "/desk"]})
    running = harness.open(path, time.time)

    async def together():
        return await asyncio.gather(*(pipeline.poll(running, feed) for feed in running.config.feeds))

    results = harness.runner.run(together())
    assert [result.new for result in results] == [3, 3, 3]
    with sqlite3.connect(tmp_path / "state" / "newsmon.db", timeout=0) as other:
        assert other.execute("SELECT COUNT(*) FROM entries").fetchone()[0] == 9
        assert other.execute("SELECT COUNT(*) FROM feeds WHERE last_success IS NOT NULL").fetchone()[0] == 3
        other.execute("BEGIN IMMEDIATE")  # the write lock is free: no transaction left open
        other.rollback()


def test_a_failed_write_undoes_itself_and_keeps_what_waits(tmp_path):
    from monitor.model import Article, Entry

    with store.open_store(tmp_path) as opened:
        feed = opened.feed("https://a.example/rss")
        article = Article("https://a.example/1", "Title", "Some text " * 20, "page", "a.example", None)
        article_id, _story = opened.record_entry(feed.id, Entry("guid:1", "T", "u", "", "", None, "h"), article,
                                                 [], [], now=1.0)
        opened.flush()
        opened.link_entry(feed.id, Entry("guid:2", "T", "u2", "", "", None, "h"), "u", article_id, now=2.0)
        with pytest.raises(sqlite3.IntegrityError):
            with opened.transaction() as db:
                db.execute("INSERT INTO feeds (url, created) VALUES ('https://a.example/rss', 1)")  # not unique
        assert set(opened.known_entries(feed.id)) == {"guid:1", "guid:2"}  # the failed part alone was undone
        assert entry_count(tmp_path) == 1  # and what waits still waits
    assert entry_count(tmp_path) == 2  # closing commits it


def test_an_unchanged_poll_waiting_beside_an_open_transaction_is_written(tmp_path):
    """A 304's timestamps deferred while entries wait for a commit go in with that commit, and
    survive a failed transaction."""
    from monitor.model import Article, Entry

    opened = store.open_store(tmp_path)
    feed = opened.feed("https://a.example/rss")
    other = opened.feed("https://b.example/rss")
    article = Article("https://a.example/1", "Title", "Some text " * 20, "page", "a.example", None)
    opened.record_entry(feed.id, Entry("guid:1", "T", "u", "", "", None, "h"), article, [], [], now=1.0)
    opened.feed_unchanged(other.id, etag='"b1"', last_modified=None, now=5.0)
    with pytest.raises(sqlite3.IntegrityError):
        with opened.transaction() as db:
            db.execute("INSERT INTO feeds (url, created) VALUES ('https://a.example/rss', 1)")
    opened.close()
    with sqlite3.connect(tmp_path / "newsmon.db") as db:
        assert db.execute("SELECT etag FROM feeds WHERE url = 'https://b.example/rss'").fetchone()[0] == '"b1"'
    assert entry_count(tmp_path) == 1


def test_a_link_lookup_is_made_again_only_if_an_entry_was_recorded_under_it_since(tmp_path, monkeypatch):
    """`recorded_since`: whether an entry this process recorded since a lookup can be found by
    the link looked up, by the entry's canonical link or by its page's canonical URL; when more
    entries were recorded since than it remembers, it cannot tell, and says so."""
    from monitor.model import Article, Entry
    from monitor.store import entries

    with store.open_store(tmp_path) as opened:
        feed = opened.feed("https://a.example/rss")
        before = opened.recorded
        article = Article("https://a.example/1?x", "Title", "Some text " * 20, "page", "a.example", None,
                          canonical_url="a.example/news/1")
        article_id, _story = opened.record_entry(feed.id, Entry("guid:1", "Title", "https://a.example/1?x", "", "", None, "h"),
                                                 article, [], [], canonical_link="a.example/1", now=1.0)
        assert opened.recorded_since("a.example/1", before) and opened.recorded_since("a.example/news/1", before)
        assert not opened.recorded_since("a.example/2", before)
        assert not opened.recorded_since("a.example/1", opened.recorded)  # nothing recorded since

        between = opened.recorded
        opened.link_entry(feed.id, Entry("guid:2", "Title", "https://a.example/2", "", "", None, "h"), "a.example/2",
                          article_id, now=2.0)
        assert opened.recorded_since("a.example/2", between) and not opened.recorded_since("a.example/1", between)

        monkeypatch.setattr(entries, "LINKS_KEPT", 4)
        for number in range(3, 6):
            opened.link_entry(feed.id, Entry(f"guid:{number}", "T", f"https://a.example/{number}", "", "", None, "h"),
                              f"a.example/{number}", article_id, now=3.0)
        assert opened.recorded_since("a.example/1", between)  # 4 entries since: more than it remembers


def test_an_earlier_report_takes_the_head_of_a_waiting_first_alert_and_keeps_its_proximity(tmp_path):
    """`record_entry(leads=...)`: the first alert of a rule that no send has tried is headed by a
    report published earlier than the one at its head; how near the event is to a watched site
    stays the nearest said; a later report, an alert tried already, or a follow-up keeps its head."""
    from datetime import datetime, timezone

    from monitor.model import AlertMessage, Article, Entry, QueuedAlert

    def at(hour: int) -> datetime:
        return datetime(2026, 11, 17, hour, tzinfo=timezone.utc)

    def message(title: str, hour: int, **near) -> AlertMessage:
        return AlertMessage(rule="r", title=title, url=f"https://x.example/{hour}", outlet=f"o{hour}",
                            published=at(hour).isoformat(), snippet=title, highlights=(), matched=("TTP",), **near)

    def article(hour: int) -> Article:
        return Article(f"https://x.example/{hour}", f"report {hour}", "Some text " * 20, "page", f"o{hour}", at(hour))

    with store.open_store(tmp_path) as opened:
        feed = opened.feed("https://x.example/rss")
        queued = [QueuedAlert("r", channel, message("report 9", 9, near_km=3.0, near_site="office"))
                  for channel in ("chat", "mail")]
        _first, story = opened.record_entry(feed.id, Entry("g9", "report 9", "u9", "", "", None, "h9"), article(9),
                                            [], queued, now=1.0)
        (tried,) = opened.pending("mail", 2.0)
        opened.begin_attempt([tried.id], 2.0)  # mail has tried it: one of two targets took it, the other failed
        opened.mark_delivered([tried.id], ["a"], 2.5, "alert", ["a", "b"], error="timed out")
        later, _ = opened.record_entry(feed.id, Entry("g10", "report 10", "u10", "", "", None, "h10"), article(10), [], [],
                                       story_id=story, leads={"r": message("report 10", 10)}, now=3.0)
        earlier, _ = opened.record_entry(feed.id, Entry("g5", "report 5", "u5", "", "", None, "h5"), article(5), [], [],
                                         story_id=story, leads={"r": message("report 5", 5)}, now=4.0)
        (chat,) = opened.pending("chat", 5.0)
        assert (chat.message.title, chat.message.outlet) == ("report 5", "o5")
        assert (chat.message.near_km, chat.message.near_site) == (3.0, "office")
        assert opened.db.execute("SELECT article_id FROM alerts WHERE id = ?", (chat.id,)).fetchone()[0] == earlier
        (mail,) = opened.pending("mail", 5.0)  # waiting for its other target: it goes as its first target had it
        assert mail.message.title == "report 9" and later != earlier
