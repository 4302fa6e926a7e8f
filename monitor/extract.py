"""Article HTML in, `Page` out, with trafilatura. trafilatura's objects stop here.

Runs inside a sandbox worker. `OPTIONS` are exactly what the daemon uses, so that benchmarks
can measure the same work.

The page is parsed once. trafilatura extracts the text from its own copy of the tree; the few
metadata newsmon keeps (title, canonical URL, language, publication date) are read here from
the head, and the date by htmldate without its "extensive" text search. trafilatura's own
metadata pass also looks for authors, site names, categories, tags and licences, none of which
newsmon shows, and its extensive date search guesses a date from any text on the page (a
footer's copyright year) through dateparser. On the corpus's 261 pages that pass took almost
half of the extraction time, and all of it on the slowest pages (up to a second on a big
Wikipedia page); the text is the same either way.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin, urlsplit

import htmldate
import trafilatura

from monitor.errors import ExtractError
from monitor.model import Page

OPTIONS = {
    "fast": True,  # skips the fallback extractors: same F1 on the corpus, a fraction of the time
    # One pass with recall settings, rather than a balanced pass and then, when it kept little
    # of the page, a second one with recall settings: on the corpus, a higher F1 on the AEB
    # and readability pages, the same on trafilatura's own test snippets, and 18% less time.
    "favor_recall": True,
    "include_comments": False,
    "include_tables": True,
    "with_metadata": False,  # see the module's docstring: read_metadata does what we need
    "deduplicate": False,
}
DATE_OPTIONS = {"extensive_search": False, "original_date": True}
MIN_TEXT = 100  # characters; less is a cookie wall or an empty shell, not an article
MIN_SENTENCE_WORDS = 6  # and at least one line must read like a sentence, not a menu

# The first of these <meta> keys (property, name or itemprop) that a page has is its title.
TITLE_KEYS = ("og:title", "twitter:title", "title", "headline", "dc.title")
URL_KEYS = ("og:url", "twitter:url")  # after <link rel="canonical">
LANGUAGE_KEYS = ("content-language", "og:locale", "language", "dc.language")  # after <html lang>
LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}")

# trafilatura logs every page it finds too short at WARNING; we say it once, our way.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)


def extract(html: bytes, url: str | None, date: bool = True) -> Page:
    """The main text and metadata of an article page. Raises ExtractError if there is none.
    `date=False` skips looking for its publication date (the feed gave one)."""
    try:
        tree = trafilatura.load_html(html)
        # trafilatura works on a copy of a tree it is given: `tree` stays whole for the metadata
        document = trafilatura.bare_extraction(tree, url=url, **OPTIONS) if tree is not None else None
    except (ValueError, TypeError, AttributeError) as error:  # malformed markup deep in lxml
        raise ExtractError(f"extraction failed: {error}") from None
    text = (getattr(document, "text", None) or "").strip() if document is not None else ""
    if len(text) < MIN_TEXT or not any(len(line.split()) >= MIN_SENTENCE_WORDS for line in text.splitlines()):
        raise ExtractError("no article text found on the page")
    title, canonical_url, language = read_metadata(tree, url)
    return Page(text=text, title=title, canonical_url=canonical_url, language=language,
                published=_date(tree, canonical_url) if date else None)


def read_metadata(tree, url: str | None) -> tuple[str | None, str | None, str | None]:
    """(title, canonical URL, language) from a parsed page, in one walk over its <meta>,
    <link>, <title> and <h1> elements. They are looked for in the whole page, not only in
    <head>: a stray element early in a head makes the HTML parser end it there.

    The canonical URL is the page's own address when it names none (as trafilatura does): a
    redirected link then still identifies the article by where it led."""
    metas: dict[str, str] = {}
    canonical = title_tag = None
    headings: list[str] = []
    for element in tree.iter("meta", "link", "title", "h1"):
        tag = element.tag
        if tag == "meta":
            key = (element.get("property") or element.get("name") or element.get("itemprop")
                   or element.get("http-equiv") or "").strip().lower()
            content = _clean(element.get("content"))
            if key and content:
                metas.setdefault(key, content)
        elif tag == "link":
            if canonical is None and "canonical" in (element.get("rel") or "").lower().split():
                canonical = _web_url(element.get("href"), url)
        elif tag == "title":
            title_tag = title_tag or _clean(element.text_content())
        elif len(headings) < 2:
            headings.append(_clean(element.text_content()) or "")
    title = next((metas[key] for key in TITLE_KEYS if key in metas), None)
    if title is None and len(headings) == 1 and headings[0]:
        title = headings[0]  # a page's one <h1> is its headline; a <title> often adds the site's name
    if canonical is None:
        canonical = next((found for key in URL_KEYS if (found := _web_url(metas.get(key), url))), None)
    return (title or title_tag)[:500] if (title or title_tag) else None, canonical or url, _language(tree, metas)


def _date(tree, url: str | None) -> str | None:
    """The publication date (YYYY-MM-DD) from the page's markup: meta tags, JSON-LD, <time>,
    the URL. htmldate deep-copies a tree it is given, so `tree` is left as it was."""
    try:
        return htmldate.find_date(tree, url=url, **DATE_OPTIONS)
    except (ValueError, TypeError, AttributeError, OverflowError):  # odd date strings deep in htmldate
        return None


def _language(tree, metas: dict[str, str]) -> str | None:
    for candidate in (tree.get("lang"), tree.get("xml:lang"), *(metas.get(key) for key in LANGUAGE_KEYS)):
        if candidate:
            candidate = candidate.split(",")[0].strip()
            if LANGUAGE.fullmatch(candidate):
                return candidate.replace("_", "-")
    return None


def _web_url(value: str | None, base: str | None) -> str | None:
    """`value` made absolute against `base`, if it is then an http(s) address."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        joined = urljoin(base or "", value)
        parts = urlsplit(joined)
    except ValueError:
        return None
    return joined if parts.scheme in ("http", "https") and parts.hostname else None


def _clean(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None

