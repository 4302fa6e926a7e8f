"""The floor: the libraries newsmon is built on, doing the same work on the same inputs with
nothing else around them.

Every feed body the farm serves, already in memory, goes through `feedparser.parse(bytes)`
(JSON Feeds through `json.loads`, which is what newsmon uses for them); every entry with a
link gets the article page the farm would serve for that link, through
`trafilatura.bare_extraction` with exactly `monitor.extract.OPTIONS`, and the result through
`monitor.match.Matcher` compiled from the same watchlist. Two worker processes
(`multiprocessing.Pool`, fork), no network, no database, no sandbox deadlines.
"""

from __future__ import annotations

import json
import multiprocessing
import resource
import time
from urllib.parse import unquote, urlsplit

import feedparser
import trafilatura

from bench import corpus, procs
from monitor import extract as newsmon_extract
from monitor.feeds import FEEDPARSER_OPTIONS
from monitor import match

# Inputs, set before the pool forks so that the workers inherit them (no copying per task).
_FEEDS: list[tuple[str, bytes, str]] = []
_PAGES: list[bytes] = []
_MATCHER: match.Matcher | None = None


def parse_feed(index: int) -> list[tuple[str | None, str]]:
    """(link, title) of each entry of one feed."""
    url, body, content_type = _FEEDS[index]
    if content_type == "application/feed+json":
        data = json.loads(body.decode("utf-8-sig"))
        return [(item.get("url") or None, item.get("title") or "") for item in data.get("items", [])
                if isinstance(item, dict)]
    result = feedparser.parse(body, response_headers={"content-location": url, "content-type": content_type},
                              **FEEDPARSER_OPTIONS)
    return [(entry.get("link") or None, entry.get("title") or "") for entry in result.get("entries", [])]


def extract_and_match(job: tuple[str, str]) -> int:
    """Extract the article behind `link` and match it; returns the number of rules matched."""
    link, title = job
    html = _PAGES[corpus.page_index(unquote(urlsplit(link).path), len(_PAGES))]
    try:
        document = trafilatura.bare_extraction(html, url=link, **newsmon_extract.OPTIONS)
    except (ValueError, TypeError, AttributeError):
        document = None
    text = (getattr(document, "text", None) or "") if document is not None else ""
    return len(_MATCHER.match(title, text))


def run(feeds: list[tuple[str, bytes, str]], pages: list[bytes], matcher: match.Matcher, workers: int = 2) -> dict:
    """One floor run over `feeds`. Returns wall and CPU seconds (this process and the pool's
    workers) and how many entries and articles were processed."""
    global _FEEDS, _PAGES, _MATCHER
    _FEEDS, _PAGES, _MATCHER = feeds, pages, matcher
    context = multiprocessing.get_context("fork")
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = procs.system_busy()
    started = time.perf_counter()
    pool = context.Pool(workers)
    try:
        parsed = pool.map(parse_feed, range(len(feeds)), chunksize=4)
        jobs = [(link, title) for entries in parsed for link, title in entries if link]
        matched = sum(pool.imap_unordered(extract_and_match, jobs, chunksize=4))
    finally:
        pool.close()
        pool.join()
    wall = time.perf_counter() - started
    busy = procs.system_busy() - busy0
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (self1.ru_utime - self0.ru_utime + self1.ru_stime - self0.ru_stime
           + children1.ru_utime - children0.ru_utime + children1.ru_stime - children0.ru_stime)
    return {"wall": wall, "cpu": cpu, "others_cpu": max(0.0, busy - cpu), "entries": sum(len(entries) for entries in parsed),
            "articles": len(jobs), "matched": matched}


def one_event(feed: tuple[str, bytes, str], html: bytes, link: str, title: str, matcher: match.Matcher) -> float:
    """Milliseconds of library work one new entry needs before its alert can go out: parse the
    feed that carries it, extract its page, match it. In this process, one after the other."""
    global _FEEDS, _PAGES, _MATCHER
    _FEEDS, _PAGES, _MATCHER = [feed], [html], matcher
    started = time.perf_counter()
    parse_feed(0)
    extract_and_match((link, title))
    return 1000 * (time.perf_counter() - started)


def breakdown(feeds: list[tuple[str, bytes, str]], pages: list[bytes], matcher: match.Matcher) -> dict:
    """Where the floor's time goes, per article, measured one step at a time in this process:
    feed parsing, extraction, matching (CPU milliseconds per article)."""
    global _FEEDS, _PAGES, _MATCHER
    _FEEDS, _PAGES, _MATCHER = feeds, pages, matcher
    started = time.process_time()
    parsed = [parse_feed(index) for index in range(len(feeds))]
    parse = time.process_time() - started
    jobs = [(link, title) for entries in parsed for link, title in entries if link]
    texts = []
    started = time.process_time()
    for link, title in jobs:
        html = pages[corpus.page_index(unquote(urlsplit(link).path), len(pages))]
        try:
            document = trafilatura.bare_extraction(html, url=link, **newsmon_extract.OPTIONS)
        except (ValueError, TypeError, AttributeError):
            document = None
        texts.append((title, (getattr(document, "text", None) or "") if document is not None else ""))
    extraction = time.process_time() - started
    started = time.process_time()
    for title, text in texts:
        matcher.match(title, text)
    matching = time.process_time() - started
    count = max(1, sum(len(entries) for entries in parsed))
    return {"feeds": len(feeds), "entries": count, "parse_ms": 1000 * parse / count,
            "extract_ms": 1000 * extraction / count, "match_ms": 1000 * matching / count}
