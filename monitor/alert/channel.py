"""Channels: a named set of apprise URLs ("targets"), each rendered for the body format its
service prefers and delivered on its own, so that a retry goes only to the targets that have
not accepted a message yet. A delivery counts only when apprise reports success
(`bool(result)`); when it does not, apprise's own words (redacted) say why.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import re
import socket
import sys
import threading
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode, urlsplit

from typing import TYPE_CHECKING

from monitor.alert import batches, fit, formats, redact
from monitor.config.schema import suggest
from monitor.model import AlertMessage, ChannelSpec

if TYPE_CHECKING:
    import apprise

log = logging.getLogger(__name__)
EMAIL_SCHEMES = ("mailto", "mailtos")
redact.install()
# apprise's WARNING and ERROR records are its reasons for a failure: they reach only apprise's
# own handlers (its per-call capture, read back by `_failure`; `_server`'s) and are said once, in
# our "channel failed" line or by `check`, never as a second line of their own. Set once here,
# not around each send: sends run in threads, and a process-wide toggle per send would race.
# Its DEBUG records are made too (they go nowhere else): one of them carries an SMTP server's
# reply code, which tells a permanent refusal from a passing one (`_failure`).
logging.getLogger("apprise").setLevel(logging.DEBUG)
logging.getLogger("apprise").propagate = False


def _console(body: str, title: str, notify_type: str, *args: object, **kwargs: object) -> bool:
    """`console://`: print alerts to standard output, for trying newsmon without any account."""
    out = sys.stdout
    out.write(f"{title}\n{body}\n\n" if title else f"{body}\n\n")
    out.flush()
    return True


_APPRISE: list = []  # the apprise module, once imported


def _apprise():  # -> the apprise module
    """apprise, imported (with our `console://` plugin registered) the first time a channel URL
    is checked or a message sent: importing it and its plugins costs about half a second of
    CPU, which a cycle that sends nothing, with URLs checked before (`accepted`), never pays."""
    if not _APPRISE:
        import apprise
        from apprise.decorators import notify

        notify(on="console", name="newsmon console (standard output)", body_format=apprise.NotifyFormat.TEXT)(_console)
        from monitor.alert import tls

        try:
            from apprise.plugins.email import smtp
        except ImportError:  # another apprise: its mail plugin reads the certificates as it does
            pass
        else:
            tls.deferred(smtp)  # its TLS context reads the CA certificates only for a TLS connection
        _APPRISE.append(apprise)
    return _APPRISE[0]


@dataclass(frozen=True)
class Outcome:
    """What one send to one target came to."""

    ok: bool
    reason: str = ""
    permanent: bool = False  # the service refused this message for good (SMTP 5xx, HTTP 4xx but 408/429)


class Target:
    """One apprise URL of a channel."""

    def __init__(self, url: str, server: object):
        self._url = url
        self.id = hashlib.sha256(url.encode()).hexdigest()[:12]
        self.privacy = _shown(server)
        self.kind = _format_of(server, url)
        self.max_length = int(getattr(server, "body_maxlen", 0) or 32768)
        self.merge_title = int(getattr(server, "title_maxlen", 1) or 0) <= 0
        self.email = url.split("://", 1)[0].lower() in EMAIL_SCHEMES
        self._apprise = _apprise().Apprise()
        self._apprise.add(url)

    def send(self, title: str, body: str, thread: str | None = None, reply: bool = False) -> Outcome:
        """Deliver one message (blocking). `thread`: an email References id, so that a story's
        follow-ups thread with its alert in mail clients."""
        if self.merge_title and title:
            title, body = "", formats.merged(title, body, self.kind)
        sender = self._apprise
        _forget_future_io(sender)
        if self.email and thread:
            headers = {"+References": thread, **({"+In-Reply-To": thread.split()[0]} if reply else {})}
            sender = _apprise().Apprise()
            sender.add(self._url + ("&" if "?" in self._url else "?") + urlencode(headers))
        try:
            result = sender.notify(body=body, title=title, body_format=self.kind, log_level=logging.DEBUG)
        except Exception as error:  # a plugin bug is a failed delivery, not a crash
            return Outcome(False, redact.describe_error(error))
        if bool(result):
            return Outcome(True)
        return _failure(result)


def _forget_future_io(sender: apprise.Apprise) -> None:
    """apprise paces sends to a service (5.5 s apart for most) by the wall clock: after the clock
    steps back, the last send looks to be in the future and the next one sleeps the size of the
    step, holding every channel. A last send "in the future" is forgotten (apprise's attribute,
    read defensively: an apprise without it paces as it likes)."""
    now = datetime.now()
    for server in sender:
        with contextlib.suppress(Exception):
            last = getattr(server, "_last_io_datetime", None)
            if isinstance(last, datetime) and last > now:
                server._last_io_datetime = None


# apprise's words for a service's answer: an HTTP status ("error=400."), an SMTP reply
# ("Socket Exception: (550, b'...')", at DEBUG).
_HTTP_STATUS = re.compile(r"\berror=(\d{3})\b")
_SMTP_REPLY = re.compile(r"Socket Exception: \((\d{3}), b?['\"](.*?)['\"]\)")
TRANSIENT_HTTP = {408, 425, 429}


def _failure(result: object) -> Outcome:
    """apprise's own account of a failure (its WARNING and ERROR log lines, and a server's
    reply it logs at DEBUG), redacted; permanent when the service answered that it will not
    take this message (SMTP 5xx; HTTP 4xx other than 408, 425 and 429)."""
    lines, permanent = [], False
    with contextlib.suppress(Exception):  # older apprise: a bare bool, no logs
        for entry in result.logs():
            reply = _SMTP_REPLY.search(entry.message)
            if reply:
                code = int(reply.group(1))
                permanent = permanent or 500 <= code < 600
                line = f"SMTP server replied {code} {reply.group(2)[:200]}"
            elif entry.level in ("WARNING", "ERROR", "CRITICAL"):
                status = _HTTP_STATUS.search(entry.message)
                if status:
                    code = int(status.group(1))
                    permanent = permanent or (400 <= code < 500 and code not in TRANSIENT_HTTP)
                line = entry.message
            else:
                continue
            if line not in lines:
                lines.append(line)
    text = "; ".join(lines) or "the service did not accept the message"
    return Outcome(False, redact.SECRETS.redact(text), permanent=permanent)


# Chat services that render a message's Markdown whatever apprise declares for them (apprise
# sends Mattermost and Zulip as TEXT): a plain-text body there would let a headline's
# `[text](url)` become a live link, so they get Markdown, escaped.
MARKDOWN_SERVICES = {"discord", "mmost", "mmosts", "rocket", "rockets", "zulip"}
# Services that can render Markdown (apprise declares it) and show plain text as typed.
MARKDOWN_PREFERRED = {"matrix", "matrixs"}


def _format_of(server: object, url: str = "") -> str:
    """The body format a target gets: the URL's own `?format=` if it set one; Markdown for chat
    services that render it (Discord, Mattermost, Zulip, Rocket.Chat, whatever apprise declares;
    Matrix); else the format its service prefers (apprise's first declared one: HTML for email
    and Telegram, Markdown for Slack)."""
    declared = getattr(server, "notify_format", _apprise().NotifyFormat.TEXT)
    declared = [getattr(item, "value", str(item)) for item in (declared if isinstance(declared, (tuple, list)) else [declared])]
    explicit = "format=" in urlsplit(url).query.lower() if url else False
    scheme = url.split("://", 1)[0].lower()
    if not explicit and (scheme in MARKDOWN_SERVICES or ("markdown" in declared and scheme in MARKDOWN_PREFERRED)):
        return "markdown"
    resolve = getattr(server, "resolve_format", None)
    if resolve is not None:
        with contextlib.suppress(Exception):
            value = getattr(resolve(), "value", None)
            if value in formats.FORMATS:
                return value
    return declared[0] if declared and declared[0] in formats.FORMATS else "text"


def _known_schemas() -> set[str]:
    try:
        _apprise()
        from apprise.manager_plugins import NotificationManager

        return set(NotificationManager().schemas())
    except (ImportError, AttributeError):  # an apprise without the plugin manager API
        return set()


class _Capture(logging.Handler):
    """apprise's WARNING and ERROR messages logged by this thread (not by concurrent sends)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread in (self.thread, None):  # None: logging.logThreads is off
            self.messages.append(record.getMessage())


def _server(url: str, reasons: list[str] | None = None) -> object | None:
    """apprise's plugin object for a URL, or None if apprise refuses it. apprise's own log
    lines about a refused URL are caught (into `reasons`); they are not logged (the "apprise"
    logger does not propagate): check_url says what is wrong, once."""
    logger = logging.getLogger("apprise")
    capture = _Capture()
    logger.addHandler(capture)
    try:
        probe = _apprise().Apprise()
        if not probe.add(url):
            if reasons is not None:
                reasons.extend(message for message in capture.messages if message not in reasons)
            return None
        return next(iter(probe))
    finally:
        logger.removeHandler(capture)


def _known(url: str, reasons: list[str] | None = None) -> object | None:
    """apprise's plugin object for a URL (None if refused), its secrets registered for redaction
    either way: the one door every channel URL goes through."""
    server = _server(url, reasons) if "://" in url else None
    redact.SECRETS.add_url(url, server.url(privacy=True) if server is not None else None)
    return server


def _shown(server: object) -> str:
    """How a URL is shown in logs, `alerts` and `check`: apprise's privacy URL without its
    options (noise), and with what still looks like a token (a webhook's path) hidden too."""
    return redact.SECRETS.redact(server.url(privacy=True).split("?", 1)[0])


def check_url(url: str, accepted: MutableMapping[str, str] | None = None) -> str | None:
    """Why apprise refuses `url`, or None when it accepts it. Never shows a secret.

    `accepted` (see `monitor.alert.accepted`): the privacy URLs of URLs apprise accepted before,
    by digest. A URL found there is accepted without apprise (its secrets are registered from
    the privacy URL, as `_known` does); one apprise accepts now is added."""
    if accepted is not None:
        shown = accepted.get(url_digest(url))
        if shown is not None:
            redact.SECRETS.add_url(url, shown)
            return None
    reasons: list[str] = []
    server = _known(url, reasons)
    if server is not None and accepted is not None:
        shown = redact.masked(url, server.url(privacy=True))
        if shown is not None:
            accepted[url_digest(url)] = shown
    if "://" not in url:
        return "not an apprise URL (expected SCHEME://...)"
    if server is not None:
        return None
    scheme = url.split("://", 1)[0].lower()
    known = _known_schemas()
    if known and scheme not in known:
        return f"unknown notification service {scheme!r}{suggest(scheme, sorted(known))}; see https://github.com/caronc/apprise/wiki"
    said = redact.SECRETS.redact("; ".join(reasons).rstrip("."))
    why = f"apprise says: {said}" if said else "a part is missing or malformed"
    return f"apprise cannot use this {scheme}:// URL: {why} (see the {scheme} page of the apprise wiki)"


def privacy_url(url: str) -> str:
    """apprise's privacy form of a URL (secrets hidden), or just its scheme."""
    server = _known(url)
    return _shown(server) if server is not None else url.split("://", 1)[0] + "://…"


class Channel:
    """A named destination: its targets, its spec (templates, digest, flood limit). The targets
    (apprise objects) are made when first needed: a cycle that sends nothing makes none."""

    def __init__(self, spec: ChannelSpec):
        self.name = spec.name
        self.spec = spec
        self._targets: list[Target] | None = None

    @property
    def configured(self) -> bool:
        """Whether the channel has a URL to send to (refused URLs never get this far: the
        configuration check refuses them)."""
        return any("://" in url for url in self.spec.urls)

    @property
    def targets(self) -> list[Target]:
        if self._targets is None:
            targets = []
            for url in self.spec.urls:
                server = _known(url)
                if server is not None:  # refused URLs are reported by check_url at config load
                    targets.append(Target(url, server))
            self._targets = targets
        return self._targets

    @property
    def target_ids(self) -> list[str]:
        return [target.id for target in self.targets]

    def describe(self) -> str:
        """The channel's URLs with secrets hidden, for logs."""
        return ", ".join(target.privacy for target in self.targets)

    def render(self, message: AlertMessage, target: Target) -> tuple[str, str]:
        """Title and body for `target`, every field capped and the whole within its limit. A
        watched site is named only on a channel with `show_sites`."""
        if message.near_site and not self.spec.show_sites:
            message = dataclasses.replace(message, near_site="")
        return fit.render(message, target.kind, target.max_length, title_template=self.spec.title,
                          body_template=self.spec.body, title_in_body=target.merge_title)

    def parts(self, batch: batches.Batch, target: Target) -> list[batches.Part]:
        hide = not self.spec.show_sites
        batch = dataclasses.replace(batch, messages=tuple(
            fit.bounded(dataclasses.replace(message, near_site="") if hide and message.near_site else message)
            for message in batch.messages))
        return batches.render_batch(batch, target.kind, target.max_length)

    async def deliver(self, target: Target, title: str, body: str, thread: str | None = None,
                      reply: bool = False) -> Outcome:
        """`target.send` in a daemon thread, without blocking the event loop. A daemon thread,
        because apprise may block for a long time (SMTP timeouts, its own throttling) and
        stopping newsmon must not wait for it: what such a send leaves unrecorded is sent again
        after the next start (at most one duplicate)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()

        def settle(outcome: Outcome) -> None:
            if not future.done():
                future.set_result(outcome)

        def work() -> None:
            try:
                outcome = target.send(title, body, thread, reply)
            except BaseException as error:  # noqa: BLE001 - reported as a failed delivery
                outcome = Outcome(False, redact.describe_error(error))
            with contextlib.suppress(RuntimeError):  # the loop may be gone after a stop
                loop.call_soon_threadsafe(settle, outcome)

        threading.Thread(target=work, name=f"newsmon-send-{self.name}", daemon=True).start()
        return await future


def build_channels(specs: Iterable[ChannelSpec]) -> dict[str, Channel]:
    return {spec.name: Channel(spec) for spec in specs}


def url_digest(url: str) -> str:
    """What identifies a channel URL in the file of accepted ones (the URL itself is a secret)."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def thread_id(story_id: int, rule: str, merged: Iterable[int] = ()) -> str:
    """A stable email References id for a (story, rule): follow-ups thread with the alert. With
    `merged` (stories found to be this one), their ids follow, so that mail clients thread the
    survivor's alerts with those sent before the merge."""
    digest = hashlib.sha256(rule.encode()).hexdigest()[:8]
    host = socket.gethostname() or "localhost"
    return " ".join(f"<newsmon.story-{story}.{digest}@{host}>" for story in (story_id, *merged))
