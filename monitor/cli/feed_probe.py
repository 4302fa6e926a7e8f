"""Fetching feeds once, as the daemon would (same fetcher settings, limits and sandbox), to say
what each is or why it does not work: `check --online`, `feed add` and `feed import --check`.
Given a web page instead of a feed, the feeds it links to."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from dataclasses import dataclass

from monitor import config, shown, times
from monitor.cli.common import plural
from monitor.errors import FetchError, ParseError
from monitor.model import FeedSpec

SHOWN_FEEDS = 5
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,40}:)?(rss|feed|RDF)[\s/>]")


@dataclass(frozen=True)
class Probe:
    """What one fetch of a feed URL found: `ok` (a working feed), `text` (what it is, or what
    went wrong), `title` (the feed's own), `found` (a web page's feed links: (url, title, type))."""

    ok: bool
    text: str
    title: str | None = None
    found: tuple[tuple[str, str | None, str], ...] | None = None


async def probe_all(settings: config.Settings, feeds: list[FeedSpec]) -> list[Probe]:
    """Fetch every feed once, concurrently within the daemon's limits."""
    from monitor import fetch, sandbox

    if not feeds:
        return []
    fetcher = fetch.for_settings(settings)
    box = sandbox.Sandbox(min(len(feeds), os.cpu_count() or 1), timeout=settings.parse_timeout,
                          memory_limit=settings.worker_memory, preload=("monitor.feeds",))
    room = asyncio.Semaphore(settings.max_connections)  # bodies held at once: no more than connections

    async def one(feed: FeedSpec) -> Probe:
        async with room:
            return await _probe(fetcher, box, settings, feed)

    try:
        return list(await asyncio.gather(*(one(feed) for feed in feeds)))
    finally:
        await fetcher.close()
        box.close()


def probe(loaded: config.Config, url: str) -> Probe:
    """One URL, fetched once."""
    return asyncio.run(probe_all(loaded.settings, [FeedSpec(url=url)]))[0]


async def _probe(fetcher, box, settings: config.Settings, feed: FeedSpec) -> Probe:
    """One feed, fetched once (within the fetcher's deadline) and parsed in a sandbox worker
    (within the sandbox's)."""
    from monitor import pipeline

    try:
        response = await fetcher.get(feed.url, max_bytes=settings.max_feed_size, proxy=feed.proxy)
    except FetchError as error:
        kind = f"http-{error.status}" if error.kind == "http" and error.status else error.kind
        return Probe(False, f"FAILED ({kind}): {error}")
    moved = f"; moved permanently to {shown.url(response.moved_to)}: update the config" if response.moved_to else ""
    try:
        document, _items = await box.run(pipeline.PARSE, response.body, response.url, response.content_type, None)
    except Exception as error:  # the pipeline's kinds: not a feed, a worker past its deadline or memory, a bug
        found = getattr(error, "feeds", None) if isinstance(error, ParseError) else None
        if found is not None:
            return Probe(False, f"this is a web page; {feed_links(found)}{moved}", found=tuple(found))
        kind, message = pipeline.parse_failure(error)
        return Probe(False, f"FAILED ({kind}): {message}{moved}")
    title = f"'{one_line(document.title)}'" if document.title else "(untitled)"
    newest = max((entry.published for entry in document.entries if entry.published), default=None)
    dated = f", newest {times.shown(newest.timestamp())}" if newest else ", none dated" if document.entries else ""
    count = plural(len(document.entries), "entry")
    return Probe(True, f"{_format(response.body)} feed {title}, {count}{dated}{moved}",
                 title=one_line(document.title) if document.title else None)


def choose(url: str, found: tuple[tuple[str, str | None, str], ...]) -> str | None:
    """The feed to use among those a web page links to: asked on a terminal; otherwise they are
    listed (stdout) and None returned."""
    print(f"{shown.url(url)} is a web page; the feeds it links to:")
    for index, (link, title, _kind) in enumerate(found, 1):
        print(f"  {index}. {shown.url(link)}" + (f" ('{one_line(title)}')" if title else ""))
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("run 'newsmon feed add' again with one of them")
        return None
    answer = input(f"add which? [1-{len(found)}, Enter: 1, q: none] ").strip().lower()
    if answer == "q":
        return None
    index = int(answer) if answer.isdigit() else 1
    return found[index - 1][0] if 1 <= index <= len(found) else None


def feed_links(found: tuple[tuple[str, str | None, str], ...]) -> str:
    """What a web page links to, from `monitor.feeds.discovery.discover`'s (url, title, type) tuples (links
    resolved against a feed URL with credentials inherit them: not shown)."""
    if not found:
        return "it links to no feed"
    listed = ", ".join(f"{shown.url(url)} ('{one_line(title)}')" if title else shown.url(url)
                       for url, title, _kind in found[:SHOWN_FEEDS])
    more = f" and {len(found) - SHOWN_FEEDS} more" if len(found) > SHOWN_FEEDS else ""
    return f"it links to these feeds: {listed}{more}"


def _format(body: bytes) -> str:
    """RSS, Atom, RDF or JSON, from the first tag (or brace) of a body that parsed as a feed."""
    if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return "JSON"
    found = _ROOT.search(body, 0, 4096)
    return {b"rss": "RSS", b"feed": "Atom", b"RDF": "RDF"}[found.group(1)] if found else "XML"


def one_line(text: str, limit: int = 120) -> str:
    """Third-party text for a terminal: one line, no control or formatting characters, capped."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"
