"""The plain text of the HTML a feed carries (titles, summaries, contents): paragraphs on lines
of their own, scripts and styles dropped, control characters gone. newsmon never shows a feed's
HTML, only this text.
"""

from __future__ import annotations

import html as html_module
import re
from html.parser import HTMLParser
from itertools import repeat

CONTROL = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))  # NUL and friends, seen in real feeds
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
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
