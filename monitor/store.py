"""The state database: one SQLite file, the only module that speaks SQL.

Schema changes are migrations keyed by `PRAGMA user_version`; `MIGRATIONS[n]` takes a database
at version n to n + 1. Every write is a short explicit transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from monitor.errors import StoreError
from monitor.model import AlertMessage, Article, Entry, Hit, Match, PendingAlert

MIGRATIONS: list[str] = [
    # 0 -> 1: the first schema.
    """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,          -- as configured; the feed's identity
        fetch_url TEXT,                    -- where we fetch it now (after permanent redirects)
        title TEXT,
        site_url TEXT,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        last_attempt REAL,
        last_success REAL,
        last_error TEXT,
        error_kind TEXT,
        error_count INTEGER NOT NULL DEFAULT 0,
        next_poll REAL,
        status TEXT NOT NULL DEFAULT 'active',
        created REAL NOT NULL
    );
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        first_seen REAL NOT NULL,
        representative_article INTEGER,
        title TEXT,
        outlets TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE articles (
        id INTEGER PRIMARY KEY,
        url TEXT,
        canonical_url TEXT,
        title TEXT NOT NULL,
        text TEXT NOT NULL,
        source TEXT NOT NULL,
        outlet TEXT NOT NULL,
        language TEXT,
        published REAL,
        fetched REAL NOT NULL,
        story_id INTEGER REFERENCES stories(id)
    );
    CREATE INDEX articles_canonical ON articles(canonical_url);
    CREATE TABLE entries (
        id INTEGER PRIMARY KEY,
        feed_id INTEGER NOT NULL REFERENCES feeds(id),
        entry_key TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        title TEXT,
        link TEXT,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        article_id INTEGER REFERENCES articles(id),
        UNIQUE (feed_id, entry_key)
    );
    CREATE TABLE hits (
        id INTEGER PRIMARY KEY,
        article_id INTEGER NOT NULL REFERENCES articles(id),
        rule TEXT NOT NULL,
        term TEXT NOT NULL,
        entity TEXT,
        alias TEXT NOT NULL,
        field TEXT NOT NULL,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL
    );
    CREATE INDEX hits_article ON hits(article_id);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        channel TEXT NOT NULL,
        article_id INTEGER REFERENCES articles(id),
        status TEXT NOT NULL DEFAULT 'pending',   -- pending | sending | sent | dead
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        last_error TEXT,
        created REAL NOT NULL,
        sent REAL,
        message TEXT NOT NULL,                    -- JSON of AlertMessage
        UNIQUE (rule, story_id, channel)
    );
    CREATE INDEX alerts_due ON alerts(channel, status, id);
    """,
    # 1 -> 2: feed health for backoff and status: why a feed is disabled, when it last changed.
    """
    ALTER TABLE feeds ADD COLUMN status_reason TEXT;
    ALTER TABLE feeds ADD COLUMN moved_to TEXT;
    """,
    # 2 -> 3: stories across outlets. Entries know their canonical link; articles keep their
    # near-duplicate signature; an alert may have follow-ups (seq > 0) for the same story.
    """
    ALTER TABLE entries ADD COLUMN canonical_link TEXT;
    CREATE INDEX entries_canonical ON entries(canonical_link);
    CREATE INDEX entries_first_seen ON entries(first_seen);
    ALTER TABLE articles ADD COLUMN signature BLOB;
    CREATE INDEX articles_fetched ON articles(fetched);
    CREATE INDEX articles_story ON articles(story_id);
    CREATE TABLE alerts_v3 (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        story_id INTEGER NOT NULL REFERENCES stories(id),
        channel TEXT NOT NULL,
        seq INTEGER NOT NULL DEFAULT 0,           -- 0: the story's alert; 1, 2...: follow-ups
        article_id INTEGER REFERENCES articles(id),
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        last_error TEXT,
        created REAL NOT NULL,
        sent REAL,
        message TEXT NOT NULL,
        UNIQUE (rule, story_id, channel, seq)
    );
    INSERT INTO alerts_v3 (id, rule, story_id, channel, seq, article_id, status, attempts, next_attempt,
                           last_error, created, sent, message)
        SELECT id, rule, story_id, channel, 0, article_id, status, attempts, next_attempt, last_error,
               created, sent, message FROM alerts;
    DROP TABLE alerts;
    ALTER TABLE alerts_v3 RENAME TO alerts;
    CREATE INDEX alerts_due ON alerts(channel, status, id);
    CREATE INDEX alerts_story ON alerts(story_id);
    """,
    # 3 -> 4: silent sources: since when a feed has been flagged as silent.
    """
    ALTER TABLE feeds ADD COLUMN silent_since REAL;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class FeedState:
    """What the store remembers about one feed."""

    id: int
    url: str
    fetch_url: str
    title: str | None
    site_url: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_success: float | None
    last_error: str | None
    error_count: int
    status: str
    next_poll: float | None = None
    last_attempt: float | None = None
    created: float | None = None
    silent_since: float | None = None


@dataclass(frozen=True)
class KnownEntry:
    """An entry already recorded: its content hash and where it went."""

    content_hash: str
    article_id: int | None
    story_id: int | None


@dataclass(frozen=True)
class QueuedAlert:
    """An outbox row to create: `delay` seconds before its first attempt (a rule's group_wait)."""

    rule: str
    channel: str
    message: AlertMessage
    seq: int = 0
    delay: float = 0.0


@dataclass(frozen=True)
class StoryRow:
    """One story as `newsmon stories` shows it."""

    id: int
    first_seen: float
    title: str | None
    articles: tuple[tuple[str, str, str | None, float], ...]  # (outlet, title, url, fetched)
    rules: tuple[str, ...]


@dataclass(frozen=True)
class FeedRow:
    """One feed as `newsmon status` shows it."""

    url: str
    title: str | None
    last_success: float | None
    last_error: str | None
    error_count: int
    entries: int
    status: str
    error_kind: str | None = None
    next_poll: float | None = None
    last_attempt: float | None = None
    status_reason: str | None = None
    fetch_url: str | None = None


@dataclass(frozen=True)
class AlertRow:
    """One outbox row as `newsmon alerts` shows it."""

    id: int
    rule: str
    channel: str
    status: str
    attempts: int
    created: float
    sent: float | None
    last_error: str | None
    title: str
    url: str | None


class Store:
    """An open state database. Use as a context manager, or call `close()`."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.db = connection
        self.path = path

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------ feeds

    def feed(self, url: str) -> FeedState:
        """The stored state of a configured feed, creating its row on first sight."""
        row = self.db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        if row is None:
            with self.transaction() as db:
                db.execute("INSERT INTO feeds (url, fetch_url, created) VALUES (?, ?, ?)", (url, url, time.time()))
            row = self.db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        return FeedState(
            id=row["id"], url=row["url"], fetch_url=row["fetch_url"] or row["url"], title=row["title"],
            site_url=row["site_url"], etag=row["etag"], last_modified=row["last_modified"],
            body_hash=row["body_hash"], last_success=row["last_success"], last_error=row["last_error"],
            error_count=row["error_count"], status=row["status"], next_poll=row["next_poll"],
            last_attempt=row["last_attempt"], created=row["created"], silent_since=row["silent_since"],
        )

    def last_new_entry(self, feed_id: int) -> float | None:
        """When the feed last brought an entry we had not seen."""
        return self.db.execute("SELECT MAX(first_seen) FROM entries WHERE feed_id = ?", (feed_id,)).fetchone()[0]

    def set_silent(self, feed_id: int, since: float | None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE feeds SET silent_since = ? WHERE id = ?", (since, feed_id))

    def queue_notice(self, rule: str, channels: tuple[str, ...], message: AlertMessage, now: float) -> int:
        """Queue one of newsmon's own notices (not about an article) to `channels`, as its own
        story, through the same outbox as alerts. Returns the story id."""
        with self.transaction() as db:
            story = db.execute("INSERT INTO stories (first_seen, title, outlets) VALUES (?, ?, '[]')",
                               (now, message.title)).lastrowid
            db.executemany(
                """INSERT INTO alerts (rule, story_id, channel, seq, next_attempt, created, message)
                   VALUES (?, ?, ?, 0, ?, ?, ?)""",
                [(rule, story, channel, now, now, _dump(message)) for channel in channels])
        return story

    def feed_failed(self, feed_id: int, kind: str, message: str, *, now: float, next_poll: float | None) -> int:
        """Record a failed poll; returns the number of consecutive failures."""
        with self.transaction() as db:
            db.execute(
                """UPDATE feeds SET last_attempt = ?, last_error = ?, error_kind = ?, error_count = error_count + 1,
                   next_poll = ? WHERE id = ?""",
                (now, message, kind, next_poll, feed_id),
            )
            return db.execute("SELECT error_count FROM feeds WHERE id = ?", (feed_id,)).fetchone()[0]

    def feed_succeeded(self, feed_id: int, *, etag: str | None, last_modified: str | None, body_hash: str | None,
                       now: float, next_poll: float | None = None, title: str | None = None,
                       site_url: str | None = None) -> None:
        """Record a successful poll. Call only after every entry of the response is recorded:
        the validators stored here make the next poll skip this response."""
        with self.transaction() as db:
            db.execute(
                """UPDATE feeds SET etag = ?, last_modified = ?, body_hash = COALESCE(?, body_hash),
                   title = COALESCE(?, title), site_url = COALESCE(?, site_url), last_attempt = ?,
                   last_success = ?, last_error = NULL, error_kind = NULL, error_count = 0, next_poll = ?
                   WHERE id = ?""",
                (etag, last_modified, body_hash, title, site_url, now, now, next_poll, feed_id),
            )

    def feed_moved(self, feed_id: int, new_url: str) -> None:
        """A permanent redirect: fetch from `new_url` from now on (the feed keeps its id)."""
        with self.transaction() as db:
            db.execute("UPDATE feeds SET fetch_url = ?, moved_to = ? WHERE id = ?", (new_url, new_url, feed_id))

    def set_feed_status(self, url: str, status: str, reason: str | None) -> bool:
        """Set a feed 'active' or 'disabled' (with the reason); False if no such feed is stored."""
        with self.transaction() as db:
            changed = db.execute("UPDATE feeds SET status = ?, status_reason = ?, next_poll = NULL WHERE url = ?",
                                 (status, reason, url)).rowcount
        return changed == 1

    def feeds(self) -> list[FeedRow]:
        rows = self.db.execute(
            """SELECT f.*, (SELECT COUNT(*) FROM entries e WHERE e.feed_id = f.id) AS entries
               FROM feeds f ORDER BY f.id"""
        ).fetchall()
        return [FeedRow(r["url"], r["title"], r["last_success"], r["last_error"], r["error_count"], r["entries"],
                        r["status"], r["error_kind"], r["next_poll"], r["last_attempt"], r["status_reason"],
                        r["fetch_url"]) for r in rows]

    # ------------------------------------------------------------ entries and stories

    def known_entries(self, feed_id: int) -> dict[str, KnownEntry]:
        """Every entry recorded for a feed, by entry key."""
        rows = self.db.execute(
            """SELECT e.entry_key, e.content_hash, e.article_id, a.story_id FROM entries e
               LEFT JOIN articles a ON a.id = e.article_id WHERE e.feed_id = ?""", (feed_id,))
        return {row[0]: KnownEntry(row[1], row[2], row[3]) for row in rows}

    def article_by_link(self, canonical_link: str) -> KnownEntry | None:
        """An article already recorded under this canonical link (from any feed), or None."""
        row = self.db.execute(
            """SELECT e.content_hash, e.article_id, a.story_id FROM entries e JOIN articles a ON a.id = e.article_id
               WHERE e.canonical_link = ? ORDER BY e.id LIMIT 1""", (canonical_link,)).fetchone()
        if row is None:
            row = self.db.execute("SELECT '', id, story_id FROM articles WHERE canonical_url = ? LIMIT 1",
                                  (canonical_link,)).fetchone()
        return KnownEntry(row[0], row[1], row[2]) if row else None

    def record_entry(self, feed_id: int, entry: Entry, article: Article, matches: list[Match],
                     alerts: list[QueuedAlert], *, story_id: int | None = None, canonical_link: str | None = None,
                     signature: bytes | None = None, now: float | None = None,
                     mentions: list[Hit] = ()) -> tuple[int, int]:
        """Record a new entry with its article, hits and outbox rows, in one transaction. The
        article joins `story_id`, or starts a new story. Returns (article id, story id)."""
        now = time.time() if now is None else now
        published = article.published.timestamp() if article.published else None
        with self.transaction() as db:
            story = story_id
            if story is None:
                story = db.execute("INSERT INTO stories (first_seen, title, outlets) VALUES (?, ?, '[]')",
                                   (now, article.title)).lastrowid
            article_id = db.execute(
                """INSERT INTO articles (url, canonical_url, title, text, source, outlet, language,
                   published, fetched, story_id, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (article.url, article.canonical_url, article.title, article.text, article.source,
                 article.outlet, article.language, published, now, story, signature),
            ).lastrowid
            if story_id is None:
                db.execute("UPDATE stories SET representative_article = ? WHERE id = ?", (article_id, story))
            self._upsert_entry(db, feed_id, entry, canonical_link, article_id, now)
            self._hits_and_alerts(db, article_id, story, matches, alerts, now, mentions)
        return article_id, story

    def link_entry(self, feed_id: int, entry: Entry, canonical_link: str | None, article_id: int,
                   now: float | None = None) -> None:
        """Record an entry that is an article we already have (a guid flip, a URL variant, the
        same page in another feed): no new article, no alert."""
        with self.transaction() as db:
            self._upsert_entry(db, feed_id, entry, canonical_link, article_id, time.time() if now is None else now)

    def update_entry(self, feed_id: int, entry: Entry, article_id: int, article: Article, matches: list[Match],
                     alerts: list[QueuedAlert], *, canonical_link: str | None = None, now: float | None = None,
                     mentions: list[Hit] = ()) -> None:
        """A known entry whose content changed: new text, the article's hits replaced, new outbox
        rows (rows already queued for the same rule, story, channel and seq are kept as they are)."""
        now = time.time() if now is None else now
        with self.transaction() as db:
            story = db.execute("SELECT story_id FROM articles WHERE id = ?", (article_id,)).fetchone()[0]
            db.execute("UPDATE articles SET title = ?, text = ?, source = ? WHERE id = ?",
                       (article.title, article.text, article.source, article_id))
            db.execute("DELETE FROM hits WHERE article_id = ?", (article_id,))
            self._upsert_entry(db, feed_id, entry, canonical_link, article_id, now)
            self._hits_and_alerts(db, article_id, story, matches, alerts, now, mentions)

    @staticmethod
    def _upsert_entry(db: sqlite3.Connection, feed_id: int, entry: Entry, canonical_link: str | None,
                      article_id: int, now: float) -> None:
        db.execute(
            """INSERT INTO entries (feed_id, entry_key, content_hash, title, link, first_seen, last_seen,
               article_id, canonical_link) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (feed_id, entry_key) DO UPDATE SET content_hash = excluded.content_hash,
               title = excluded.title, link = excluded.link, last_seen = excluded.last_seen,
               article_id = excluded.article_id, canonical_link = excluded.canonical_link""",
            (feed_id, entry.key, entry.content_hash, entry.title, entry.link, now, now, article_id, canonical_link),
        )

    @staticmethod
    def _hits_and_alerts(db: sqlite3.Connection, article_id: int, story: int, matches: list[Match],
                         alerts: list[QueuedAlert], now: float, mentions: list[Hit] = ()) -> None:
        """Store the hits of each matching rule, and every entity mention (rule '') for replay."""
        db.executemany(
            'INSERT INTO hits (article_id, rule, term, entity, alias, field, start, "end") VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [(article_id, m.rule, h.term, h.entity, h.alias, h.field, h.start, h.end) for m in matches for h in m.hits]
            + [(article_id, "", h.term, h.entity, h.alias, h.field, h.start, h.end) for h in mentions],
        )
        db.executemany(
            """INSERT OR IGNORE INTO alerts (rule, story_id, channel, seq, article_id, next_attempt, created, message)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [(a.rule, story, a.channel, a.seq, article_id, now + a.delay, now, _dump(a.message)) for a in alerts],
        )

    def alerted(self, story_id: int) -> dict[str, int]:
        """Rule -> highest alert seq already queued for a story (any channel)."""
        rows = self.db.execute("SELECT rule, MAX(seq) FROM alerts WHERE story_id = ? GROUP BY rule", (story_id,))
        return {row[0]: row[1] for row in rows}

    def story_entities(self, story_id: int, rule: str) -> set[str]:
        """The entities (or bare terms) a rule has hit in any article of a story."""
        rows = self.db.execute(
            """SELECT DISTINCT COALESCE(h.entity, h.term) FROM hits h JOIN articles a ON a.id = h.article_id
               WHERE a.story_id = ? AND h.rule = ?""", (story_id, rule))
        return {row[0] for row in rows}

    def story_outlets(self, story_id: int) -> list[tuple[str, float, str | None]]:
        """(outlet, first seen, url) of each outlet that reported a story, earliest first."""
        rows = self.db.execute(
            """SELECT outlet, MIN(fetched), url FROM articles WHERE story_id = ? GROUP BY outlet ORDER BY MIN(fetched)""",
            (story_id,))
        return [(row[0], row[1], row[2]) for row in rows]

    def recent_signatures(self, since: float) -> list[tuple[int, bytes, str, float]]:
        """(story, signature, title, fetched) of articles fetched since `since`, oldest first."""
        rows = self.db.execute(
            """SELECT story_id, signature, title, fetched FROM articles
               WHERE fetched >= ? AND signature IS NOT NULL ORDER BY fetched""", (since,))
        return [(row[0], row[1], row[2], row[3]) for row in rows]

    def stories(self, since: float, limit: int = 200) -> list[StoryRow]:
        """Stories first seen since `since`, newest first, with their articles and rules."""
        out = []
        for story in self.db.execute("SELECT id, first_seen, title FROM stories WHERE first_seen >= ? "
                                     "ORDER BY first_seen DESC LIMIT ?", (since, limit)).fetchall():
            articles = self.db.execute("SELECT outlet, title, url, fetched FROM articles WHERE story_id = ? "
                                       "ORDER BY fetched", (story[0],)).fetchall()
            rules = [row[0] for row in self.db.execute(
                "SELECT DISTINCT h.rule FROM hits h JOIN articles a ON a.id = h.article_id WHERE a.story_id = ? "
                "AND h.rule != '' ORDER BY h.rule", (story[0],))]
            out.append(StoryRow(story[0], story[1], story[2], tuple((a[0], a[1], a[2], a[3]) for a in articles),
                                tuple(rules)))
        return out

    def prune(self, before: float) -> int:
        """Forget entries first seen before `before` and what only they referred to (articles,
        hits, stories without pending alerts, delivered alerts). Returns entries removed."""
        with self.transaction() as db:
            removed = db.execute("DELETE FROM entries WHERE first_seen < ?", (before,)).rowcount
            old = "SELECT id FROM articles WHERE fetched < ? AND id NOT IN (SELECT article_id FROM entries WHERE article_id IS NOT NULL)"
            db.execute(f"DELETE FROM hits WHERE article_id IN ({old})", (before,))
            db.execute("DELETE FROM alerts WHERE created < ? AND status IN ('sent', 'dead')", (before,))
            db.execute(f"UPDATE alerts SET article_id = NULL WHERE article_id IN ({old})", (before,))
            db.execute(f"DELETE FROM articles WHERE id IN ({old})", (before,))
            db.execute("""DELETE FROM stories WHERE first_seen < ? AND id NOT IN (SELECT story_id FROM articles
                          WHERE story_id IS NOT NULL) AND id NOT IN (SELECT story_id FROM alerts)""", (before,))
        return removed

    # ------------------------------------------------------------ outbox

    def recover(self) -> int:
        """Return alerts left 'sending' by a crash to 'pending'; returns how many."""
        with self.transaction() as db:
            return db.execute("UPDATE alerts SET status = 'pending' WHERE status = 'sending'").rowcount

    def pending_channels(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT channel FROM alerts WHERE status = 'pending' ORDER BY channel")
        return [row[0] for row in rows]

    def pending(self, channel: str, now: float, *, retry_now: bool = False, limit: int = 100) -> list[PendingAlert]:
        """Pending alerts of a channel due by `now`, oldest first. `retry_now` also takes failed
        ones still in their retry backoff (not those waiting for their first attempt)."""
        query = "SELECT * FROM alerts WHERE channel = ? AND status = 'pending' AND (next_attempt <= ?"
        query += " OR attempts > 0)" if retry_now else ")"
        params: list = [channel, now]
        rows = self.db.execute(query + " ORDER BY id LIMIT ?", (*params, limit)).fetchall()
        return [PendingAlert(r["id"], r["rule"], r["story_id"], r["channel"], r["attempts"], _load(r["message"]),
                             r["created"]) for r in rows]

    def claim(self, alert_id: int) -> bool:
        """Mark a pending alert as being sent; False if it is no longer pending (someone else
        took it, or it was sent meanwhile)."""
        with self.transaction() as db:
            changed = db.execute("UPDATE alerts SET status = 'sending', attempts = attempts + 1 "
                                 "WHERE id = ? AND status = 'pending'", (alert_id,)).rowcount
        return changed == 1

    def mark_sent(self, alert_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE alerts SET status = 'sent', sent = ?, last_error = NULL WHERE id = ?", (time.time(), alert_id))

    def mark_failed(self, alert_id: int, error: str, next_attempt: float) -> None:
        with self.transaction() as db:
            db.execute("UPDATE alerts SET status = 'pending', last_error = ?, next_attempt = ? WHERE id = ?",
                       (error, next_attempt, alert_id))

    def alerts(self, limit: int = 50, status: str | None = None) -> list[AlertRow]:
        query = "SELECT * FROM alerts"
        params: tuple = ()
        if status:
            query += " WHERE status = ?"
            params = (status,)
        rows = self.db.execute(query + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        out = []
        for r in rows:
            message = _load(r["message"])
            out.append(AlertRow(r["id"], r["rule"], r["channel"], r["status"], r["attempts"], r["created"],
                                r["sent"], r["last_error"], message.title, message.url))
        return out

    def alert_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall())

    def counts(self) -> dict[str, int]:
        return {table: self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("feeds", "entries", "articles", "stories")}


def _dump(message: AlertMessage) -> str:
    return json.dumps(dataclasses.asdict(message), ensure_ascii=False)


def _load(text: str) -> AlertMessage:
    data = json.loads(text)
    data["highlights"] = tuple(tuple(span) for span in data.get("highlights", ()))
    data["matched"] = tuple(data.get("matched", ()))
    data["also_reported_by"] = tuple(tuple(item) for item in data.get("also_reported_by", ()))
    return AlertMessage(**data)


def _connect(path: Path) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        return connection
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the state database {path}: {error}") from error


def migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Bring the schema up to `SCHEMA_VERSION`, one migration per transaction."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer newsmon (schema {version}, this one knows {SCHEMA_VERSION})")
    for number in range(version, SCHEMA_VERSION):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number]):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def _statements(script: str) -> list[str]:
    lines = [line.split("--")[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def open_store(state_dir: Path) -> Store:
    """Open (creating if needed) the database in `state_dir`, migrated to the current schema."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create the state directory {state_dir}: {error.strerror}") from error
    path = state_dir / "newsmon.db"
    return _migrated(_connect(path), path)


def _migrated(connection: sqlite3.Connection, path: Path) -> Store:
    try:
        migrate(connection, path)
    except sqlite3.Error as error:
        connection.close()
        raise StoreError(f"cannot use the state database {path}: {error}") from error
    except StoreError:
        connection.close()
        raise
    return Store(connection, path)


def open_existing(state_dir: Path) -> Store:
    """Open the database for reading commands; never creates one. Raises StoreError if absent."""
    path = state_dir / "newsmon.db"
    if not path.exists():
        raise StoreError(f"no newsmon state in {state_dir} (no newsmon.db there yet: run 'newsmon run' first)")
    return _migrated(_connect(path), path)
