"""One newsmon per state directory: an exclusive lock on the directory itself, and
`newsmon.pid` beside it saying who holds it.

The lock is a flock on the state directory (opened read-only), not on a file in it: a file can
be deleted (by a user, a tmp cleaner) and re-created, and two processes would then each hold a
lock on a different file. The directory cannot be deleted from under the daemon without its
database going too, and whoever wants the lock must open that same directory.

`newsmon.pid` is only information, written by the holder once it has the lock and removed by
it (still holding the lock) at release. Who holds the lock is asked of the kernel first
(/proc/locks, on Linux), so the holder is found even when `newsmon.pid` was deleted or
overwritten; the file is the answer where /proc/locks is missing or does not show the holder
(another pid namespace).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import time
from pathlib import Path

from monitor import atomic
from monitor.errors import NewsmonError, StoreError

PID_FILE = "newsmon.pid"
LOCKS = Path("/proc/locks")  # the kernel's table of file locks (Linux)


class StateLock:
    """An exclusive lock on a state directory, so that a second newsmon on the same state
    refuses to start; the holder's pid is written to `newsmon.pid` for `newsmon reload`."""

    def __init__(self, state_dir: Path):
        self.directory = Path(state_dir)
        self.pid_path = self.directory / PID_FILE
        self.descriptor: int | None = None

    def acquire(self) -> StateLock:
        """Take the lock (creating the directory if needed) and write `newsmon.pid`. Raises
        NewsmonError naming the holder when another process has it, StoreError when the
        directory cannot be created, opened or locked."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as error:
            raise StoreError(f"cannot create the state directory {self.directory}: {error.strerror}") from error
        try:
            _lock_exclusive(descriptor)
        except BlockingIOError:
            os.close(descriptor)
            owner = running_pid(self.directory)
            named = f" (pid {owner})" if owner else ""
            raise NewsmonError(f"another newsmon{named} is already running on {self.directory}; "
                               "stop it first, or use another state_dir") from None
        except OSError as error:
            os.close(descriptor)
            raise StoreError(f"cannot lock the state directory {self.directory}: {error.strerror}") from error
        self.descriptor = descriptor
        try:
            _write_pid(self.pid_path, os.getpid())
        except OSError as error:
            self.release()
            raise StoreError(f"cannot write {self.pid_path}: {error.strerror}") from error
        return self

    def release(self) -> None:
        """Remove `newsmon.pid` if it is still ours, then let go of the lock. The directory
        (what the lock is held on) is never removed. Releasing twice is harmless."""
        if self.descriptor is None:
            return
        with contextlib.suppress(OSError):
            if _read_pid(self.pid_path) == os.getpid():
                self.pid_path.unlink()  # while still holding the lock: nobody else can have written it
        os.close(self.descriptor)  # closing the last descriptor drops the flock
        self.descriptor = None

    def renew(self) -> bool:
        """Take the lock again when the directory was removed and made anew while held (the
        daemon puts back a state deleted with `rm -rf`): a lock on the old, unlinked directory
        protects nothing. True when it did. Raises like `acquire`."""
        if self.descriptor is None:
            return False
        try:
            current = os.stat(self.directory).st_ino
        except FileNotFoundError:
            return False
        if current == os.fstat(self.descriptor).st_ino:
            return False
        os.close(self.descriptor)
        self.descriptor = None
        self.acquire()
        return True

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_exclusive(descriptor: int, tries: int = 10, pause: float = 0.05) -> None:
    """flock `descriptor` exclusively without waiting on a holder. `running_pid` probes with
    a shared lock for an instant: a start that meets only such a probe tries again a few times
    instead of refusing. Raises BlockingIOError while another process holds the lock."""
    for attempt in range(tries):
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == tries - 1:
                raise
            time.sleep(pause)


def running_pid(state_dir: Path) -> int | None:
    """The pid of the process holding `state_dir`'s lock, or None when nobody holds it (a
    `newsmon.pid` left behind by a killed daemon is stale, not an answer) or when its holder
    cannot be told (no /proc/locks and no readable `newsmon.pid`)."""
    state_dir = Path(state_dir)
    try:
        descriptor = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None  # no state directory: nothing runs on it
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            held = os.fstat(descriptor)
            return _lock_holder(held.st_dev, held.st_ino) or _read_pid(state_dir / PID_FILE)
        except OSError:
            return None
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)


def _lock_holder(device: int, inode: int, table: Path = LOCKS) -> int | None:
    """The pid /proc/locks gives for the flock held on the file (`device`, `inode`), or None.
    A line reads e.g. "1: FLOCK  ADVISORY  WRITE 4242 fe:00:2146819 0 EOF" (device major and
    minor in hex); lines of processes waiting for a lock carry "->" and are skipped."""
    try:
        text = table.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[3] != "WRITE":
            continue
        try:
            major, minor, number = fields[5].split(":")
            if (int(major, 16), int(minor, 16), int(number)) == (os.major(device), os.minor(device), inode):
                pid = int(fields[4])
                return pid if pid > 0 else None  # 0 or -1: a holder in another pid namespace
        except ValueError:
            continue
    return None


def _read_pid(path: Path) -> int | None:
    """The pid written in `path`, or None when it is missing, not a regular file (a FIFO put
    there must not hang a stop or a reload) or holds no pid."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        text = os.read(descriptor, 32).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    finally:
        os.close(descriptor)
    return int(text) if text.isdigit() and int(text) > 0 else None


def _write_pid(path: Path, pid: int) -> None:
    """Write `pid` to `path` atomically (a reader sees the old file or the new, never half)."""
    atomic.write(path, lambda out: out.write(f"{pid}\n".encode("ascii")), mode=0o644)
