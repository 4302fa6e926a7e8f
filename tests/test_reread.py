"""The same words in many feeds are read once: an entry whose title and text are another's,
word for word (a wire text carried by several outlets' feeds), takes the rules it matches, its
event features from that reading (`monitor.recording.Recent`), with its own outlet, and its
signature from the story index (`StoryIndex.copied`). What a user sees is unchanged: one story, each outlet's report recorded as its own,
one alert."""

from __future__ import annotations

import dataclasses
import sqlite3

from fixtures import rss, write_config

from monitor import cli, events, recording

WIRE = {"title": "TTP attack on police post in Lakki Marwat leaves two wounded",
        "summary": "Gunmen of the Tehreek-e-Taliban Pakistan attacked a police post in Lakki Marwat district before dawn, "
                   "wounding two officers, police said."}


def test_a_wire_text_in_three_feeds_is_one_story_with_each_outlets_report(tmp_path, web):
    feeds = []
    for number, outlet in enumerate(("Courier", "Dispatch", "Herald")):
        item = {**WIRE, "guid": f"{outlet}-1", "path": f"/{outlet.lower()}/lakki.html"}
        url = web.add(f"/{outlet.lower()}/rss.xml", rss(outlet, [item]), "application/rss+xml")
        feeds.append({"url": url, "outlet": outlet, "full_text": False, "alert_on_first_poll": True})
    base = web.base.replace("http://", "json://")
    path = write_config(tmp_path, feeds, {"desk": [base + "/desk"]})

    read_before = recording._read.hits
    assert cli.main(["--config", str(path), "run", "--once"]) == 0
    # two entries read once: their rules, features and packed features kept (`Recent`), their
    # signature the first entry's (`StoryIndex.copied`: not made again)
    assert recording._read.hits - read_before == 6

    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        rows = db.execute("SELECT outlet, story_id, features, signature FROM articles ORDER BY outlet").fetchall()
    assert [row[0] for row in rows] == ["Courier", "Dispatch", "Herald"]
    assert len({row[1] for row in rows}) == 1  # one story
    assert len({row[3] for row in rows}) == 1  # one signature
    found = [events.Features.unpack(row[2]) for row in rows]
    assert [feature.outlet for feature in found] == ["Courier", "Dispatch", "Herald"]  # each its own outlet
    assert len({dataclasses.replace(feature, outlet="") for feature in found}) == 1  # else the same
    assert "pack.ttp" in found[0].entities or "ttp" in found[0].entities
    assert found[0].district == "lakki-marwat"
    assert len(web.json_posts("/desk")) == 1  # one alert for the story


def test_recent_keeps_the_last_texts_read_for_the_reader_that_read_them():
    recent = recording.Recent(2)
    made = []

    def make(value):
        return lambda: made.append(value) or [value]

    reader = object()
    assert recent.get(reader, b"a", "rules", make("a1")) == ["a1"]
    assert recent.get(reader, b"a", "rules", make("a2")) == ["a1"]  # the same words: not read again
    assert recent.get(reader, b"a", "features", make("a3")) == ["a3"]  # another reading of them
    value = recent.get(reader, b"a", "rules", make("a4"))
    value.append("changed")  # a caller's changes stay its own
    assert recent.get(reader, b"a", "rules", make("a5")) == ["a1"]
    recent.get(reader, b"b", "rules", make("b1"))
    recent.get(reader, b"c", "rules", make("c1"))  # three texts: the least recently used one, "a", is forgotten
    assert recent.get(reader, b"a", "rules", make("a6")) == ["a6"]
    assert recent.get(object(), b"a", "rules", make("a7")) == ["a7"]  # a new matcher (a reload) reads again
    assert made == ["a1", "a3", "b1", "c1", "a6", "a7"]


def test_features_packed_once_for_the_same_words_are_each_outlets_own():
    """A copy's features are packed from the first reading's, with its own outlet put in: the
    same bytes as packing them whole, whatever the outlet's name or the evidence holds."""
    found = events.Features(terms=(("attack", 2.5), ("police", 1.0)), entities=frozenset({"pack.ttp"}),
                            where=("lakki-marwat", "khyber-pakhtunkhwa"), script="Latn", outlet="Courier",
                            evidence=(("killed", 'He said ,"o":"", then "left" \\ café'),))

    class App:
        matcher = object()

    for outlet in ("Courier", 'The "Daily" \\ Star', "Dawn — دان", "", ',"o":"",'):
        mine = dataclasses.replace(found, outlet=outlet)
        assert recording._packed(App, b"words-1", None, mine) == mine.pack()
        assert events.Features.unpack(recording._packed(App, b"words-1", None, mine)) == mine
