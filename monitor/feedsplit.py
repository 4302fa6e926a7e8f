"""A changed XML feed cut into its items, so that only the items that changed are parsed.

A feed that gains one story is served again whole: 10 to 300 items, often with their full
content. feedparser's cost grows with the whole body, so a new item in a big feed waited for
every old item to be parsed again. `split` cuts an RSS, RDF or Atom body into the part before
the first item, the items, and the part after the last; `FeedItems` remembers which items a feed's
last body held (an 8-byte digest of each item's bytes) and the markup around them.

An item whose bytes are the same as in the last body, in the same surroundings, parses to the
same entry, so it is left out: the document parsed is the new body's head, its new or changed
items, and its tail. "The same surroundings" means the same URL, content type and the same
markup (tags and attributes: namespaces, xml:base, the XML declaration and any DTD) before and
after the items; the text in there (a channel's lastBuildDate, say) may change.

Anything unusual is parsed whole: a body that is not UTF-8, other markup between items, nested
or self-closing items, items of both kinds, an unterminated comment or CDATA section. Item tags
inside comments and CDATA sections are text and are skipped. The scan is linear in the body: it
jumps from one item tag, comment or CDATA section to the next with the regex engine and
`bytes.find`.

A feed whose XML is broken somewhere else than in its new item may parse that item more
strictly alone than feedparser's lenient fallback parses the whole; on the corpus's 128 feeds
that can be cut (messy ones included), every one of 4,376 items parsed alone is the entry the
whole feed gives.

Runs in a sandbox worker (it reads untrusted bytes), next to feedparser.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from monitor.model import FeedItems

# the next item tag (RSS/RDF <item>, Atom <entry>, with or without a namespace prefix), comment or CDATA
_NEXT = re.compile(rb"<(?:!\[CDATA\[|!--|(/?)((?:[A-Za-z_][\w.-]*:)?(?:item|entry))(?=[\s/>]))")
_TEXT = re.compile(rb">[^<]*<")  # the text between two tags, which the surroundings may change freely


@dataclass(frozen=True)
class Split:
    head: bytes  # everything before the first item
    items: tuple[bytes, ...]  # each item, from its start tag to its end tag
    tail: bytes  # everything after the last item


def split(body: bytes) -> Split | None:
    """The body cut around its items, or None when it cannot be cut safely (see the module)."""
    if b"\x00" in body[:512]:  # UTF-16 or UTF-32: the byte scan does not apply
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:  # legacy multi-byte encodings can hide ']' inside a character
        return None
    items: list[tuple[int, int]] = []
    name = None
    start = -1
    last_end = None
    position = 0
    while True:
        found = _NEXT.search(body, position)
        if found is None:
            break
        if found.group(2) is None:  # a comment or CDATA section: skip it whole
            closer = b"]]>" if body.startswith(b"<![CDATA[", found.start()) else b"-->"
            end = body.find(closer, found.end())
            if end < 0:
                return None
            position = end + len(closer)
            continue
        closing, tag = found.group(1), found.group(2)
        if name is None:
            name = tag
        if tag != name:
            if start < 0:  # an item tag of the other kind between items: unusual
                return None
            position = found.end()  # an <entry> inside an RSS <item> (or the reverse): content
            continue
        tag_end = body.find(b">", found.end())
        if tag_end < 0:
            return None
        if not closing:
            if start >= 0 or body[tag_end - 1:tag_end] == b"/":  # nested or self-closing
                return None
            if last_end is not None and body[last_end:found.start()].strip():
                return None  # other markup between items
            start = found.start()
        else:
            if start < 0:
                return None
            items.append((start, tag_end + 1))
            last_end = tag_end + 1
            start = -1
        position = tag_end + 1
    if not items or start >= 0:
        return None
    return Split(body[:items[0][0]], tuple(body[a:b] for a, b in items), body[items[-1][1]:])


def context(cut: Split, url: str, content_type: str | None) -> bytes:
    """A digest of everything around the items that could change how an item parses."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (url.encode("utf-8", "replace"), (content_type or "").encode("utf-8", "replace"),
                 _TEXT.sub(b"><", cut.head), _TEXT.sub(b"><", cut.tail)):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def item_digest(item: bytes) -> bytes:
    return hashlib.blake2b(item, digest_size=8).digest()


def changed(body: bytes, url: str, content_type: str | None, previous: FeedItems | None) -> tuple[bytes, FeedItems | None]:
    """What to parse of `body`, and what to remember of it: with `previous` (the feed's last
    body) and the same surroundings, the body's head, its new or changed items and its tail;
    otherwise the whole body. The `FeedItems` returned is None when the body cannot be cut."""
    cut = split(body)
    if cut is None:
        return body, None
    digests = [item_digest(item) for item in cut.items]
    now = FeedItems(context(cut, url, content_type), frozenset(digests), len(digests))
    if previous is None or previous.context != now.context:
        return body, now
    fresh = [item for item, digest in zip(cut.items, digests) if digest not in previous.digests]
    return cut.head + b"".join(fresh) + cut.tail, now
