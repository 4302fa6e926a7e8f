"""What the store hands out: frozen row dataclasses, and the JSON form of an alert message
kept in the outbox."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from monitor.model import AlertMessage, AlertRow, ChannelState, FeedItems, QueuedAlert  # noqa: F401 - re-exported


@dataclass(frozen=True)
class FeedState:
    """What the store remembers about one feed."""

    id: int
    url: str
    fetch_url: str
    title: str | None
    site_url: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_success: float | None
    last_error: str | None
    error_count: int
    status: str
    next_poll: float | None = None
    last_attempt: float | None = None
    created: float | None = None
    silent_since: float | None = None
    catch_up: bool = False  # its next complete poll records without alerting (new, re-enabled or moved)
    ttl: float | None = None  # seconds: the <ttl> of its last parsed body
    warned_at: float | None = None  # its failure was last said at WARNING then
    items: FeedItems | None = None  # what its last fully recorded body held (monitor.feedsplit)


@dataclass(frozen=True)
class KnownEntry:
    """An entry already recorded: its content hash and where it went."""

    content_hash: str
    article_id: int | None
    story_id: int | None


@dataclass(frozen=True)
class StoryRow:
    """One story as `newsmon stories` shows it."""

    id: int
    first_seen: float
    title: str | None
    articles: tuple[StoryArticle, ...]  # first fetched first
    rules: tuple[str, ...]
    merged: tuple[tuple[int, str | None, float | None, str | None], ...] = ()  # (story, title, when, why) merged into it
    independent: tuple[str, ...] = ()  # outlets that reported it in their own words, earliest first
    facts: str | None = None  # its event facts (JSON of monitor.event_facts.EventFacts), if gathered


@dataclass(frozen=True)
class StoryArticle:
    """One article of a story."""

    id: int
    outlet: str
    title: str
    url: str | None
    fetched: float
    published: float | None
    copy_of: int | None  # the article whose text it copies (None: its own words)


@dataclass(frozen=True)
class FeedRow:
    """One feed as `newsmon status` shows it."""

    url: str
    title: str | None
    last_success: float | None
    last_error: str | None
    error_count: int
    entries: int
    status: str
    error_kind: str | None = None
    next_poll: float | None = None
    last_attempt: float | None = None
    status_reason: str | None = None
    fetch_url: str | None = None
    last_alert: float | None = None  # when an entry of this feed last queued an alert
    quiet: dict[str, int] = dataclasses.field(default_factory=dict)  # entries recorded without alerting, by why


def dump_message(message: AlertMessage) -> str:
    return json.dumps(dataclasses.asdict(message), ensure_ascii=False)


def load_message(text: str) -> AlertMessage:
    data = json.loads(text)
    data["highlights"] = tuple(tuple(span) for span in data.get("highlights", ()))
    data["matched"] = tuple(data.get("matched", ()))
    data["also_reported_by"] = tuple(tuple(item) for item in data.get("also_reported_by", ()))
    data["changed"] = tuple(data.get("changed", ()))
    return AlertMessage(**data)
