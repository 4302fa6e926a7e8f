"""monitor.feeds.text.html_to_text reads plain markup without HTMLParser (`_plain_text`): it must give
the same text as HTMLParser (`_TextCollector`) for every fragment, (a) tricky ones written for
these tests, (b) every title, summary and content of every feed of the shared corpus when
NEWSMON_CORPUS points at it."""

from __future__ import annotations

import feedparser
import pytest

from monitor import feeds
from monitor.feeds import text as feed_text
from conftest import corpus_dir


def by_html_parser(markup: str) -> str:
    """html_to_text as it was: every fragment with markup read by HTMLParser."""
    markup = markup.translate(feed_text.CONTROL)
    if "<" not in markup and "&" not in markup:
        return markup.strip()
    collector = feed_text._TextCollector()
    collector.feed(markup)
    collector.close()
    lines = (" ".join(line.split()) for line in "".join(collector.parts).splitlines())
    return "\n".join(line for line in lines if line)


FRAGMENTS = [
    ("<p>One</p><p>Two <b>bold</b></p>", True),
    ("<P CLASS=lead>Upper</P><BR/>case<br />and <br>breaks", True),
    ('<a href="https://x.example/?a=1&amp;b=2" title=\'q "x" > y\'>link</a> AT&T &amp; &eacute;&#233;&#x20AC;', True),
    ("<a href=x/>bare value ending in a slash</a><div class=c/>after", True),
    ("<p>tail with a lone ampersand &", True),
    ("&ampxyz &lt &notit; &#0; &#x110000;", True),  # references without semicolons, invalid ones
    ('<iframe src="https://v.example/e/1"></iframe><p>after the frame</p>', True),
    ("<p>x</p><style>p{color:red}</style><p>y</p><script>var a=1</script>", True),
    ("<p>a < b and c > d</p>", False),  # a "<" that starts no tag: HTMLParser reads it
    ("<!-- a comment --><p>text</p>", False),
    ("<![CDATA[raw]]><p>text</p>", False),
    ("<?php echo 1 ?><p>text</p>", False),
    ("<style><!-- p{} --></style><p>text</p>", False),
    ("<script>if (a < b) {}</script><p>text</p>", False),
    ("<style/>shown<p>x</p>", False),  # a raw-text element closed at once
    ("<iframe>a &amp; b</iframe>", False),  # a reference in raw text: some Pythons leave it
    ("</iframe><p>stray end tag</p>", False),
    ("<p>unclosed <b", False),
    ("<a b\"c>odd attribute</a>", False),
    ("</p foo>end tag with an attribute", False),
]


@pytest.mark.parametrize("markup,plain", FRAGMENTS)
def test_plain_markup_reads_as_html_parser_does(markup, plain):
    assert feed_text.html_to_text(markup) == by_html_parser(markup)
    assert (feed_text._plain_text(markup.translate(feed_text.CONTROL)) is not None) == plain


def test_every_corpus_feed_fragment_reads_as_html_parser_does():
    root = corpus_dir()
    if root is None or not (root / "feeds").is_dir():
        pytest.skip("NEWSMON_CORPUS is unset or has no feeds/ directory")
    fragments, plain, differences = 0, 0, []
    for path in sorted(path for path in (root / "feeds").glob("*/*") if path.is_file() and path.suffix != ".json"):
        result = feedparser.parse(path.read_bytes(), response_headers={"content-type": "application/xml"},
                                  **feeds.FEEDPARSER_OPTIONS)
        for raw in [result.get("feed") or {}, *result.get("entries", [])]:
            values = [raw.get("title"), raw.get("summary")] + [part.get("value") for part in raw.get("content") or []
                                                                   if isinstance(part, dict)]
            for value in values:
                if not value or ("<" not in value and "&" not in value):
                    continue
                fragments += 1
                plain += feed_text._plain_text(value.translate(feed_text.CONTROL)) is not None
                if feed_text.html_to_text(value) != by_html_parser(value):
                    differences.append(f"{path.name}: {value[:80]!r}")
    assert not differences, differences[:5]
    assert fragments > 1000 and plain > 0.9 * fragments  # the fast path is the common one
