"""Article HTML in, `Page` out, with trafilatura. trafilatura's objects stop here.

Runs inside a sandbox worker. `OPTIONS` are exactly what the daemon uses, so that benchmarks
can measure the same work.

trafilatura extracts the text. The few metadata newsmon keeps are read here: the canonical
URL and language from the page's bytes (`Head`); the title and publication date, only when the
feed gave none, from a parsed tree (trafilatura then works on its copy), the date by htmldate
without its "extensive" text search. trafilatura's own metadata pass also looks for authors,
site names, categories, tags and licences, none of which newsmon shows, and its extensive date
search guesses a date from any text on the page (a footer's copyright year) through dateparser. On the corpus's 261 pages that pass took almost
half of the extraction time, and all of it on the slowest pages (up to a second on a big
Wikipedia page); the text is the same either way.

The page is parsed here (`load`), as trafilatura would parse it, then handed to trafilatura as
a tree: for a UTF-8 page, the same tree without its loader's detours (see `load`).
"""

from __future__ import annotations

import functools
import html as html_module
import itertools
import logging
import re
from urllib.parse import urljoin

import htmldate
import lxml.etree
import lxml.html
import trafilatura

from monitor import decoding, markup, urls
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
    "with_metadata": False,  # see the module's docstring: `Head` and `read_title` read what we keep
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


def extract(html: bytes, url: str | None, date: bool = True, title: bool = True) -> Page:
    """The main text and metadata of an article page. Raises ExtractError if there is none.
    `date=False` skips looking for its publication date, `title=False` for its title (the
    feed gave them): then the page is parsed once (`load`) and nothing but trafilatura walks it.
    A page that is UTF-8 but for a few stray bytes is read as UTF-8, those replaced
    (`Page.replaced` counts them); trafilatura would otherwise guess a legacy charset for all
    of it (see monitor.decoding)."""
    utf8 = decoding.is_utf8(html)
    repaired = None if utf8 else decoding.repair(html, decoding.meta_charset(html))  # valid UTF-8 has nothing to repair
    if repaired is not None:
        html, utf8 = repaired.text.encode("utf-8"), True
    tree = None
    try:
        tree = load(html, utf8)
        # trafilatura works on a copy of a tree it is given: `tree` stays whole for the metadata
        document = trafilatura.bare_extraction(tree if tree is not None else html, url=url, **OPTIONS)
    except (ValueError, TypeError, AttributeError) as error:  # malformed markup deep in lxml
        raise ExtractError(f"extraction failed: {error}") from None
    text = (getattr(document, "text", None) or "").strip() if document is not None else ""
    if len(text) < MIN_TEXT or not any(len(line.split()) >= MIN_SENTENCE_WORDS for line in text.splitlines()):
        raise ExtractError("no article text found on the page")
    head = Head(html)
    canonical_url = head.canonical(url)
    return Page(text=text, title=read_title(tree, head.metas) if title and tree is not None else None,
                canonical_url=canonical_url, language=head.language(),
                published=_date(tree, canonical_url) if date and tree is not None else None,
                replaced=repaired.replaced if repaired is not None else 0)


# trafilatura.load_html's parser settings (not imported: its module's internals)
PARSER = lxml.html.HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", remove_comments=True,
                              remove_pis=True)
# Its elements are lxml.html's classes, looked up in C: lxml.html's own lookup calls a Python
# method for every element Python touches (trafilatura touches each several times: ~1,800 calls
# a page; 3.4 % of an extraction's instructions over the corpus's 261 pages). The one
# difference: a <form>, <input>, <select>, <textarea> or <label> is a plain HtmlElement, not
# lxml.html's form classes, whose methods neither trafilatura nor htmldate calls (the same
# text on every corpus page).
PARSER.set_element_class_lookup(lxml.etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment, pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity))
FORBIDDEN = bytes((*range(9), 11, 12, *range(14, 32)))  # the C0 controls XML forbids, one byte each in UTF-8
_FORBIDDEN_BYTES = tuple(bytes((byte,)) for byte in FORBIDDEN)
NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")  # U+FFFE, U+FFFF: XML forbids them too
_DOCTYPE = re.compile(rb"< ?! ?DOCTYPE[^>]*/[^<>]*>", re.IGNORECASE)  # a doctype trafilatura repairs
_CLOSED_HTML = re.compile(rb"<html[^\r\n]*/>")  # so is a self-closed <html/>
_STARTS_WITH_TAG = re.compile(rb"(?:\xef\xbb\xbf)?\s*<")  # (the loader would try to decompress what does not)


def load(html: bytes, utf8: bool | None = None):
    """The page's tree, as `trafilatura.load_html` makes it: None if it is not HTML at all.
    `utf8`: whether `html` is valid UTF-8, when the caller knows (else it is checked here).
    For a UTF-8 page that needs none of that loader's repairs, the same tree made for less: the
    loader decodes the bytes to a str, drops the characters XML forbids with a regular
    expression over the whole page, and lxml encodes the str back to UTF-8 for libxml2; here
    those characters (each one byte in UTF-8, and searched for before they are deleted) leave
    the bytes, which libxml2 reads as they are. On the corpus's 261 pages: the same trees, and
    about 9 M fewer instructions a page, 7 % of an extraction. Anything else (another charset,
    U+FFFE or U+FFFF, a doctype or an <html/> it would repair, what does not start with a tag,
    what parses to less than a document) takes the loader's path."""
    if not (decoding.is_utf8(html) if utf8 is None else utf8):
        return trafilatura.load_html(html)
    if not _STARTS_WITH_TAG.match(html) or any(character in html for character in NONCHARACTERS):
        return trafilatura.load_html(html)
    if any(byte in html for byte in _FORBIDDEN_BYTES):  # a search for each is a quarter of the cost of deleting them
        html = html.translate(None, FORBIDDEN)
    if _DOCTYPE.match(html.partition(b"\n")[0]) or _CLOSED_HTML.search(html, 0, 16384):
        return trafilatura.load_html(html)
    try:
        tree = lxml.html.fromstring(html, parser=PARSER)
    except (ValueError, lxml.etree.LxmlError):
        tree = None
    return tree if tree is not None and len(tree) >= 2 else trafilatura.load_html(html)


class Head:
    """The few <html>, <link> and <meta> attributes newsmon keeps, read from the page's bytes
    with patterns aimed at each tag (a fraction of a millisecond, where walking a parsed tree
    meant parsing or copying the page once more). Tags are looked for in the whole page, not
    only in <head>: a stray element early in a head ends it, and the tags after it with it."""

    def __init__(self, html: bytes):
        self.html = html
        self.encoding = decoding.meta_charset(html) or "utf-8"

    def _text(self, value: bytes) -> str:
        try:
            return html_module.unescape(value.decode(self.encoding, "replace"))
        except LookupError:  # a charset Python does not know
            return html_module.unescape(value.decode("utf-8", "replace"))

    @functools.cached_property
    def metas(self) -> dict[str, str]:
        """Each <meta>'s content by its property, name, itemprop or http-equiv (lower-cased;
        the first of each), from one reading of the page."""
        found: dict[str, str] = {}
        for tag in _META.finditer(self.html):
            attributes = markup.attributes(tag.group(1))
            key = (attributes.get(b"property") or attributes.get(b"name") or attributes.get(b"itemprop")
                   or attributes.get(b"http-equiv") or b"").strip().lower()
            if key and key.decode("latin-1") not in found:
                content = _clean(self._text(attributes.get(b"content", b"")))
                if content:
                    found[key.decode("latin-1")] = content
        return found

    def canonical(self, url: str | None) -> str | None:
        """The page's canonical URL (<link rel="canonical">, else og:url or twitter:url), made
        absolute; the page's own address when it names none (as trafilatura does): a
        redirected link then still identifies the article by where it led."""
        for tag in _LINK.finditer(self.html):
            attributes = markup.attributes(tag.group(1))
            if b"canonical" in attributes.get(b"rel", b"").lower().split():
                found = _web_url(self._text(attributes.get(b"href", b"")), url)
                if found:
                    return found
        for key in URL_KEYS:
            found = _web_url(self.metas.get(key), url)
            if found:
                return found
        return url

    def language(self) -> str | None:
        """<html lang>, else a content-language, og:locale or language <meta>."""
        candidates = []
        root = _HTML_TAG.search(self.html, 0, HEAD_BYTES)
        if root:
            attributes = markup.attributes(root.group(1))
            candidates += [self._text(attributes.get(b"lang", b"")), self._text(attributes.get(b"xml:lang", b""))]
        # the <meta> tags are read only when <html> names no language (most pages do)
        for candidate in itertools.chain(candidates, (self.metas.get(key) for key in LANGUAGE_KEYS)):
            if candidate:
                candidate = candidate.split(",")[0].strip()
                if LANGUAGE.fullmatch(candidate):
                    return candidate.replace("_", "-")
        return None

# Each pattern reads at most 2,048 bytes of a tag, so that a hostile page of unclosed tags costs
# time in proportion to its size, not to its size squared.
_LINK = re.compile(rb"<link\b([^>]{0,2048})>", re.IGNORECASE)
_META = re.compile(rb"<meta\b([^>]{0,2048})>", re.IGNORECASE)
_HTML_TAG = re.compile(rb"<html\b([^>]{0,2048})>", re.IGNORECASE)
HEAD_BYTES = 65536  # where the <html> tag is looked for


def read_title(tree, metas: dict[str, str]) -> str | None:
    """A page's title: its og:title (or twitter:title, a meta title or headline; `metas` as
    `Head.metas` reads them), else its one <h1> (a <title> often adds the site's name), else
    its <title>."""
    title = next((metas[key] for key in TITLE_KEYS if key in metas), None)
    if title is None:
        headings = [_clean(element.text_content()) or "" for element, _ in zip(tree.iter("h1"), range(2))]
        if len(headings) == 1 and headings[0]:
            title = headings[0]
    if title is None:
        title = next((_clean(element.text_content()) for element in tree.iter("title")), None)
    return title[:500] if title else None


def _date(tree, url: str | None) -> str | None:
    """The publication date (YYYY-MM-DD) from the page's markup: meta tags, JSON-LD, <time>,
    the URL. htmldate deep-copies a tree it is given, so `tree` is left as it was."""
    try:
        return htmldate.find_date(tree, url=url, **DATE_OPTIONS)
    except (ValueError, TypeError, AttributeError, OverflowError):  # odd date strings deep in htmldate
        return None


def _web_url(value: str | None, base: str | None) -> str | None:
    """`value` made absolute against `base`, if it is then an http(s) address."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return urls.web_url(urljoin(base or "", value))
    except ValueError:  # urljoin on a bad IPv6 literal
        return None


def _clean(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None

