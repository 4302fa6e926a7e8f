"""monitor.feeds.parse: (a) small feeds written for these tests, one per format; (b) every
feed of the shared corpus when NEWSMON_CORPUS points at it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor import fastfeed
from monitor import feeds as feeds_module
from monitor.errors import ParseError
from monitor.feeds import html_to_text, parse
from monitor.model import Entry, FeedDocument
from conftest import corpus_dir

UTC = timezone.utc


def assert_utc(value: datetime | None, expected: datetime) -> None:
    assert value is not None
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)
    assert value == expected


# --- fixtures, written for these tests -------------------------------------------------------

RSS_URL = "https://frontier.example.org/feeds/main.xml"
RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
<channel>
  <title>Frontier Desk</title>
  <link>https://frontier.example.org/</link>
  <description>Test feed</description>
  <item>
    <title>Attack on police post in Bannu</title>
    <link>/2026/01/bannu-attack</link>
    <guid isPermaLink="false">fd-1001</guid>
    <description>&lt;p&gt;Police said &lt;b&gt;three&lt;/b&gt; men&amp;nbsp;were hurt &amp;amp; taken to hospital.&lt;/p&gt;&lt;p&gt;A second paragraph.&lt;/p&gt;&lt;script&gt;alert("x")&lt;/script&gt;</description>
    <pubDate>Tue, 06 Jan 2026 09:30:00 +0500</pubDate>
  </item>
  <item>
    <title>The same story again</title>
    <link>https://frontier.example.org/2026/01/bannu-attack-update</link>
    <guid isPermaLink="false">fd-1001</guid>
    <description>A repeat of the first guid.</description>
  </item>
  <item>
    <title>No guid here</title>
    <link>https://frontier.example.org/2026/01/no-guid</link>
    <description>Plain text summary.</description>
    <pubDate>Tue, 06 Jan 2026 10:00:00 GMT</pubDate>
  </item>
  <item>
    <title>Relative to the feed folder</title>
    <link>item-4.html</link>
    <pubDate>not a date at all</pubDate>
  </item>
  <item>
    <title><![CDATA[Neither <i>guid</i> nor link]]></title>
    <description><![CDATA[<div>Only <em>text</em> here</div>]]></description>
  </item>
  <item>
    <title>Permalink guid</title>
    <guid>https://frontier.example.org/2026/01/permalink</guid>
  </item>
</channel>
</rss>
"""

ATOM_URL = "https://atom.example.net/blog/feed.atom"
ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">Atom &lt;b&gt;Desk&lt;/b&gt;</title>
  <link rel="alternate" href="https://atom.example.net/"/>
  <id>urn:uuid:00000000-0000-4000-8000-000000000001</id>
  <updated>2026-02-01T12:00:00Z</updated>
  <entry>
    <title type="html">Ceasefire &lt;em&gt;talks&lt;/em&gt; resume</title>
    <id>tag:atom.example.net,2026:1</id>
    <link rel="alternate" href="posts/ceasefire"/>
    <published>2026-02-01T08:15:00+05:00</published>
    <updated>2026-02-01T09:00:00Z</updated>
    <summary type="html">&lt;p&gt;Talks resumed in Doha.&lt;/p&gt;</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Full text, first paragraph.</p><p>Second paragraph.</p></div></content>
  </entry>
  <entry>
    <title>Updated only</title>
    <id>tag:atom.example.net,2026:2</id>
    <link href="https://atom.example.net/elsewhere/2"/>
    <updated>2026-02-02T00:00:00-03:00</updated>
    <summary>Short.</summary>
  </entry>
</feed>
"""

RDF_URL = "https://rdf.example.com/index.rdf"
RDF = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example.com/">
    <title>RDF Desk</title>
    <link>https://rdf.example.com/</link>
    <description>Test feed</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://rdf.example.com/a1"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://rdf.example.com/a1">
    <title>RDF item</title>
    <link>https://rdf.example.com/a1</link>
    <description>Rates &amp;amp; prices &lt;br/&gt;went up.</description>
    <dc:date>2026-03-04T05:06:07+01:00</dc:date>
  </item>
</rdf:RDF>
"""

JSON_URL = "https://json.example.com/feed.json"
JSON_FEED = json.dumps({
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON Desk",
    "home_page_url": "https://json.example.com/",
    "items": [
        {"id": "j1", "url": "https://json.example.com/j1", "title": "First",
         "content_html": "<p>Para <a href='/x'>one</a></p><p>two &amp; three</p>",
         "date_published": "2026-04-05T06:07:08+02:00"},
        {"id": "j1", "url": "https://json.example.com/j1-again", "title": "Duplicate id", "content_text": "dup"},
        {"url": "https://json.example.com/j2", "title": "No id", "content_text": "plain text",
         "summary": "A <b>short</b> summary", "date_modified": "2026-04-06T00:00:00Z"},
        {"title": "Neither id nor url", "content_text": "bare"},
        {"id": "j4", "url": "/relative/j4", "title": "Relative url", "content_text": "rel"},
    ],
}).encode()

LATIN1_RSS = """<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="2.0"><channel><title>Jornal Exemplo</title><link>https://jornal.example.pt/</link>
<item><title>Chuva forte em São Paulo e Peshawar</title><link>https://jornal.example.pt/a</link>
<description>Previsão: mais chuva amanhã.</description></item></channel></rss>
""".encode("latin-1")

HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>Document Moved</title></head>
<body><h1>Object Moved</h1><p>This document may be found <a href="https://example.org/feed">here</a>.</p></body></html>
"""


def by_title(document: FeedDocument) -> dict[str, Entry]:
    return {entry.title: entry for entry in document.entries}


# --- RSS 2.0 ----------------------------------------------------------------------------------

def test_rss_document():
    document = parse(RSS, RSS_URL)
    assert isinstance(document, FeedDocument)
    assert document.title == "Frontier Desk"
    assert document.site_url == "https://frontier.example.org/"
    assert all(isinstance(entry, Entry) for entry in document.entries)


def test_rss_keys_guid_then_link_then_hash():
    entries = by_title(parse(RSS, RSS_URL))
    assert entries["Attack on police post in Bannu"].key == "guid:fd-1001"
    assert entries["No guid here"].key == "link:https://frontier.example.org/2026/01/no-guid"
    assert entries["Relative to the feed folder"].key == "link:https://frontier.example.org/feeds/item-4.html"
    bare = entries["Neither guid nor link"]
    assert bare.key.startswith("hash:") and len(bare.key) > len("hash:") + 8
    assert bare.link is None
    assert entries["Permalink guid"].key == "guid:https://frontier.example.org/2026/01/permalink"


def test_hash_key_is_stable():
    first = by_title(parse(RSS, RSS_URL))["Neither guid nor link"].key
    again = by_title(parse(RSS, RSS_URL))["Neither guid nor link"].key
    assert first == again


def test_rss_duplicate_guid_appears_once():
    document = parse(RSS, RSS_URL)
    keys = [entry.key for entry in document.entries]
    assert len(keys) == len(set(keys))
    assert keys.count("guid:fd-1001") == 1
    assert "The same story again" not in by_title(document)  # the first one wins
    assert len(document.entries) == 5


def test_rss_html_summary_becomes_plain_text():
    entry = by_title(parse(RSS, RSS_URL))["Attack on police post in Bannu"]
    assert entry.summary == "Police said three men were hurt & taken to hospital.\nA second paragraph."
    assert "<" not in entry.summary and "alert" not in entry.summary
    bare = by_title(parse(RSS, RSS_URL))["Neither guid nor link"]
    assert bare.summary == "Only text here"


def test_rss_dates_are_aware_utc():
    entries = by_title(parse(RSS, RSS_URL))
    assert_utc(entries["Attack on police post in Bannu"].published, datetime(2026, 1, 6, 4, 30, tzinfo=UTC))
    assert_utc(entries["No guid here"].published, datetime(2026, 1, 6, 10, 0, tzinfo=UTC))
    assert entries["Relative to the feed folder"].published is None  # unparseable date


def test_rss_relative_links_resolve_against_feed_url():
    entries = by_title(parse(RSS, RSS_URL))
    assert entries["Attack on police post in Bannu"].link == "https://frontier.example.org/2026/01/bannu-attack"
    assert entries["Relative to the feed folder"].link == "https://frontier.example.org/feeds/item-4.html"


def test_content_hash_differs_between_entries():
    hashes = [entry.content_hash for entry in parse(RSS, RSS_URL).entries]
    assert len(hashes) == len(set(hashes))


def test_declared_latin1_encoding():
    document = parse(LATIN1_RSS, "https://jornal.example.pt/rss")
    [entry] = document.entries
    assert entry.title == "Chuva forte em São Paulo e Peshawar"
    assert entry.summary == "Previsão: mais chuva amanhã."


def test_leading_whitespace_and_bom_before_declaration():
    document = parse(b"\xef\xbb\xbf\n\n  " + RSS, RSS_URL)
    assert by_title(document)["Attack on police post in Bannu"].key == "guid:fd-1001"


def test_empty_channel_is_a_feed_without_entries():
    document = parse(b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>',
                     RSS_URL)
    assert document.title == "Quiet"
    assert document.entries == ()


# --- Atom ----------------------------------------------------------------------------------

def test_atom_document():
    document = parse(ATOM, ATOM_URL)
    assert document.title == "Atom Desk"
    assert document.site_url == "https://atom.example.net/"
    entries = by_title(document)
    assert set(entries) == {"Ceasefire talks resume", "Updated only"}
    first = entries["Ceasefire talks resume"]
    assert first.key == "guid:tag:atom.example.net,2026:1"
    assert first.link == "https://atom.example.net/blog/posts/ceasefire"  # relative href resolved
    assert first.summary == "Talks resumed in Doha."
    assert first.content == "Full text, first paragraph.\nSecond paragraph."


def test_atom_dates_published_else_updated():
    entries = by_title(parse(ATOM, ATOM_URL))
    assert_utc(entries["Ceasefire talks resume"].published, datetime(2026, 2, 1, 3, 15, tzinfo=UTC))
    assert_utc(entries["Updated only"].published, datetime(2026, 2, 2, 3, 0, tzinfo=UTC))


# --- RDF (RSS 1.0) ------------------------------------------------------------------------------

def test_rdf_document():
    document = parse(RDF, RDF_URL)
    assert document.title == "RDF Desk"
    [entry] = document.entries
    assert entry.title == "RDF item"
    assert entry.link == "https://rdf.example.com/a1"
    assert entry.key in ("guid:https://rdf.example.com/a1", "link:https://rdf.example.com/a1")
    assert entry.summary == "Rates & prices\nwent up."
    assert_utc(entry.published, datetime(2026, 3, 4, 4, 6, 7, tzinfo=UTC))


# --- JSON Feed ------------------------------------------------------------------------------

def test_json_feed_document():
    document = parse(JSON_FEED, JSON_URL)
    assert document.title == "JSON Desk"
    assert document.site_url == "https://json.example.com/"
    entries = by_title(document)
    first = entries["First"]
    assert first.key == "guid:j1"
    assert first.link == "https://json.example.com/j1"
    assert first.content == "Para one\ntwo & three"
    assert entries["No id"].summary == "A short summary"
    assert entries["No id"].content == "plain text"


def test_json_feed_keys():
    entries = by_title(parse(JSON_FEED, JSON_URL))
    assert entries["First"].key == "guid:j1"
    assert entries["No id"].key == "link:https://json.example.com/j2"
    assert entries["Neither id nor url"].key.startswith("hash:")


def test_json_feed_duplicate_id_appears_once():
    document = parse(JSON_FEED, JSON_URL)
    assert [entry.key for entry in document.entries].count("guid:j1") == 1
    assert "Duplicate id" not in by_title(document)


def test_json_feed_dates_are_aware_utc():
    entries = by_title(parse(JSON_FEED, JSON_URL))
    assert_utc(entries["First"].published, datetime(2026, 4, 5, 4, 7, 8, tzinfo=UTC))
    assert_utc(entries["No id"].published, datetime(2026, 4, 6, 0, 0, tzinfo=UTC))
    assert entries["Relative url"].published is None


def test_json_feed_relative_url_resolves_against_feed_url():
    entry = by_title(parse(JSON_FEED, JSON_URL))["Relative url"]
    assert entry.link == "https://json.example.com/relative/j4"


def test_json_feed_with_bom_and_whitespace():
    document = parse(b"\xef\xbb\xbf \n" + JSON_FEED, JSON_URL)
    assert document.title == "JSON Desk"


# --- not feeds --------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    HTML_PAGE,
    b"<html><head><title>A site</title></head><body><p>Welcome.</p></body></html>",
    b"",
    b"just some words",
    b"{not json",
    b'{"version": "https://jsonfeed.org/version/1.1", "title": "no items"}',
    b"[1, 2, 3]",
], ids=["html-moved", "html-home", "empty", "words", "bad-json", "json-no-items", "json-list"])
def test_not_a_feed_raises_parse_error(body):
    with pytest.raises(ParseError):
        parse(body, "https://example.org/feed")


# --- the fast path (monitor.fastfeed; tests/test_fastfeed.py checks it in depth) ---------------

@pytest.mark.parametrize("body, url, fast", [(RSS, RSS_URL, True), (RDF, RDF_URL, True), (ATOM, ATOM_URL, True),
                                             (LATIN1_RSS, RSS_URL, True)], ids=["rss", "rdf", "atom-xhtml", "latin1"])
def test_the_fast_path_gives_feedparsers_document_or_declines(body, url, fast):
    prepared, replaced = feeds_module._utf8(body, None)
    assert (fastfeed.parse(prepared, url) is not None) == fast
    assert parse(body, url) == feeds_module._parse(prepared, url, None, replaced, fast=False)


# --- html_to_text -------------------------------------------------------------------------------

def test_html_to_text():
    assert html_to_text("no markup at all ") == "no markup at all"
    assert html_to_text("<p>One</p><p>Two <b>bold</b></p><style>p{}</style>") == "One\nTwo bold"
    assert html_to_text("A&amp;B &lt;tag&gt; &eacute;") == "A&B <tag> é"
    assert html_to_text("<ul><li>x</li><li>y</li></ul>") == "x\ny"
    assert html_to_text("NUL\x00 and\x0b friends\x1f, tab\tkept") == "NUL and friends, tab\tkept"


# --- the shared corpus ------------------------------------------------------------------------

def corpus_feed_files(root: Path) -> list[Path]:
    return sorted(path for path in (root / "feeds").glob("*/*")
                  if path.is_file() and path.name != "feeds_index.json")


def test_corpus_feeds_parse_or_raise_parse_error():
    root = corpus_dir()
    if root is None or not (root / "feeds").is_dir():
        pytest.skip("NEWSMON_CORPUS is unset or has no feeds/ directory")
    files = corpus_feed_files(root)
    assert files, f"no feed files under {root / 'feeds'}"
    with_entries, failures = [], []
    for path in files:
        name = str(path.relative_to(root / "feeds"))
        try:
            document = parse(path.read_bytes(), f"https://corpus.example/{name}")
        except ParseError:
            continue
        except Exception as error:  # noqa: BLE001 - anything but ParseError is a bug
            failures.append(f"{name}: {type(error).__name__}: {error}")
            continue
        if not isinstance(document, FeedDocument):
            failures.append(f"{name}: returned {type(document).__name__}")
        elif document.entries:
            with_entries.append(name)
    assert not failures, "parse() raised something other than ParseError:\n" + "\n".join(failures)
    assert len(with_entries) >= 140, f"only {len(with_entries)} of {len(files)} feeds gave entries"


def test_corpus_non_feeds_raise_parse_error():
    root = corpus_dir()
    index = root / "feeds" / "feeds_index.json" if root else None
    if index is None or not index.is_file():
        pytest.skip("NEWSMON_CORPUS is unset or has no feeds/feeds_index.json")
    rows = json.loads(index.read_text(encoding="utf-8"))
    bad = [row["file"] for row in rows if row["format"] in ("html(not-a-feed)", "json(invalid)")]
    assert bad
    for name in bad:
        with pytest.raises(ParseError):
            parse((root / "feeds" / name).read_bytes(), f"https://corpus.example/{name}")
