"""The open connection every part of `Store` works through: lifecycle and write transactions."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self


LATER_FOR = 1.0  # seconds a transaction left open by `later()` may stay open


class StoreBase:
    """An open state database. Use as a context manager, or call `close()`."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.db = connection
        self.path = path
        # Writes that may wait (a 304's timestamps): key -> (statement, parameters). They go in
        # with the next write transaction, at `flush()` (the daemon's heartbeat) or at close.
        self._deferred: dict[object, tuple[str, tuple]] = {}
        # A write transaction `later()` left open: committed by the next `transaction()`, at
        # `flush()` or at close.
        self._open = False
        self._opened_at = 0.0

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self.flush()
        self.db.close()

    def defer(self, key: object, statement: str, parameters: tuple) -> None:
        """A write that can wait; a later one with the same key replaces it."""
        self._deferred[key] = (statement, parameters)

    def flush(self) -> None:
        """Write the deferred writes now (one transaction)."""
        if self._deferred or self._open:
            with self.transaction():
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all (with what
        `later()` left waiting, which is committed with it)."""
        if self._open:
            self._write_deferred()  # outside the part: kept if the part fails
            with self._part() as db:
                yield db
            self.db.execute("COMMIT")
            self._open = False
            return
        self.db.execute("BEGIN IMMEDIATE")
        deferred = self._write_deferred()
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            self._deferred = {**deferred, **self._deferred}  # they wait for the next one
            raise
        self.db.execute("COMMIT")

    @contextlib.contextmanager
    def later(self) -> Iterator[sqlite3.Connection]:
        """Writes that may reach the disk with the next transaction rather than now: they are
        made at once (this connection reads them straight away), all or none, in a write
        transaction left open, and committed by the next `transaction()`, at `flush()` (the
        daemon's heartbeat) or at close: one fsync for many. For what a crash may lose because
        it is read again: an entry linked to an article we already have, whose feed's
        validators (a later transaction) are then not stored either. The transaction is
        committed anyway once it has been open `LATER_FOR` seconds: it holds the database's
        write lock, and a crash should not lose more than that."""
        if not self._open:
            self.db.execute("BEGIN IMMEDIATE")
            self._open, self._opened_at = True, time.monotonic()
        self._write_deferred()
        with self._part() as db:
            yield db
        if time.monotonic() - self._opened_at > LATER_FOR:  # other processes wait for its lock
            self.db.execute("COMMIT")
            self._open = False

    def _write_deferred(self) -> dict[object, tuple[str, tuple]]:
        """The deferred writes, older than what follows them in the transaction: first."""
        deferred, self._deferred = self._deferred, {}
        for statement, parameters in deferred.values():
            self.db.execute(statement, parameters)
        return deferred

    @contextlib.contextmanager
    def _part(self) -> Iterator[sqlite3.Connection]:
        """A part of the open transaction that is undone alone if it fails."""
        self.db.execute("SAVEPOINT part")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK TO part")
            self.db.execute("RELEASE part")
            raise
        self.db.execute("RELEASE part")
