"""Feed bytes in, `FeedDocument` out. feedparser's dictionaries stop here.

Runs inside a sandbox worker: feedparser is given bytes, never a path or URL (it would read
local files), and its results are turned into frozen dataclasses before they leave.
"""

from __future__ import annotations

import calendar
import hashlib
import html as html_module
import json
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from itertools import repeat
from urllib.parse import urljoin

import feedparser
import feedparser.datetimes

from monitor import decoding, feedsplit, markup, shown, urls

try:  # the fast path follows feedparser's own rules: a feedparser whose internals moved is read by feedparser alone
    from monitor import fastfeed
except (ImportError, AttributeError):  # pragma: no cover - feedparser 6.0.11 to 6.0.x have them
    fastfeed = None
from monitor.errors import ParseError
from monitor.model import Entry, FeedDocument, FeedItems

# No HTML sanitising and no rewriting of links inside content: newsmon never shows a feed's
# HTML, only the plain text `html_to_text` makes of it (scripts and styles dropped), and
# feedparser's sanitiser is most of its time on heavy feeds (CRE.xml: 184 -> 39 ms; on the 156
# corpus feeds 3.0 -> 1.7 s, with the same text for all 4,715 entries). The benchmark's floor
# uses the same options.
FEEDPARSER_OPTIONS = {"sanitize_html": False, "resolve_relative_uris": False}
BLOCK_TAGS = frozenset("p div br li ul ol h1 h2 h3 h4 h5 h6 blockquote tr table section article pre".split())


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment, paragraphs on their own lines, control characters gone."""
    if _CONTROL.search(markup):  # str.translate walks every character in Python's slow path
        markup = markup.translate(CONTROL)
    if "<" not in markup and "&" not in markup:
        return markup.strip()
    text = _plain_text(markup)
    if text is None:
        collector = _TextCollector()
        collector.feed(markup)
        collector.close()
        text = "".join(collector.parts)
    # each line's words one space apart, empty lines dropped (map and filter: no Python code per line)
    return "\n".join(filter(None, map(" ".join, map(str.split, text.splitlines()))))


# Plain markup (start and end tags with plain attributes, character references) is most of what
# feeds hold, and reading it with HTMLParser was a sixth of a feed's parse: `_plain_text` reads it
# to the same text (HTMLParser's data between tags, unescaped; a newline for each block tag) and
# gives up on anything else, which HTMLParser then reads: a "<" that starts no such tag (a
# comment, a declaration, "a < b"), and elements whose content is not markup (script, style; the
# others some Pythons' HTMLParser reads as raw text too).
_PLAIN_TAG = re.compile(r"""<(/)?([a-zA-Z][-.a-zA-Z0-9:_]*)(?(1)\s*|(?:\s+[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*\s*/?)>""")
RAW_TEXT = frozenset("script style textarea title xmp iframe noembed noframes noscript plaintext".split())


def _plain_text(markup: str) -> str | None:
    """What `_TextCollector` collects from `markup` (before lines are tidied), or None when
    `markup` is not plain markup (see above). Cut at its tags in one call (the text between
    them, each tag's end mark and name: `re.split` with the pattern's two groups), so that the
    common case runs no Python code per tag; markup with an element of RAW_TEXT is read tag by
    tag (`_raw_plain_text`)."""
    cut = _PLAIN_TAG.split(markup)
    texts, names = cut[0::3], cut[2::3]
    lowered = "\0".join(names).lower().split("\0")  # tag names are ASCII: lower-cased at once
    if not RAW_TEXT.isdisjoint(lowered):
        return _raw_plain_text(markup)
    if "<" in "".join(texts):  # a "<" that starts no tag
        return None
    pieces = [""] * (2 * len(texts) - 1)
    pieces[0::2] = map(html_module.unescape, texts) if "&" in markup else texts
    pieces[1::2] = map(BREAKS.get, lowered, repeat("")) if names else ()
    return "".join(pieces)


BREAKS = dict.fromkeys(BLOCK_TAGS, "\n")  # what a tag adds to the text: a block's a line break


def _raw_plain_text(markup: str) -> str | None:
    """`_plain_text` tag by tag, for markup with an element of RAW_TEXT: one is read only when
    its content is plain characters (no "<" or "&") up to its end tag: every HTMLParser reads
    that alike."""
    parts, done, unescape, raw = [], 0, html_module.unescape, None
    for tag in _PLAIN_TAG.finditer(markup):
        start, closing, name = tag.start(), tag.group(1), tag.group(2).lower()
        if markup.find("<", done, start) >= 0:
            return None
        if raw is not None:  # the end of a raw-text element's plain content, or give up
            if name != raw or not closing or markup.find("&", done, start) >= 0:
                return None
            if name not in ("script", "style"):
                parts.append(markup[done:start])
            raw = None
        else:
            if start > done:
                parts.append(unescape(markup[done:start]))
            if name in RAW_TEXT:
                if closing or tag.group().endswith("/>"):
                    return None
                raw = name
        if name in BLOCK_TAGS:
            parts.append("\n")
        done = tag.end()
    if raw is not None or markup.find("<", done) >= 0:
        return None
    parts.append(unescape(markup[done:]))
    return "".join(parts)


EARLIEST = datetime(1995, 1, 1, tzinfo=timezone.utc)  # before web feeds existed: a CMS's "no date"
CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))  # NUL and friends, seen in real feeds
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


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
        if _is_web_page(body, content_type):
            raise _web_page_error(body, url)
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


# Feed discovery: a web page names its feeds with <link rel="alternate" type="..." href="...">.
# Only the first DISCOVER_BYTES of a page are read, each tag pattern reads at most 2,048 bytes
# and stops at the next "<", so a hostile page costs time in proportion to that prefix.
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/feed+json",
                        "application/x-rss+xml", "application/x-atom+xml", "text/rss+xml", "text/atom+xml"})
DISCOVER_BYTES = 512 * 1024
MAX_DISCOVERED = 50  # feeds `discover` returns at most
SHOWN_FEEDS = 5  # feeds a web page's ParseError names
_LINK_TAG = re.compile(rb"<link\b([^<>]{0,2048})>", re.IGNORECASE)
_BASE_TAG = re.compile(rb"<base\b([^<>]{0,2048})>", re.IGNORECASE)
_CHARSET = re.compile(rb"<meta\b[^<>]{0,2048}?charset\s*=\s*[\"']?([\w-]{1,40})", re.IGNORECASE)
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html)\b", re.IGNORECASE)
_SPACE = re.compile(rb"[\xef\xbb\xbf \t\r\n\x0b\x0c]*")
HTML_TYPES = ("text/html", "application/xhtml+xml")


def discover(body: bytes, base_url: str | None) -> tuple[tuple[str, str | None, str], ...]:
    """The feeds a web page links to with `<link rel="alternate" type="application/rss+xml">`
    (Atom and JSON Feed types too): `(url, title, type)` each, in page order, without repeats,
    at most MAX_DISCOVERED. URLs are resolved against the page's `<base href>` and `base_url`
    (the page's address); those that are not then absolute http(s) URLs are left out. Plain
    tuples, so that they can travel out of a sandbox worker without importing this module.
    Reads only the first DISCOVER_BYTES of `body`; never raises for what the page holds."""
    page = body[:DISCOVER_BYTES]
    found_charset = _CHARSET.search(page, 0, 4096)
    encoding = found_charset.group(1).decode("ascii").lower() if found_charset else "utf-8"
    if encoding.startswith(("utf-16", "utf-32")):  # the tags were found as ASCII bytes: they are not
        encoding = "utf-8"
    base = base_url or ""
    found_base = _BASE_TAG.search(page)
    if found_base:
        href = _link_url(_decoded(markup.attributes(found_base.group(1)).get(b"href", b""), encoding), base)
        base = href or base
    feeds: list[tuple[str, str | None, str]] = []
    seen: set[str] = set()
    for tag in _LINK_TAG.finditer(page):
        attributes = markup.attributes(tag.group(1))
        if b"alternate" not in attributes.get(b"rel", b"").lower().split():
            continue
        kind = attributes.get(b"type", b"").split(b";")[0].strip().lower().decode("latin-1")
        if kind not in FEED_TYPES:
            continue
        url = _link_url(_decoded(attributes.get(b"href", b""), encoding), base)
        if url is None or url in seen:
            continue
        seen.add(url)
        title = _one_line(_decoded(attributes.get(b"title", b""), encoding))[:200] or None
        feeds.append((url, title, kind))
        if len(feeds) == MAX_DISCOVERED:
            break
    return tuple(feeds)


def _web_page_error(body: bytes, url: str | None) -> ParseError:
    """The ParseError for a web page given as a feed: it says so, and names the feeds the page
    links to (see `discover`; in the message without credentials, which links resolved against
    the feed's URL inherit), which it also carries as `error.feeds`."""
    feeds = discover(body, url)
    if feeds:
        listed = ", ".join(shown.url(link) for link, _title, _kind in feeds[:SHOWN_FEEDS])
        more = f" and {len(feeds) - SHOWN_FEEDS} more" if len(feeds) > SHOWN_FEEDS else ""
        links = f"it links to these feeds: {listed}{more}"
    else:
        links = "it links to no feed"
    error = ParseError(f"this is a web page (HTML), not a feed; {links}")
    error.feeds = feeds  # pickled with the error (an exception's __dict__ travels with it)
    return error


def _is_web_page(body: bytes, content_type: str | None) -> bool:
    """Whether bytes that hold no feed are an HTML page: they start like one (after an XML
    declaration and comments), or are served as HTML with an <html> tag early on (a broken
    feed served as text/html is still a broken feed)."""
    start = body[:8192]
    if content_type and content_type.split(";")[0].strip().lower() in HTML_TYPES:
        return _HTML_START.search(start) is not None
    position = _SPACE.match(start).end()
    while start.startswith((b"<?", b"<!--"), position):  # an XML declaration, comments
        closer = b"?>" if start.startswith(b"<?", position) else b"-->"
        end = start.find(closer, position + 2)
        if end < 0:
            return False
        position = _SPACE.match(start, end + len(closer)).end()
    return _HTML_START.match(start, position) is not None


def _decoded(value: bytes, encoding: str) -> str:
    try:
        text = value.decode(encoding, "replace")
    except LookupError:  # a charset Python does not know
        text = value.decode("utf-8", "replace")
    return html_module.unescape(text)


def _one_line(text: str) -> str:
    """`text` on one line, without control or formatting characters (bidi overrides): it is
    third-party text bound for logs and terminals."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _link_url(href: str, base: str) -> str | None:
    """`href` as an absolute http(s) URL resolved against `base`, or None. Tabs and line breaks
    inside it are dropped and spaces escaped (as browsers do); other unprintable characters
    make it no URL at all."""
    href = href.strip().replace("\t", "").replace("\r", "").replace("\n", "").replace(" ", "%20")
    if not href or not href.isprintable():
        return None
    try:
        return urls.web_url(urljoin(base, href))
    except ValueError:  # urljoin on a bad IPv6 literal
        return None
