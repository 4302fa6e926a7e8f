"""Article pages copied per link: the same corpus page, served under two links, names two
different articles.

A farm in this mode serves, for each item link, one of the corpus's pages (chosen by a hash
of the path, as usual) with every absolute URL in it (canonical link, og:url, images, links)
replaced by one under that item link: `<link>/u/<12 hex digits of the URL's SHA-1>`. So no
two items share a canonical URL, and a reader that deduplicates articles by canonical URL
extracts every page. The text is the page's own, so pages served under many links are near
duplicates of each other (as syndicated copies are).

Each page is split at its URLs once, when the farm starts; a copy is then one `bytes.join`.
"""

from __future__ import annotations

import hashlib
import html as html_module
import re
from xml.sax.saxutils import escape as xml_escape

from bench import corpus


class PageCopies:
    """Pages split at their absolute URLs, ready to be joined with a link's prefix."""

    def __init__(self, pages: list[bytes]):
        self.parts: list[tuple[list[bytes], list[bytes]]] = [self._split(html) for html in pages]

    @staticmethod
    def _split(html: bytes) -> tuple[list[bytes], list[bytes]]:
        """The text between the page's URLs, and a digest of each URL."""
        texts, digests, at = [], [], 0
        for match in corpus.URL.finditer(html):
            texts.append(html[at:match.start()])
            digests.append(hashlib.sha1(match.group(0)).hexdigest()[:12].encode())
            at = match.end()
        texts.append(html[at:])
        return texts, digests

    def copy(self, index: int, link: str) -> bytes:
        """Page `index` with each of its absolute URLs replaced by one under `link`."""
        texts, digests = self.parts[index]
        prefix = link.rstrip("/").encode() + b"/u/"
        pieces = [texts[0]]
        for digest, text in zip(digests, texts[1:]):
            pieces += (prefix, digest, text)
        return b"".join(pieces)


_SKIP = re.compile(rb"<(script|style|noscript|template)\b.*?</\1\s*>|<!--.*?-->", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(rb"<[^>]*>")


def words(html: bytes, count: int = 60) -> str:
    """`count` words from the middle of a page's visible text (ASCII, escaped for XML), for a
    published entry's own summary: a reader that sees only the feed (newsmon with `full_text =
    false`) then gets a text of its own for each entry, not a near-duplicate of the others."""
    text = _TAG.sub(b" ", _SKIP.sub(b" ", html)).decode("utf-8", "replace")
    found = html_module.unescape(text).split()
    middle = max(0, len(found) // 2 - count // 2)
    # character references for anything not ASCII: the feed may declare a legacy encoding
    return xml_escape(" ".join(found[middle:middle + count])).encode("ascii", "xmlcharrefreplace").decode("ascii")
