"""Alerts: rendering an `AlertMessage` for each kind of channel and handing it to apprise.
The only module that imports apprise.

Each channel is one `apprise.Apprise` object. Its URLs are grouped by the body format their
service prefers (plain text, Markdown, HTML); each group gets a body rendered for it, with
third-party text (titles, snippets, outlet names) escaped for that format. A delivery counts
only when apprise reports success (`bool(result)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import html
import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import datetime

import apprise
from apprise import NotifyFormat
from apprise.decorators import notify as apprise_plugin

from monitor.model import AlertMessage, ChannelSpec

log = logging.getLogger(__name__)
FORMATS = ("text", "markdown", "html")
SECRET_PART = re.compile(r"[^/:@?&=#%+,;]{6,}")


class _Redact(logging.Filter):
    """Hides the secret parts of channel URLs (tokens, passwords, keys) in apprise's log lines:
    apprise names a bad token in full in its warnings, and logs whole URLs at DEBUG."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, url: str) -> None:
        rest = url.split("://", 1)[-1]
        self.secrets.update(part for part in SECRET_PART.findall(rest) if not part.isalpha() or len(part) >= 20)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in sorted(self.secrets, key=len, reverse=True):
                message = message.replace(secret, secret[:2] + "…")
            record.msg, record.args = message, ()
        return True


REDACT = _Redact()
logging.getLogger("apprise").addFilter(REDACT)
logging.getLogger("apprise").setLevel(logging.WARNING)


@apprise_plugin(on="console", name="newsmon console (standard output)", body_format=NotifyFormat.TEXT)
def _console(body: str, title: str, notify_type: str, *args: object, **kwargs: object) -> bool:
    """`console://`: print alerts to standard output, for trying newsmon without any account."""
    out = sys.stdout
    out.write(f"{title}\n{body}\n\n")
    out.flush()
    return True


def _format_of(server: object) -> str:
    preferred = getattr(server, "notify_format", NotifyFormat.TEXT)
    if isinstance(preferred, (tuple, list)):
        preferred = preferred[0] if preferred else NotifyFormat.TEXT
    value = getattr(preferred, "value", str(preferred))
    return value if value in FORMATS else "text"


def _known_schemas() -> set[str]:
    try:
        from apprise.manager_plugins import NotificationManager

        return set(NotificationManager().schemas())
    except (ImportError, AttributeError):  # an apprise without the plugin manager API
        return set()


def check_url(url: str) -> str | None:
    """Why apprise refuses `url`, or None when it accepts it."""
    REDACT.add(url)
    if "://" not in url:
        return f"not an apprise URL (expected SCHEME://...): {_redact(url)!r}"
    if apprise.Apprise().add(url):
        return None
    scheme = url.split("://", 1)[0].lower()
    known = _known_schemas()
    if known and scheme not in known:
        close = difflib.get_close_matches(scheme, sorted(known), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown notification service {scheme!r}{hint}; see https://github.com/caronc/apprise/wiki"
    return f"apprise cannot use this {scheme}:// URL: a part is missing or malformed ({_redact(url)!r})"


def _redact(url: str) -> str:
    """A URL with credentials and path tokens hidden, for messages."""
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{rest[:3]}…" if len(rest) > 3 else f"{scheme}://{rest}"


class Channel:
    """A named destination: one apprise object and its URLs grouped by body format."""

    def __init__(self, spec: ChannelSpec):
        self.name = spec.name
        self.apprise = apprise.Apprise()
        self.formats: set[str] = set()
        for url in spec.urls:
            REDACT.add(url)
            probe = apprise.Apprise()
            if not probe.add(url):
                continue  # refused URLs are reported by check_url at config load
            kind = _format_of(next(iter(probe)))
            self.apprise.add(url, tag=f"newsmon-{kind}")
            self.formats.add(kind)

    def describe(self) -> str:
        """The channel's URLs with secrets hidden, for logs."""
        return ", ".join(server.url(privacy=True) for server in self.apprise)

    def send(self, message: AlertMessage) -> bool:
        """Deliver one alert (blocking). True only when every URL of the channel accepted it."""
        ok = True
        for kind in sorted(self.formats):
            title, body = render(message, kind)
            result = self.apprise.notify(body=body, title=title, body_format=kind, tag=f"newsmon-{kind}")
            ok = bool(result) and ok
        return ok

    async def deliver(self, message: AlertMessage) -> bool:
        """`send` in a daemon thread, without blocking the event loop. A daemon thread, because
        apprise may block for a long time (SMTP timeouts, its own throttling) and stopping
        newsmon must not wait for it: an alert abandoned that way is still marked 'sending' and
        returns to the outbox at the next start."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()

        def settle(result: bool | None, error: BaseException | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(bool(result))

        def work() -> None:
            try:
                result, error = self.send(message), None
            except Exception as caught:  # a plugin bug is a failed delivery, not a crash
                result, error = None, caught
            with contextlib.suppress(RuntimeError):  # the loop may be gone after a stop
                loop.call_soon_threadsafe(settle, result, error)

        threading.Thread(target=work, name=f"newsmon-send-{self.name}", daemon=True).start()
        return await future


def build_channels(specs: Iterable[ChannelSpec]) -> dict[str, Channel]:
    return {spec.name: Channel(spec) for spec in specs}


# ---------------------------------------------------------------- rendering

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+|~!])")
MENTIONS = re.compile(r"(?i)(@)(channel|here|everyone|all)\b|<!(channel|here|everyone)>")


def _neutralise_mentions(text: str) -> str:
    return MENTIONS.sub(lambda m: (m.group(1) or "") + "\u200b" + (m.group(2) or m.group(3) or ""), text)


def escape(text: str, kind: str) -> str:
    """Third-party text made inert for a body format."""
    text = _neutralise_mentions(text)
    if kind == "html":
        return html.escape(text, quote=True)
    if kind == "markdown":
        return MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text


def _highlighted(message: AlertMessage, kind: str) -> str:
    marks = {"html": ("<b>", "</b>"), "markdown": ("**", "**"), "text": ("«", "»")}[kind]
    out = []
    position = 0
    for start, end in sorted(message.highlights):
        if start < position:
            continue
        out.append(escape(message.snippet[position:start], kind))
        out.append(marks[0] + escape(message.snippet[start:end], kind) + marks[1])
        position = end
    out.append(escape(message.snippet[position:], kind))
    return "".join(out)


def _when(published: str | None) -> str:
    if not published:
        return "time unknown"
    try:
        return datetime.fromisoformat(published).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return published


def render(message: AlertMessage, kind: str) -> tuple[str, str]:
    """Title and body of an alert for a body format ("text", "markdown" or "html")."""
    prefix = "Update: " if message.update else ""
    label = "newsmon" if message.rule.startswith("newsmon:") else message.rule
    title = f"[{label}] {prefix}{_neutralise_mentions(message.title)}"
    matched = ", ".join(dict.fromkeys(message.matched))
    snippet = _highlighted(message, kind)
    outlet = escape(message.outlet, kind)
    when = _when(message.published)
    url = message.url or ""
    also = ", ".join(f"{name} ({_when(at)})" for name, at in message.also_reported_by)
    if kind == "html":
        link = f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>' if url else "(no link)"
        body = (f"<p><b>{outlet}</b> · {html.escape(when)}<br/>{link}</p>"
                f"<blockquote>{snippet}</blockquote>")
        if matched:
            body += f"<p>Matched: {escape(matched, kind)} · rule {escape(message.rule, kind)}</p>"
        if also:
            body += f"<p>Also reported by: {escape(also, kind)}</p>"
    elif kind == "markdown":
        link = f"<{url}>" if url else "(no link)"
        body = f"**{outlet}** · {when}\n{link}\n\n> {snippet}"
        if matched:
            body += f"\n\nMatched: {escape(matched, kind)}"
        if also:
            body += f"\nAlso reported by: {escape(also, kind)}"
    else:
        body = f"{outlet} · {when}\n{url or '(no link)'}\n\n  {snippet}"
        if matched:
            body += f"\n\nMatched: {matched}"
        if also:
            body += f"\nAlso reported by: {also}"
    return title, body
