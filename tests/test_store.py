"""The state database: migrations from every earlier schema keep what was there."""

from __future__ import annotations

import sqlite3

import pytest

from monitor import store
from monitor.errors import StoreError


def test_a_version_1_database_is_migrated_without_losing_pending_alerts(tmp_path):
    path = tmp_path / "newsmon.db"
    with sqlite3.connect(path) as db:
        for statement in store._statements(store.MIGRATIONS[0]):
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
        return db.execute(f"SELECT {column} FROM feeds").fetchone()[0]


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
