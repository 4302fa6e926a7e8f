"""A feed or page that is UTF-8 but for a few stray bytes stays UTF-8 (#15, A1): the invalid bytes
become U+FFFD, the rest (an Urdu name above all) is read as written, and it is said once per feed.
Legacy charsets, declared or not, are read as before.

(a) `monitor.decoding.repair` alone, as a table; (b) as a user runs newsmon: loopback feeds and
pages, a watchlist with the TTP's Urdu name, `newsmon run --once` and in-process polls;
(c) when NEWSMON_CORPUS points at the shared corpus, every real feed decodes as feedparser
decodes it, and every real UTF-8 feed given two stray bytes keeps its titles."""

from __future__ import annotations

import codecs
import json
import logging
import re
import sqlite3
import time

import feedparser
import pytest
from conftest import Clock, corpus_dir
from fixtures import RFC822, WATCHLIST, page, write_config

from monitor import cli, decoding
from monitor.feeds import FEEDPARSER_OPTIONS, html_to_text, parse

TTP_URDU = "تحریک طالبان پاکستان"
URDU_TITLE = f"{TTP_URDU} نے لکی مروت میں پولیس چوکی پر حملے کی ذمہ داری قبول کر لی"
URDU_SUMMARY = "پولیس کے مطابق حملے میں دو اہلکار زخمی ہوئے۔"
STRAY = b"\xff\xfe"  # two bytes that are never valid UTF-8
HOOK = "/hook"
# the fixtures' watchlist, with the TTP's Urdu name as one more alias
URDU_WATCHLIST = {**WATCHLIST, "entities": {**WATCHLIST["entities"], "ttp": {
    **WATCHLIST["entities"]["ttp"], "names": [*WATCHLIST["entities"]["ttp"]["names"], TTP_URDU]}}}


# --- (a) the decision, as a table ----------------------------------------------------------------

URDU_BYTES = f"<p>{URDU_TITLE}</p>".encode()
CASES = [
    # (what, body, declared, replaced (None: left to the parser), text it must hold)
    ("valid UTF-8: nothing to do", URDU_BYTES, "utf-8", None, None),
    ("two stray bytes, declared UTF-8", URDU_BYTES + STRAY, "utf-8", 2, TTP_URDU),
    ("two stray bytes, declared nothing", URDU_BYTES + STRAY, None, 2, TTP_URDU),
    ("a UTF-8 alias", URDU_BYTES + STRAY, "UTF8", 2, TTP_URDU),
    ("declared US-ASCII: UTF-8 bytes may be in it", URDU_BYTES + STRAY, "us-ascii", 2, TTP_URDU),
    ("a charset Python does not know is no declaration", URDU_BYTES + STRAY, "x-no-such", 2, TTP_URDU),
    ("a truncated character at the end", URDU_BYTES + "ک".encode()[:1], "utf-8", 1, TTP_URDU),
    ("a windows-1252 quote pasted into UTF-8", URDU_BYTES + b"\x93quoted\x94", None, 2, TTP_URDU),
    ("a UTF-8 byte order mark is dropped", codecs.BOM_UTF8 + URDU_BYTES + STRAY, None, 2, TTP_URDU),
    ("a U+FFFD already there is not counted", "\ufffd".encode() + URDU_BYTES + STRAY, None, 2, TTP_URDU),
    ("declared windows-1252", URDU_BYTES + STRAY, "windows-1252", None, None),
    ("declared ISO-8859-6", URDU_BYTES + STRAY, "iso-8859-6", None, None),
    ("windows-1252 declared UTF-8 (a common mistake)", "Café “Peshawar” – déjà vu".encode("cp1252"), "utf-8", None, None),
    ("ISO-8859-1 declared nothing", "Café à Genève, où l'été".encode("latin-1"), None, None, None),
    ("KOI8-R declared nothing", "Взрыв в Кабуле, есть раненые".encode("koi8-r"), None, None, None),
    ("Shift_JIS declared nothing", "カブールで爆発、負傷者".encode("shift_jis"), None, None, None),
    ("GB2312 declared nothing", "喀布尔发生爆炸，多人受伤".encode("gb2312"), None, None, None),
    ("UTF-16 with a byte order mark", "<p>Kabul</p>".encode("utf-16"), None, None, None),
    ("UTF-16 without one", "<p>Kabul</p>".encode("utf-16-le"), None, None, None),
    ("English with six quotes and two stray bytes", "“Kabul” ‘talks’ “today”".encode() + STRAY, None, 2, "‘talks’"),
    ("English with two quotes and two stray bytes: too little UTF-8 to tell it from windows-1252",
     "“Kabul”".encode() + STRAY, None, None, None),
]


@pytest.mark.parametrize("what, body, declared, replaced, holds", CASES, ids=[case[0] for case in CASES])
def test_repair_only_what_is_utf8_but_for_a_few_bytes(what, body, declared, replaced, holds):
    repaired = decoding.repair(body, declared)
    if replaced is None:
        assert repaired is None
    else:
        assert repaired is not None and repaired.replaced == replaced
        assert holds in repaired.text and not repaired.text.startswith("\ufeff")
        assert repaired.text == body.decode("utf-8", "replace").removeprefix("\ufeff")


@pytest.mark.parametrize("content_type, charset", [
    ("application/rss+xml; charset=utf-8", "utf-8"), ('text/xml; Charset="UTF-8"', "UTF-8"),
    ("text/html;charset=windows-1252", "windows-1252"), ("application/rss+xml", None), (None, None)])
def test_the_charset_of_a_content_type(content_type, charset):
    assert decoding.charset(content_type) == charset


def test_the_declared_encoding_of_xml_and_html():
    assert decoding.xml_encoding(b'<?xml version="1.0" encoding="windows-1252"?><rss/>') == "windows-1252"
    assert decoding.xml_encoding(codecs.BOM_UTF8 + b"\n <?xml version='1.0' encoding='UTF-8' ?>") == "UTF-8"
    assert decoding.xml_encoding(b'<?xml version="1.0"?><rss/>') is None
    assert decoding.xml_encoding(b'<rss><title>encoding="koi8-r"</title></rss>') is None
    assert decoding.meta_charset(b'<html><head><meta charset="windows-1251">') == "windows-1251"
    assert decoding.meta_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">') == "Shift_JIS"
    assert decoding.meta_charset(b"<html><head><title>x</title>") is None


# --- (b) as a user runs newsmon ------------------------------------------------------------------

def rss_bytes(items: list[tuple[str, str, str]], declaration: str = '<?xml version="1.0" encoding="utf-8"?>',
              encoding: str = "utf-8") -> bytes:
    """An RSS feed of (guid, title, description) items, linking to {BASE}/<guid>.html."""
    entries = "".join(f"<item><title>{title}</title><link>{{BASE}}/{guid}.html</link><guid>{guid}</guid>"
                      f"<pubDate>{RFC822}</pubDate><description>{summary}</description></item>\n"
                      for guid, title, summary in items)
    return (f"{declaration}\n<rss version=\"2.0\"><channel><title>Awaz</title><link>https://awaz.example/</link>"
            f"<description>Test feed</description>\n{entries}</channel></rss>").encode(encoding)


URDU_ITEM = ("awaz-1", URDU_TITLE, URDU_SUMMARY)
WHEAT_ITEM = ("awaz-2", "Wheat prices ease in Kabul markets", "Traders said flourSTRAY prices fell this week.")


def serve(web, path: str, body: bytes, content_type: str = "application/rss+xml; charset=utf-8") -> str:
    """Serve `body` ({BASE} filled in, b"STRAY" made two invalid bytes) at `path`."""
    return web.add(path, body.replace(b"{BASE}", web.base.encode()).replace(b"STRAY", STRAY), content_type)


def hook(web) -> str:
    return web.base.replace("http://", "json://") + HOOK


def stored(tmp_path, query: str) -> list[tuple]:
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        return db.execute(query).fetchall()


def replaced_warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.levelno == logging.WARNING and "invalid UTF-8 bytes" in record.getMessage()]


@pytest.mark.parametrize("stray", [b"", STRAY], ids=["clean", "two stray bytes"])
def test_a_stray_byte_does_not_lose_the_urdu_name(tmp_path, web, stray):
    """One run, as from cron: the Urdu item alerts once, with its title as written, whether or
    not another item of the feed has two invalid bytes."""
    body = rss_bytes([URDU_ITEM, WHEAT_ITEM]).replace(b"STRAY", stray)
    url = serve(web, "/awaz.xml", body)
    path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True, "full_text": False}],
                        {"hook": [hook(web)]}, watchlist=URDU_WATCHLIST)

    assert cli.main(["--config", str(path), "run", "--once"]) == 0

    assert [post["title"] for post in web.json_posts(HOOK)] == [f"[ttp-activity] {URDU_TITLE}"]
    assert sorted(stored(tmp_path, "SELECT title FROM entries")) == sorted([(URDU_TITLE,), (WHEAT_ITEM[1],)])
    texts = dict(stored(tmp_path, "SELECT title, text FROM articles"))
    assert texts[URDU_TITLE] == URDU_SUMMARY
    assert texts[WHEAT_ITEM[1]] == "Traders said flour" + "\ufffd\ufffd" * bool(stray) + " prices fell this week."


def test_the_replaced_bytes_are_said_once_per_feed(tmp_path, web, harness, caplog):
    """Two polls of a feed that keeps its stray bytes (the second brings a new item, so it is
    read again): one WARNING, naming the feed and the count."""
    url = serve(web, "/awaz.xml", rss_bytes([URDU_ITEM, WHEAT_ITEM]))
    path = write_config(tmp_path, [{"url": url, "full_text": False}], {"hook": [hook(web)]},
                        watchlist=URDU_WATCHLIST)
    clock = Clock(time.time())
    running = harness.open(path, clock)
    with caplog.at_level(logging.DEBUG, logger="newsmon"):
        (first,) = harness.poll_all(running)
        assert first.status == "new" and first.new == 2
        serve(web, "/awaz.xml", rss_bytes([("awaz-3", "Cricket board names new panel", "Selectors named."),
                                           URDU_ITEM, WHEAT_ITEM]))
        clock.advance(3600)
        (second,) = harness.poll_all(running)
        assert second.status == "new" and second.new == 1
    warnings = replaced_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"feed has invalid UTF-8 bytes feed={url} replaced=2 ")
    assert "said once per feed" in warnings[0]
    assert sorted(stored(tmp_path, "SELECT title FROM entries")) == sorted(
        [(URDU_TITLE,), (WHEAT_ITEM[1],), ("Cricket board names new panel",)])


def test_a_stray_byte_in_an_article_page_keeps_its_urdu_text(tmp_path, web, harness, caplog):
    """The feed is clean and names no one; its article page names the TTP in Urdu, and has two
    stray bytes elsewhere: the page's text is read as UTF-8, it alerts, and the page's bytes are
    said once."""
    urdu_paragraph = f"{TTP_URDU} نے حملے کی ذمہ داری قبول کر لی ہے۔"
    html = page("/awaz-1.html", "Police post attacked in Lakki Marwat", "Awaz",
                "Gunmen attacked a police post in Lakki Marwat district before dawn on Monday, officials said.",
                urdu_paragraph, "Residents said STRAY the roads were closed while investigators collected evidence.")
    serve(web, "/awaz-1.html", html.encode(), "text/html; charset=utf-8")
    url = serve(web, "/awaz.xml", rss_bytes([("awaz-1", "Police post attacked in Lakki Marwat", "Two wounded.")]))
    path = write_config(tmp_path, [{"url": url, "alert_on_first_poll": True}], {"hook": [hook(web)]},
                        watchlist=URDU_WATCHLIST)
    running = harness.open(path, Clock(time.time()))
    with caplog.at_level(logging.DEBUG, logger="newsmon"):
        (result,) = harness.poll_all(running)
        harness.drain(running)
    assert result.alerts == 1
    assert [post["title"] for post in web.json_posts(HOOK)] == ["[ttp-activity] Police post attacked in Lakki Marwat"]
    ((text,),) = stored(tmp_path, "SELECT text FROM articles WHERE source = 'page'")
    assert urdu_paragraph in text and "Residents said \ufffd\ufffd the roads" in text
    warnings = replaced_warnings(caplog)
    assert len(warnings) == 1 and warnings[0].startswith(f"article page has invalid UTF-8 bytes feed={url} "
                                                         f"url={web.base}/awaz-1.html replaced=2 ")


LEGACY_TITLE = "Café owners in Peshawar say “business is back” – prices up 5€"


def test_legacy_feeds_read_as_before(tmp_path, web, harness, caplog):
    """windows-1252 declared in the feed, ISO-8859-1 declared nowhere, and windows-1252 bytes in
    a feed that says it is UTF-8 (feedparser falls back to windows-1252): each title as written,
    nothing replaced, nothing said."""
    items = [("legacy-1", LEGACY_TITLE, "Traders said so.")]
    latin = [("legacy-2", "Réunion à Genève : l'été des négociations", "Déjà vu.")]
    urls = [
        serve(web, "/declared.xml", rss_bytes(items, '<?xml version="1.0" encoding="windows-1252"?>', "cp1252"),
              "application/rss+xml"),
        serve(web, "/undeclared.xml", rss_bytes(latin, '<?xml version="1.0"?>', "latin-1"), "application/rss+xml"),
        serve(web, "/misdeclared.xml", rss_bytes(items, encoding="cp1252"), "text/xml; charset=utf-8"),
    ]
    path = write_config(tmp_path, [{"url": url, "full_text": False} for url in urls], {"hook": [hook(web)]})
    running = harness.open(path, Clock(time.time()))
    with caplog.at_level(logging.DEBUG, logger="newsmon"):
        results = harness.poll_all(running)
    assert [result.status for result in results] == ["new"] * 3
    titles = stored(tmp_path, "SELECT f.url, e.title FROM entries e JOIN feeds f ON f.id = e.feed_id ORDER BY f.id")
    assert titles == [(urls[0], LEGACY_TITLE), (urls[1], latin[0][1]), (urls[2], LEGACY_TITLE)]
    assert replaced_warnings(caplog) == []


def test_an_undeclared_legacy_feed_reads_as_feedparser_reads_it():
    """KOI8-R declared nowhere and served without a charset: newsmon reads it exactly as
    feedparser does (no charset detection is installed; this is about not changing it)."""
    body = rss_bytes([("k-1", "Взрыв в Кабуле, есть раненые", "Сообщают местные власти.")], '<?xml version="1.0"?>',
                     "koi8-r")
    document = parse(body, "https://vesti.example/rss", "application/rss+xml")
    assert document.replaced == 0
    assert [entry.title for entry in document.entries] == plain_titles(body, "application/rss+xml")


def test_a_json_feed_with_a_stray_byte_is_read():
    """A JSON Feed is UTF-8 by definition: two stray bytes used to fail the whole feed (invalid JSON)."""
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Awaz", "items": [
        {"id": "1", "url": "https://awaz.example/1", "title": URDU_TITLE, "content_text": "STRAY"}]},
        ensure_ascii=False).encode().replace(b"STRAY", STRAY)
    document = parse(body, "https://awaz.example/feed.json", "application/feed+json")
    assert document.replaced == 2 and [entry.title for entry in document.entries] == [URDU_TITLE]


# --- (c) the shared corpus -----------------------------------------------------------------------

CORPUS_TYPE = "application/xml"  # what servers commonly send for a feed: an XML type, no charset
_ITEM = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s>]")
_TEXT_END = re.compile(rb"</(?:[\w.-]+:)?(?:description|summary|content|encoded)>")


def feedparser_result(body: bytes, content_type: str | None):
    """What feedparser alone makes of `body` (newsmon's options)."""
    headers = {"content-location": "https://corpus.example/"}
    if content_type:
        headers["content-type"] = content_type
    return feedparser.parse(body, response_headers=headers, **FEEDPARSER_OPTIONS)


def plain_titles(body: bytes, content_type: str | None, result=None) -> list[str]:
    """The entries' titles as feedparser alone reads `body`, as plain text, the first entry of
    each guid (else link, else text) only, as newsmon keeps them."""
    titles, seen = [], set()
    for raw in (result or feedparser_result(body, content_type)).entries:
        title = html_to_text(raw.get("title", "") or "")
        key = (raw.get("id") or "").strip() or (raw.get("link") or "").strip() or (title, raw.get("summary", ""))
        if key not in seen:
            seen.add(key)
            titles.append(title)
    return titles


def encoding_problem(result) -> bool:
    """Whether feedparser could not read the bytes in the charset they declare (or, declaring
    none, in UTF-8) and fell back to another: then its text is no ground truth."""
    return isinstance(result.get("bozo_exception"), (feedparser.CharacterEncodingOverride,
                                                      feedparser.CharacterEncodingUnknown))


def damaged(body: bytes) -> bytes | None:
    """`body` with two stray bytes at the end of its first item's description (summary,
    content), where they change no title; None when it has no such element."""
    item = _ITEM.search(body)
    end = _TEXT_END.search(body, item.end()) if item else None
    return body[:end.start()] + STRAY + body[end.start():] if end else None


def test_corpus_feeds_read_as_before_and_keep_their_titles_with_two_stray_bytes():
    """(1) Every real XML feed, legacy charsets included (declared, undeclared, misdeclared),
    has the titles feedparser alone gives for its bytes, nothing replaced: where feedparser had
    to fall back to another charset the text may be wrong, but it is what newsmon read before.
    (2) Every real UTF-8 feed that feedparser reads without an encoding problem (so its titles
    are the ground truth), given two stray bytes in its first item's description, keeps those
    titles (Urdu, Bangla, Persian, Kannada ... as written), 2 replaced; except a feed with too
    little non-ASCII text to tell UTF-8 from a legacy charset (fewer than 6 characters for 2
    stray bytes: decoding.MOSTLY), which is read as feedparser reads the damaged bytes, as before."""
    root = corpus_dir()
    if root is None or not (root / "feeds").is_dir():
        pytest.skip("NEWSMON_CORPUS is unset or has no feeds/ directory")
    files = sorted(path for path in (root / "feeds").glob("*/*") if path.is_file() and path.suffix != ".json")
    as_before, differences, repaired, left = 0, [], [], []
    for path in files:
        name, body = str(path.relative_to(root / "feeds")), path.read_bytes()
        if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
            continue  # a JSON Feed under another name: feedparser does not read those
        url = f"https://corpus.example/{name}"
        try:
            document = parse(body, url, CORPUS_TYPE)
        except Exception:  # noqa: BLE001 - not a feed (an HTML page): tests/test_feeds.py
            continue
        result = feedparser_result(body, CORPUS_TYPE)
        titles = [entry.title for entry in document.entries]
        if document.replaced or titles != plain_titles(body, CORPUS_TYPE, result):
            differences.append(f"{name}: replaced={document.replaced} fallback={encoding_problem(result)}")
            continue
        as_before += 1
        broken = damaged(body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            continue  # a legacy charset: (1) only
        if broken is None or encoding_problem(result):
            continue
        damaged_document = parse(broken, url, CORPUS_TYPE)
        non_ascii = len(text) - len(text.encode("ascii", "ignore"))
        if non_ascii >= decoding.MOSTLY * (non_ascii + 2):
            repaired.append(name)
            expected, replaced = titles, 2
        else:
            left.append(name)
            expected, replaced = plain_titles(broken, CORPUS_TYPE), 0
        got = [entry.title for entry in damaged_document.entries]
        if damaged_document.replaced != replaced or got != expected or damaged_document.title != (
                document.title if replaced else damaged_document.title):
            first = next(((one, other) for one, other in zip(got, expected) if one != other), None)
            differences.append(f"{name} with two stray bytes: replaced={damaged_document.replaced} (want {replaced}), "
                               f"first different title={first}")
    assert differences == []
    assert as_before >= 130
    assert len(repaired) >= 60 and "miniflux/urdu_UTF8.xml" in repaired, (len(repaired), len(left))
