"""What each element's start and end do, as feedparser's rules (its `_start_*` and `_end_*`
methods) do for the elements the fast path reads: START and END, element -> function of the
reader (and of the element's attributes, for a start)."""

from __future__ import annotations

from monitor.fastfeed.reader import Reader


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
                end[name] = (lambda reader, pushed=pushed: reader.end_date(pushed)) if "date" in flags else (
                    lambda reader, pushed=pushed: reader.pop(pushed))
    for name, strip in (("itunes_keywords", True), ("media_keywords", True), ("itunes_explicit", False), ("itunes_block", False)):
        end[name] = lambda reader, name=name, strip=strip: reader.pop(name, strip)  # their start is feedparser's default
    for kind in ("rss", "channel", "feed"):
        start[kind] = lambda reader, attrs, kind=kind: reader.start_feed(attrs, kind)
    end["channel"] = end["feed"] = lambda reader: (setattr(reader, "infeed", 0), setattr(reader, "channel", 0))
    start["item"] = start["entry"] = Reader.start_item
    end["item"] = end["entry"] = lambda reader: (reader.pop("item"), setattr(reader, "inentry", 0), setattr(reader, "has_content", 0))
    for kind in ("image", "textinput"):
        start[kind] = lambda reader, attrs, kind=kind: reader.start_image(attrs, kind)
        end[kind] = lambda reader, kind=kind: (reader.pop(kind), setattr(reader, "in" + kind, 0))
    for name in ("title", "dc_title", "media_title"):
        start[name] = lambda reader, attrs: reader.push_content("title", attrs, "text/plain", reader.infeed or reader.inentry)
        end[name] = lambda reader, media=name == "media_title": reader.end_title(media)
    for name in ("description", "dc_description", "media_description", "summary", "itunes_summary"):
        start[name] = lambda reader, attrs, summary="summary" in name: reader.start_description(attrs, summary)
        end[name] = Reader.end_description
    start["content"], start["content_encoded"] = Reader.start_content, lambda reader, attrs: reader.start_content(attrs, "text/html")
    end["content"] = end["content_encoded"] = Reader.end_content
    start["link"], end["link"] = Reader.start_link, lambda reader: reader.pop("link")
    start["guid"] = start["id"] = lambda reader, attrs: (setattr(reader, "guidislink", attrs.get("ispermalink", "true") == "true"),
                                                         reader.push("id", 1))
    end["guid"] = end["id"] = Reader.end_guid
    start["itunes_image"] = start["itunes_link"] = Reader.start_itunes_image
    start["psc_chapters"], end["psc_chapters"] = Reader.start_psc_chapters, lambda reader: setattr(reader, "chapters", False)
    start["enclosure"] = lambda reader, attrs: reader.start_kept("links", dict(attrs, rel="enclosure"))
    start["media_content"] = lambda reader, attrs: reader.start_kept("media_content", attrs, leaf=False)
    for name in ("cloud", "psc_chapter"):
        start[name] = lambda reader, attrs, name=name: reader.start_kept(name, attrs)
    start["media_group"] = lambda reader, attrs: None
    return start, end


START, END = _rules()
