"""The open connection every part of `Store` works through: lifecycle and write transactions."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Self


class StoreBase:
    """An open state database. Use as a context manager, or call `close()`."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self.db = connection
        self.path = path
        # Writes that may wait (a 304's timestamps): key -> (statement, parameters). They go in
        # with the next write transaction, at `flush()` (the daemon's heartbeat) or at close.
        self._deferred: dict[object, tuple[str, tuple]] = {}

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self.flush()
        self.db.close()

    def defer(self, key: object, statement: str, parameters: tuple) -> None:
        """A write that can wait; a later one with the same key replaces it."""
        self._deferred[key] = (statement, parameters)

    def flush(self) -> None:
        """Write the deferred writes now (one transaction)."""
        if self._deferred:
            with self.transaction():
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside commits together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            deferred, self._deferred = self._deferred, {}
            for statement, parameters in deferred.values():  # older than what follows: first
                self.db.execute(statement, parameters)
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
