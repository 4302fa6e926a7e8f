"""Feed bytes in, `FeedDocument` out. feedparser's dictionaries stop here.

Runs inside a sandbox worker: feedparser is given bytes, never a path or URL (it would read
local files), and its results are turned into frozen dataclasses before they leave. The text
of a feed's HTML is made in `monitor.feeds.text`; a web page given as a feed is told apart,
and its feeds found, in `monitor.feeds.discovery`.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import urljoin

import feedparser
import feedparser.datetimes

from monitor import decoding, feedsplit

try:  # the fast path follows feedparser's own rules: a feedparser whose internals moved is read by feedparser alone
    from monitor import fastfeed
except (ImportError, AttributeError):  # pragma: no cover - feedparser 6.0.11 to 6.0.x have them
    fastfeed = None
from monitor.errors import ParseError
from monitor.feeds import discovery
from monitor.feeds.text import html_to_text
from monitor.model import Entry, FeedDocument, FeedItems

# No HTML sanitising and no rewriting of links inside content: newsmon never shows a feed's
# HTML, only the plain text `html_to_text` makes of it (scripts and styles dropped), and
# feedparser's sanitiser is most of its time on heavy feeds (CRE.xml: 184 -> 39 ms; on the 156
# corpus feeds 3.0 -> 1.7 s, with the same text for all 4,715 entries). The benchmark's floor
# uses the same options.
FEEDPARSER_OPTIONS = {"sanitize_html": False, "resolve_relative_uris": False}
EARLIEST = datetime(1995, 1, 1, tzinfo=timezone.utc)  # before web feeds existed: a CMS's "no date"


def _when(entry: dict) -> datetime | None:
    """The entry's publication time, or None when it has none or an absurd one (epoch 0, a date
    in the future): an entry without a believable date is treated as new, not as old news."""
    latest = datetime.now(timezone.utc) + timedelta(days=1)
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = dict.get(entry, key)  # plain dict lookup: no feedparser key aliasing or warnings
        if value:
            try:
                when = datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
            except (OverflowError, ValueError, TypeError):
                continue
            if EARLIEST <= when <= latest:
                return when
    return None


def _entry(raw: dict) -> Entry:
    title = html_to_text(raw.get("title", "") or "")
    link = (raw.get("link") or "").strip() or None
    summary = html_to_text(raw.get("summary", "") or "")
    contents = raw.get("content") or []
    content = "\n".join(html_to_text(part.get("value", "") or "") for part in contents if isinstance(part, dict))
    if content and content == summary:
        content = ""
    digest = hashlib.sha256("\x00".join((title, link or "", summary, content)).encode()).hexdigest()[:32]
    guid = (raw.get("id") or "").strip()
    if guid:
        key = f"guid:{guid}"
    elif link:
        key = f"link:{link}"
    else:
        key = "hash:" + hashlib.sha256(f"{title}\x00{summary}".encode()).hexdigest()[:32]
    return Entry(key=key, title=title, link=link, summary=summary, content=content,
                 published=_when(raw), content_hash=digest)


def _absolute(base: str, link: str) -> str:
    return urljoin(base, link.strip()) if link.strip() else ""


def _json_feed(body: bytes, url: str) -> FeedDocument:
    """A JSON Feed (jsonfeed.org 1.0 / 1.1), which feedparser does not read."""
    repaired = decoding.repair(body, "utf-8")  # JSON is UTF-8
    try:
        data = json.loads(repaired.text if repaired else body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ParseError(f"not a feed: invalid JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ParseError("not a feed: JSON without an 'items' list (not a JSON Feed)")
    entries = []
    seen = set()
    for item in data["items"]:
        if not isinstance(item, dict):
            continue
        raw = {
            "id": str(item.get("id") or ""),
            "title": str(item.get("title") or ""),
            "link": _absolute(url, str(item.get("url") or item.get("external_url") or "")),
            "summary": str(item.get("summary") or ""),
            "content": [{"value": str(item.get("content_html") or item.get("content_text") or "")}],
        }
        for key, source in (("published_parsed", "date_published"), ("updated_parsed", "date_modified")):
            if item.get(source):
                raw[key] = feedparser.datetimes._parse_date(str(item[source]))
        entry = _entry(raw)
        if entry.key not in seen:
            seen.add(entry.key)
            entries.append(entry)
    title = str(data.get("title") or "") or None
    return FeedDocument(title=title, site_url=str(data.get("home_page_url") or "") or None, entries=tuple(entries),
                        replaced=repaired.replaced if repaired else 0)


def parse_changed(body: bytes, url: str, content_type: str | None = None,
                  previous: FeedItems | None = None) -> tuple[FeedDocument, FeedItems | None]:
    """`parse` for the next body of a feed whose last body held `previous`: the document has
    the feed's metadata and only the entries of items that are new or changed since then (all
    of them without `previous`, or when the body cannot be cut into items: see
    monitor.feedsplit). Also returns what to pass as `previous` next time (None: nothing to
    remember, e.g. a JSON Feed)."""
    if _is_json(body):
        return _json_feed(body, url), None
    body, replaced = _utf8(body, content_type)
    part, items = feedsplit.changed(body, url, content_type, previous)
    return _parse(part, url, content_type, replaced), items


def _is_json(body: bytes) -> bool:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n\x0b\x0c")[:1] == b"{"


def parse(body: bytes, url: str, content_type: str | None = None) -> FeedDocument:
    """Parse a feed response body (RSS, Atom, RDF or JSON Feed). A body that is UTF-8 but for
    a few stray bytes is read as UTF-8, those replaced (`FeedDocument.replaced` counts them).
    Raises ParseError when it holds no feed at all."""
    if _is_json(body):
        return _json_feed(body, url)
    body, replaced = _utf8(body, content_type)
    return _parse(body, url, content_type, replaced)


# An XML declaration at the very start, as feedparser finds it (and replaces it once it has
# decoded the bytes); one that says UTF-8 for bytes that now are.
_XML_DECLARATION = re.compile(r"<\?xml\b[^>]*>")
UTF8_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'


def _utf8(body: bytes, content_type: str | None) -> tuple[bytes, int]:
    """`body` as valid UTF-8 that says so, and how many invalid byte sequences were replaced
    to make it, when it is UTF-8 but for a few stray bytes (see monitor.decoding); else `body`
    as it is, and 0: feedparser reads it as before. The declared charset is the one feedparser
    goes by: the Content-Type's, else the XML declaration's."""
    repaired = decoding.repair(body, decoding.charset(content_type) or decoding.xml_encoding(body))
    if repaired is None:
        return body, 0
    text = repaired.text
    declaration = _XML_DECLARATION.match(text)
    # feedparser reads the encoding from a declaration at the very start only (else, without a
    # Content-Type, it takes ISO-8859-1); what it parses is then what the valid body would give
    text = UTF8_DECLARATION + text[declaration.end():] if declaration else UTF8_DECLARATION + "\n" + text
    return text.encode("utf-8"), repaired.replaced


def _parse(body: bytes, url: str, content_type: str | None, replaced: int, fast: bool = True) -> FeedDocument:
    """The document feedparser makes of `body`: read by monitor.fastfeed when it can (a
    well-formed feed, the same result in a fraction of the time; `fast=False` never), else by
    feedparser itself."""
    result = fastfeed.parse(body, url, content_type) if fast and fastfeed is not None else None
    if result is None:
        headers = {"content-location": url}
        if content_type:
            headers["content-type"] = content_type
        result = feedparser.parse(body, response_headers=headers, **FEEDPARSER_OPTIONS)
    bozo = str(result.get("bozo_exception") or "") or None
    feed = result.get("feed") or {}
    if not result.get("entries") and not feed.get("title") and not result.get("version"):
        if discovery.is_web_page(body, content_type):
            raise discovery.web_page_error(body, url)
        raise ParseError(f"not a feed: {bozo or 'no RSS, Atom or JSON feed found'}")
    entries = []
    seen = set()
    for raw in result.get("entries", []):
        entry = _entry(raw)
        if entry.key in seen:
            continue
        seen.add(entry.key)
        entries.append(entry)
    title = html_to_text(feed.get("title", "") or "") or None
    return FeedDocument(title=title, site_url=(feed.get("link") or None), entries=tuple(entries), bozo=bozo,
                        ttl=_ttl(feed.get("ttl")), replaced=replaced)


def _ttl(value: object) -> float | None:
    """RSS <ttl> (minutes) in seconds; absurd values ignored."""
    try:
        minutes = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if 0 < minutes <= 7 * 24 * 60 else None
