"""A fast path for well-formed feeds: what feedparser makes of them, in a fraction of its time.

feedparser spends most of a feed's parse in Python, on every element and piece of text that
xml.sax hands it. This module gives the same bytes to the same expat (pyexpat, no SAX layer)
and follows the rules of feedparser's strict parser (`feedparser.mixin`, `.namespaces`) for the
elements feeds are commonly made of, using feedparser's own encoding, URL and date functions:
its dictionaries hold what feedparser's would for all that monitor.feeds reads. It declines
(None: feedparser reads the body) whatever it is not sure of: a body whose encoding feedparser
cannot tell (it would use its loose parser), a DTD, XML expat rejects, an xml:base that is not
an absolute URI feedparser keeps as it is, base64 content, markup inside text elements that
feedparser would not write back as XHTML (a <div> in HTML content, which it drops and never
closes; SVG and MathML; an element whose end it has a rule for), items or images in odd places,
and every element with a feedparser rule (`_start_`/`_end_` method) not ported here. XHTML text
(declared so, or HTML not escaped, which feedparser then reads as XHTML) is written back as
feedparser writes it: each element as a tag, the text between escaped, Atom's wrapping <div> off.
xml:base is followed as feedparser follows it (each element's base, in scope until it ends).
tests/test_fastfeed.py checks it.
"""

from __future__ import annotations

import codecs
from xml.parsers import expat

from feedparser import encodings, sanitizer, urls

from monitor.fastfeed.reader import Declined, Reader
from monitor.fastfeed.rules import END, START

__all__ = ["Declined", "parse", "read"]


def parse(body: bytes, url: str, content_type: str | None = None) -> dict | None:
    """What `feedparser.parse(body, response_headers=...)` gives with monitor.feeds' options,
    as plain dictionaries ("feed", "entries", "version", "bozo_exception"); None when the fast
    path declines the body (see the module), or meets a surprise: feedparser then reads it."""
    try:
        return read(body, url, content_type)
    except (Declined, expat.ExpatError, LookupError, TypeError, ValueError, AttributeError):
        return None


def read(body: bytes, url: str, content_type: str | None = None) -> dict:
    """`parse`, raising Declined (or expat.ExpatError) where `parse` declines."""
    headers = {"content-location": url, **({"content-type": content_type} if content_type else {})}
    result: dict = {}
    data = encodings.convert_to_utf8(headers, body, result)
    try:
        encoding = codecs.lookup(result.get("encoding") or "unknown").name
    except LookupError:
        encoding = None
    # feedparser reads every body it can decode as UTF-8 (`convert_to_utf8` has made `data` so)
    # with its strict parser, whatever the body was written in; one it cannot, with its loose one
    if encoding is None:
        raise Declined(f"read as {result.get('encoding')}")
    version, stripped, _entities = sanitizer.replace_doctype(data)
    if version or stripped != data:
        raise Declined("a DTD")
    base = urls.make_safe_absolute_uri("", url) or urls.make_safe_absolute_uri(url) or ""
    if base and (urls.make_safe_absolute_uri(base, base) or base) != base:
        raise Declined("a feed URL feedparser would change on every element")
    reader = Reader(base, START, END)
    parser = expat.ParserCreate(None, " ")  # as xml.sax.expatreader makes it
    parser.namespace_prefixes = True
    parser.buffer_text = True
    parser.StartNamespaceDeclHandler = reader.namespace
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.data
    parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = reader.doctype
    parser.Parse(data, True)
    return {"feed": reader.feed, "entries": reader.entries, "version": reader.version,
            "bozo": bool(result.get("bozo")), "bozo_exception": result.get("bozo_exception")}
