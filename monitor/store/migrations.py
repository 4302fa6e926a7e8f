"""The state database's schema and how a connection to it is opened and migrated.

Schema changes are migrations keyed by `PRAGMA user_version`; `MIGRATIONS[n]` takes a database
at version n to n + 1, one transaction per migration.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from monitor.errors import StoreError, StoreFault
from monitor.store.faults import FaultConnection

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
    # 4 -> 5: delivery. Which of a channel's targets (URLs) have accepted an alert, so a retry
    # goes only to the others; how it was delivered (alone, in a digest, in a flood summary);
    # when an unsent alert becomes dead; and each channel's own state (backoff, digest period,
    # flood control).
    """
    ALTER TABLE alerts ADD COLUMN delivered TEXT NOT NULL DEFAULT '';  -- target ids, space-separated
    ALTER TABLE alerts ADD COLUMN via TEXT;        -- 'alert', 'digest' or 'summary', once sent
    ALTER TABLE alerts ADD COLUMN expires REAL;    -- dead if unsent by then; NULL: created + 48 h
    CREATE INDEX alerts_sent ON alerts(channel, sent);
    CREATE INDEX alerts_status ON alerts(status, channel);
    CREATE TABLE channels (
        name TEXT PRIMARY KEY,
        failures INTEGER NOT NULL DEFAULT 0,      -- consecutive failed attempts
        retry_at REAL,                            -- backing off until then
        last_error TEXT,
        digest_since REAL,                        -- the digest period in progress began then
        fold_until REAL,                          -- flood control: alerts fold into a summary until then
        window_start REAL                         -- flood control: sends count from here (a summary resets it)
    );
    """,
    # 5 -> 6: a feed's catch-up (its next complete poll records without alerting: a new feed
    # until its first poll completes, however often it is interrupted; a re-enabled or moved
    # one), and the TTL its last parsed body asked for (a floor between polls, kept after 304s);
    # when a failing feed was last said at WARNING. Why an entry was recorded without alerting
    # ('first poll', 'catching up', 'too old'); which feed's entry queued an alert (a feed's last
    # alert, for `status`). Each reload's outcome, which `newsmon reload`
    # waits for and shows.
    """
    ALTER TABLE feeds ADD COLUMN catch_up INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE feeds ADD COLUMN ttl REAL;
    ALTER TABLE feeds ADD COLUMN warned_at REAL;   -- its failure was last said at WARNING then
    UPDATE feeds SET catch_up = 0 WHERE last_success IS NOT NULL;
    ALTER TABLE entries ADD COLUMN quiet TEXT;     -- why it was recorded without alerting, if it was
    CREATE INDEX entries_quiet ON entries(feed_id, quiet) WHERE quiet IS NOT NULL;
    ALTER TABLE alerts ADD COLUMN feed_id INTEGER;  -- the feed whose entry queued it (NULL: a notice)
    CREATE TABLE reloads (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        pid INTEGER NOT NULL,
        applied INTEGER NOT NULL,                 -- 1: the new configuration runs; 0: refused, the old one still runs
        lines TEXT NOT NULL                       -- JSON: what changed by name, or every problem
    );
    """,
    # 6 -> 7: an alert a service refuses for good (SMTP 5xx, HTTP 4xx) is tried a few times, then
    # fails for that target (status 'failed') and the channel moves on: how often it was refused,
    # the targets that refused it for good, and when it was last handed to a service (recorded
    # before it is). The daemon's heartbeat: a write every half minute, proof that it can.
    """
    ALTER TABLE alerts ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE alerts ADD COLUMN refused TEXT NOT NULL DEFAULT '';  -- target ids, space-separated
    ALTER TABLE alerts ADD COLUMN last_attempt REAL;  -- when it was last handed to a service
    CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at REAL NOT NULL, pid INTEGER NOT NULL);
    """,
    # 7 -> 8: what a feed's last fully recorded body held (monitor.feedsplit: a digest of the
    # markup around its items and one of each item), so that any process, not only a running
    # daemon, parses only the new or changed items of a changed feed.
    """
    ALTER TABLE feeds ADD COLUMN items BLOB;
    """,
    # 8 -> 9: events. A story is now an event (one real-world incident: copies and independently
    # written reports); an article keeps its event features (monitor.events.Features, packed) so
    # that any process can rebuild the open events. Stories recorded before keep their ids, so
    # nothing is alerted again; their articles' features are read from their text when the window
    # is first read (monitor.app.event_index).
    """
    ALTER TABLE articles ADD COLUMN features BLOB;
    """,
    # 9 -> 10: repair and corroboration. An article knows which earlier article's text it copies
    # (copies of one wire text count as one outlet); a story found to be another (a later report
    # joined both) says which and why; an alert may be held until a second outlet reports its
    # story ('held', with why), and an alert not sent says what became of it ('merged into #12',
    # 'not corroborated').
    """
    ALTER TABLE articles ADD COLUMN copy_of INTEGER;  -- NULL: its own text (or recorded before 10)
    ALTER TABLE stories ADD COLUMN merged_into INTEGER;  -- NULL: a story of its own
    ALTER TABLE stories ADD COLUMN merged_at REAL;
    ALTER TABLE stories ADD COLUMN merged_why TEXT;
    CREATE INDEX stories_merged ON stories(merged_into) WHERE merged_into IS NOT NULL;
    ALTER TABLE alerts ADD COLUMN held TEXT;  -- why a 'held' alert waits
    ALTER TABLE alerts ADD COLUMN note TEXT;  -- what became of an alert not sent
    """,
    # 10 -> 11: alert operations. Silences (matchers as JSON, AND across keys, OR within one),
    # what each silenced, and its expiry notice; acknowledgements, one per story; escalations (an
    # escalation is its own alert row on the target channel, seq -1 - the original's).
    """
    CREATE TABLE silences (
        id INTEGER PRIMARY KEY,
        created REAL NOT NULL,
        ends REAL NOT NULL,
        matchers TEXT NOT NULL,
        reason TEXT NOT NULL,
        by TEXT,
        resend INTEGER NOT NULL DEFAULT 0,   -- send what it held when it ends
        expired REAL,                        -- ended early by 'silence expire'
        announced REAL                       -- its end was handled (notice queued, alerts resent)
    );
    ALTER TABLE alerts ADD COLUMN silence_id INTEGER;  -- the silence that holds (or held) it
    ALTER TABLE alerts ADD COLUMN escalated REAL;      -- when it was escalated (unacknowledged)
    CREATE INDEX alerts_silence ON alerts(silence_id) WHERE silence_id IS NOT NULL;
    CREATE TABLE acks (
        story_id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        by TEXT,
        note TEXT
    );
    """,
    # 11 -> 12: proving the path. When a channel began failing and when its failing notice went
    # (a recovery notice follows it), and when it last sent its heartbeat.
    """
    ALTER TABLE channels ADD COLUMN failing_since REAL;  -- the first failure of the current run of them
    ALTER TABLE channels ADD COLUMN failing_notice REAL; -- when newsmon said it was failing (NULL: not said)
    ALTER TABLE channels ADD COLUMN heartbeat_at REAL;   -- its last heartbeat (or when newsmon first saw it)
    """,
    # 12 -> 13: what happened, where, how bad. An event's facts gathered from its reports, with
    # their evidence (JSON of monitor.event_facts.EventFacts; NULL: gathered again when next needed).
    """
    ALTER TABLE stories ADD COLUMN facts TEXT;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def connect_file(path: Path, busy: float = 30.0) -> sqlite3.Connection:
    """A connection whose failures are StoreFaults. `busy`: how long a statement waits for
    another process's lock, blocking, before it fails as "locked" (the daemon keeps this short
    and waits again on its event loop: see `Store.retrying`)."""
    try:
        connection = sqlite3.connect(path, isolation_level=None, timeout=busy, factory=FaultConnection)
        connection.fault_path = str(path)
        connection.row_factory = sqlite3.Row
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        return connection
    except StoreFault:
        raise
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the state database {path}: {error}") from error


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that reads the file as it stands, on a filesystem that refuses writes."""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                     isolation_level=None, factory=FaultConnection)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the state database {path}: {error}") from error
    connection.fault_path = str(path)
    connection.row_factory = sqlite3.Row
    return connection


def migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Bring the schema up to `SCHEMA_VERSION`, one migration per transaction."""
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer newsmon (schema {version}, this one knows {SCHEMA_VERSION})")
    for number in range(version, SCHEMA_VERSION):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_statements(MIGRATIONS[number]):
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number + 1}")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


def split_statements(script: str) -> list[str]:
    lines = [line.split("--")[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
