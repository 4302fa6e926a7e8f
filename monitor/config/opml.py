"""OPML subscription lists: reading them into our own frozen dataclasses, and writing OPML 2.0.

Reading takes what feed readers really write: OPML 1.0, 1.1 and 2.0, with or without `<head>`,
a byte-order mark, any declared encoding expat knows, categories nested to any depth, other
elements inside outlines (ignored), attribute names in any case (`xmlUrl`, `xmlurl`). The file
is parsed whole before anything is returned, so a file is taken entirely or refused
(`Refused`): bigger than `MAX_SIZE`, not well-formed (with its line and column, counted from 1,
and the text there), declaring entities (the "billion laughs" and external-entity attacks need
a declaration; a DOCTYPE without one is fine), or not OPML at all. There is no lenient reading:
guessing what a broken file meant could import the wrong thing.

`read(data)` returns every feed outline as the file has it (`Outline`: URL, text, htmlUrl, the
titles of the outlines around it, its `category` attribute) and every outline that is not a
feed (`Skipped`: Liferea's search folders, an outline with only a web page link, a URL that is
not http(s), an empty category), each with why. `subscriptions(document)` turns that into
newsmon's terms: one `Feed` per canonical URL (a feed listed under two categories is one feed
with both categories' tags), each enclosing outline's title a tag (one per level) made valid and
unambiguous by `tag` (the renamings reported). `write(feeds)` is the export: each feed once,
under its first tag as the category outline, the others in OPML 2.0's `category` attribute.

Standard library only (expat), plus `monitor.urls`.
"""

from __future__ import annotations

import email.utils
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from xml.parsers import expat

from monitor import urls

MAX_SIZE = 5 * 1000 * 1000  # bytes; the largest real export in the corpus is 82 kB
SEARCH_FOLDER = "vfolder"  # Liferea's saved searches: <outline type="vfolder" xmlUrl="vfolder">
# Invisible direction controls (a tag must be typed in a rule's feed_tags) and the characters that
# separate tags in the `category` attribute (',' between categories, '/' between levels).
_DIRECTION_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # not allowed in XML 1.0


class Refused(ValueError):
    """An OPML file newsmon does not read; the message says why (and where)."""


@dataclass(frozen=True)
class Outline:
    """A feed outline as the file has it: `url` (its xmlUrl, an http(s) URL), `text` (its text,
    else its title; None when empty or the URL itself), `html_url` (the site), `path` (the
    titles of the outlines around it, outermost first), `categories` (its `category`
    attribute, split into names: "/a/b,c" is a, b, c), `line` (where it starts)."""

    url: str
    text: str | None
    html_url: str | None
    path: tuple[str, ...]
    categories: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Skipped:
    """An outline that is not taken, with why: `text` (its title, or None) at `line`."""

    line: int
    text: str | None
    reason: str


@dataclass(frozen=True)
class Document:
    """What an OPML file lists: its `version` attribute, its feed outlines and the outlines that
    are not feeds."""

    version: str | None
    outlines: tuple[Outline, ...]
    skipped: tuple[Skipped, ...]


@dataclass(frozen=True)
class Feed:
    """One feed in newsmon's terms: `url`, `name` (or None), `html_url` (the site, when known),
    `tags` (valid tags, first one first), `line` (the first outline listing it; 0 for none)."""

    url: str
    name: str | None = None
    html_url: str | None = None
    tags: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class Subscriptions:
    """An OPML document in newsmon's terms: its `feeds` (one per canonical URL), `merged` (the
    outlines that listed a feed again: its tags were added to the first), `renamed` ((category
    title, the tag it became) where they differ)."""

    feeds: tuple[Feed, ...]
    merged: tuple[Skipped, ...] = ()
    renamed: tuple[tuple[str, str], ...] = ()


# ------------------------------------------------------------------ reading

@dataclass
class _Frame:
    """An element being read: `kind` ("opml", "body", "outline" or "other"), the title it gives
    the outlines inside it, and, for an outline without a feed URL, what to say if nothing is in it."""

    kind: str
    title: str | None = None
    line: int = 0
    html_url: str | None = None
    children: int = 0
    feed: bool = False


def read(data: bytes) -> Document:
    """The feeds and non-feeds an OPML file lists. Raises Refused (see the module docstring)."""
    if len(data) > MAX_SIZE:
        raise Refused(f"the file is {len(data):,} bytes; newsmon reads OPML files up to {MAX_SIZE:,} bytes")
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Frame] = []
    outlines: list[Outline] = []
    skipped: list[Skipped] = []
    version: list[str | None] = []

    def refuse_entities(*_args) -> None:
        raise Refused(f"line {parser.CurrentLineNumber}: the file declares XML entities, which newsmon does not "
                      "expand (an OPML file has no need of them)")

    def start(name: str, attributes: dict[str, str]) -> None:
        parent = stack[-1] if stack else None
        if parent is None:
            if name != "opml":
                raise Refused(f"not an OPML file: its root element is <{name}>, not <opml>")
            version.append(attributes.get("version"))
            stack.append(_Frame("opml"))
        elif name == "body" and parent.kind == "opml":
            stack.append(_Frame("body"))
        elif name == "outline" and parent.kind in ("body", "outline"):
            parent.children += 1
            stack.append(_outline(attributes, parser.CurrentLineNumber, stack, outlines, skipped))
        else:
            stack.append(_Frame("other"))

    def end(_name: str) -> None:
        frame = stack.pop()
        if frame.kind == "outline" and not frame.feed and not frame.children:
            skipped.append(Skipped(frame.line, frame.title, "only a web page link (htmlUrl), no feed URL (xmlUrl)"
                                   if frame.html_url else "no feed URL (xmlUrl): an empty category, not a feed"))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.EntityDeclHandler = refuse_entities
    parser.UnparsedEntityDeclHandler = refuse_entities
    parser.ExternalEntityRefHandler = refuse_entities
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise Refused(_where(data, error)) from None
    return Document(version[0] if version else None, tuple(outlines), tuple(sorted(skipped, key=lambda s: s.line)))


def _outline(attributes: dict[str, str], line: int, stack: list[_Frame], outlines: list[Outline],
             skipped: list[Skipped]) -> _Frame:
    """Read one <outline> inside a body or outline: a feed goes to `outlines`, a non-feed to
    `skipped`; returns its frame (an outline inside a search folder, or a skipped one, is "other":
    what is in it is not read)."""
    given = {key.lower(): value for key, value in attributes.items()}
    title = (given.get("text") or "").strip() or (given.get("title") or "").strip() or None
    xml_url = (given.get("xmlurl") or "").strip()
    html_url = urls.web_url(given.get("htmlurl"))
    if given.get("type", "").strip().lower() == SEARCH_FOLDER or xml_url == SEARCH_FOLDER:
        skipped.append(Skipped(line, title, "a Liferea search folder (type=\"vfolder\"), not a feed"))
        return _Frame("other")
    if not xml_url:
        return _Frame("outline", title=title, line=line, html_url=html_url)
    url = urls.web_url(xml_url)
    if url is None:
        skipped.append(Skipped(line, title, f"its feed URL {xml_url[:200]!r} is not an http:// or https:// URL"))
        return _Frame("other")
    path = tuple(frame.title for frame in stack if frame.kind == "outline" and frame.title)
    categories = tuple(piece.strip() for category in (given.get("category") or "").split(",")
                       for piece in category.split("/") if piece.strip())
    outlines.append(Outline(url, title if title != url else None, html_url, path, categories, line))
    return _Frame("outline", title=title, line=line, feed=True)


def _where(data: bytes, error: expat.ExpatError) -> str:
    """A parse error as a person can find it: line, column (from 1), the text there, and a hint
    for the usual mistake (a bare '&')."""
    line, column = error.lineno, error.offset + 1
    said = f"not well-formed XML at line {line}, column {column}: {expat.ErrorString(error.code)}"
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8").splitlines()[line - 1]
    except (UnicodeDecodeError, IndexError):
        return said
    start = max(0, column - 31)
    excerpt = _CONTROLS.sub(" ", text[start:column + 20])
    said += f"\n  {'…' if start else ''}{excerpt}\n  {' ' * (column - 1 - start + (1 if start else 0))}^"
    if "&" in text[max(0, column - 3):column]:
        said += "\n  (a bare '&' must be written '&amp;' in XML)"
    return said


# ------------------------------------------------------------------ in newsmon's terms

def tag(title: str) -> str | None:
    """A category title as a tag of newsmon's configuration: invisible direction controls and
    control characters removed, white space collapsed, ',' and '/' (the `category` attribute's
    separators) replaced by ' ' and '-' so that an export reads back the same; None if nothing
    is left."""
    text = _DIRECTION_CONTROLS.sub("", title)
    text = _CONTROLS.sub(" ", text).replace(",", " ").replace("/", "-")
    return " ".join(text.split()) or None


def subscriptions(document: Document) -> Subscriptions:
    """One Feed per canonical URL (the first outline's URL, name and site; every outline's
    tags, in order of appearance), with the outlines merged into an earlier one and the
    category titles renamed into tags."""
    feeds: dict[str, dict] = {}
    merged: list[Skipped] = []
    renamed: dict[str, str] = {}
    for outline in document.outlines:
        tags = []
        for title in (*outline.path, *outline.categories):
            made = tag(title)
            if made is None:
                continue
            if made != title:
                renamed.setdefault(title, made)
            tags.append(made)
        key = urls.canonical(outline.url)
        if key in feeds:
            first = feeds[key]
            merged.append(Skipped(outline.line, outline.text, f"the same feed as line {first['line']}"
                                  + (f" ({outline.url})" if outline.url != first["url"] else "")
                                  + (": its categories are added to it" if set(tags) - set(first["tags"]) else "")))
            first["tags"] = list(dict.fromkeys([*first["tags"], *tags]))
            continue
        feeds[key] = {"url": outline.url, "name": outline.text, "html_url": outline.html_url,
                      "tags": list(dict.fromkeys(tags)), "line": outline.line}
    return Subscriptions(tuple(Feed(**{**feed, "tags": tuple(feed["tags"])}) for feed in feeds.values()),
                         tuple(merged), tuple(renamed.items()))


# ------------------------------------------------------------------ writing

def write(feeds: Iterable[Feed], title: str = "newsmon feeds", created: datetime | None = None) -> bytes:
    """OPML 2.0 (UTF-8) listing `feeds`: each under an outline named for its first tag (in the
    order the tags first appear; feeds without tags at the top level), its other tags in the
    `category` attribute, its name as `text` and `title` (the URL when it has none), its site
    as `htmlUrl` when known."""
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = _clean(title)
    ElementTree.SubElement(head, "dateCreated").text = email.utils.format_datetime(created or datetime.now(timezone.utc))
    ElementTree.SubElement(head, "docs").text = "https://opml.org/spec2.opml"
    body = ElementTree.SubElement(root, "body")
    groups: dict[str, ElementTree.Element] = {}
    for feed in feeds:
        parent = body
        if feed.tags:
            first = _clean(feed.tags[0])
            if first not in groups:
                groups[first] = ElementTree.SubElement(body, "outline", text=first, title=first)
            parent = groups[first]
        text = _clean(feed.name or "").strip() or feed.url
        attributes = {"type": "rss", "text": text, "title": text, "xmlUrl": _clean(feed.url)}
        if feed.html_url:
            attributes["htmlUrl"] = _clean(feed.html_url)
        if len(feed.tags) > 1:
            attributes["category"] = ",".join(_clean(tag) for tag in feed.tags[1:])
        ElementTree.SubElement(parent, "outline", attributes)
    ElementTree.indent(root, "  ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode").encode() + b"\n"


def _clean(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold."""
    return _NOT_XML.sub("", text)
