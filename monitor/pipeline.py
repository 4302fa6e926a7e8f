"""One poll of one feed, start to finish, and one drain of the outbox.

poll: fetch the feed (conditional GET) -> parse in the sandbox (in the daemon, only the items
whose bytes changed since the feed's last recorded body: monitor.feedsplit) -> for each entry not seen
before: fetch the article page and extract its text (or fall back to the feed's own text) ->
match -> record entry, article, hits and outbox rows in one transaction. The feed's HTTP
validators are stored only after every entry of the response is recorded.

Which alerts a match makes, where they go, what they say and how they are delivered is
`monitor.alert`'s; `deliver` hands it this running newsmon's outbox and channels.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from monitor import alert, article as article_reader, events, feed_watch, incidents, joining, sandbox, schedule, shown, stories, times, urls
from monitor.app import App
from monitor.errors import FetchError, ParseError, StoreFault
from monitor.model import Article, Entry, FeedSpec
from monitor.store import KnownEntry

if TYPE_CHECKING:
    from monitor import feeds  # noqa: F401 - run in the workers: PARSE

log = logging.getLogger("newsmon.pipeline")
T = TypeVar("T")
# The parser runs in the workers only, named rather than imported (see sandbox.Task); the
# import above is for the import contract and type checkers, and tests/test_architecture.py
# resolves every task.
PARSE = sandbox.Task("monitor.feeds", "parse_changed")
WARN_AGAIN = 86400.0  # a feed that keeps failing is said at WARNING again after this long


@dataclass(frozen=True)
class PollResult:
    """What one poll did, for logs, status lines and tests."""

    feed: str
    status: str  # "new", "unchanged", "failed", "not-due", "disabled"
    entries: int = 0
    new: int = 0
    alerts: int = 0
    error: str | None = None
    next_poll: float | None = None  # not before this time (backoff, Retry-After, TTL); None: on schedule
    silent: int = 0  # entries recorded without alerting: the first poll of a new feed, or catching up
    too_old: int = 0  # entries recorded without alerting: published longer ago than alert_max_age


def _nothing() -> None:
    pass


LOCK_PATIENCE = 60.0  # seconds a write waits for another process's lock before it counts as a fault


async def stored(write: Callable[[], T]) -> T:
    """`write()`, waiting while another process holds the state database's lock: SQLite blocks
    only briefly (`app.BUSY_WAIT`), the waiting is done here, on the event loop, so polls,
    deliveries, /healthz and a stop go on meanwhile."""
    delay, deadline = 0.05, time.monotonic() + LOCK_PATIENCE
    while True:
        try:
            return write()
        except StoreFault as fault:
            if fault.kind != "locked" or time.monotonic() > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(1.0, delay * 2)


async def poll(app: App, feed: FeedSpec, *, force: bool = False, on_queued: Callable[[], None] = _nothing) -> PollResult:
    """Poll one feed once. Never raises for a feed's own failures: they are classified, logged
    (once per change) and stored, and the feed backs off. A feed held back by a backoff,
    a Retry-After or its TTL is skipped until then unless `force`. Then, for a feed with
    `expect_every`, says once when it has gone silent and once when it comes back.
    `on_queued` is called each time an entry's alerts are queued (the daemon delivers at once,
    while the poll's other entries are still being read)."""
    started = time.perf_counter()
    try:
        result = await _poll(app, feed, force, on_queued)
    except StoreFault as fault:  # said once for every feed; the poll is repeated, nothing half-recorded
        app.store_failed(fault)
        result = PollResult(feed.url, "failed", error=f"store: {fault.kind}")
    if result.status not in ("not-due", "disabled"):
        app.metrics.poll_seconds.observe(time.perf_counter() - started)
    app.metrics.polls.labels(result.status).inc()
    if result.status == "failed" and result.error:
        app.metrics.fetch_errors.labels(result.error.split(":", 1)[0]).inc()
    if feed.expect_every:
        feed_watch.watch(app, feed)
    return result


async def _poll(app: App, feed: FeedSpec, force: bool, on_queued: Callable[[], None]) -> PollResult:
    state = await stored(lambda: app.store.feed(feed.url))
    now = app.clock()
    if state.status == "disabled":
        return PollResult(feed.url, "disabled")
    if not force and state.next_poll and now < state.next_poll:
        return PollResult(feed.url, "not-due", next_poll=state.next_poll)
    settings = app.config.settings
    interval = feed.interval or settings.poll_interval
    try:
        response = await app.fetcher.get(state.fetch_url, max_bytes=settings.max_feed_size, etag=state.etag,
                                         last_modified=state.last_modified, proxy=feed.proxy)
    except FetchError as error:
        if error.kind == "gone":
            app.store.set_feed_status(feed.url, "disabled", str(error))
            log.error("feed disabled feed=%s error=%s (re-enable with 'newsmon enable %s')", shown.url(feed.url), error,
                      shown.url(feed.url))
            return PollResult(feed.url, "disabled", error=str(error))
        retry_after = schedule.parse_retry_after(error.retry_after, now)
        return await _failed(app, feed, state, error.kind, str(error), interval, retry_after)
    if response.moved_to:
        app.store.feed_moved(state.id, response.moved_to)
        log.warning("feed moved feed=%s to=%s (permanent redirect: polling the new address; "
                    "update the config when convenient)", shown.url(feed.url), shown.url(response.moved_to))
    max_age = schedule.parse_max_age(response.cache_control)

    def hold_for(ttl: float | None) -> float:  # the publisher's floor between polls: its TTL, its max-age
        return schedule.success_hold(interval, feed.interval is not None, settings.max_backoff, ttl=ttl,
                                     max_age=max_age)

    hold = hold_for(state.ttl)  # nothing new: the TTL of the last body read still holds
    if response.status == 304:
        next_poll = now + hold if hold else None
        app.store.feed_unchanged(state.id, etag=response.etag or state.etag, now=now, next_poll=next_poll,
                                 last_modified=response.last_modified or state.last_modified)
        _recovered(feed, state.last_error)
        return PollResult(feed.url, "unchanged", next_poll=next_poll)
    body_hash = hashlib.sha256(response.body).hexdigest()
    if body_hash == state.body_hash:  # the server ignores conditional GET; the bytes tell us
        next_poll = now + hold if hold else None
        app.store.feed_succeeded(state.id, etag=response.etag, last_modified=response.last_modified,
                                 body_hash=body_hash, now=now, next_poll=next_poll)
        _recovered(feed, state.last_error)
        return PollResult(feed.url, "unchanged", next_poll=next_poll)
    try:
        document, items = await app.sandbox.run(PARSE, response.body, response.url, response.content_type,
                                                app.feed_items.get(state.id) or state.items)
    except Exception as error:  # feedparser has more failure modes than it documents
        return await _failed(app, feed, state, *parse_failure(error), interval, None)
    article_reader.say_repaired(app, feed, document.replaced)  # invalid UTF-8 bytes replaced: said once
    hold = hold_for(document.ttl)
    known = app.store.known_entries(state.id)
    # A new feed catches up silently until one poll of it completes, however often that is
    # interrupted (the entries recorded before an interruption are known; the rest are not);
    # so does a re-enabled feed, and one that moved (this poll may be the one that found out).
    catching_up = state.catch_up or bool(response.moved_to)
    never_read = state.last_success is None
    silent = "" if not catching_up or feed.alert_on_first_poll else "first poll" if never_read else "catching up"
    outlet = feed.outlet or urls.outlet_of(document.site_url) or urls.outlet_of(feed.url) or feed.url
    name = feed.name or document.title or feed.url
    fresh = [entry for entry in document.entries
             if entry.key not in known or known[entry.key].content_hash != entry.content_hash]
    # Entries that share a link are one article: the first is processed with the others' company,
    # the rest after it, so that they find it recorded.
    first, later, links = [], [], set()
    unread: list[tuple[str, str, str]] = []  # article pages that could not be fetched, said once below
    for entry in fresh:
        key = urls.canonical(entry.link) if entry.link else None
        (later if key and key in links else first).append(entry)
        links.add(key)
    outcomes = await asyncio.gather(*(_process(app, feed, name, outlet, state.id, entry, known.get(entry.key), silent, on_queued, unread)
                                      for entry in first), return_exceptions=True)
    for entry in later:
        try:
            outcomes.append(await _process(app, feed, name, outlet, state.id, entry, known.get(entry.key), silent, on_queued, unread))
        except Exception as error:  # recorded below like the others' failures
            outcomes.append(error)
    fresh = first + later
    queued, quiet = 0, {"first poll": 0, "catching up": 0, "too old": 0}
    for entry, outcome in zip(fresh, outcomes):
        if isinstance(outcome, BaseException):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            if isinstance(outcome, StoreFault):
                app.store_failed(outcome)  # once, not once per entry
                continue
            log.error("entry not recorded feed=%s entry=%s error=%r (will retry next poll)", shown.url(feed.url), entry.key,
                      outcome)
        else:
            queued += outcome[0]
            if outcome[1]:
                quiet[outcome[1]] += 1
    article_reader.say_unread(feed, unread)
    count = items.count if items else len(document.entries)
    silenced = quiet["first poll"] + quiet["catching up"]
    if any(isinstance(outcome, BaseException) for outcome in outcomes):
        # The stored digests still describe the last fully recorded body: the entries that failed are
        # not in it, so the next poll parses them again.
        app.feed_items.pop(state.id, None)
        return PollResult(feed.url, "failed", count, len(fresh), queued, "some entries not recorded",
                          silent=silenced, too_old=quiet["too old"])
    next_poll = now + hold if hold else None
    await stored(lambda: app.store.feed_succeeded(state.id, etag=response.etag, last_modified=response.last_modified,
                                                  body_hash=body_hash, now=now, next_poll=next_poll, title=document.title,
                                                  site_url=document.site_url, ttl=document.ttl, parsed=True,
                                                  items=items))
    if items:
        app.feed_items[state.id] = items
    else:
        app.feed_items.pop(state.id, None)
    _recovered(feed, state.last_error)
    if catching_up:
        log.info("%s feed=%s entries=%d alerts=%d%s", "feed added" if never_read else "feed caught up", shown.url(feed.url),
                 len(fresh), queued, f" ({silent}: recorded without alerting)" if silent else "")
    elif fresh:
        log.info("feed polled feed=%s new=%d alerts=%d%s", shown.url(feed.url), len(fresh), queued,
                 f" too_old={quiet['too old']} (published before alert_max_age: recorded without alerting)"
                 if quiet["too old"] else "")
    return PollResult(feed.url, "new", count, len(fresh), queued, next_poll=next_poll, silent=silenced,
                      too_old=quiet["too old"])


def parse_failure(error: Exception) -> tuple[str, str]:
    """(kind, message) of a feed body that could not be parsed: a worker past its deadline or
    memory cap, or crashed; not a feed; or a parser's own failure."""
    for kind, types in (("parse-timeout", sandbox.WorkerTimeout), ("parse-memory", sandbox.WorkerOutOfMemory),
                        ("parse-crashed", sandbox.WorkerCrashed), ("not-a-feed", ParseError)):
        if isinstance(error, types):
            return kind, str(error)
    return "parse-error", f"{type(error).__name__}: {error}"


async def _failed(app: App, feed: FeedSpec, state, kind: str, message: str, interval: float,
            retry_after: float | None) -> PollResult:
    now = app.clock()
    failures = state.error_count + 1
    hold = schedule.failure_hold(interval, failures, app.config.settings.max_backoff, retry_after)
    next_poll = now + hold if hold else None
    # Said at WARNING when the problem is new, and again once a day while it lasts (cron runs
    # with --log-level warning see a feed failing for days); repeats in between at DEBUG.
    new_problem = state.last_error != message
    warn = new_problem or now - (state.warned_at or 0.0) >= WARN_AGAIN
    await stored(lambda: app.store.feed_failed(state.id, kind, message, now=now, next_poll=next_poll, warned=warn))
    wait = f"next try in {hold:.0f}s" if hold else "next try at the next poll"
    if new_problem:
        log.warning("feed failed feed=%s kind=%s error=%s failures=%d (%s)", shown.url(feed.url), kind, message, failures,
                    wait)
    elif warn:
        since = f" since {times.shown(state.last_success)}" if state.last_success else " since it was added"
        log.warning("feed still failing feed=%s kind=%s error=%s failures=%d (no success%s; %s; said once a day)",
                    shown.url(feed.url), kind, message, failures, since, wait)
    else:
        log.debug("feed still failing feed=%s kind=%s failures=%d (%s)", shown.url(feed.url), kind, failures, wait)
    return PollResult(feed.url, "failed", error=f"{kind}: {message}", next_poll=next_poll)


def _recovered(feed: FeedSpec, previous: str | None) -> None:
    if previous:
        log.info("feed recovered feed=%s after=%r", shown.url(feed.url), shown.urls_in(previous))


async def _process(app: App, feed: FeedSpec, name: str, outlet: str, feed_id: int, entry: Entry,
                   known: KnownEntry | None, silent: str, on_queued: Callable[[], None],
                   unread: list[tuple[str, str, str]]) -> tuple[int, str]:
    """Extract, match and record one new or changed entry; returns how many alerts it queued,
    and why it was recorded without alerting ("first poll", "catching up", "too old"; "" if not).

    A new entry whose canonical link (or page's canonical URL) we already have is the same
    article (a guid flip, a URL variant, syndication in another feed of the outlet): linked,
    not alerted again. A new article joins the story of a near-duplicate seen within the story
    window, or else the open event it reports (another outlet's own report of one incident:
    monitor.events), and alerts only for rules that have not alerted on that story yet."""
    link = urls.unwrap(entry.link) if entry.link else None
    canonical_link = _identity(link)
    recorded = app.store.recorded
    if known is None and canonical_link:
        existing = app.store.article_by_link(canonical_link)
        if existing is not None and existing.article_id is not None:
            await stored(lambda: app.store.link_entry(feed_id, entry, canonical_link, existing.article_id, now=app.clock()))
            return 0, ""
    wanted = known is None or known.article_id is None  # a new article: its event features are read
    article, read_found = await article_reader.read(app, feed, outlet, entry, link, unread, features=wanted)
    signed = functools.cache(lambda: stories.signature(article.title, article.text))  # made once, if needed

    if known is None:  # meanwhile another entry (of this poll or another feed) may have brought it
        if canonical_link and app.store.recorded != recorded:
            existing = app.store.article_by_link(canonical_link)
            if existing is not None and existing.article_id is not None:
                await stored(lambda: app.store.link_entry(feed_id, entry, canonical_link, existing.article_id,
                                                          now=app.clock()))
                return 0, ""
        page_key = _identity(article.canonical_url)
        if page_key and page_key != canonical_link:
            existing = app.store.article_by_link(page_key)
            # A page's canonical URL is the site's word, and some sites give every page the same
            # one: it identifies the article only if the stored one is the same text.
            if existing is not None and existing.article_id is not None and _same_text(app, existing.article_id, article, signed):
                await stored(lambda: app.store.link_entry(feed_id, entry, canonical_link, existing.article_id,
                                                          now=app.clock()))
                return 0, ""
    # the rules that match, and every entity named (kept for replay and trends), in one pass
    matches, mentions = app.matcher.read(article.title, article.text, feed_tags=feed.tags)
    # what it says about its incident: how a report another outlet wrote itself finds its event
    found = _features(article, read_found, mentions) if wanted else None
    near: dict = {}
    if app.sites or any(rule.near for rule in app.matcher.rules):  # [[sites]]: rules' near, and how close
        matches, near = incidents.near_sites(matches, app.router.rules, found, app.sites, app.config.places)
    now = app.clock()
    # Only the feed's own date counts: a page's date is often a guess (a footer's copyright year).
    too_old = entry.published is not None and entry.published.timestamp() < now - app.config.settings.alert_max_age
    quiet = silent or ("too old" if too_old else "")
    # From finding the story to the store's commit there is no await: finding the story and
    # joining it are one step, so two outlets' copies arriving together cannot both start a
    # story. A commit that meets another process's lock is made again from the start.
    def commit() -> tuple[int, list, str]:
        if known is not None and known.article_id is not None:
            facts = joining.facts_of(app, known.story_id) if matches and not quiet else None
            said = facts.said() if facts is not None else None
            alerts = [] if quiet else app.router.alerts_for(matches, article, name, known.story_id, app.store, feed.tags,
                                                            near, said)
            app.store.update_entry(feed_id, entry, known.article_id, article, matches, alerts,
                                   canonical_link=canonical_link, now=now, mentions=mentions, quiet=quiet or None,
                                   severities=None if quiet else app.router.severities(matches, said, near))
            return known.story_id, alerts, "updated"
        signature = signed()
        story, original, kind = joining.find(app, signature, found, now)
        facts = joining.gathered(app, story, found, article, now)  # the event's, with this report's counted
        said = facts.said()
        alerts = [] if quiet else app.router.alerts_for(matches, article, name, story, app.store, feed.tags, near, said)
        article_id, story_id = app.store.record_entry(feed_id, entry, article, matches, alerts, story_id=story,
                                                      canonical_link=canonical_link, signature=signature.pack(),
                                                      features=found.pack(), now=now, mentions=mentions,
                                                      quiet=quiet or None, copy_of=original or None,
                                                      facts=facts.dump(), said=said,
                                                      severities=None if quiet else app.router.severities(matches, said, near))
        app.story_index().add(story_id, signature, now, article.title, original=original or article_id)
        app.event_index().add(story_id, found, now)
        return story_id, alerts, kind if story is not None else "new story"

    story, alerts, kind = await stored(commit)
    if kind != "updated":
        await stored(lambda: joining.settle(app, story, now))
    app.metrics.entries.inc()
    # A silent first poll can record thousands of matches: each is said at DEBUG, and the feed's
    # own line says how many entries it recorded without alerting.
    level = logging.DEBUG if silent else logging.INFO
    for found in matches:
        app.metrics.matches.labels(found.rule).inc()
        why = f" (silent: {silent})" if silent else " (silent: published too long ago)" if too_old else ""
        log.log(level, "match rule=%s story=%s feed=%s title=%r %s%s", found.rule, story, shown.url(feed.url),
                article.title, kind, why)
    if alerts:
        on_queued()
    return len(alerts), quiet


def _features(article: Article, read_found: events.Features | None, mentions: list) -> events.Features:
    """An article's event features with the watchlist's entities the rule matcher found: an
    extracted page's as the worker that extracted it read them (`article_reader.read`), a
    feed's text's read here (a millisecond or so: no worker round trip for a feed-only cycle,
    whose workers have nothing else to do)."""
    if read_found is not None:
        return incidents.with_mentions(read_found, mentions)
    return incidents.read(article.title, article.text, published=article.published, mentions=mentions,
                          outlet=article.outlet)


def _identity(url: str | None) -> str | None:
    """The canonical key of a URL when it can identify an article: a site's home page (some
    feeds link every item there) cannot."""
    if not url:
        return None
    key = urls.canonical(url)
    return None if key.rstrip("/").count("/") <= 2 else key


def _same_text(app: App, article_id: int, article: Article, signed: Callable[[], stories.Signature]) -> bool:
    """Whether the stored article is the same text as `article`: the same characters (the
    same page reached by another link: no signature needed), or a near-duplicate."""
    stored_text = app.store.article_text(article_id)
    if stored_text == article.text:
        return True
    blob, title = app.store.article_signature(article_id)
    if blob is None:
        return False
    # an older newsmon's signature (another shingle hash) is made again from the stored text
    stored = stories.unpack(blob, title) if stories.is_current(blob) else stories.signature(title, stored_text)
    joined, _score = stories.same_story(signed(), stored)
    return joined


def prune(app: App) -> None:
    """Forget what is older than `retention` (counted from when we first saw it)."""
    removed = app.store.prune(app.clock() - app.config.settings.retention)
    if removed:
        log.info("pruned entries=%d older_than_days=%.0f", removed, app.config.settings.retention / 86400)


async def deliver(app: App, *, ignore_backoff: bool = False, stop: asyncio.Event | None = None) -> tuple[int, int]:
    """Drain the outbox through this running newsmon's channels (see `monitor.alert.drain`);
    returns (alerts sent, failed attempts)."""
    try:
        outcome = await alert.drain(app.store, app.channels, clock=app.clock, metrics=app.metrics, lock=app.outbox_lock,
                                    warned=app.warned, ignore_backoff=ignore_backoff, stop=stop,
                                    unrecorded=app.unrecorded, window=app.config.settings.story_window,
                                    admin=app.router.admin, feeds=len(app.config.feeds),
                                    failing_after=app.config.settings.failing_alert_after)
    except StoreFault as fault:  # nothing more is sent until the store can record it
        if fault.kind == "locked":  # another process's write: the next round tries again (the heartbeat says a long one)
            log.debug("outbox round put off: %s", fault)
        else:
            app.store_failed(fault)
        return 0, 0
    return outcome


async def cycle(app: App, *, progress: Callable[[], None] = _nothing) -> list[PollResult]:
    """Poll every feed once (those not held back: see PollResult "not-due"), then try every
    pending alert once (backoff ignored). `progress` is called as each feed's poll ends."""

    async def one(feed: FeedSpec) -> PollResult:
        try:
            # a feed's body and entries are held until its last entry is recorded: a cycle of 500 new
            # feeds held all of them. Not in the daemon, whose polls come on their own schedules: there
            # slow hosts' polls holding every place would keep a fast feed from being polled at all.
            async with app.feed_slot():
                return await poll(app, feed)
        finally:
            progress()

    outcomes = await asyncio.gather(*(one(feed) for feed in app.config.feeds), return_exceptions=True)
    results = []
    for feed, outcome in zip(app.config.feeds, outcomes):
        if isinstance(outcome, BaseException):
            if isinstance(outcome, (KeyboardInterrupt, asyncio.CancelledError)):
                raise outcome
            log.error("poll failed unexpectedly feed=%s error=%r", shown.url(feed.url), outcome, exc_info=outcome)
            outcome = PollResult(feed.url, "failed", error=repr(outcome))
        results.append(outcome)
    await deliver(app, ignore_backoff=True)
    prune(app)
    return results
