"""Article HTML in, `Page` out, with trafilatura. trafilatura's objects stop here.

Runs inside a sandbox worker. `OPTIONS` are exactly what the daemon uses, so that benchmarks
can measure the same work.
"""

from __future__ import annotations

import logging

import trafilatura

from monitor.errors import ExtractError
from monitor.model import Page

OPTIONS = {
    "fast": True,  # skips the fallback extractors: same F1 on the corpus, a fraction of the time
    "include_comments": False,
    "include_tables": True,
    "with_metadata": True,
    "deduplicate": False,
}
MIN_TEXT = 100  # characters; less is a cookie wall or an empty shell, not an article
MIN_SENTENCE_WORDS = 6  # and at least one line must read like a sentence, not a menu

# trafilatura logs every page it finds too short at WARNING; we say it once, our way.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)


def extract(html: bytes, url: str | None) -> Page:
    """The main text and metadata of an article page. Raises ExtractError if there is none."""
    try:
        document = trafilatura.bare_extraction(html, url=url, **OPTIONS)
    except (ValueError, TypeError, AttributeError) as error:  # malformed markup deep in lxml
        raise ExtractError(f"extraction failed: {error}") from None
    text = (getattr(document, "text", None) or "").strip() if document is not None else ""
    if len(text) < MIN_TEXT or not any(len(line.split()) >= MIN_SENTENCE_WORDS for line in text.splitlines()):
        raise ExtractError("no article text found on the page")
    return Page(
        text=text,
        title=(document.title or None),
        canonical_url=(document.url or None),
        language=(document.language or None),
        published=(document.date or None),
    )
