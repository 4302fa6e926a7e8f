"""The open connection every part of `Store` works through: lifecycle and write transactions."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from monitor.store import faults


LATER_FOR = 1.0  # seconds a transaction left open by `later()` may stay open


class StoreBase:
    """An open state database. Use as a context manager, or call `close()`."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.db = connection
        self.path = path
        self._inode = os.stat(path).st_ino if path.exists() else None
        # Writes that may wait (a 304's timestamps): key -> (statement, parameters). They go in
        # with the next write transaction, at `flush()` (the daemon's heartbeat) or at close.
        self._deferred: dict[object, tuple[str, tuple]] = {}
        # A write transaction `later()` left open: committed by the next `transaction()`, at
        # `flush()` or at close.
        self._open = False
        self._opened_at = 0.0

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Write what waits (see `defer`, `later`), then close. The connection is closed even
        when that write fails (the StoreFault is raised after): a stop on a full or read-only
        disk, or under another process's lock, loses only those writes, which are made again."""
        try:
            self.flush()
        finally:
            self.db.close()

    def set_busy(self, seconds: float) -> None:
        """How long a statement may block waiting for another process's lock from now on."""
        self.db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def replaced(self) -> bool:
        """Whether the database file at `path` is no longer the one this connection has open
        (deleted, or another put in its place)."""
        try:
            return os.stat(self.path).st_ino != self._inode
        except FileNotFoundError:
            return True

    def restore(self) -> None:
        """Put the open database back at `path` (it was deleted while open), whole: everything
        is checkpointed into it, copied beside `path`, renamed into place, and reopened. Raises
        StoreFault when that cannot be done (the open copy is kept, and tried again later)."""
        self.flush()
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        spare = self.path.with_name(self.path.name + ".restoring")
        spare.unlink(missing_ok=True)
        try:
            target = sqlite3.connect(spare)
            try:
                self.db.backup(target)
            finally:
                target.close()
        except sqlite3.Error as error:
            spare.unlink(missing_ok=True)
            raise faults.fault("deleted", self.path, f"cannot restore it: {error}") from error
        busy = self.db.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
        self.db.close()  # the last connection to the deleted file: its WAL goes with it
        os.replace(spare, self.path)
        from monitor.store.migrations import connect_file  # migrations opens connections; it imports this module

        self.db = connect_file(self.path, busy)
        self._inode = os.stat(self.path).st_ino

    def defer(self, key: object, statement: str, parameters: tuple) -> None:
        """A write that can wait; a later one with the same key replaces it."""
        self._deferred[key] = (statement, parameters)

    def flush(self) -> None:
        """Write the deferred writes now (one transaction)."""
        if self._deferred or self._open:
            with self.transaction():
                pass

    def commit_waiting(self) -> None:
        """Commit what `later()` left waiting, if anything (deferred writes go with it); unlike
        `flush`, no commit for deferred writes alone (a 304 waits for the heartbeat's)."""
        if self._open:
            with self.transaction():
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all (with what
        `later()` left waiting, which is committed with it). A fault (StoreFault) leaves nothing
        half-written: the transaction is rolled back, deferred writes wait for the next one."""
        if self._open:
            self._write_deferred()  # outside the part: kept if the part fails
            with self._part() as db:
                yield db
            self._commit()
            return
        self.db.execute("BEGIN IMMEDIATE")
        deferred = self._write_deferred()
        try:
            yield self.db
            self._commit()
        except BaseException:
            self._rollback()
            self._deferred = {**deferred, **self._deferred}  # they wait for the next one
            raise

    def _commit(self) -> None:
        try:
            self.db.execute("COMMIT")
        except BaseException:
            self._rollback()  # what `later()` made is lost with it: it is read again (see `later`)
            raise
        self._open = False

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (it does after some faults)."""
        self._open = False
        if self.db.in_transaction:
            with contextlib.suppress(Exception):
                self.db.execute("ROLLBACK")

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
        try:
            self._write_deferred()
        except BaseException:
            self._rollback()
            raise
        with self._part() as db:
            yield db
        if time.monotonic() - self._opened_at > LATER_FOR:  # other processes wait for its lock
            self._commit()

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
            try:
                self.db.execute("ROLLBACK TO part")
                self.db.execute("RELEASE part")
            except Exception:  # the fault took the whole transaction with it
                self._rollback()
            raise
        self.db.execute("RELEASE part")
