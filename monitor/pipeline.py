"""One poll of one feed, start to finish, and one drain of the outbox.

poll: fetch the feed (conditional GET) -> parse in the sandbox (in the daemon, only the items
whose bytes changed since the feed's last recorded body: monitor.feedsplit) -> for each entry not seen
before: fetch the article page and extract its text (or fall back to the feed's own text) ->
match -> record entry, article, hits and outbox rows in one transaction (monitor.recording). The feed's HTTP
validators are stored only after every entry of the response is recorded.

Which alerts a match makes, where they go, what they say and how they are delivered is
`monitor.alert`'s; `deliver` hands it this running newsmon's outbox and channels.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor import alert, article as article_reader, feed_watch, recording, sandbox, schedule, shown, times, urls
from monitor.app import App
from monitor.errors import FetchError, ParseError, StoreFault
from monitor.model import FeedSpec
from monitor.recording import stored

if TYPE_CHECKING:
    from monitor import feeds  # noqa: F401 - run in the workers: PARSE

log = logging.getLogger("newsmon.pipeline")
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


async def poll(app: App, feed: FeedSpec, *, force: bool = False, on_queued: Callable[[], None] = _nothing) -> PollResult:
    """Poll one feed once. Never raises for a feed's own failures: they are classified, logged
    (once per change) and stored, and the feed backs off. A feed held back by a backoff,
    a Retry-After or its TTL is skipped until then unless `force`. Then, for a feed with
    `expect_every`, says once when it has gone silent and once when it comes back.
    `on_queued` is called each time an entry's alerts are queued (the daemon delivers at once,
    while the poll's other entries are still being read)."""
    started = time.perf_counter()
    app.polls_now += 1
    try:
        result = await _poll(app, feed, force, on_queued)
    except StoreFault as fault:  # said once for every feed; the poll is repeated, nothing half-recorded
        app.store_failed(fault)
        result = PollResult(feed.url, "failed", error=f"store: {fault.kind}")
    finally:
        app.polls_now -= 1
    if not app.polls_now:  # the last poll running: what the polls recorded is committed now
        try:
            await stored(app.store.commit_waiting)
        except StoreFault as fault:  # lost with the commit, it is read again at the next poll
            app.store_failed(fault)
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
    outcomes = await asyncio.gather(*(recording.process(app, feed, name, outlet, state.id, entry, known.get(entry.key), silent, on_queued, unread)
                                      for entry in first), return_exceptions=True)
    for entry in later:
        try:
            outcomes.append(await recording.process(app, feed, name, outlet, state.id, entry, known.get(entry.key), silent, on_queued, unread))
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
