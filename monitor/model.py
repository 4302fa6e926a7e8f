"""Frozen dataclasses that travel between stages. Library objects stop at the stage boundary;
only these go further."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


# An alert a service refuses for good (SMTP 5xx, HTTP 4xx but 408/425/429) this many times
# fails for the targets that refused it: the store records it, the drain says it.
REFUSALS_TO_FAIL = 3

@dataclass(frozen=True)
class FeedSpec:
    """One `[[feeds]]` entry of the configuration."""

    url: str
    name: str | None = None
    outlet: str | None = None
    interval: float | None = None  # seconds; None: the global poll_interval
    full_text: bool = True
    tags: tuple[str, ...] = ()
    alert_on_first_poll: bool = False
    proxy: str | None = None
    expect_every: float | None = None  # seconds without a new entry before the feed counts as silent


SEVERITIES = ("low", "medium", "high", "critical")
PRECISIONS = ("site", "town", "district", "province", "country")  # how precisely an event is placed, finest first


@dataclass(frozen=True)
class ChannelSpec:
    """One `[channels.NAME]` table: its apprise URLs (secrets already expanded), what it
    receives (routing filters) and how (templates, digest, flood limit)."""

    name: str
    urls: tuple[str, ...]
    min_severity: str = "low"
    rules: tuple[str, ...] | None = None  # None: every rule that routes here
    title: str | None = None  # a user template for the title; None: newsmon's
    body: str | None = None  # a user template for the body; None: newsmon's
    digest_every: float | None = None  # seconds: one message per period (aligned in `timezone`)
    digest_cron: str | None = None  # or a cron expression ("0 8 * * *") in `timezone`
    timezone: str = "UTC"
    max_per_hour: int | None = None  # flood control: past it, alerts fold into a summary
    min_outlets: int = 1  # an event's alert waits until this many outlets have reported it in their own words
    quiet_after_ack: bool = False  # no follow-ups of a story someone acknowledged
    quiet_hours: tuple[str, ...] = ()  # windows ("22:00-07:00", "sat-sun 00:00-24:00") in `timezone`
    quiet_min_severity: str = "critical"  # alerts at least this severe go out even in quiet hours
    escalate_after: float | None = None  # seconds: an alert unacknowledged this long after delivery...
    escalate_to: str | None = None  # ...goes once to this channel
    escalate_min_severity: str = "critical"  # only alerts at least this severe escalate
    heartbeat: float | None = None  # seconds: a short "newsmon is watching N feeds" message this often
    show_sites: bool = False  # name the watched site an event is near (default: "a watched site")

    @property
    def digest(self) -> bool:
        return self.digest_every is not None or self.digest_cron is not None


@dataclass(frozen=True)
class Site:
    """A watched place (`[[sites]]`): an office, a guest house, a project site. `lat`/`lon` in
    decimal degrees (None until a `place` is looked up in the gazetteer), `radius` in km."""

    name: str
    lat: float | None
    lon: float | None
    radius: float = 10.0
    place: str | None = None


@dataclass(frozen=True)
class Entity:
    """A watched actor, region or topic and the names it goes by."""

    name: str
    names: tuple[str, ...]
    kind: str = "actor"
    case: str = "auto"  # "auto": acronym-like names match in their own case only; or "sensitive" / "insensitive"
    context: tuple[str, ...] = ()  # terms one of which must be near an ambiguous name for it to count
    context_window: int = 20  # words either side, same field
    ambiguous: tuple[str, ...] | None = None  # names that need context; None: the acronym-like ones
    exclude: tuple[str, ...] = ()  # phrases that cancel an ambiguous name's hit within the window
    extends: str | None = None  # "pack.NAME" this entity adds to (already merged by config)
    contains: tuple[str, ...] = ()  # a region: gazetteer places; each, and every place inside one, counts as it
    broad: tuple[str, ...] = ()  # names of a wider whole ("Islamic State" for its Khorasan branch), among `names`...
    broad_context: tuple[str, ...] = ()  # ...that count only with one of these within context_window words


@dataclass(frozen=True)
class Rule:
    """A watch rule. Terms are phrases or `@entity` references."""

    name: str
    all: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    none: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    query: str = ""  # AND / OR / NOT / NEAR/n / title: query; with lists, both must hold
    feed_tags: tuple[str, ...] = ()  # only articles from feeds with one of these tags
    on_update: str = "ignore"  # "new_hits": a follow-up when a story newly names an entity
    group_wait: float = 0.0  # seconds a new story's alert waits to gather outlets
    near: tuple[str, ...] = ()  # only events within the radius of one of these [[sites]]
    severity: str = "medium"  # one of SEVERITIES, or "auto": graded from the event's facts (SeverityGrades)


@dataclass(frozen=True)
class IncidentFacts:
    """What an alert states of its event (gathered from every report, with evidence, by
    `monitor.event_facts`); empty or None where no report says."""

    event_type: str = ""  # "suicide bombing"
    killed: int | None = None
    injured: int | None = None
    killed_low: int | None = None  # the lowest figure any report states (reports disagree, or a toll rose)
    injured_low: int | None = None
    claimed_by: str = ""  # the claimant's name ("TTP")
    place: str = ""  # "Peshawar, Khyber Pakhtunkhwa"
    precision: str = ""  # of the place: site, town, district, province or country


@dataclass(frozen=True)
class SeverityGrades:
    """`[newsmon.severity]`: how a rule with `severity = "auto"` grades an event from its facts:
    the highest level any of these reaches (0 turns a threshold off)."""

    critical_killed: int = 10
    high_killed: int = 3
    medium_killed: int = 1
    high_injured: int = 10
    medium_injured: int = 1
    near_site: str = "critical"  # an event within a watched site's radius is at least this
    otherwise: str = "low"  # no figure reaches a threshold and no site is in range


@dataclass(frozen=True)
class MaterialChange:
    """`material_toll_change`: a follow-up of a rule with `on_update = "material"` is sent when a
    toll rises by more than `percent` and by at least `at_least` (or a claim appears, or the place
    becomes more precise)."""

    percent: float = 25.0
    at_least: int = 3


@dataclass(frozen=True)
class Entry:
    """One item of a feed, as the feed describes it."""

    key: str  # identity within its feed: guid, else link, else a hash of title + summary
    title: str
    link: str | None
    summary: str  # plain text
    content: str  # plain text of the feed's own full content, if any
    published: datetime | None
    content_hash: str


@dataclass(frozen=True)
class FeedDocument:
    """A parsed feed: its own metadata and entries, newest first as served."""

    title: str | None
    site_url: str | None
    entries: tuple[Entry, ...]
    bozo: str | None = None  # feedparser's complaint about malformed XML, if any
    ttl: float | None = None  # seconds: RSS <ttl>, the publisher's minimum time between polls
    replaced: int = 0  # invalid UTF-8 byte sequences read as U+FFFD (see monitor.decoding)


@dataclass(frozen=True)
class FeedItems:
    """What a feed's last parsed body held (see monitor.feedsplit): a digest of the markup
    around its items and one of each item. The daemon keeps it between polls, so that the next
    body's unchanged items are not parsed again."""

    context: bytes
    digests: frozenset[bytes]
    count: int  # items in that body

    def pack(self) -> bytes:
        """Bytes for the store: the context's length and the context, the count, the digests."""
        return bytes([len(self.context)]) + self.context + self.count.to_bytes(4, "big") + b"".join(sorted(self.digests))

    @classmethod
    def unpack(cls, blob: bytes | None) -> FeedItems | None:
        """What `pack` made (None for nothing, or for bytes it did not make)."""
        if not blob:
            return None
        start = 1 + blob[0] + 4
        if len(blob) < start or (len(blob) - start) % 8:
            return None
        digests = frozenset(blob[offset:offset + 8] for offset in range(start, len(blob), 8))
        return cls(blob[1:1 + blob[0]], digests, int.from_bytes(blob[start - 4:start], "big"))


@dataclass(frozen=True)
class Page:
    """Text extracted from an article page."""

    text: str
    title: str | None = None
    canonical_url: str | None = None
    language: str | None = None
    published: str | None = None
    replaced: int = 0  # invalid UTF-8 byte sequences read as U+FFFD (see monitor.decoding)


@dataclass(frozen=True)
class Article:
    """What the matcher reads: the entry joined with its page's text (or the feed's text)."""

    url: str | None
    title: str
    text: str
    source: str  # "page" when extracted from the article page, else "feed"
    outlet: str
    published: datetime | None = None
    canonical_url: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Hit:
    """One occurrence of a term in an article field; offsets index the original field text."""

    term: str  # as written in the rule: a phrase or "@entity"
    entity: str | None
    alias: str
    field: str  # "title" or "text"
    start: int
    end: int


@dataclass(frozen=True)
class Match:
    """A rule that matched an article, with the hits of its positive terms."""

    rule: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class AlertMessage:
    """Everything an alert shows, independent of the channel that renders it."""

    rule: str
    title: str
    url: str | None
    outlet: str
    published: str | None  # ISO 8601, UTC
    snippet: str
    highlights: tuple[tuple[int, int], ...]  # spans of matched words within snippet
    matched: tuple[str, ...]  # the matched words as they appear in the article
    feed: str = ""
    update: bool = False  # a follow-up: the story newly names an entity
    also_reported_by: tuple[tuple[str, str], ...] = ()  # (outlet, ISO time it published), filled at delivery
    independent_outlets: int = 0  # outlets that reported the story in their own words, at delivery (0: unknown)
    entities: tuple[str, ...] = ()  # the watchlist / pack entities the rule hit (what a silence's --entity matches)
    tags: tuple[str, ...] = ()  # the feed's tags (what a silence's --tag matches)
    acknowledged: str = ""  # "by NAME at TIME: note", filled at delivery when its story was acknowledged
    escalation: str = ""  # why this is an escalation ("not acknowledged within 15 min on ops"); else ""
    severity: str = "medium"
    near_km: float | None = None  # the event is this far from a watched site (within its radius)...
    near_site: str = ""  # ...this one (shown only on channels with show_sites)
    near_precision: str = ""  # the precision of the event's place: site, town or district
    near_place: str = ""  # the event's place, as named
    # the event's facts when queued (model.IncidentFacts), and for a follow-up what changed
    event_type: str = ""
    killed: int | None = None
    injured: int | None = None
    killed_low: int | None = None  # the lowest figure its reports state, when they differ
    injured_low: int | None = None
    claimed_by: str = ""
    place: str = ""
    place_precision: str = ""
    changed: tuple[str, ...] = ()  # "Toll revised: 32 → 59 killed"
    extra: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class PendingAlert:
    """An outbox row waiting for delivery."""

    id: int
    rule: str
    story_id: int
    channel: str
    attempts: int
    message: AlertMessage
    created: float = 0.0  # when the match was recorded (for detection-to-delivery latency)
    delivered: frozenset[str] = frozenset()  # ids of the channel's targets that have accepted it
    refused: frozenset[str] = frozenset()  # ids of the targets that refused it for good
    refusals: int = 0  # how often a target refused it for good


@dataclass(frozen=True)
class QueuedAlert:
    """An outbox row to create (alert routing makes it, the store records it): `delay` seconds
    before its first attempt (a rule's group_wait)."""

    rule: str
    channel: str
    message: AlertMessage
    seq: int = 0
    delay: float = 0.0
    hold: str = ""  # why it is held rather than pending: "min_outlets 2" (the channel waits for a second outlet)


@dataclass(frozen=True)
class AlertRow:
    """One outbox row as `newsmon alerts` shows it."""

    id: int
    rule: str
    channel: str
    status: str
    attempts: int
    created: float
    sent: float | None
    last_error: str | None
    title: str
    url: str | None
    story_id: int = 0
    via: str | None = None
    outlet: str = ""
    published: str | None = None
    severity: str = "medium"
    held: str | None = None  # why it was held ("min_outlets 2"), if it was
    note: str | None = None  # what became of it when not sent ("merged into #12", "not corroborated ...")


@dataclass(frozen=True)
class Silence:
    """A silence: alerts that match every one of its matchers (any value of each) are not sent
    until `ends`; recorded as silenced instead."""

    id: int
    created: float
    ends: float
    matchers: dict  # key ("rule", "entity", "story", "outlet", "tag", "channel") -> list; "severity" -> str
    reason: str
    by: str | None = None
    resend: bool = False  # what it held is sent when it ends
    expired: float | None = None  # ended early, then
    announced: float | None = None  # its end was handled then
    held: int = 0  # alerts it silenced

    def active(self, now: float) -> bool:
        return self.expired is None and now < self.ends


@dataclass(frozen=True)
class Ack:
    """Someone acknowledged a story: they are handling it."""

    story_id: int
    at: float
    by: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class ChannelState:
    """A channel's delivery state (the `channels` table); all None/0 for a fresh channel."""

    name: str
    failures: int = 0
    retry_at: float | None = None
    last_error: str | None = None
    digest_since: float | None = None
    fold_until: float | None = None
    window_start: float | None = None
    failing_since: float | None = None  # when its current run of failures began
    failing_notice: float | None = None  # when newsmon said so on the admin channels (a recovery notice follows)
    heartbeat_at: float | None = None  # its last heartbeat (or when newsmon first saw it)
