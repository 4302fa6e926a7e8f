"""How newsmon writes a moment: ISO 8601 in UTC for machines (JSON, stored messages), and
"2026-12-05 14:03 UTC" for people (alerts, `status`, `alerts`, `stories`). The one place that
formats times."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(timestamp: float | None) -> str | None:
    """A Unix time as ISO 8601 in UTC to the second ("2026-12-05T14:03:07+00:00"); None stays None."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def shown(moment: float | str | None, missing: str = "never") -> str:
    """A moment as people read it: "2026-12-05 14:03 UTC". `moment` is a Unix time or an ISO
    8601 text (an unreadable text is shown as it is); `missing` stands in for none (None, 0 or "")."""
    if not moment:
        return missing
    if isinstance(moment, str):
        try:
            value = datetime.fromisoformat(moment)
        except ValueError:
            return moment
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
    else:
        value = datetime.fromtimestamp(moment, timezone.utc)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def instant(text: str | None) -> float | None:
    """An ISO 8601 text (as `iso` writes it, or an article's `published`) as a Unix time, a time
    without a zone taken as UTC; None when there is none or it cannot be read."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()


def page_date(text: str | None) -> datetime | None:
    """A page's publication date as monitor.extract reads it (ISO 8601, no zone: UTC) as a
    datetime; None when it has none or it cannot be read."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
