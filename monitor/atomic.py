"""Files newsmon writes whole (a configuration drop-in, the saved story window, the channels
apprise accepted, a pid file): through a temporary file beside the file, renamed over it once
written, so that a reader, or newsmon after a crash, finds the old file or the new one, never
half of one. The one home of that rule."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write(path: Path, write: Callable[[BinaryIO], object], *, mode: int = 0o600, sync: bool = False) -> None:
    """Write `path` with `write(handle)` (a binary file open on the temporary file), then put it
    in place. `mode`: the new file's permissions (the temporary is the owner's alone until
    then); `sync`: on the disk before it replaces the old one (a file the user wrote, which a
    crash must not leave empty). A failure leaves the old file as it was and no temporary."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        if mode != 0o600:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
