"""monitor.fastfeed, the fast path for well-formed feeds: every feed it takes must give the
FeedDocument that feedparser gives (monitor.feeds without the fast path), and it must decline
every feed it is not sure about. Checked (a) on small feeds written for these tests, one per
case worth a look; (b) on feeds generated from those cases' pieces; (c) on every feed of the
shared corpus when NEWSMON_CORPUS points at it, whole and cut by monitor.feedsplit."""

from __future__ import annotations

import json
import random
import time
from xml.parsers import expat

import feedparser
import pytest

from monitor import fastfeed, feeds, feedsplit
from monitor.errors import ParseError
from monitor.model import FeedItems
from conftest import corpus_dir

URL = "https://desk.example.org/feeds/main.xml"
NAMESPACES = ('xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
              'xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom" '
              'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:x="http://unknown.example/ns"')


def both(body: bytes, url: str = URL, content_type: str | None = None) -> tuple[bool, object, object]:
    """Whether the fast path takes `body` (as monitor.feeds gives it to feedparser), and the
    document (or the ParseError's message) that monitor.feeds makes of it with and without it."""
    body, replaced = feeds._utf8(body, content_type)
    try:
        fastfeed.read(body, url, content_type)
        taken = True
    except (fastfeed.Declined, expat.ExpatError):
        taken = False

    def document(fast: bool) -> object:
        try:
            return feeds._parse(body, url, content_type, replaced, fast=fast)
        except ParseError as error:
            return f"ParseError: {error}"
    return taken, document(True), document(False)


def raw(result: dict) -> tuple:
    """What monitor.feeds reads of a feedparser result (or of fastfeed's)."""
    feed = result["feed"]
    entries = [(entry.get("title"), entry.get("link"), entry.get("summary"), entry.get("id"),
                [part.get("value") for part in entry.get("content") or []],
                *(dict.get(entry, key) for key in ("published_parsed", "updated_parsed", "created_parsed")))
               for entry in result["entries"]]
    return feed.get("title"), feed.get("link"), feed.get("ttl"), result.get("version"), str(result.get("bozo_exception") or ""), entries


def feedparser_raw(body: bytes, url: str, content_type: str | None) -> tuple:
    headers = {"content-location": url, **({"content-type": content_type} if content_type else {})}
    return raw(feedparser.parse(body, response_headers=headers, **feeds.FEEDPARSER_OPTIONS))


def check(body: bytes, url: str = URL, content_type: str | None = None) -> bool:
    """Assert the fast path agrees with feedparser on `body`, or declines it; say which."""
    taken, fast, slow = both(body, url, content_type)
    assert fast == slow
    if taken:
        prepared, _replaced = feeds._utf8(body, content_type)
        assert raw(fastfeed.read(prepared, url, content_type)) == feedparser_raw(prepared, url, content_type)
    return taken


def rss(items: str, channel: str = "<title>Desk</title><link>https://desk.example.org/</link>",
        declaration: str = '<?xml version="1.0" encoding="utf-8"?>\n', channel_attributes: str = "") -> bytes:
    return f'{declaration}<rss version="2.0" {NAMESPACES}><channel{channel_attributes}>{channel}{items}</channel></rss>'.encode()


def atom(entries: str, head: str = '<title>Atom Desk</title><link href="https://atom.example.net/"/>',
         feed_attributes: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
            f'xmlns:media="http://search.yahoo.com/mrss/"{feed_attributes}>{head}{entries}</feed>').encode()


# --- (a) small feeds written for these tests ----------------------------------------------------

TAKEN = {
    # any encoding feedparser reads with its strict parser (it converts the body to UTF-8 first)
    "declared ISO-8859-1": (b'<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>Jornal</title>'
                            b'<item><title>S\xe3o Paulo</title><guid>g</guid></item></channel></rss>'),
    "declared windows-1251": ('<?xml version="1.0" encoding="windows-1251"?><rss version="2.0"><channel><title>\u041d\u043e\u0432\u043e\u0441\u0442\u0438</title>'
                              '<item><title>\u041a\u0430\u0431\u0443\u043b</title><guid>g</guid></item></channel></rss>').encode("cp1251"),
    # feedparser's complaint included: "declared as no-such-charset, but parsed as windows-1252"
    "an encoding feedparser does not know": (b'<?xml version="1.0" encoding="no-such-charset"?><rss version="2.0">'
                                             b'<channel><title>Jornal</title><item><title>S\xe3o Paulo</title><guid>g</guid>'
                                             b'</item></channel></rss>'),
    "UTF-16": '<?xml version="1.0" encoding="utf-16"?><rss version="2.0"><channel><title>T</title></channel></rss>'.encode("utf-16"),
    "xml:base on an entry": atom('<entry xml:base="https://elsewhere.example/dir/"><title>B</title><id>i</id>'
                                 '<link href="rel"/><link rel="enclosure" href="../a.mp3"/></entry>'
                                 '<entry><title>C</title><id>j</id><link href="rel"/></entry>'),
    "xml:base on the feed and a relative one on a link": atom(
        '<entry><title>B</title><id>i</id><link xml:base="sub/" href="rel"/><summary>S</summary></entry>',
        feed_attributes=' xml:base="https://base.example/news/"'),
    "xml:base on an RSS channel and item": rss('<item xml:base="https://items.example/x/"><title>T</title>'
                                               '<link>page.html</link><guid isPermaLink="true">g.html</guid></item>',
                                               channel_attributes=' xml:base="https://chan.example/"'),
    "plain RSS": rss("<item><title>Attack on a police post</title><link>https://desk.example.org/a</link>"
                     "<guid>https://desk.example.org/a</guid><description>Three hurt.</description>"
                     "<pubDate>Tue, 06 Jan 2026 09:30:00 +0500</pubDate></item>"),
    "CDATA and HTML": rss("<item><title><![CDATA[Talks <i>resume</i> & stall]]></title><guid isPermaLink='false'>d-1</guid>"
                          "<description><![CDATA[<p>One</p><p>Two &amp; <b>three</b></p><script>x()</script>]]></description></item>"),
    "escaped HTML and entities": rss("<item><title>Rates &amp;amp; prices &lt;b&gt;up&lt;/b&gt; &#8217;24 &#x80;</title>"
                                     "<description>&lt;p&gt;A&amp;nbsp;b&lt;/p&gt; &#38; c</description><guid>g</guid></item>"),
    "relative links": rss("<item><title>Rel</title><link>/2026/01/rel</link></item>"
                          "<item><title>Rel2</title><link>item-2.html</link><guid>also/relative</guid></item>"
                          "<item><title>Permalink guid only</title><guid>/p/3</guid></item>"),
    "query strings": rss("<item><title>Q</title><link>https://desk.example.org/q?a=1&amp;b=2&amp;amp;c=3</link></item>"),
    "missing and odd dates": rss("<item><title>None</title><guid isPermaLink='false'>1</guid></item>"
                                 "<item><title>Odd</title><guid isPermaLink='false'>2</guid><pubDate>not a date</pubDate></item>"
                                 "<item><title>Old</title><guid isPermaLink='false'>3</guid><pubDate>Mon, 01 Jan 1990 00:00:00 GMT</pubDate></item>"
                                 "<item><title>Future</title><guid isPermaLink='false'>4</guid><dc:date>2099-01-01T00:00:00Z</dc:date></item>"
                                 "<item><title>Short</title><guid isPermaLink='false'>5</guid><pubDate>6 Jan 2026 9:30 EST</pubDate></item>"),
    "description and full content": rss("<item><title>Both</title><link>https://d.example/1</link><description>Short.</description>"
                                        "<content:encoded><![CDATA[<p>Long text.</p>]]></content:encoded></item>"
                                        "<item><title>Content first</title><link>https://d.example/2</link><content:encoded>Long</content:encoded>"
                                        "<description>Short</description></item>"
                                        "<item><title>Two descriptions</title><link>https://d.example/3</link><description>One</description>"
                                        "<description>Two</description></item>"),
    "media and itunes": rss("<item><media:title>Media title first</media:title><title>Title</title><link>https://d.example/m</link>"
                            "<media:content url='https://d.example/v.mp4'><media:title>In content</media:title>"
                            "<media:description>Media description</media:description><media:thumbnail url='/t.jpg'/></media:content>"
                            "<itunes:summary>Episode summary</itunes:summary><itunes:explicit>no</itunes:explicit>"
                            "<enclosure url='https://d.example/e.mp3' type='audio/mpeg' length='1'/><image>https://d.example/i.jpg</image></item>",
                            channel="<title>Pod</title><image><url>/logo.png</url><title>Logo</title><link>/</link></image>"
                                    "<itunes:owner><itunes:name>N</itunes:name></itunes:owner><ttl>30</ttl>"
                                    "<itunes:category text='News'><itunes:category text='Politics'/></itunes:category>"),
    "no guid, no link": rss("<item><title>Bare</title><description>Only text</description></item>"
                            "<item><title>Bare</title><description>Only text</description></item>"),
    "duplicate guids": rss("<item><title>First</title><guid>https://d.example/1</guid></item>"
                           "<item><title>Again</title><guid>https://d.example/1</guid></item>"),
    "mojibake feedparser repairs": rss("<item><title>\u00c3\u00a9t\u00c3\u00a9 \u00c2\u00a3</title><guid>g</guid>"
                                       "<description>caf\u00e9 \u09ac\u09be\u0982</description></item>"),
    "unknown namespaces": rss("<item><title>T</title><x:title>Not the title</x:title><x:wrap><title>Deeper</title></x:wrap>"
                              "<x:attr a='1'>text</x:attr><link>https://d.example/u</link></item>"),
    "Atom": atom('<entry><title type="html">Ceasefire &lt;em&gt;talks&lt;/em&gt;</title><id>tag:atom.example.net,2026:1</id>'
                 '<link rel="alternate" href="posts/ceasefire"/><link rel="enclosure" href="/a.mp3"/>'
                 '<published>2026-02-01T08:15:00+05:00</published><updated>2026-02-01T09:00:00Z</updated>'
                 '<summary type="html">&lt;p&gt;Talks resumed.&lt;/p&gt;</summary><content type="html">&lt;p&gt;Full.&lt;/p&gt;</content></entry>'
                 '<entry><title>Id only</title><id>urn:uuid:00000000-0000-4000-8000-000000000002</id><summary>S</summary></entry>'
                 '<entry><title>Self link</title><id>tag:x,1:3</id><link rel="self" href="https://atom.example.net/3"/>'
                 '<content>Only content</content><media:group><media:title>M</media:title></media:group></entry>'),
    "RDF": (b'<?xml version="1.0" encoding="utf-8"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            b'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel rdf:about="https://r.example/">'
            b'<title>RDF Desk</title><link>https://r.example/</link><items><rdf:Seq><rdf:li rdf:resource="https://r.example/a1"/>'
            b'</rdf:Seq></items></channel><item rdf:about="https://r.example/a1"><title>RDF item</title><link>https://r.example/a1</link>'
            b'<dc:date>2026-03-04T05:06:07+01:00</dc:date></item></rdf:RDF>'),
    "a byte order mark": b"\xef\xbb\xbf" + rss("<item><title>BOM</title><guid>g</guid></item>"),
    "ASCII declared as windows-1252": rss("<item><title>Plain &#233;</title><guid>g</guid></item>",
                                          declaration='<?xml version="1.0" encoding="windows-1252"?>'),
    "an empty feed": rss(""),
    # markup inside text elements: XHTML, written back as feedparser writes it
    "HTML not escaped": rss("<item><title>T</title><description><p>Para <b>bold</b> &amp; <a href='/x?a=1&amp;b=2' "
                            "title='say \"hi\"'>link</a><br/></p> tail &lt; 3</description><link>https://d.example/t</link></item>"
                            "<item><title>Second</title><description>Plain &amp; simple</description></item>"),
    "XHTML content": atom('<entry><title>X</title><id>i</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                          '<p>Hi <em>there</em> &amp; "you" &gt; me</p><img src="/i.png" alt="a &lt; b"/></div></content></entry>'
                          '<entry><title>Two divs</title><id>j</id><content type="xhtml">\n <div xmlns="http://www.w3.org/1999/xhtml">a</div><div xmlns="http://www.w3.org/1999/xhtml">b</div>\n</content></entry>'
                          '<entry><title>No div</title><id>k</id><summary type="xhtml"><p xmlns="http://www.w3.org/1999/xhtml">Only a p</p></summary></entry>'
                          '<entry><title>Nested divs</title><id>l</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><div>in</div><div>'
                          '<![CDATA[<raw> & ]]></div></div></content></entry>'),
    "XHTML titles and a feed subtitle": atom('<entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">A <b>bold</b> title</div></title><id>i</id>'
                                             '<summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">S</div></summary><link href="/a"/></entry>',
                                             head='<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Feed <i>title</i></div></title>'
                                                  '<subtitle type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">Sub</div></subtitle><link href="https://x.example/"/>'),
    "xml:base inside XHTML content": atom('<entry><title>X</title><id>i</id><content type="xhtml" xml:base="/c/">'
                                          '<div xmlns="http://www.w3.org/1999/xhtml" xml:base="https://other.example/" xml:lang="en"><a href="r">r</a></div>'
                                          '</content><link href="after"/></entry>'),
    "HTML not escaped in full content": rss("<item><title>T</title><content:encoded><p>Raw <i>HTML</i></p></content:encoded>"
                                            "<guid>g</guid></item>"),
    "GeoRSS points": atom('<entry xmlns:georss="http://www.georss.org/georss"><title>G</title><id>i</id>'
                          '<georss:point>33.6 73.1</georss:point><georss:box>1 2 3 4</georss:box><summary>S</summary></entry>'
                          '<entry xmlns:georss="http://www.georss.org/georss"><title>Bad point</title><id>j</id>'
                          '<georss:point>not numbers</georss:point><link href="/b"/></entry>'),
}

DECLINED = {
    "malformed": rss("<item><title>Unclosed</item>"),
    "space before the declaration": b"\n\n" + rss("<item><title>T</title></item>"),
    "undefined entity": rss("<item><title>A&nbsp;B</title></item>"),
    "a DTD with entities": (b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY who "World">]>\n'
                            b'<rss version="2.0"><channel><title>Hello &who;</title></channel></rss>'),
    "a div in HTML content (feedparser drops it and never closes it)": rss(
        "<item><title>T</title><description><div>Para <b>bold</b></div></description><link>https://d.example/t</link></item>"),
    "inline SVG": atom('<entry><title>X</title><id>i</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                       '<svg width="1"><circle r="1"/></svg></div></content></entry>'),
    "an element of another XML type of content": atom('<entry><title>X</title><id>i</id><content type="application/xml">'
                                                     '<doc><p>Hi</p></doc></content></entry>'),
    "an element in content whose end feedparser has a rule for": rss(
        "<item><title>T</title><description>Text <source>s</source> more</description></item>"),
    "base64 content": atom('<entry><title>B</title><id>i</id><content type="application/octet-stream">aGk=</content></entry>'),
    "a rule not ported": rss("<item><title>T</title><source url='https://s.example/'>Source</source></item>"),
    "an author feedparser's e-mail regex is slow on": rss("<item><title>T</title><author>" + "a" * 5000 + "</author></item>"),
    "an HTML page": b"<html><head><title>Moved</title></head><body>Gone</body></html>",
    "XHTML page": b'<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
}


@pytest.mark.parametrize("name", TAKEN)
def test_the_fast_path_takes_well_formed_feeds_and_gives_feedparsers_document(name):
    assert check(TAKEN[name]), f"{name}: declined"


@pytest.mark.parametrize("name", DECLINED)
def test_the_fast_path_declines_what_it_is_not_sure_about(name):
    assert not check(DECLINED[name]), f"{name}: taken"


@pytest.mark.parametrize("content_type", [None, "application/rss+xml", "application/rss+xml; charset=UTF-8", "text/xml",
                                          "text/html; charset=utf-8", "application/octet-stream"])
def test_the_content_type_counts_as_it_does_for_feedparser(content_type):
    """The charset it names (or RFC 3023's default) and feedparser's complaint about it (the
    document's `bozo`) come out the same."""
    check(TAKEN["plain RSS"], content_type=content_type)
    check(TAKEN["mojibake feedparser repairs"], content_type=content_type)
    assert check(TAKEN["declared ISO-8859-1"], content_type=content_type)


def test_feed_urls_that_feedparser_would_not_use_as_a_base():
    for url in ("", "ftp://files.example/feed.xml", "javascript:alert(1)", "https://host.example//double//slash", "relative/feed.xml"):
        check(TAKEN["relative links"], url)


def test_a_hostile_body_is_declined_without_expanding_it():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((98 + n,) + (97 + n,) * 10) for n in range(9))
        + b']><rss version="2.0"><channel><title>&j;</title></channel></rss>')
    started = time.process_time()
    assert fastfeed.parse(laughs, URL) is None  # expat meets the DTD (feedparser's replace_doctype does not see it)
    assert fastfeed.parse(laughs.replace(b"?><!DOCTYPE", b"?>\n<!DOCTYPE"), URL) is None  # replace_doctype does
    assert time.process_time() - started < 0.5
    deep = rss("<item><title>Deep</title>" + "<x:a>" * 5000 + "text" + "</x:a>" * 5000 + "</item>")
    check(deep)


# --- (b) feeds made of those pieces -------------------------------------------------------------

TEXTS = ["Plain", "  spaced  ", "", "A &amp; B", "&lt;b&gt;bold&lt;/b&gt;", "<![CDATA[<i>c</i> & d]]>", "caf\u00e9",
         "\u00c3\u00a9t\u00c3\u00a9", "&#x80;&#150;", "&#8217;", "x &amp;amp; y", "\u09ac\u09be\u0982\u09b2\u09be", "&lt;p&gt;1&lt;/p&gt;&lt;p&gt;2"]
LINKS = ["https://ex.org/a", "/rel/path", "rel2.html", "  https://ex.org/sp  ", "https://ex.org/q?a=1&amp;b=2", "",
         "javascript:alert(1)", "//proto.example/x", "https://ex.org/\u00e9", "tag:ex.org,2020:1", "#frag"]
DATES = ["Tue, 06 Jan 2026 09:30:00 +0500", "2026-01-06T09:30:00Z", "2026-01-06", "not a date", "", "2099-01-01T00:00:00Z"]
ITEM_PARTS = [
    "<title>{t}</title>", "<link>{l}</link>", "<description>{t}</description>", "<content:encoded>{t}</content:encoded>",
    "<guid>{l}</guid>", "<guid isPermaLink='false'>{l}</guid>", "<guid isPermaLink='False'>{l}</guid>", "<pubDate>{d}</pubDate>",
    "<dc:date>{d}</dc:date>", "<updated>{d}</updated>", "<media:title>{t}</media:title>", "<media:description>{t}</media:description>",
    "<media:content url='{l}'><media:title>{t}</media:title><media:description>{t}</media:description></media:content>",
    "<enclosure url='{l}' length='1' type='audio/mpeg'/>", "<category>{t}</category>", "<dc:creator>{t}</dc:creator>",
    "<itunes:summary>{t}</itunes:summary>", "<summary>{t}</summary>", "<content>{t}</content>", "<id>{l}</id>",
    "<atom:link href='{l}' rel='alternate'/>", "<atom:link href='{l}' rel='self'/>", "<atom:link href='{l}'/>",
    "<x:wrap><title>{t}</title><link>{l}</link></x:wrap>", "<x:attr a='1'><title>{t}</title></x:attr>", "stray {t}",
    "<image>{l}</image>", "<itunes:image href='{l}'/>", "<link/>", "<title/>", "<dc:title>{t}</dc:title>",
]
ENTRY_PARTS = [
    "<title>{t}</title>", "<title type='html'>{t}</title>", "<link href='{l}'/>", "<link rel='alternate' type='text/html' href='{l}'/>",
    "<link rel='related' href='{l}'/>", "<link rel='ALTERNATE' type='HTML' href='{l}'/>", "<link>{l}</link>", "<id>{l}</id>",
    "<summary>{t}</summary>", "<summary type='html'>{t}</summary>", "<content type='html'>{t}</content>", "<content src='{l}'/>",
    "<content type='text'>{t}</content><title>{t}</title>", "<published>{d}</published>", "<updated>{d}</updated>",
    "<author><name>{t}</name><uri>{l}</uri></author>", "<media:group><media:title>{t}</media:title></media:group>",
]


def generated(seed: int) -> tuple[bytes, str, str | None]:
    pick = random.Random(seed)

    def parts(pieces: list[str], most: int) -> str:
        return "".join(pick.choice(pieces).format(t=pick.choice(TEXTS), l=pick.choice(LINKS), d=pick.choice(DATES))
                       for _ in range(pick.randint(0, most)))
    channel = parts(["<title>{t}</title>", "<link>{l}</link>", "<description>{t}</description>", "<ttl>{t}60</ttl>",
                     "<image><url>{l}</url><title>{t}</title><link>{l}</link></image>", "<atom:link href='{l}' rel='self'/>",
                     "<textInput><title>{t}</title><name>q</name><link>{l}</link></textInput>"], 5)
    if pick.random() < 0.6:
        items = "".join(f"<item>{parts(ITEM_PARTS, 9)}</item>" for _ in range(pick.randint(0, 4)))
        body = rss(items, channel)
    else:
        body = atom("".join(f"<entry>{parts(ENTRY_PARTS, 8)}</entry>" for _ in range(pick.randint(0, 4))), parts(
            ["<title>{t}</title>", "<link href='{l}'/>", "<subtitle>{t}</subtitle>", "<id>{l}</id>"], 4))
    return body, pick.choice([URL, "http://h.example/", ""]), pick.choice([None, "application/rss+xml", "text/xml; charset=utf-8"])


def test_generated_feeds_give_feedparsers_document():
    taken = sum(check(*generated(seed)) for seed in range(400))
    assert taken >= 300, taken


XHTML_NS = "http://www.w3.org/1999/xhtml"
INLINE = ["p", "b", "i", "a", "span", "em", "br", "img", "div", "ul", "li", "table", "td", "h2", "xhtml:p"]
ATTRIBUTES = ["", " href='/rel?a=1&amp;b=2'", ' title=\'say "hi" &lt;b&gt;\'', " class='X Y'", " TYPE='Text/HTML' REL='Next'",
              " xml:base='https://based.example/dir/'", " xml:lang='ur'", " src='img.png' alt=''"]


def markup(pick: random.Random, depth: int = 0) -> str:
    """A random run of text and elements, as markup inside a text element may be."""
    out = []
    for _ in range(pick.randint(0, 4)):
        if depth < 3 and pick.random() < 0.45:
            tag = pick.choice(INLINE)
            declared = f" xmlns:xhtml='{XHTML_NS}'" if tag.startswith("xhtml:") else ""
            out.append(f"<{tag}{declared}{pick.choice(ATTRIBUTES)}>{markup(pick, depth + 1)}</{tag}>")
        else:
            out.append(pick.choice(TEXTS + ["  ", "\n", " &lt;x&gt; ", "&amp;", "\u00e9t\u00e9"]))
    return "".join(out)


def generated_markup(seed: int) -> bytes:
    pick = random.Random(seed)

    def wrapped() -> str:  # an Atom XHTML text: mostly one <div> in the XHTML namespace, around all of it
        inner = markup(pick)
        shape = pick.random()
        if shape < 0.6:
            return f"{pick.choice(['', ' ', chr(10)])}<div xmlns='{XHTML_NS}'{pick.choice(ATTRIBUTES)}>{inner}</div>{pick.choice(['', chr(10)])}"
        if shape < 0.8:
            return f"<div xmlns='{XHTML_NS}'>{inner}</div><div xmlns='{XHTML_NS}'>{markup(pick)}</div>"
        return f"<p xmlns='{XHTML_NS}'>{inner}</p>"
    if pick.random() < 0.4:
        part = pick.choice(["<description>{m}</description>", "<content:encoded>{m}</content:encoded>", "<title>{m}</title>"])
        items = "".join(f"<item><guid>g{n}</guid>{part.format(m=markup(pick))}<link>https://d.example/{n}</link></item>"
                        for n in range(pick.randint(1, 3)))
        return rss(items)
    part = pick.choice(["<content type='xhtml'{a}>{m}</content>", "<summary type='xhtml'{a}>{m}</summary>",
                        "<title type='xhtml'{a}>{m}</title>", "<content type='html'>{m}</content>", "<content>{m}</content>"])
    bases = ["", " xml:base='/c/'"]
    entries = "".join(f"<entry><id>e{n}</id>{part.format(a=pick.choice(bases), m=wrapped())}"
                      f"<link href='l{n}'/></entry>" for n in range(pick.randint(1, 3)))
    head = pick.choice(["<title>T</title>", f"<title type='xhtml'>{wrapped()}</title><subtitle type='xhtml'>{wrapped()}</subtitle>"])
    body = atom(entries, head)
    return body.replace(b'xmlns="http://www.w3.org/2005/Atom"', b'version="0.3" xmlns="http://purl.org/atom/ns#"') \
        if pick.random() < 0.15 else body


def test_markup_inside_text_elements_gives_feedparsers_document():
    """XHTML text (declared so in Atom, or HTML not escaped in RSS, which feedparser then reads
    as XHTML) is written back as feedparser writes it: random elements, attributes, escapes,
    bases and wrapping <div>s."""
    taken = sum(check(generated_markup(seed)) for seed in range(500))
    assert taken >= 350, taken


# --- (c) the shared corpus (its MANIFEST.md describes it; feeds/feeds_index.json lists each file) -------

def corpus_feeds() -> list[tuple[str, bytes]]:
    root = corpus_dir()
    index = root / "feeds" / "feeds_index.json" if root else None
    if index is None or not index.is_file():
        pytest.skip("NEWSMON_CORPUS is unset or has no feeds/feeds_index.json")
    listed = [row["file"] for row in json.loads(index.read_text(encoding="utf-8"))]
    on_disk = {str(path.relative_to(root / "feeds")) for path in (root / "feeds").glob("*/*") if path.is_file()}
    assert set(listed) == on_disk - {"feeds_index.json"} and listed
    return [(name, (root / "feeds" / name).read_bytes()) for name in listed]


@pytest.mark.parametrize("content_type", [None, "application/rss+xml; charset=utf-8"])
def test_corpus_every_feed_the_fast_path_takes_is_feedparsers_document(content_type):
    """Without a Content-Type (feedparser then reads a body without a declared encoding as
    ISO-8859-1, and so does the fast path) and with one naming UTF-8, as most servers send."""
    xml = [(name, body) for name, body in corpus_feeds() if not feeds._is_json(body)]
    taken, taken_bytes, differ = [], 0, []
    for name, body in xml:
        url = f"https://corpus.example/{name}"
        prepared, _replaced = feeds._utf8(body, content_type)
        try:
            fastfeed.read(prepared, url, content_type)
        except (fastfeed.Declined, expat.ExpatError):
            continue  # anything else is a bug in the fast path, raised here
        is_taken, fast, slow = both(body, url, content_type)
        assert is_taken
        taken.append(name)
        taken_bytes += len(body)
        if fast != slow or raw(fastfeed.read(prepared, url, content_type)) != feedparser_raw(prepared, url, content_type):
            differ.append(name)
    assert not differ, differ
    share, byte_share = len(taken) / len(xml), taken_bytes / sum(len(body) for _name, body in xml)
    print(f"fast path ({content_type}): {len(taken)} of {len(xml)} XML feeds ({share:.0%}), {byte_share:.0%} of their bytes")
    assert share >= 0.8 and byte_share >= 0.85, (len(taken), len(xml), byte_share)


def test_corpus_feedsplits_partial_documents_are_feedparsers_too():
    """parse_changed parses a feed's head, its new items and its tail: the fast path reads
    that as feedparser does."""
    url = "https://corpus.example/feed.xml"
    cut_feeds, taken = 0, 0
    for _name, body in corpus_feeds():
        prepared, replaced = feeds._utf8(body, None)
        cut = feedsplit.split(prepared)
        if cut is None or len(cut.items) < 3:
            continue
        cut_feeds += 1
        digests = frozenset(feedsplit.item_digest(item) for item in cut.items[2:])
        previous = FeedItems(feedsplit.context(cut, url, None), digests, len(cut.items) - 2)
        part, _items = feedsplit.changed(prepared, url, None, previous)
        assert len(part) < len(prepared)
        try:
            expected = feeds._parse(part, url, None, replaced, fast=False)
        except ParseError:
            continue
        assert feeds.parse_changed(body, url, None, previous)[0] == expected
        taken += fastfeed.parse(part, url, None) is not None
    assert cut_feeds >= 100 and taken >= 50, (cut_feeds, taken)
