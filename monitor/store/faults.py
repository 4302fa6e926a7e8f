"""Storage faults, said in one line each: the database is locked by another process, read-only,
on a full filesystem, corrupt, deleted while open, or failing at the disk.

Every statement goes through `FaultConnection`, which turns SQLite's exceptions into
`StoreFault`s (a `StoreError` with a `kind`, and whether waiting may help): the rest of newsmon
never sees sqlite3, and says a fault the way this module words it. `health` looks at the file
and its filesystem from outside (for `status`, which has no daemon's view).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from monitor.errors import StoreFault

# Free space the state filesystem needs beyond the database itself: the write-ahead log grows
# to about 4 MB between checkpoints (SQLite's default of 1,000 pages), and a checkpoint needs
# room too. README "State and disk space" says this number.
MIN_FREE = 16 * 1024 * 1024

_WORDS = {"locked": "locked", "read-only": "read-only", "full": "on a full filesystem", "corrupt": "corrupt",
          "deleted": "deleted", "io": "failing at the disk"}
_ADVICE = {
    "locked": "another process holds its write lock (a newsmon command, the sqlite3 shell, a backup tool)",
    "read-only": "newsmon must be able to write it and its directory (check the owner, the mode and the mount)",
    "full": f"free space on its filesystem (newsmon needs at least {MIN_FREE // 2**20} MB free beyond the database)",
    "corrupt": "stop newsmon, keep a copy, and repair it with: sqlite3 newsmon.db '.recover' | sqlite3 recovered.db",
    "deleted": "it was removed while newsmon had it open",
    "io": "the disk or filesystem reported an error (see the kernel log)",
}


def fault(kind: str, path: Path | str, detail: str) -> StoreFault:
    """A fault of `kind` with the database's path, SQLite's words and what to do."""
    transient = kind in ("locked", "full", "read-only", "io")
    return StoreFault(kind, f"the state database {path} is {_WORDS[kind]} ({detail}): {_ADVICE[kind]}",
                      transient=transient)


def classify(error: sqlite3.Error, path: Path | str) -> StoreFault | None:
    """The fault an SQLite exception means; None when it is not the database's condition (a
    constraint, a bug of ours), which stays the exception it is."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(error)
    lowered = text.lower()
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in lowered:
        kind = "locked"
    elif code == sqlite3.SQLITE_READONLY_DBMOVED:  # SQLite refuses to write a file unlinked (or moved) while open
        kind = "deleted"
    elif primary == sqlite3.SQLITE_READONLY or "readonly" in lowered or "read-only" in lowered:
        kind = "read-only"
    elif primary == sqlite3.SQLITE_FULL or "disk is full" in lowered:
        kind = "full"
    elif primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or "malformed" in lowered or "not a database" in lowered:
        kind = "corrupt"
    elif primary in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN) or "disk i/o" in lowered:
        if refuses_writes(Path(path).parent):  # SQLite says EROFS on a write as an I/O error
            return fault("read-only", path, f"{text}: its filesystem is read-only")
        kind = "io"
    else:
        return None
    return fault(kind, path, text)


def refuses_writes(directory: Path) -> bool:
    """Whether `directory`'s filesystem refuses every write (EROFS), found by making an unnamed
    file there (O_TMPFILE: nothing to clean up): a filesystem the kernel turned read-only after
    an error (ext4's errors=remount-ro) still says read-write to statvfs and access(). False
    where that cannot be asked."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return False
    try:
        os.close(os.open(directory, flag | os.O_WRONLY, 0o600))
    except OSError as error:
        return error.errno == errno.EROFS
    return False


class FaultConnection(sqlite3.Connection):
    """An SQLite connection whose failures are `StoreFault`s."""

    fault_path: str = "?"

    def execute(self, *args, **kwargs):  # type: ignore[override]
        return self._translated(super().execute, args, kwargs)

    def executemany(self, *args, **kwargs):  # type: ignore[override]
        return self._translated(super().executemany, args, kwargs)

    def _translated(self, call, args, kwargs):
        try:
            return call(*args, **kwargs)
        except sqlite3.Error as error:
            problem = classify(error, self.fault_path)
            if problem is None:
                raise
            raise problem from error


def health(path: Path) -> list[StoreFault]:
    """What is wrong with the database file and its filesystem, seen from outside: gone,
    read-only, too little free space. Empty when nothing is."""
    problems: list[StoreFault] = []
    if not path.exists():
        return [fault("deleted", path, "no such file")]
    try:
        stats = os.statvfs(path.parent)
    except OSError as error:
        return [fault("io", path, error.strerror or str(error))]
    if stats.f_flag & os.ST_RDONLY:
        problems.append(fault("read-only", path, "its filesystem is mounted read-only"))
    elif not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        problems.append(fault("read-only", path, "no write permission"))
    elif refuses_writes(path.parent):
        problems.append(fault("read-only", path, "its filesystem refuses writes: the kernel may have made it "
                                                 "read-only after a disk error (see the kernel log)"))
    free = stats.f_bavail * stats.f_frsize
    if free < MIN_FREE:
        problems.append(fault("full", path, f"{_size(free)} free"))
    return problems


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"
