"""Keeping channel secrets (tokens, passwords, webhook keys) out of every log line.

apprise names a bad token in full in its warnings and logs whole URLs at DEBUG; urllib3 logs
request paths (a Slack webhook's path *is* its secret) at DEBUG; exceptions carry URLs in their
text. A filter on one logger would miss the others (filters do not apply to records that
propagate from child loggers), so the redaction sits in the log record factory: every record,
from any logger, at any level, has the secrets of every known channel URL replaced before any
handler sees it — its message, its arguments, its exception text and its stack.

A secret is a part of a channel URL (user, password, path segment, query value, fragment) that
apprise's own privacy URL does not show, or that looks like a token (letters and digits mixed,
as webhook paths often are) even where apprise shows it; for a URL apprise refuses, every such
part but the host.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from urllib.parse import parse_qsl, unquote, urlsplit

MIN_SECRET = 4  # shorter parts are not secrets worth garbling every log line for
SPLIT = re.compile(r"[/:@?&=#,;+\s]+")


class Secrets:
    """The secret parts of every channel URL seen so far, and a pattern that finds them."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add_url(self, url: str, privacy_url: str | None = None) -> None:
        found = secret_parts(url, privacy_url)
        if found - self._secrets:
            with self._lock:
                self._secrets |= found
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(secret) for secret in ordered))

    def redact(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(lambda found: found.group(0)[:1] + "…", text)

    @property
    def active(self) -> bool:
        return self._pattern is not None


def secret_parts(url: str, privacy_url: str | None = None) -> set[str]:
    """The parts of `url` that must never be shown (raw and %-decoded)."""
    try:
        split = urlsplit(url)
        host = (split.hostname or "").lower()
        # every part of the netloc: some services keep their token where a port would be
        # (tgram://BOT_ID:TOKEN/...), which urlsplit does not see as a password
        candidates = [split.username or "", split.password or "", split.fragment, *SPLIT.split(split.netloc)]
    except ValueError:  # e.g. a bad port: fall back to every part of the text
        split, host, candidates = None, "", [url.split("://", 1)[-1]]
    if split is not None:
        candidates += split.path.split("/")
        candidates += [value for _key, value in parse_qsl(split.query, keep_blank_values=True)]
        if privacy_url is None and split.username and not split.password:
            candidates.append(split.username)
    public = set()
    if privacy_url:
        public = {part for part in SPLIT.split(unquote(privacy_url)) if part}
    secrets = set()
    for candidate in candidates:
        for raw in {candidate, unquote(candidate)}:
            for part in [raw, *SPLIT.split(raw)]:
                # the host is public when apprise shows it (Slack keeps a token where the host goes)
                # (without apprise's word, a host is public only if it looks like one: a dotted name)
                shown = part in public if privacy_url else part.lower() == host and ("." in host or host == "localhost")
                if shown and part.lower() == host:
                    continue
                if len(part) >= MIN_SECRET and "…" not in part and (not shown or _token_like(part)):
                    secrets.add(part)
    return secrets


def masked(url: str, privacy_url: str) -> str | None:
    """What of `privacy_url` may be written down: its parts that are no secret of `url` (a
    webhook's token is in apprise's privacy form of it), one space apart. Given back to
    `Secrets.add_url` in place of the privacy URL it names the same secrets; None if no such
    text can be made."""
    secrets = secret_parts(url, privacy_url)
    public = {part for part in SPLIT.split(unquote(privacy_url)) if part} - secrets
    out = " ".join(sorted(public))
    if any(secret in out for secret in secrets) or secret_parts(url, out) != secrets:
        return None
    return out


def _token_like(part: str) -> bool:
    letters = sum(char.isalpha() for char in part)
    digits = sum(char.isdigit() for char in part)
    return (len(part) >= 6 and letters and digits) or (len(part) >= 20 and "." not in part)


SECRETS = Secrets()
_FORMATTER = logging.Formatter()
_installed = False


def install() -> None:
    """Put the redaction into the log record factory (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if SECRETS.active:
            _scrub(record)
        return record

    logging.setLogRecordFactory(factory)


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep what can be shown
        message = f"{record.msg} {record.args}"
    record.msg, record.args = SECRETS.redact(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = SECRETS.redact(_FORMATTER.formatException(record.exc_info))
        record.exc_info = None  # formatters print exc_text; the raw exception would carry the URL again
    if record.stack_info:
        record.stack_info = SECRETS.redact(record.stack_info)


def describe_error(error: BaseException) -> str:
    """An exception as one redacted line, for messages."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return SECRETS.redact(text)
