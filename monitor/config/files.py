"""Reading the files a configuration names (the configuration itself, its includes, a
`urls_file`, credentials, the env file) safely: only regular files, never blocking on a FIFO or
a device, never more than a given size; and TOML text checked for what would make tomllib
recurse or take quadratic time before it reads it (`text_problem`)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

# Limits checked before a file reaches tomllib, which recurses once per nested array or inline
# table (1,000 of them: RecursionError) and is quadratic in the parts of a dotted key.
MAX_FILE_SIZE = 1000 * 1000
MAX_NESTING = 32  # arrays and inline tables inside one another
MAX_KEY_PARTS = 64  # a.b.c is 3
MAX_LINE_LENGTH = 64 * 1000


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


_TOKEN = re.compile("\"\"\"|'''|\"|'|#|[\\[\\]{}.\n]|[^\\s\\w\"'#\\[\\]{}.\\-]")
_STRING_END = {
    '"""': re.compile(r'(?:[^"\\]|\\.|"(?!""))*""""{0,2}', re.S),
    "'''": re.compile(r"(?:[^']|'(?!''))*''''{0,2}"),
    '"': re.compile(r'(?:[^"\\\n]|\\.)*"'),
    "'": re.compile(r"[^'\n]*'"),
}


def text_problem(text: str) -> tuple[int, str] | None:
    """(line, message) when TOML text goes beyond MAX_NESTING, MAX_KEY_PARTS or
    MAX_LINE_LENGTH, else None. A scan of brackets and dots outside strings and comments; it
    may count a dot in a float as a key part, never fewer parts or levels than tomllib sees."""
    depth, parts, position, line = 0, 1, 0, 1
    while (found := _TOKEN.search(text, position)) is not None:
        token, position = found.group(), found.end()
        if token in _STRING_END:
            end = _STRING_END[token].match(text, position)
            if end is None:
                return None  # an unterminated string: tomllib says where
            line += text.count("\n", position, end.end())
            position = end.end()
        elif token == "#":
            position = text.find("\n", position)
            if position < 0:
                return None
        elif token in "[{":
            depth, parts = depth + 1, 1
            if depth > MAX_NESTING:
                return line, f"nested more than {MAX_NESTING} deep (arrays or inline tables inside one another)"
        elif token in "]}":
            depth, parts = depth - 1, 1
        elif token == ".":
            parts += 1
            if parts > MAX_KEY_PARTS:
                return line, f"a dotted key of more than {MAX_KEY_PARTS} parts"
        else:  # a newline, '=', ',' or any other character that ends a key
            parts = 1
            line += token == "\n"
    for number, row in enumerate(text.split("\n"), 1):
        if len(row) > MAX_LINE_LENGTH:
            return number, f"a line of {len(row):,} characters; a line may be at most {MAX_LINE_LENGTH:,}"
    return None
