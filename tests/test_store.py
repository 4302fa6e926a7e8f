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
