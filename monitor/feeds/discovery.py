"""Feed discovery: the feeds a web page names with <link rel="alternate" type="...">, and the
error a web page given as a feed gets (it says so, and names the feeds the page links to).
"""

from __future__ import annotations

import html as html_module
import re
from urllib.parse import urljoin

from monitor import markup, shown, urls
from monitor.errors import ParseError

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


def web_page_error(body: bytes, url: str | None) -> ParseError:
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


def is_web_page(body: bytes, content_type: str | None) -> bool:
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
