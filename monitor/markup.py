"""Reading a tag's attributes from a page's raw bytes, without a parser: what `extract` (the
page's head: canonical link, language, charset) and `feeds` (the feeds a web page links to)
need before, or instead of, parsing a hostile page whole."""

from __future__ import annotations

import re

ATTRIBUTE = re.compile(rb"([^\s=/>\"']+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")


def attributes(tag: bytes) -> dict[bytes, bytes]:
    """A tag's attributes from the bytes inside it (names lower-cased, the first of each kept),
    values unquoted but otherwise as written (entities not decoded)."""
    found: dict[bytes, bytes] = {}
    for attribute in ATTRIBUTE.finditer(tag):
        value = attribute.group(2) or b""
        if value[:1] in (b'"', b"'"):
            value = value[1:-1]
        found.setdefault(attribute.group(1).lower(), value)
    return found
