"""What each element's start and end do, as feedparser's rules (its `_start_*` and `_end_*`
methods) do for the elements the fast path reads: START and END, element -> function of the
reader (and of the element's attributes, for a start). The reader (monitor.fastfeed.reader) is
feedparser's parser around them: its events, element stack, text and content handling."""

from __future__ import annotations

from feedparser import datetimes

from monitor.fastfeed.reader import CONTENT_TYPE, HTML_TYPES, Declined, Reader


# Elements whose rule only pushes their text (or not even that) under a name monitor.feeds does
# not read: "names = what is pushed", then "quiet" (not expecting text), "holds" (may hold other
# elements), "text" (feedparser's push_content: text/plain by default), "date" (its *_parsed too).
PUSHED = """
pubdate published issued dcterms_issued = published date
created dcterms_created = created date
updated modified lastbuilddate dc_date dcterms_modified = updated date
language dc_language = language
generator = generator
width = width quiet
height = height quiet
name itunes_name = name quiet
email itunes_email = email quiet
url homepage uri = href
author managingeditor dc_author dc_creator itunes_author = author holds
webmaster dc_publisher = publisher
itunes_owner = publisher quiet holds
contributor = contributor quiet holds
category keywords dc_subject media_category = category
itunes_category = category holds
media_thumbnail = url
media_credit = credit
media_player = media_player quiet
subtitle tagline itunes_subtitle = subtitle text
rights copyright dc_rights = rights text
info feedburner_browserfriendly = info text
georss_point georss_line georss_polygon georss_box = geometry quiet
"""


# the rules (feedparser.namespaces._base, and what its dc, itunes, mediarss and psc modules add)


def start_feed(reader: Reader, attrs: dict, kind: str) -> None:
    if kind == "rss":
        if not reader.version.startswith("rss"):
            given = attrs.get("version", "")
            known = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
            reader.version = known.get(given) or ("rss20" if given.startswith("2.") else "rss")
        return
    if kind == "channel" and ("lastmod" in attrs or "href" in attrs):
        raise Declined("CDF attributes")
    if kind == "feed" and not reader.version:
        reader.version = {"0.1": "atom01", "0.2": "atom02", "0.3": "atom03"}.get(attrs.get("version"), "atom")
    reader.infeed, reader.channel = 1, reader.depth


def start_item(reader: Reader, attrs: dict) -> None:
    if reader.depth - 1 not in (1, reader.channel) or "lastmod" in attrs or "href" in attrs:
        raise Declined("an item elsewhere than in the feed or its channel")
    reader.entries.append({})
    reader.depths.append({})
    reader.push("item", 0, leaf=False)
    reader.inentry, reader.guidislink, reader.title_depth = 1, False, -1
    about = attrs.get(reader.namespacemap.get("rdf", "rdf") + ":about")
    if about:
        reader.entries[-1]["id"] = about


def start_image(reader: Reader, attrs: dict, kind: str = "image") -> None:
    if reader.inentry and kind == "image":  # an item's <image>URL</image>: what it holds is not kept
        reader.inimage, reader.title_depth = 1, -1
        return reader.push("image", 0)
    if reader.inentry or reader.depth - 1 not in (1, reader.channel):
        raise Declined("an image elsewhere than in the feed or its channel")
    reader.feed.setdefault(kind, {})
    setattr(reader, "in" + kind, 1)
    reader.title_depth = -1
    reader.push(kind, 0, leaf=False)


def end_title(reader: Reader, media: bool = False) -> None:
    title_depth = reader.title_depth
    if reader.pop_content("title"):
        reader.title_depth = reader.depth
    if media:
        reader.title_depth = title_depth


def start_description(reader: Reader, attrs: dict, summary: bool = False) -> None:
    if "summary" in reader.context() and not reader.has_content:
        reader.summary_key = "content"
        start_content(reader, attrs)
    elif summary:
        reader.summary_key = "summary"
        reader.push_content("summary", attrs, "text/plain", 1)
    else:
        reader.push_content("description", attrs, "text/html", reader.infeed or reader.inentry)


def end_description(reader: Reader) -> None:
    if reader.summary_key == "content":
        end_content(reader)
    else:
        reader.pop_content(reader.summary_key or "description")
    reader.summary_key = None


def start_content(reader: Reader, attrs: dict, default: str = "text/plain") -> None:
    reader.has_content = 1
    reader.push_content("content", attrs, default, 1)
    if default == "text/plain":  # feedparser's _start_content pushes "content" twice, and pops once
        reader.stack.insert(-1, ["content", 1, []])


def end_content(reader: Reader) -> None:
    if reader.ctype is None:
        raise Declined("content without a type")
    summary = reader.ctype in HTML_TYPES or reader.ctype == "text/plain"
    value = reader.pop_content("content")
    if summary:
        reader.save("summary", value)


def start_link(reader: Reader, attrs: dict) -> None:
    attrs.setdefault("rel", "alternate")
    attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
    context = reader.context()
    href = attrs.get("url", attrs.get("uri", attrs.get("href", None)))
    if href:
        attrs.pop("url", None)
        attrs.pop("uri", None)
        attrs["href"] = href
    if "href" in attrs:
        attrs["href"] = reader.urljoin(attrs["href"])
    links = context.setdefault("links", [])
    if not (reader.inentry and reader.inimage):
        links.append(attrs)
    if "href" not in attrs:
        return reader.push("link", reader.infeed or reader.inentry)
    if attrs.get("rel") == "alternate" and CONTENT_TYPE(attrs.get("type")) in HTML_TYPES:
        context["link"] = attrs["href"]
    reader.leaf = reader.depth


def end_guid(reader: Reader) -> None:
    value = reader.pop("id")
    reader.save("guidislink", reader.guidislink and "link" not in reader.context())
    if reader.guidislink:
        reader.save("link", value)


def end_date(reader: Reader, name: str) -> None:
    reader.save(name + "_parsed", datetimes._parse_date(reader.pop(name)), overwrite=True)


def start_itunes_image(reader: Reader, attrs: dict) -> None:
    reader.push("itunes_image", 0)
    href = attrs.get("href") or attrs.get("url")
    if href:
        reader.context()["image"] = {"href": href}


def start_psc_chapters(reader: Reader, attrs: dict) -> None:
    context = reader.context()
    if "psc_chapters" not in context:
        reader.chapters = True
        context["psc_chapters"] = {"chapters": []}


def start_kept(reader: Reader, key: str, attrs: dict, leaf: bool = True) -> None:
    """An element feedparser keeps as its attributes (in a list, or for "cloud" alone), not pushed."""
    if key == "psc_chapter":
        if reader.chapters and (attrs.get("start") is None or "psc_chapters" not in reader.context()):
            raise Declined("a chapter feedparser fails on")
    elif key == "cloud":
        reader.context()["cloud"] = attrs
    else:
        reader.context().setdefault(key, []).append(attrs)
    if leaf:
        reader.leaf = reader.depth


def _rules() -> tuple[dict, dict]:
    start, end = {}, {}
    for line in PUSHED.strip().splitlines():
        names, _, what = line.partition(" = ")
        pushed, *flags = what.split()
        for name in names.split():
            if "text" in flags:
                start[name] = lambda reader, attrs, pushed=pushed: reader.push_content(pushed, attrs, "text/plain", 1)
                end[name] = lambda reader, pushed=pushed: reader.pop_content(pushed)
            else:
                expecting, leaf = int("quiet" not in flags), "holds" not in flags
                start[name] = lambda reader, attrs, pushed=pushed, expecting=expecting, leaf=leaf: reader.push(pushed, expecting, leaf)
                end[name] = (lambda reader, pushed=pushed: end_date(reader, pushed)) if "date" in flags else (
                    lambda reader, pushed=pushed: reader.pop(pushed))
    for name, strip in (("itunes_keywords", True), ("media_keywords", True), ("itunes_explicit", False), ("itunes_block", False)):
        end[name] = lambda reader, name=name, strip=strip: reader.pop(name, strip)  # their start is feedparser's default
    for kind in ("rss", "channel", "feed"):
        start[kind] = lambda reader, attrs, kind=kind: start_feed(reader, attrs, kind)
    end["channel"] = end["feed"] = lambda reader: (setattr(reader, "infeed", 0), setattr(reader, "channel", 0))
    start["item"] = start["entry"] = start_item
    end["item"] = end["entry"] = lambda reader: (reader.pop("item"), setattr(reader, "inentry", 0), setattr(reader, "has_content", 0))
    for kind in ("image", "textinput"):
        start[kind] = lambda reader, attrs, kind=kind: start_image(reader, attrs, kind)
        end[kind] = lambda reader, kind=kind: (reader.pop(kind), setattr(reader, "in" + kind, 0))
    for name in ("title", "dc_title", "media_title"):
        start[name] = lambda reader, attrs: reader.push_content("title", attrs, "text/plain", reader.infeed or reader.inentry)
        end[name] = lambda reader, media=name == "media_title": end_title(reader, media)
    for name in ("description", "dc_description", "media_description", "summary", "itunes_summary"):
        start[name] = lambda reader, attrs, summary="summary" in name: start_description(reader, attrs, summary)
        end[name] = end_description
    start["content"], start["content_encoded"] = start_content, lambda reader, attrs: start_content(reader, attrs, "text/html")
    end["content"] = end["content_encoded"] = end_content
    start["link"], end["link"] = start_link, lambda reader: reader.pop("link")
    start["guid"] = start["id"] = lambda reader, attrs: (setattr(reader, "guidislink", attrs.get("ispermalink", "true") == "true"),
                                                         reader.push("id", 1))
    end["guid"] = end["id"] = end_guid
    start["itunes_image"] = start["itunes_link"] = start_itunes_image
    start["psc_chapters"], end["psc_chapters"] = start_psc_chapters, lambda reader: setattr(reader, "chapters", False)
    start["enclosure"] = lambda reader, attrs: start_kept(reader, "links", dict(attrs, rel="enclosure"))
    start["media_content"] = lambda reader, attrs: start_kept(reader, "media_content", attrs, leaf=False)
    for name in ("cloud", "psc_chapter"):
        start[name] = lambda reader, attrs, name=name: start_kept(reader, name, attrs)
    start["media_group"] = lambda reader, attrs: None
    return start, end


START, END = _rules()
