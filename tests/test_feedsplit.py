"""Parsing only the items of a feed that changed (monitor.feedsplit, feeds.parse_changed):
(a) small feeds written for these tests; (b) the daemon's view: one App polling a loopback
feed that grows, changes and moves; (c) every feed of the shared corpus when NEWSMON_CORPUS
points at it: each item parsed alone, in its feed's surroundings, is the entry the whole
feed gives."""

from __future__ import annotations

import collections
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import Clock, corpus_dir
from fixtures import COURIER_ITEMS, page, publish, rss, write_config
from monitor import feedsplit
from monitor.feeds import parse, parse_changed

URL = "https://frontier.example.org/feeds/main.xml"
RSS_TYPE = "application/rss+xml"


def item(number: int, title: str | None = None) -> str:
    return (f"<item><title>{title or f'Story {number}'}</title>"
            f"<link>https://frontier.example.org/{number}</link><guid>fd-{number}</guid>"
            f"<description><![CDATA[Text of <b>story</b> {number}; an <item> in CDATA is text.]]></description>"
            f"<pubDate>Tue, 06 Jan 2026 09:{number:02d}:00 GMT</pubDate></item>")


def feed(*items: str, built: str = "Tue, 06 Jan 2026 10:00:00 GMT", channel_attrs: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
            f'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel{channel_attrs}>'
            f"<title>Frontier Desk</title><link>https://frontier.example.org/</link>"
            f"<lastBuildDate>{built}</lastBuildDate><!-- <item> in a comment -->\n"
            + "\n".join(items) + "\n</channel></rss>").encode()


def titles(document) -> list[str]:
    return [entry.title for entry in document.entries]


# --- (a) cutting and parsing --------------------------------------------------------------------

def test_split_cuts_exactly_at_the_items():
    body = feed(item(1), item(2), item(3))
    cut = feedsplit.split(body)
    assert cut is not None and len(cut.items) == 3
    assert cut.head.endswith(b"-->\n") and cut.tail == b"\n</channel></rss>"
    assert all(part.startswith(b"<item>") and part.endswith(b"</item>") for part in cut.items)
    assert cut.head + b"\n".join(cut.items) + cut.tail == body


def test_a_new_item_is_the_only_entry_parsed_and_the_feed_keeps_its_metadata():
    first, remembered = parse_changed(feed(item(2), item(1)), URL, RSS_TYPE)
    assert titles(first) == ["Story 2", "Story 1"] and remembered.count == 2
    grown = feed(item(3), item(2), item(1), built="Tue, 06 Jan 2026 11:00:00 GMT")  # the channel's text changed too

    document, now = parse_changed(grown, URL, RSS_TYPE, remembered)

    assert titles(document) == ["Story 3"]
    assert document.entries[0] == parse(grown, URL, RSS_TYPE).entries[0]
    assert (document.title, document.site_url) == ("Frontier Desk", "https://frontier.example.org/")
    assert now.count == 3


def test_an_edited_item_is_parsed_again_and_an_unchanged_body_parses_no_item():
    _, remembered = parse_changed(feed(item(2), item(1)), URL, RSS_TYPE)
    edited, remembered = parse_changed(feed(item(2, "Story 2, updated"), item(1)), URL, RSS_TYPE, remembered)
    assert titles(edited) == ["Story 2, updated"]
    same, _ = parse_changed(feed(item(2, "Story 2, updated"), item(1)), URL, RSS_TYPE, remembered)
    assert same.entries == () and same.title == "Frontier Desk"


@pytest.mark.parametrize("change", ["namespace", "xml:base", "url", "content type"])
def test_other_surroundings_parse_the_whole_feed(change):
    _, remembered = parse_changed(feed(item(2), item(1)), URL, RSS_TYPE)
    body, url, content_type = feed(item(3), item(2), item(1)), URL, RSS_TYPE
    if change == "namespace":
        body = body.replace(b'xmlns:dc="http://purl.org/dc/elements/1.1/"', b'xmlns:dc="urn:other"')
    elif change == "xml:base":
        body = feed(item(3), item(2), item(1), channel_attrs=' xml:base="https://mirror.example.org/"')
    elif change == "url":
        url = "https://frontier.example.org/feeds/moved.xml"
    else:
        content_type = "application/xml; charset=iso-8859-1"
    document, _ = parse_changed(body, url, content_type, remembered)
    assert titles(document) == ["Story 3", "Story 2", "Story 1"]


def test_atom_and_prefixed_entries_are_cut_too():
    atom = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
            b'<entry><id>a</id><title>One</title></entry><entry><id>b</id><title>Two</title></entry></feed>')
    assert len(feedsplit.split(atom).items) == 2
    prefixed = (b'<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:title>T</a:title>'
                b'<a:entry><a:id>x</a:id></a:entry></a:feed>')
    assert feedsplit.split(prefixed).items == (b"<a:entry><a:id>x</a:id></a:entry>",)
    rdf = (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
           b'<channel rdf:about="x"><title>T</title><items><rdf:Seq><rdf:li resource="u"/></rdf:Seq></items></channel>'
           b'<item rdf:about="u"><title>One</title><link>u</link></item></rdf:RDF>')
    assert feedsplit.split(rdf).items == (b'<item rdf:about="u"><title>One</title><link>u</link></item>',)


@pytest.mark.parametrize("body", [
    feed(item(1)).decode().encode("utf-16"),
    feed(item(1)).replace(b"Story 1", "Cr\u00f4nica".encode("iso-8859-1")),  # not UTF-8
    feed(item(1), "<category>between items</category>", item(2)),
    feed(item(1), "<item/>"),
    feed("<item><title>outer</title>" + item(1) + "</item>"),
    feed(item(1)).replace(b"</item>", b"<![CDATA[ never closed"),
    feed(item(1)).replace(b"</item>", b"<!-- never closed"),
    feed(item(1)).replace(b"</item>", b""),
    feed("</item>" + item(1)),
    feed("<entry><id>x</id></entry>" + item(1)),
    b"<rss><channel><title>No items</title></channel></rss>",
    b"<![CDATA[" * 100_000,
], ids=["utf-16", "latin-1", "markup-between", "self-closing", "nested", "open-cdata", "open-comment",
        "unclosed-item", "stray-end-tag", "mixed-kinds", "no-items", "hostile-cdata"])
def test_bodies_that_cannot_be_cut_safely_are_parsed_whole(body):
    assert feedsplit.split(body) is None
    assert feedsplit.changed(body, URL, RSS_TYPE, None) == (body, None)


def test_a_json_feed_is_parsed_whole_and_nothing_is_remembered():
    body = b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [{"id": "1", "title": "One"}]}'
    document, remembered = parse_changed(body, URL, "application/feed+json")
    assert titles(document) == ["One"] and remembered is None


# --- (b) what the daemon sees ---------------------------------------------------------------------

NEW_ITEM = {
    "guid": "courier-4", "path": "/courier/bannu-checkpoint.html", "title": "Checkpoint attacked in Bannu",
    "summary": "Gunmen fired on a checkpoint.",
    "body": ("Gunmen fired on a checkpoint in Bannu.", "A TTP spokesman said the group was behind it."),
}


def test_a_polling_app_alerts_on_new_and_edited_items_of_a_growing_feed(tmp_path, web, harness):
    courier, _ = publish(web)
    path = write_config(tmp_path, [{"url": courier}], {"hook": [web.base.replace("http://", "json://") + "/hook"]})
    running = harness.open(path, Clock(time.time()))  # the fixtures' items are dated today
    [first] = harness.poll_all(running)
    assert (first.status, first.entries, first.new) == ("new", 3, 3)
    assert [items.count for items in running.feed_items.values()] == [3]  # remembered for the next poll

    web.add(NEW_ITEM["path"], page(NEW_ITEM["path"], NEW_ITEM["title"], "Indus Courier", *NEW_ITEM["body"]))
    web.add("/courier/rss.xml", rss("Indus Courier", [NEW_ITEM, *COURIER_ITEMS]), RSS_TYPE)
    [second] = harness.poll_all(running)
    harness.drain(running)
    assert (second.status, second.entries, second.new, second.alerts) == ("new", 4, 1, 1)
    assert [post["title"] for post in web.json_posts("/hook")] == ["[ttp-activity] Checkpoint attacked in Bannu"]

    edited = dict(COURIER_ITEMS[1], title=COURIER_ITEMS[1]["title"] + " (updated)")
    web.add("/courier/rss.xml", rss("Indus Courier", [NEW_ITEM, COURIER_ITEMS[0], edited, *COURIER_ITEMS[2:]]),
            RSS_TYPE)
    [third] = harness.poll_all(running)
    assert (third.entries, third.new) == (4, 1)
    running.store.flush()  # an update without alerts is committed with the next transaction
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        stored = [row[0] for row in db.execute("SELECT title FROM entries WHERE entry_key = ?",
                                               ("guid:" + edited["guid"],))]
    assert stored == [edited["title"]]


# --- (c) the shared corpus --------------------------------------------------------------------------

def test_corpus_each_item_alone_parses_to_the_entry_of_the_whole_feed():
    root = corpus_dir()
    if root is None or not (root / "feeds").is_dir():
        pytest.skip("NEWSMON_CORPUS is unset or has no feeds/ directory")
    url = "https://corpus.example/feed.xml"
    cut_feeds, compared, wrong = 0, 0, []
    for path in sorted(p for p in (root / "feeds").glob("*/*") if p.is_file() and p.suffix != ".json"):
        body = path.read_bytes()
        cut = feedsplit.split(body)
        if cut is None:
            continue
        try:
            whole = parse(body, url)
        except Exception:  # noqa: BLE001 - not a feed: test_feeds covers those
            continue
        cut_feeds += 1
        alone = [parse(cut.head + part + cut.tail, url).entries for part in cut.items]
        keys = collections.Counter(entry.key for entries in alone for entry in entries)
        by_key = {entry.key: entry for entry in whole.entries}
        assert set(keys) == set(by_key), path.name
        for number, entries in enumerate(alone):
            assert len(entries) == 1, (path.name, number)
            if keys[entries[0].key] == 1:  # a key the feed repeats: the whole feed keeps its first
                compared += 1
                if by_key[entries[0].key] != entries[0]:
                    wrong.append(f"{path.name} item {number}")
        assert (parse(cut.head + cut.tail, url).title, parse(cut.head + cut.tail, url).ttl) == (whole.title, whole.ttl)
    assert not wrong, wrong
    assert cut_feeds >= 100 and compared >= 3000, (cut_feeds, compared)


def test_what_a_feed_held_survives_a_restart_so_a_new_process_parses_only_new_items(tmp_path, web, harness):
    """`run --once` from cron is a new process each time: what the feed's last body held is in
    the store, so its next run parses only the new or changed items, and alerts as the daemon does."""
    courier, _ = publish(web)
    path = write_config(tmp_path, [{"url": courier}], {"hook": [web.base.replace("http://", "json://") + "/hook"]})
    first = harness.open(path, Clock(time.time()))
    harness.poll_all(first)
    [(feed_id, held)] = first.feed_items.items()
    assert first.store.feed(courier).items == held and held.count == 3

    second = harness.open(path, Clock(time.time()))  # another process: nothing in memory
    assert second.feed_items == {} and second.store.feed(courier).items == held
    web.add(NEW_ITEM["path"], page(NEW_ITEM["path"], NEW_ITEM["title"], "Indus Courier", *NEW_ITEM["body"]))
    web.add("/courier/rss.xml", rss("Indus Courier", [NEW_ITEM, *COURIER_ITEMS]), RSS_TYPE)
    [grown] = harness.poll_all(second)
    harness.drain(second)
    assert (grown.status, grown.entries, grown.new, grown.alerts) == ("new", 4, 1, 1)
    assert [post["title"] for post in web.json_posts("/hook")] == ["[ttp-activity] Checkpoint attacked in Bannu"]
    assert second.store.feed(courier).items.count == 4 and held.digests < second.store.feed(courier).items.digests
