"""Reading the files a configuration names (the configuration itself, its includes, a
`urls_file`, credentials, the env file) safely: only regular files, never blocking on a FIFO or
a device, never more than a given size."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotReadable(Exception):
    """A file that `read_regular_file` refuses; the message says why, without the file name.
    `too_large` tells a file over the size limit from one that is not a regular file."""

    def __init__(self, message: str, too_large: bool = False):
        super().__init__(message)
        self.too_large = too_large


def read_regular_file(path: Path | str, limit: int) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them.

    Opened without blocking (a FIFO would block an ordinary open until a writer comes) and
    checked on the opened descriptor, so a FIFO, a device such as /dev/zero or a directory is
    refused before anything is read. Raises `NotReadable` (not a regular file, or larger than
    `limit`) and `OSError` (not found, permission denied, ...)."""
    before = os.stat(path).st_mode
    if not stat.S_ISREG(before):
        raise NotReadable(f"is not a regular file ({_file_kind(before)})")
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):  # replaced between the stat and the open
            raise NotReadable(f"is not a regular file ({_file_kind(status.st_mode)})")
        if status.st_size > limit:
            raise NotReadable(f"is {status.st_size:,} bytes", too_large=True)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew after the fstat
            raise NotReadable(f"is more than {limit:,} bytes", too_large=True)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"
