"""The state database: one SQLite file; this package is the only code that speaks SQL.

`Store` is composed of one part per responsibility: `feeds` (feed health), `entries`
(entries, articles, hits), `stories` (what a story holds, its copies and outlets, merges),
`silences` (silences and acknowledgements), `outbox` (the alerts queue), `reloads` (each
reload's outcome), `replay` (history read back for backtests and pruning); `migrations` holds the migrations and opens connections; `rows` the
dataclasses handed out. Every write is a short explicit transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from monitor.errors import StoreError
from monitor.store.entries import Entries
from monitor.store.feeds import Feeds
from monitor.store.outbox import Outbox
from monitor.store.reloads import Reload, Reloads
from monitor.store.replay import Replay
from monitor.store.silences import Silences
from monitor.store.stories import Stories
from monitor.store.rows import (AlertRow, ChannelState, FeedRow, FeedState, KnownEntry, QueuedAlert, StoryArticle, StoryRow,
                                dump_message, load_message)
from monitor.store import faults
from monitor.store.migrations import MIGRATIONS, SCHEMA_VERSION, connect_file, connect_read_only, migrate, split_statements

__all__ = ["AlertRow", "ChannelState", "FeedRow", "FeedState", "KnownEntry", "MIGRATIONS", "QueuedAlert", "Reload", "SCHEMA_VERSION", "Store",
           "StoreError", "StoryArticle", "StoryRow", "migrate", "open_existing", "open_store"]


class Store(Feeds, Entries, Stories, Silences, Outbox, Reloads, Replay):
    """An open state database. Use as a context manager, or call `close()`."""


def open_store(state_dir: Path, *, busy: float = 30.0) -> Store:
    """Open (creating if needed) the database in `state_dir`, migrated to the current schema.
    `busy`: how long a statement may block waiting for another process's lock (see `connect_file`)."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create the state directory {state_dir}: {error.strerror}") from error
    path = state_dir / "newsmon.db"
    return _migrated(connect_file(path, busy), path)


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
    try:
        connection = connect_file(path)
    except StoreError:
        if not faults.refuses_writes(state_dir):
            raise
        # a read-only filesystem: SQLite cannot make the WAL's index there, so the file is read
        # as it stands (nobody can be writing it); `status` then says what is wrong
        connection = connect_read_only(path)
    return _migrated(connection, path)
