"""One poll of one feed, start to finish, and one drain of the outbox.

poll: fetch the feed (conditional GET) -> parse in the sandbox (in the daemon, only the items
whose bytes changed since the feed's last recorded body: monitor.feedsplit) -> for each entry not seen
before: fetch the article page and extract its text (or fall back to the feed's own text) ->
match -> record entry, article, hits and outbox rows in one transaction. The feed's HTTP
validators are stored only after every entry of the response is recorded.

drain: deliver pending alerts per channel, oldest first; a channel that fails keeps its
alerts (in order) for the next attempt.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from monitor import delivery, fetch, sandbox, silence, stories, text, timing, urls
from monitor.app import App
from monitor.errors import ExtractError, FetchError, NewsmonError, ParseError
from monitor.model import AlertMessage, Article, Entry, FeedSpec, Hit, Match, Page
from monitor.store import KnownEntry, QueuedAlert

log = logging.getLogger("newsmon.pipeline")
PARSE = sandbox.Task("monitor.feeds", "parse_changed")  # run in the workers only: see sandbox.Task
EXTRACT = sandbox.Task("monitor.extract", "extract")


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


async def poll(app: App, feed: FeedSpec, *, force: bool = False) -> PollResult:
    """Poll one feed once. Never raises for a feed's own failures: they are classified, logged
    (once per change) and stored, and the feed backs off. A feed held back by a backoff,
    a Retry-After or its TTL is skipped until then unless `force`. Then, for a feed with
    `expect_every`, says once when it has gone silent and once when it comes back."""
    started = time.perf_counter()
    result = await _poll(app, feed, force)
    if result.status not in ("not-due", "disabled"):
        app.metrics.poll_seconds.observe(time.perf_counter() - started)
    app.metrics.polls.labels(result.status).inc()
    if result.status == "failed" and result.error:
        app.metrics.fetch_errors.labels(result.error.split(":", 1)[0]).inc()
    if feed.expect_every:
        silence.watch(app, feed)
    return result


async def _poll(app: App, feed: FeedSpec, force: bool) -> PollResult:
    state = app.store.feed(feed.url)
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
            log.error("feed disabled feed=%s error=%s (re-enable with 'newsmon enable %s')", feed.url, error, feed.url)
            return PollResult(feed.url, "disabled", error=str(error))
        retry_after = timing.parse_retry_after(error.retry_after, now)
        return _failed(app, feed, state, error.kind, str(error), interval, retry_after)
    if response.moved_to:
        app.store.feed_moved(state.id, response.moved_to)
        log.warning("feed moved feed=%s to=%s (permanent redirect: polling the new address; "
                    "update the config when convenient)", feed.url, response.moved_to)
    hold = timing.success_hold(interval, feed.interval is not None, settings.max_backoff,
                               max_age=timing.parse_max_age(response.cache_control))
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
                                                app.feed_items.get(state.id))
    except sandbox.WorkerTimeout as error:
        return _failed(app, feed, state, "parse-timeout", str(error), interval, None)
    except sandbox.WorkerOutOfMemory as error:
        return _failed(app, feed, state, "parse-memory", str(error), interval, None)
    except sandbox.WorkerCrashed as error:
        return _failed(app, feed, state, "parse-crashed", str(error), interval, None)
    except ParseError as error:
        return _failed(app, feed, state, "not-a-feed", str(error), interval, None)
    except Exception as error:  # feedparser has more failure modes than it documents
        return _failed(app, feed, state, "parse-error", f"{type(error).__name__}: {error}", interval, None)
    hold = max(hold, timing.success_hold(interval, feed.interval is not None, settings.max_backoff,
                                         ttl=document.ttl))
    known = app.store.known_entries(state.id)
    first_poll = state.last_success is None and not known
    silent = first_poll and not feed.alert_on_first_poll
    outlet = feed.outlet or urls.outlet_of(document.site_url) or urls.outlet_of(feed.url) or feed.url
    name = feed.name or document.title or feed.url
    fresh = [entry for entry in document.entries
             if entry.key not in known or known[entry.key].content_hash != entry.content_hash]
    # Entries that share a link are one article: the first is processed with the others' company,
    # the rest after it, so that they find it recorded.
    first, later, links = [], [], set()
    for entry in fresh:
        key = urls.canonical(entry.link) if entry.link else None
        (later if key and key in links else first).append(entry)
        links.add(key)
    outcomes = await asyncio.gather(*(_process(app, feed, name, outlet, state.id, entry, known.get(entry.key), silent)
                                      for entry in first), return_exceptions=True)
    for entry in later:
        try:
            outcomes.append(await _process(app, feed, name, outlet, state.id, entry, known.get(entry.key), silent))
        except Exception as error:  # recorded below like the others' failures
            outcomes.append(error)
    fresh = first + later
    queued = 0
    for entry, outcome in zip(fresh, outcomes):
        if isinstance(outcome, BaseException):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            log.error("entry not recorded feed=%s entry=%s error=%r (will retry next poll)", feed.url, entry.key, outcome)
        else:
            queued += outcome
    count = items.count if items else len(document.entries)
    if any(isinstance(outcome, BaseException) for outcome in outcomes):
        app.feed_items.pop(state.id, None)  # the next poll reads every item again, and retries these
        return PollResult(feed.url, "failed", count, len(fresh), queued, "some entries not recorded")
    next_poll = now + hold if hold else None
    app.store.feed_succeeded(state.id, etag=response.etag, last_modified=response.last_modified, body_hash=body_hash,
                             now=now, next_poll=next_poll, title=document.title, site_url=document.site_url)
    if items:
        app.feed_items[state.id] = items
    else:
        app.feed_items.pop(state.id, None)
    _recovered(feed, state.last_error)
    if first_poll:
        log.info("feed added feed=%s entries=%d alerts=%d%s", feed.url, len(fresh), queued,
                 "" if feed.alert_on_first_poll else " (first poll records without alerting)")
    elif fresh:
        log.info("feed polled feed=%s new=%d alerts=%d", feed.url, len(fresh), queued)
    return PollResult(feed.url, "new", count, len(fresh), queued, next_poll=next_poll)


def _failed(app: App, feed: FeedSpec, state, kind: str, message: str, interval: float,
            retry_after: float | None) -> PollResult:
    now = app.clock()
    failures = state.error_count + 1
    hold = timing.failure_hold(interval, failures, app.config.settings.max_backoff, retry_after)
    next_poll = now + hold if hold else None
    app.store.feed_failed(state.id, kind, message, now=now, next_poll=next_poll)
    wait = f"next try in {hold:.0f}s" if hold else "next try at the next poll"
    if state.last_error != message:
        log.warning("feed failed feed=%s kind=%s error=%s failures=%d (%s)", feed.url, kind, message, failures, wait)
    else:
        log.debug("feed still failing feed=%s kind=%s failures=%d (%s)", feed.url, kind, failures, wait)
    return PollResult(feed.url, "failed", error=f"{kind}: {message}", next_poll=next_poll)


def _recovered(feed: FeedSpec, previous: str | None) -> None:
    if previous:
        log.info("feed recovered feed=%s after=%r", feed.url, previous)


async def _article(app: App, feed: FeedSpec, outlet: str, entry: Entry, link: str | None) -> Article:
    """The entry's article: the page's extracted text when possible, else the feed's text.
    `link` is the entry's link with redirectors (Google Alerts, News) unwrapped."""
    page: Page | None = None
    if feed.full_text and link:
        try:
            response = await app.fetcher.get(link, max_bytes=app.config.settings.max_page_size, untrusted=True,
                                             accept=fetch.PAGE_ACCEPT, proxy=feed.proxy)
            # a page's date and title are read only when the feed has none (a page's date is a
            # guess more often than not); without them the page is parsed once, by trafilatura
            page = await app.sandbox.run(EXTRACT, response.body, response.url, entry.published is None,
                                         not entry.title)
        except FetchError as error:
            _page_problem(app, feed, entry, error.kind, str(error))
        except (ExtractError, NewsmonError) as error:
            _page_problem(app, feed, entry, "extract", str(error))
        except Exception as error:  # an extractor bug on one page must not lose the entry
            _page_problem(app, feed, entry, "extract", f"{type(error).__name__}: {error}")
    feed_text = entry.content or entry.summary
    published = entry.published
    if published is None and page and page.published:
        try:
            published = datetime.fromisoformat(page.published).replace(tzinfo=timezone.utc)
        except ValueError:
            published = None
    return Article(
        url=entry.link,
        title=entry.title or (page.title if page else "") or "(untitled)",
        text=page.text if page else feed_text,
        source="page" if page else "feed",
        outlet=outlet,
        published=published,
        canonical_url=urls.canonical(page.canonical_url) if page and page.canonical_url else None,
        language=page.language if page else None,
    )


def _page_problem(app: App, feed: FeedSpec, entry: Entry, kind: str, message: str) -> None:
    """An article page that could not be read: the feed's own text is used. Refused addresses
    are said once per feed (at WARNING); everything else at INFO."""
    if kind == "refused":
        if (feed.url, kind) not in app.warned:
            app.warned.add((feed.url, kind))
            log.warning("article link refused feed=%s url=%s error=%s (using the feed's text; said once per feed)",
                        feed.url, entry.link, message)
        return
    log.info("article text unavailable feed=%s url=%s kind=%s error=%s (using the feed's text)",
             feed.url, entry.link, kind, message)


async def _process(app: App, feed: FeedSpec, name: str, outlet: str, feed_id: int, entry: Entry,
                   known: KnownEntry | None, silent: bool) -> int:
    """Extract, match and record one new or changed entry; returns how many alerts it queued.

    A new entry whose canonical link (or page's canonical URL) we already have is the same
    article (a guid flip, a URL variant, syndication in another feed of the outlet): linked,
    not alerted again. A new article joins the story of a near-duplicate seen within the story
    window, and alerts only for rules that have not alerted on that story yet."""
    link = urls.unwrap(entry.link) if entry.link else None
    canonical_link = _identity(link)
    if known is None and canonical_link:
        existing = app.store.article_by_link(canonical_link)
        if existing is not None and existing.article_id is not None:
            app.store.link_entry(feed_id, entry, canonical_link, existing.article_id, now=app.clock())
            return 0
    article = await _article(app, feed, outlet, entry, link)
    signed = functools.cache(lambda: stories.signature(article.title, article.text))  # made once, if needed

    if known is None:  # meanwhile another entry (of this poll or another feed) may have brought it
        if canonical_link:
            existing = app.store.article_by_link(canonical_link)
            if existing is not None and existing.article_id is not None:
                app.store.link_entry(feed_id, entry, canonical_link, existing.article_id, now=app.clock())
                return 0
        page_key = _identity(article.canonical_url)
        if page_key and page_key != canonical_link:
            existing = app.store.article_by_link(page_key)
            # A page's canonical URL is the site's word, and some sites give every page the same
            # one: it identifies the article only if the stored one is the same text.
            if existing is not None and existing.article_id is not None and _same_text(app, existing.article_id, article, signed):
                app.store.link_entry(feed_id, entry, canonical_link, existing.article_id, now=app.clock())
                return 0
    # the rules that match, and every entity named (kept for replay and trends), in one pass
    matches, mentions = app.matcher.read(article.title, article.text, feed_tags=feed.tags)
    now = app.clock()
    # Only the feed's own date counts: a page's date is often a guess (a footer's copyright year).
    too_old = entry.published is not None and entry.published.timestamp() < now - app.config.settings.alert_max_age
    quiet = silent or too_old
    # From here to the store's commit there is no await: finding the story and joining it are
    # one step, so two outlets' copies arriving together cannot both start a story.
    if known is not None and known.article_id is not None:
        story = known.story_id
        alerts = [] if quiet else _alerts_for(app, matches, article, name, story)
        app.store.update_entry(feed_id, entry, known.article_id, article, matches, alerts,
                               canonical_link=canonical_link, now=now, mentions=mentions)
        kind = "updated"
    else:
        signature = signed()
        story = app.stories.find(signature, now)
        alerts = [] if quiet else _alerts_for(app, matches, article, name, story)
        _article_id, story_id = app.store.record_entry(feed_id, entry, article, matches, alerts, story_id=story,
                                                       canonical_link=canonical_link, signature=signature.pack(),
                                                       now=now, mentions=mentions)
        app.stories.add(story_id, signature, now, article.title)
        kind = "joined story" if story is not None else "new story"
        story = story_id
    app.metrics.entries.inc()
    for found in matches:
        app.metrics.matches.labels(found.rule).inc()
        why = " (silent: first poll)" if silent else " (silent: published too long ago)" if too_old else ""
        log.info("match rule=%s story=%s feed=%s title=%r %s%s", found.rule, story, feed.url, article.title, kind, why)
    if alerts:
        app.on_queued()  # deliver now, while the poll's other entries are still being read
    return len(alerts)


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


def _alerts_for(app: App, matches: list[Match], article: Article, feed_name: str, story: int | None) -> list[QueuedAlert]:
    """Outbox rows for an article's matches: a rule alerts once per story; with on_update =
    "new_hits" it sends a follow-up when the story gains an entity it had not named."""
    rules = {rule.name: rule for rule in app.config.rules}
    alerted = app.store.alerted(story) if story is not None else {}
    queued = []
    for found in matches:
        rule = rules[found.rule]
        if found.rule not in alerted:
            seq, update, delay = 0, False, rule.group_wait
        elif rule.on_update == "new_hits":
            named = {hit.entity or hit.term for hit in found.hits}
            if not named - app.store.story_entities(story, found.rule):
                continue
            seq, update, delay = alerted[found.rule] + 1, True, 0.0
        else:
            continue
        message = message_for(found, article, feed_name, update=update, severity=rule.severity)
        for channel in app.config.rule_channels(rule):
            queued.append(QueuedAlert(found.rule, channel, message, seq=seq, delay=delay))
    return queued


def message_for(found: Match, article: Article, feed_name: str, *, update: bool = False,
                severity: str = "medium") -> AlertMessage:
    """What an alert for this match shows: the sentence around the first hit, hits marked."""
    text_hits = [hit for hit in found.hits if hit.field == "text"]
    title_hits = [hit for hit in found.hits if hit.field == "title"]
    if text_hits:
        first = text_hits[0]
        snippet, offset = text.sentence_around(article.text, first.start, first.end)
        highlights = _spans(text_hits, offset, len(snippet))
    else:
        snippet = article.title
        highlights = _spans(title_hits, 0, len(snippet))
    matched = tuple(dict.fromkeys(
        (article.text if hit.field == "text" else article.title)[hit.start:hit.end] for hit in found.hits))
    return AlertMessage(
        rule=found.rule,
        title=article.title,
        url=article.url,
        outlet=article.outlet,
        published=article.published.isoformat() if article.published else None,
        snippet=snippet,
        highlights=highlights,
        matched=matched,
        feed=feed_name,
        update=update,
        severity=severity,
    )


def _spans(hits: list[Hit], offset: int, length: int) -> tuple[tuple[int, int], ...]:
    spans = []
    for hit in hits:
        start, end = hit.start - offset, hit.end - offset
        if 0 <= start and end <= length:
            spans.append((start, end))
    return tuple(sorted(set(spans)))


def prune(app: App) -> None:
    """Forget what is older than `retention` (counted from when we first saw it)."""
    removed = app.store.prune(app.clock() - app.config.settings.retention)
    if removed:
        log.info("pruned entries=%d older_than_days=%.0f", removed, app.config.settings.retention / 86400)


async def cycle(app: App) -> list[PollResult]:
    """Poll every feed once (those not held back), then try every pending alert once
    (backoff ignored)."""
    outcomes = await asyncio.gather(*(poll(app, feed) for feed in app.config.feeds), return_exceptions=True)
    results = []
    for feed, outcome in zip(app.config.feeds, outcomes):
        if isinstance(outcome, BaseException):
            if isinstance(outcome, (KeyboardInterrupt, asyncio.CancelledError)):
                raise outcome
            log.error("poll failed unexpectedly feed=%s error=%r", feed.url, outcome, exc_info=outcome)
            outcome = PollResult(feed.url, "failed", error=repr(outcome))
        results.append(outcome)
    await delivery.drain(app, ignore_backoff=True)
    prune(app)
    return results
