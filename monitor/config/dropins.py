"""Where newsmon's own edits of the configuration go, so that a user's files are never rewritten.

newsmon writes drop-in files, `newsmon-<kind>-<name>.toml`, in the directory of the first
`include` glob (by default `watchlist.d/` next to the configuration), each starting with
`# Written by newsmon`. A file without that first line is the user's: newsmon reads it and
never writes it; changing or removing what it defines is refused, naming the file and line to
edit instead. Every write is atomic (a temporary file in the same directory, then a rename), and
keeps the mode of the configuration file (it may hold secrets).

The text of an item is written with tomli-w (TOML has no other writer, and tomli-w writes no
comments: the header says what the file is for).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor import atomic

HEADER = "# Written by newsmon"
KINDS = ("feed", "entity", "rule", "import")


@dataclass(frozen=True)
class Place:
    """Where an item is defined: its file and the line its table starts on (1-based)."""

    file: Path
    line: int
    ours: bool  # a file newsmon wrote (it may rewrite or remove it)

    def __str__(self) -> str:
        return f"{self.file} line {self.line}"


def directory(config_path: Path, include: tuple[str, ...], environ=os.environ) -> Path | None:
    """The directory of the first `include` glob, relative to the configuration's directory,
    or None when there is no include, or its directory part is itself a pattern."""
    if not include:
        return None
    pattern = include[0]
    if pattern == "~" or pattern.startswith("~/"):
        pattern = environ.get("HOME", str(Path.home())) + pattern[1:]
    parent = Path(pattern).parent
    if glob.has_magic(str(parent)):
        return None
    return parent if parent.is_absolute() else config_path.resolve().parent / parent


def file_for(folder: Path, kind: str, name: str) -> Path:
    """`folder/newsmon-<kind>-<slug>.toml`: a name that is safe as a file name, whatever the item's."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")[:60] or "item"
    return folder / f"newsmon-{kind}-{slug}.toml"


def new_file(folder: Path, kind: str, name: str) -> Path:
    """`file_for`, numbered (-2, -3, ...) until no file has the name: for a new item or import."""
    path = file_for(folder, kind, name)
    number = 2
    while path.exists():
        path = file_for(folder, kind, f"{name}-{number}")
        number += 1
    return path


def ours(path: Path) -> bool:
    """Whether newsmon wrote the file (its first line is the header)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().startswith(HEADER)
    except OSError:
        return False


def render(note: str, document: dict[str, Any]) -> str:
    """A drop-in's text: the header, what it is, then the TOML."""
    import tomli_w

    lines = [HEADER + ": edit it or remove it with newsmon's commands, or delete it (see 'newsmon --help')."]
    lines += [f"# {line}" for line in note.splitlines()]
    return "\n".join(lines) + "\n\n" + tomli_w.dumps(document)


def write(path: Path, text: str | None, mode_of: Path) -> None:
    """Write `text` to `path` atomically (None: remove the file), with the mode of `mode_of`."""
    if text is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = os.stat(mode_of).st_mode & 0o777
    except OSError:
        mode = 0o644
    atomic.write(path, lambda out: out.write(text.encode("utf-8")), mode=mode, sync=True)


def find(files: tuple[Path, ...], kind: str, key: str) -> Place | None:
    """Where the item of `kind` identified by `key` (a feed's URL, an entity's or a rule's name)
    is defined in `files`, or None. A plain text search, as a person would do: `[entities.KEY]`,
    or `name = "KEY"` / `url = "KEY"` after a `[[rules]]` / `[[feeds]]` header."""
    for file in files:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        line = _find_in(lines, kind, key)
        if line is not None:
            return Place(file, line, ours(file))
    return None


def _find_in(lines: list[str], kind: str, key: str) -> int | None:
    if kind == "entity":
        wanted = re.compile(r"^\s*\[\s*entities\s*\.\s*(?:" + re.escape(key) + r"|\"" + re.escape(key) + r"\"|'"
                            + re.escape(key) + r"')\s*\]")
        return next((index + 1 for index, line in enumerate(lines) if wanted.match(line)), None)
    table = "feeds" if kind == "feed" else "rules"
    field = "url" if kind == "feed" else "name"
    header = re.compile(r"^\s*\[\[\s*" + table + r"\s*\]\]")
    value = re.compile(r"^\s*" + field + r"\s*=\s*(?:\"" + re.escape(_escaped(key)) + r"\"|'" + re.escape(key) + r"')")
    inline = re.compile(r"\{[^}]*\b" + field + r"\s*=\s*(?:\"" + re.escape(_escaped(key)) + r"\"|'" + re.escape(key) + r"')")
    start = None
    for index, line in enumerate(lines):
        if header.match(line):
            start = index + 1
        elif re.match(r"^\s*\[", line):
            start = None
        if start is not None and value.match(line):
            return start
        if inline.search(line):  # feeds = [{ url = "..." }]
            return index + 1
    return None


def _escaped(text: str) -> str:
    """How a basic TOML string writes `text` (as tomli-w would), for the search."""
    return text.replace("\\", "\\\\").replace('"', '\\"')
