"""An entry's article: its page fetched (through the address guard, within the page size cap)
and its text extracted in a sandbox worker, or, when that fails or the feed has full_text =
false, the feed's own text. Why a page could not be read is said and counted here."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from monitor import fetch, sandbox, shown, times, urls
from monitor.app import App
from monitor.errors import ExtractError, FetchError, NewsmonError
from monitor.model import Article, Entry, FeedSpec, Page

if TYPE_CHECKING:
    from monitor import events, incidents  # noqa: F401 - run in the workers: EXTRACT

log = logging.getLogger("newsmon.pipeline")
# trafilatura runs in the workers only, named rather than imported (see sandbox.Task); the
# worker that extracts a page reads its event features in the same task
EXTRACT = sandbox.Task("monitor.incidents", "read_page")
MAX_TEXT = 200_000  # characters of an article's text that are matched and stored (a long report is ~30,000)


async def read(app: App, feed: FeedSpec, outlet: str, entry: Entry, link: str | None,
               unread: list[tuple[str, str, str]], *, features: bool = False,
               ) -> tuple[Article, events.Features | None]:
    """The entry's article: the page's extracted text when possible, else the feed's text.
    `link` is the entry's link with redirectors (Google Alerts, News) unwrapped. A page that
    could not be fetched goes on `unread` (kind, url, why), said once per poll.

    With `features`, an extracted page's event features (without the watchlist's mentions:
    `incidents.with_mentions`) come too, read by the worker that extracted it: one task per
    page, its text never sent to a worker again. None for the feed's own text (and if the
    worker could not read them): the caller reads those on the event loop."""
    page: Page | None = None
    found: events.Features | None = None
    if feed.full_text and link:
        try:
            async with app.page_slot():  # fetched only when an extraction slot will take it soon
                response = await app.fetcher.get(link, max_bytes=app.config.settings.max_page_size, untrusted=True,
                                                 accept=fetch.PAGE_ACCEPT, proxy=feed.proxy)
                # a page's date and title are read only when the feed has none (a page's date is a
                # guess more often than not); without them the page is parsed once, by trafilatura
                page_url = response.url
                page, found = await app.sandbox.run(EXTRACT, response.body, page_url, entry.published is None,
                                                    not entry.title,
                                                    (entry.title, entry.published, outlet) if features else None)
                del response  # its body is not held while others wait for a place
            say_repaired(app, feed, page.replaced, page=page_url)
        except FetchError as error:
            _page_problem(app, feed, entry, error.kind, str(error), unread)
        except (ExtractError, NewsmonError) as error:
            _page_problem(app, feed, entry, "extract", str(error), unread)
        except Exception as error:  # an extractor bug on one page must not lose the entry
            _page_problem(app, feed, entry, "extract", f"{type(error).__name__}: {error}", unread)
    feed_text = entry.content or entry.summary
    published = entry.published if entry.published is not None else times.page_date(page.published if page else None)
    return Article(
        url=entry.link,
        title=entry.title or (page.title if page else "") or "(untitled)",
        text=_capped(page.text if page else feed_text),
        source="page" if page else "feed",
        outlet=outlet,
        published=published,
        canonical_url=urls.canonical(page.canonical_url) if page and page.canonical_url else None,
        language=page.language if page else None,
    ), found


def _page_problem(app: App, feed: FeedSpec, entry: Entry, kind: str, message: str,
                  unread: list[tuple[str, str, str]]) -> None:
    """An article page that could not be read: the feed's own text is used, and counted
    (`newsmon_article_pages_unread_total`). Refused addresses are said once per feed (at
    WARNING); a page that could not be fetched goes on `unread`, said at WARNING once per poll
    (full-text matches may be missed); a page with no article text to extract (a video, a
    gallery) at INFO."""
    app.metrics.pages_unread.labels(kind).inc()
    if kind == "refused":
        if (feed.url, kind) not in app.warned:
            app.warned.add((feed.url, kind))
            log.warning("article link refused feed=%s url=%s error=%s (using the feed's text; said once per feed)",
                        shown.url(feed.url), shown.url(entry.link), message)
        return
    if kind != "extract":
        unread.append((kind, entry.link or "", message))
    log.info("article text unavailable feed=%s url=%s kind=%s error=%s (using the feed's text)",
             shown.url(feed.url), shown.url(entry.link), kind, message)


def say_unread(feed: FeedSpec, unread: list[tuple[str, str, str]]) -> None:
    """One WARNING for a poll's article pages that could not be fetched."""
    if unread:
        kinds = ",".join(sorted({kind for kind, _url, _why in unread}))
        kind, url, why = unread[0]
        log.warning("article pages not read feed=%s count=%d kinds=%s first=%s error=%s (matched the feed's own "
                    "text instead: full-text matches may be missed)", shown.url(feed.url), len(unread), kinds,
                    shown.url(url), why)


def say_repaired(app: App, feed: FeedSpec, replaced: int, page: str | None = None) -> None:
    """Say that the feed's body (or, with `page`, that article page of the feed) had `replaced`
    invalid UTF-8 byte sequences, read as U+FFFD (see monitor.decoding): at WARNING the first time
    for the feed and kind (`app.warned` remembers), at DEBUG after that; nothing when none."""
    if not replaced:
        return
    kind = "page-bytes" if page else "feed-bytes"
    first = (feed.url, kind) not in app.warned
    app.warned.add((feed.url, kind))
    level, once = (logging.WARNING, "; said once per feed") if first else (logging.DEBUG, "")
    if page:
        log.log(level, "article page has invalid UTF-8 bytes feed=%s url=%s replaced=%d (read as UTF-8, each "
                "replaced by U+FFFD%s)", shown.url(feed.url), shown.url(page), replaced, once)
    else:
        log.log(level, "feed has invalid UTF-8 bytes feed=%s replaced=%d (read as UTF-8, each replaced by "
                "U+FFFD%s)", shown.url(feed.url), replaced, once)


def _capped(text: str) -> str:
    """An article's text, at most MAX_TEXT characters: a publisher cannot grow the state
    database by megabytes an item, nor make matching slow."""
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT]
