"""Which encoding a feed's or a page's bytes are read in, when a few of them are not what the
rest say.

A document that is UTF-8 but for a few stray bytes (a truncated character, a pasted windows-1252
quote) is not valid UTF-8, and the parsers then give up on UTF-8 for all of it: feedparser falls
back to windows-1252 or iso-8859-2, trafilatura to whatever charset_normalizer guesses. Every
non-Latin name in the document becomes mojibake and matches nothing, silently.

`repair` decides: a document that declares UTF-8 (or US-ASCII, or a charset Python does not
know, or nothing) and whose non-ASCII byte sequences are at least `MOSTLY` valid UTF-8 is
decoded as UTF-8, each invalid sequence replaced by U+FFFD, and the replacements are counted.
Anything else is left to the parser as before: valid UTF-8, UTF-16 and UTF-32, a declared legacy
charset, and bytes that are mostly not UTF-8 (a legacy charset nobody declared).

Runs in the sandbox workers, before feedparser (monitor.feeds) and trafilatura (monitor.extract)
see the bytes; they report the count (`FeedDocument.replaced`, `Page.replaced`) and
`monitor.article.say_repaired` tells the person running newsmon, once per feed.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# The share of a document's non-ASCII sequences that must be valid UTF-8 for the invalid rest
# to be taken for stray bytes. Text in a legacy charset forms valid UTF-8 sequences only by
# accident; measured on the shared corpus (its legacy feeds as they are, its UTF-8 texts
# re-encoded): 0-3% for Latin and Cyrillic charsets, up to 12% for Urdu in windows-1256, 21%
# for Thai in TIS-620, up to 36% for GBK, EUC-KR and EUC-JP. UTF-8 with a few stray bytes is
# near 100%: one short Urdu paragraph with two is 96%. (An English feed with two stray bytes
# needs six curly quotes or accented letters to be told from windows-1252.)
MOSTLY = 0.75
_COMPATIBLE = frozenset({"utf-8", "utf-8-sig", "ascii"})  # codec names of declarations that allow UTF-8 bytes
_CHARSET_PARAMETER = re.compile(r";\s*charset\s*=\s*[\"']?([^\"';\s]{1,40})", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"\s*<\?xml\b[^>]{0,200}?\bencoding\s*=\s*[\"']([A-Za-z0-9._:-]{1,40})[\"']")
_META_CHARSET = re.compile(rb"<meta[^>]{1,2048}charset\s*=\s*[\"']?([\w-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Repaired:
    """A document read as UTF-8 with its invalid bytes replaced."""

    text: str  # without a byte order mark
    replaced: int  # invalid byte sequences, each now one U+FFFD


def repair(body: bytes, declared: str | None) -> Repaired | None:
    """`body` decoded as UTF-8 with its invalid sequences replaced, when it is UTF-8 but for a
    few stray bytes and `declared` (the charset its headers or markup name, None if none) allows
    UTF-8; None when the parser should read the bytes as before (see the module)."""
    if declared is not None and not _allows_utf8(declared):
        return None
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in body[:4]:
        return None  # UTF-16 or UTF-32: the parsers know these
    if is_utf8(body):
        return None  # nothing to repair
    text = body.decode("utf-8", "replace")
    replaced = text.count("\ufffd") - body.count("\ufffd".encode())
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))  # characters, each one sequence
    if non_ascii - replaced < MOSTLY * non_ascii:
        return None
    return Repaired(text.removeprefix("\ufeff"), replaced)


def is_utf8(body: bytes) -> bool:
    """Whether `body` is valid UTF-8 (then `repair` has nothing to do, whatever is declared)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _allows_utf8(name: str) -> bool:
    try:
        return codecs.lookup(name).name in _COMPATIBLE
    except LookupError:  # a charset Python does not know: the parsers skip it too
        return True


def charset(content_type: str | None) -> str | None:
    """The charset an HTTP Content-Type names, if any."""
    found = _CHARSET_PARAMETER.search(content_type or "")
    return found.group(1) if found else None


def xml_encoding(body: bytes) -> str | None:
    """The encoding an XML declaration at the start of `body` names, if any."""
    found = _XML_ENCODING.match(body.removeprefix(codecs.BOM_UTF8)[:512])
    return found.group(1).decode("ascii") if found else None


def meta_charset(html: bytes) -> str | None:
    """The charset a `<meta>` tag in the first 4 KiB of an HTML page names, if any."""
    found = _META_CHARSET.search(html, 0, 4096)
    return found.group(1).decode("ascii") if found else None

