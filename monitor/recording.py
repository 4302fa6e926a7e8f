"""One new or changed entry of a feed, recorded: the same article seen again under another link,
or its article read (the page extracted in a worker, else the feed's text), matched, placed in
its story (a copy's) or event (another outlet's own report), and recorded with its alerts in one
transaction. Also `stored`, how every write waits for another process's lock on the event loop.

Called by `monitor.pipeline` for each entry a poll brings; which alerts a match makes is
`monitor.alert`'s (the router), which story or event it joins `monitor.joining`'s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import pickle
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from monitor import article as article_reader, events, incidents, joining, shown, stories, story_index, urls
from monitor.app import App
from monitor.errors import StoreFault
from monitor.model import Article, Entry, FeedSpec
from monitor.store import KnownEntry

T = TypeVar("T")
log = logging.getLogger("newsmon.pipeline")

LOCK_PATIENCE = 60.0  # seconds a write waits for another process's lock before it counts as a fault
REREAD = 4096  # texts whose reading is kept (under 2 KB each): the same words again are not read again


class Recent:
    """What reading an entry's words gave (the rules it matches, its event features, its
    signature: each a function of its words and of the matcher that reads them), kept for the
    `size` words last read, for the next entry with the same words: many feeds carry one wire
    text word for word, and on a first poll of many feeds reading it again was most of the
    cycle. Kept pickled (a fifth of the objects' size), and forgotten when the matcher changes
    (a reload)."""

    def __init__(self, size: int):
        self.size = size
        self.kept: OrderedDict[bytes, dict[Hashable, bytes]] = OrderedDict()
        self.reader: object = None
        self.hits = self.misses = 0

    def get(self, reader: object, words: bytes, key: Hashable, make: Callable[[], T]) -> T:
        """The value `make()` gave for `key` of the words whose digest is `words` when `reader`
        read them, else `make()`'s now."""
        kept = self.kept
        if reader is not self.reader:
            kept.clear()
            self.reader = reader
        values = kept.get(words)
        if values is None:
            values = kept[words] = {}
            if len(kept) > self.size:
                kept.popitem(last=False)
        else:
            kept.move_to_end(words)
            blob = values.get(key)
            if blob is not None:
                self.hits += 1
                return pickle.loads(blob)
        self.misses += 1
        value = make()
        values[key] = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        return value


_read = Recent(REREAD)


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


async def process(app: App, feed: FeedSpec, name: str, outlet: str, feed_id: int, entry: Entry,
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
    words = (article.title, article.text)
    digest = hashlib.blake2b(f"{article.title}\0{article.text}".encode(), digest_size=16).digest()  # of its words
    signed = _once(lambda: _read.get(app.matcher, digest, "signature", lambda: stories.signature(*words)))

    if known is None:  # meanwhile another entry (of this poll or another feed) may have brought it
        if canonical_link and app.store.recorded_since(canonical_link, recorded):
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
    matches, mentions = _read.get(app.matcher, digest, ("rules", feed.tags),
                                  lambda: app.matcher.read(*words, feed_tags=feed.tags))
    # what it says about its incident: how a report another outlet wrote itself finds its event
    found = _features(app, article, digest, read_found, mentions) if wanted else None
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
    def commit() -> tuple[int, list, str, bool]:
        if known is not None and known.article_id is not None:
            facts = joining.facts_of(app, known.story_id) if matches and not quiet else None
            said = facts.said() if facts is not None else None
            alerts = [] if quiet else app.router.alerts_for(matches, article, name, known.story_id, app.store, feed.tags,
                                                            near, said).queued
            app.store.update_entry(feed_id, entry, known.article_id, article, matches, alerts,
                                   canonical_link=canonical_link, now=now, mentions=mentions, quiet=quiet or None,
                                   severities=None if quiet else app.router.severities(matches, said, near))
            return known.story_id, alerts, "updated", False
        copy = app.story_index().copied(digest, now)
        if copy is not None:  # a copy word for word of a text in the window: its signature is that text's
            story, original, packed, title = copy
            kind = "joined story"
        else:
            signature = signed()
            packed, title = signature.pack(), story_index.indexed_title(signature, article.title)
            story, original, kind = joining.find(app, signature, found, now, digest)
        facts = joining.gathered(app, story, found, article, now)  # the event's, with this report's counted
        blob = _packed(app, digest, article.published, found) if read_found is None else found.pack()
        said = facts.said()
        alerts, leads = ([], {}) if quiet else app.router.alerts_for(matches, article, name, story, app.store, feed.tags,
                                                                     near, said)
        article_id, story_id = app.store.record_entry(feed_id, entry, article, matches, alerts, story_id=story, leads=leads,
                                                      canonical_link=canonical_link, signature=packed,
                                                      features=blob, now=now, mentions=mentions,
                                                      quiet=quiet or None, copy_of=original or None,
                                                      facts=facts.dump(), said=said,
                                                      severities=None if quiet else app.router.severities(matches, said, near))
        app.story_index().add_packed(story_id, packed, title, now, original=original or article_id, words=digest)
        told = app.event_index().add(story_id, found, now)
        return story_id, alerts, kind if story is not None else "new story", told

    story, alerts, kind, told = await stored(commit)
    if told:  # a report that told its event nothing new (a copy, word for word) settles nothing
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


def _features(app: App, article: Article, digest: bytes, read_found: events.Features | None,
              mentions: list) -> events.Features:
    """An article's event features with the watchlist's entities the rule matcher found: an
    extracted page's as the worker that extracted it read them (`article_reader.read`), a
    feed's text's read here (a millisecond or so: no worker round trip for a feed-only cycle,
    whose workers have nothing else to do), or kept from the same words read for another entry
    (`Recent`; its mentions are the same, as the same matcher found them)."""
    if read_found is not None:
        return incidents.with_mentions(read_found, mentions)
    found = _read.get(app.matcher, digest, ("features", article.published),
                      lambda: incidents.read(article.title, article.text, published=article.published, mentions=mentions,
                                             outlet=article.outlet))
    return found if found.outlet == article.outlet else dataclasses.replace(found, outlet=article.outlet)


def _packed(app: App, digest: bytes, published: object, found: events.Features) -> bytes:
    """`found.pack()` for features read from a feed's text (`_features`): made once for the same
    words (`Recent`, as the features are) with the outlet left out, and the outlet put in. Every
    copy of a wire text packs the same features but for its outlet, and packing them (JSON of
    some forty weighted words) was a tenth of recording a copy."""
    halves = _read.get(app.matcher, digest, ("packed", published), found.halves)
    return events.Features.packed_with(halves, found.outlet)


def _once(make: Callable[[], T]) -> Callable[[], T]:
    """`make`, called at most once (a closure: `functools.cache` costs more to set up than the
    entries that never call it save)."""
    made: list[T] = []

    def once() -> T:
        if not made:
            made.append(make())
        return made[0]
    return once


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
