"""Channel URLs apprise accepted before, remembered in the state directory.

Checking a channel URL means importing apprise and its hundred-odd plugins: about half a second
of CPU, most of a `run --once` whose feeds bring nothing new. So `run` remembers, in
`<state_dir>/accepted-channel-urls.json`, each URL apprise accepted (by its SHA-256 digest: the
URL itself is a secret) with the parts of apprise's privacy form of it that are no secret (what
log redaction needs: `redact.masked`), and accepts a remembered URL without asking apprise again. The file is keyed by the
newsmon version and the installed apprise: after an upgrade of either, every URL is checked
again. `newsmon check` always asks apprise. A URL apprise refuses is never remembered.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from pathlib import Path

from monitor import atomic

log = logging.getLogger(__name__)
FILE = "accepted-channel-urls.json"


def _key() -> str:
    """The newsmon version and where, when and how big apprise's installed package is."""
    from monitor import __version__

    spec = importlib.util.find_spec("apprise")
    origin = spec.origin if spec is not None and spec.origin else ""
    try:
        stat = os.stat(origin)
        installed = f"{origin}:{stat.st_mtime_ns}:{stat.st_size}"
    except OSError:
        installed = origin
    return f"newsmon {__version__}; apprise {installed}"


def load(state_dir: Path) -> dict[str, str]:
    """URL digest -> privacy URL of the URLs accepted before with this newsmon and apprise
    ({} when there is no such file, or it is unreadable or from another version)."""
    try:
        document = json.loads((Path(state_dir) / FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    urls = document.get("urls") if isinstance(document, dict) and document.get("key") == _key() else None
    if not isinstance(urls, dict):
        return {}
    return {digest: shown for digest, shown in urls.items() if isinstance(digest, str) and isinstance(shown, str)}


def save(state_dir: Path, accepted: dict[str, str]) -> None:
    """Write the accepted URLs (atomically; readable by the owner only), making the state
    directory as the store does if it is not there yet. A failure to write is not an error
    (the next run asks apprise again)."""
    directory = Path(state_dir)
    path = directory / FILE
    text = json.dumps({"key": _key(), "urls": accepted}, indent=1, sort_keys=True)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic.write(path, lambda out: out.write(text.encode("utf-8")))
    except OSError as error:
        log.debug("could not remember the accepted channel URLs in %s: %s", path, error)
