"""The fast path's reader: expat's events handled as feedparser's strict parser handles them
(`feedparser.mixin._FeedParserMixin`, `.namespaces`), for the elements that have a rule in
monitor.fastfeed.rules; `Declined` for anything else."""

from __future__ import annotations

import functools
import re
from xml.sax.saxutils import escape

from feedparser import api, html, mixin, urls, util

_PARSER = api.StrictFeedParser  # whose rules are ported
NAMESPACES = {uri.lower(): prefix for uri, prefix in mixin._FeedParserMixin.namespaces.items()}
KEYMAP = {key: value[0] if isinstance(value, list) else value for key, value in util.FeedParserDict.keymap.items()}
RELATIVE = frozenset(mixin._FeedParserMixin.can_be_relative_uri)
XHTML = "application/xhtml+xml"
HTML_TYPES = frozenset({"text/html", XHTML})
CONTENT_TYPE = mixin._FeedParserMixin.map_content_type  # "html" -> "text/html", ... (feedparser's own)
# names the ported rules read or make: an element without a rule of its own with such a name declines
RESERVED = frozenset("links image textinput tags authors contributors media_content media_thumbnail media_credit "
                     "media_player generator_detail cloud guidislink published_parsed updated_parsed created_parsed "
                     "content link summary title id psc_chapters".split())
IMAGE_PARTS = frozenset("title link url description width height name".split())  # what an image may hold here
FOREIGN = frozenset({"http://www.w3.org/1998/math/mathml", "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"})
LONG_AUTHOR = 1000  # characters: feedparser's e-mail regex in _sync_author_detail is quadratic in them
_QUERY_FIX = re.compile("&([A-Za-z0-9_]+);")
_C1 = re.compile("[\x80-\x9f]")


QUOTE = {'"': "&quot;"}


def _unwrapped(pieces: list[str]) -> list[str]:
    """An Atom XHTML text's pieces without the <div> that wraps all of them, as feedparser's
    `pop` unwraps it (blank pieces before and after it dropped)."""
    while len(pieces) > 1 and not pieces[-1].strip():
        del pieces[-1]
    while len(pieces) > 1 and not pieces[0].strip():
        del pieces[0]
    if pieces and (pieces[0] == "<div>" or pieces[0].startswith("<div ")) and pieces[-1] == "</div>":
        depth = 0
        for piece in pieces[:-1]:
            if piece.startswith("</"):
                depth -= 1
                if depth == 0:
                    return pieces
            elif piece.startswith("<") and not piece.endswith("/>"):
                depth += 1
        return pieces[1:-1]
    return pieces


class Declined(Exception):
    """The body is one the fast path is not sure to read as feedparser does."""


def _attributes(attrs: dict) -> dict:
    """An element's attributes as feedparser's rules see them (`startElementNS`, `unknown_starttag`)."""
    named, qnames = {}, []
    for name, value in attrs.items():
        parts = name.split()
        namespace, local = (None, name) if len(parts) == 1 else (parts[0], parts[1])
        qnames.append((parts[2] + ":" + parts[1] if len(parts) == 3 else local, value))
        prefix = NAMESPACES.get((namespace or "").lower(), "")
        named[(prefix + ":" + local if prefix else local).lower()] = value
    for qname, value in qnames:
        named[qname.lower()] = value
    return {key: value.lower() if key in ("rel", "type") else value for key, value in named.items()}


@functools.lru_cache(maxsize=4096)  # bounded: element names come from untrusted feeds, in a long-lived worker
def _has_rule(key: str) -> bool:
    """Whether feedparser has a rule for elements named `key`, or uses the name for its own."""
    return key in RESERVED or hasattr(_PARSER, "_start_" + key) or hasattr(_PARSER, "_end_" + key)


def _store(context: dict, key: str, value: object) -> None:
    context[KEYMAP.get(key, key)] = value  # FeedParserDict.__setitem__


class Reader:
    """feedparser's `_StrictFeedParser` and `_FeedParserMixin`, for the elements that have a rule
    in `starts` and `ends` (monitor.fastfeed.rules: element -> what its start and end do)."""

    def __init__(self, base: str, starts: dict, ends: dict):
        self.base = base  # feedparser's baseuri: the document's URL, or the xml:base in scope
        self.bases: list[str] = []  # feedparser's basestack: the base of each open element
        self.starts, self.ends = starts, ends
        self.version = ""
        self.namespacemap: dict = {}
        self.in_use: dict = {}  # feedparser's namespaces_in_use
        self.feed: dict = {}
        self.entries: list[dict] = []
        self.depths: list[dict] = []  # feedparser's property_depth_map, one per entry
        self.stack: list[list] = []  # feedparser's elementstack: [name, expecting text, pieces]
        self.depth, self.title_depth = 0, -1
        self.leaf = 0  # the depth of the open element that may hold only text (0: none)
        self.channel = 0  # the depth of the open channel or Atom feed, where items and images may be (0: none)
        self.infeed = self.inentry = self.inimage = self.intextinput = self.incontent = self.has_content = 0
        self.summary_key = self.ctype = None  # ctype: feedparser's contentparams["type"]
        self.inline = 0  # elements open inside the text element open now
        self.guidislink = self.chapters = False
        self.names: dict = {}  # expat's name of an element -> what _key makes of it
        self.joined: dict = {}  # (base, URI) -> feedparser's _urljoin of them: an item's link is often its guid too

    def urljoin(self, uri: str) -> str:
        """feedparser's `_urljoin` of the base in scope and `uri`, each pair joined once."""
        pair = (self.base, uri)
        joined = self.joined.get(pair)
        if joined is None:
            joined = self.joined[pair] = urls._urljoin(self.base, uri)
        return joined

    # expat's events, as xml.sax.expatreader and feedparser's _StrictFeedParser pass them on

    def namespace(self, prefix: str | None, uri: str | None) -> None:
        if not uri:
            return
        lower = uri.lower()
        if lower in FOREIGN:
            raise Declined(uri)
        if not self.version:
            if (prefix, lower) == (None, "http://my.netscape.com/rdf/simple/0.9/"):
                self.version = "rss090"
            else:
                self.version = {"http://purl.org/rss/1.0/": "rss10", "http://www.w3.org/2005/atom": "atom10"}.get(lower, "")
        if "backend.userland.com/rss" in lower:
            uri = lower = "http://backend.userland.com/rss"
        self.names.clear()  # element names may read differently from now on
        if lower in NAMESPACES:
            self.namespacemap[prefix] = NAMESPACES[lower]
            self.in_use[NAMESPACES[lower]] = uri
        else:
            self.in_use[prefix or ""] = uri

    def _key(self, name: str) -> tuple[str, str, bool]:
        """feedparser's tag for an element, the name of its rule, and whether it is prefixed. (Its
        endElementNS does not map backend.userland.com namespaces as startElementNS does, to the
        same effect: either way they are the default RSS namespace, named by no prefix.)"""
        parts = name.split()
        namespace, local = (None, name) if len(parts) == 1 else (parts[0], parts[1])
        lower = (namespace or "").lower()
        if "backend.userland.com/rss" in lower:
            namespace = lower = "http://backend.userland.com/rss"
        prefix = NAMESPACES.get(lower)
        if prefix:
            local = prefix + ":" + local
        elif namespace:
            local = next((key + ":" + local for key, value in self.in_use.items() if key and value == namespace), local)
        tag = local.lower()
        prefix, suffix = tag.split(":", 1) if ":" in tag else ("", tag)
        prefix = self.namespacemap.get(prefix, prefix)
        return tag, (prefix + "_" + suffix if prefix else suffix), bool(prefix)

    def start(self, name: str, attrs: dict) -> None:
        if self.leaf and not self.incontent:
            raise Declined("an element inside a text element")
        tag, key, prefixed = self.names.get(name) or self.names.setdefault(name, self._key(name))
        if (self.inimage or self.intextinput) and key not in IMAGE_PARTS:
            raise Declined(f"<{tag}> inside an image")
        attrs_d = _attributes(attrs) if attrs else {}
        given = attrs_d.get("xml:base", attrs_d.get("base")) if attrs_d else None
        if given:  # as feedparser's unknown_starttag: an absolute URI of an accepted scheme
            base = (urls.make_safe_absolute_uri(self.base, given) or self.base) if self.base else urls._urljoin("", given)
            if not base or (urls.make_safe_absolute_uri(base, base) or base) != base:
                raise Declined("an xml:base feedparser would change on every element")
            self.base = base
        self.bases.append(self.base)
        self.depth += 1
        if self.depth == 1 and tag not in ("rss", "feed", "rdf:rdf"):
            raise Declined("not a feed")
        if self.incontent:
            return self.start_inline(tag, attrs_d)
        if not prefixed and tag not in ("title", "link", "description", "name"):
            self.intextinput = 0
        if not prefixed and tag not in ("title", "link", "description", "url", "href", "width", "height"):
            self.inimage = 0
        rule = self.starts.get(key)
        if rule is not None:
            rule(self, attrs_d)
        elif key not in self.ends and _has_rule(key):
            raise Declined(f"<{tag}>: feedparser has a rule for it that is not ported")
        elif not attrs_d:
            self.stack.append([key, 1, []])
        else:
            _store(self.context(), key, attrs_d)

    def end(self, name: str) -> None:
        tag, key, _prefixed = self.names.get(name) or self.names.setdefault(name, self._key(name))
        if self.inline:
            self.end_inline(tag, key)
        else:
            rule = self.ends.get(key)
            if rule is not None:
                rule(self)
            else:
                self.pop(key)
            if self.incontent:
                raise Declined("an element inside a text element")
        if self.leaf == self.depth:
            self.leaf = 0
        self.depth -= 1
        bases = self.bases  # the element's xml:base goes out of scope (feedparser's unknown_endtag)
        bases.pop()
        if bases and bases[-1]:
            self.base = bases[-1]

    def data(self, text: str) -> None:
        if self.stack:
            self.stack[-1][2].append(escape(text) if self.ctype == XHTML else text)

    # markup inside a text element (feedparser's unknown_starttag and unknown_endtag, `incontent`)

    def start_inline(self, tag: str, attrs: dict) -> None:
        """An element inside a text element: its content is XHTML (declared so, or, in a text or
        HTML element, from now on: feedparser takes it as such), the element written into it as
        markup; no rule of its own runs."""
        if not self.ctype.endswith("xml"):
            if tag in ("xhtml:div", "div"):  # feedparser drops it and never closes it (typepad, 2007)
                raise Declined("a div in HTML content")
            self.ctype = XHTML
        if self.ctype != XHTML:
            raise Declined(f"an element inside content of type {self.ctype}")
        local = tag.split(":", 1)[1] if ":" in tag else tag
        if local in ("svg", "math"):
            raise Declined(f"inline {local}")
        self.inline += 1
        attributes = "".join(f' {name}="{escape(value, QUOTE)}"' for name, value in attrs.items())
        self.stack[-1][2].append(f"<{local}{attributes}>")

    def end_inline(self, tag: str, key: str) -> None:
        """The end of an element inside a text element. feedparser calls the end rule of its name
        first, were there one: such a body declines."""
        if key in self.ends or _has_rule(key):
            raise Declined(f"</{tag}> inside a text element: feedparser has a rule for it")
        self.inline -= 1
        self.stack[-1][2].append(f"</{tag.rsplit(':', 1)[-1]}>")

    def doctype(self, *_args: object) -> None:
        raise Declined("a DTD")

    # feedparser's mixin

    def context(self) -> dict:
        if self.inimage and "image" in self.feed:
            return self.feed["image"]
        if self.intextinput:
            return self.feed["textinput"]
        return self.entries[-1] if self.inentry else self.feed

    def push(self, name: str, expecting: object, leaf: bool = True) -> None:
        self.stack.append([name, expecting, []])
        if leaf:
            self.leaf = self.depth

    def pop(self, element: str, strip: bool = True) -> str | None:
        stack = self.stack
        if not stack or stack[-1][0] != element:
            return None
        _name, expecting, pieces = stack.pop()
        if self.version == "atom10" and self.ctype == XHTML:
            pieces = _unwrapped(pieces)
        output = "".join(pieces)
        if strip:
            output = output.strip()
        if not expecting:
            return output
        if element in ("author", "publisher") and len(output) > LONG_AUTHOR:
            raise Declined("an author feedparser's e-mail regex takes long on")  # and the sandbox's deadline stops
        if element in RELATIVE and output and (element != "id" or self.guidislink):
            output = self.urljoin(output)
        if not output.isascii():
            try:  # feedparser's repair of UTF-8 read as ISO-8859-1, then its windows-1252 mapping
                output = output.encode("iso-8859-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                pass
            if _C1.search(output):
                output = output.translate(html._cp1252)
        if element in ("category", "tags", "itunes_keywords") or (element == "title" and -1 < self.title_depth <= self.depth):
            return output
        if self.inentry:
            entry = self.entries[-1]
            if element == "content":
                entry.setdefault("content", []).append({"type": self.ctype, "value": output})
            elif element == "link":
                if not self.inimage:
                    entry["link"] = output = _QUERY_FIX.sub(r"&\g<1>", output.replace("&amp;", "&"))
                    if output:
                        entry["links"][-1]["href"] = output
            else:
                element = "summary" if element == "description" else element
                depths = self.depths[-1]
                if depths.get(element) is None or self.depth <= depths[element]:
                    depths[element] = self.depth
                    _store(entry, element, output)
        elif self.infeed:
            context = self.context()
            element = "subtitle" if element == "description" else element
            _store(context, element, output)
            if element == "link":
                context["link"] = output = _QUERY_FIX.sub(r"&\g<1>", output)
                context["links"][-1]["href"] = output
        return output

    def push_content(self, tag: str, attrs: dict, default: str, expecting: object) -> None:
        self.incontent += 1
        ctype = CONTENT_TYPE(attrs.get("type", default))
        if attrs.get("mode", "") == "base64" or not (ctype.startswith("text/") or ctype.endswith(("+xml", "/xml"))):
            raise Declined(f"content of type {ctype}")
        self.ctype = ctype
        self.push(tag, expecting)

    def pop_content(self, tag: str) -> str | None:
        value = self.pop(tag)
        self.incontent -= 1
        self.ctype = None
        return value

    def save(self, key: str, value: object, overwrite: bool = False) -> None:
        _store(self.context(), key, value) if overwrite else self.context().setdefault(key, value)
