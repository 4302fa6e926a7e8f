"""The story window kept between runs (`monitor.window`): the story and event indexes are saved
when newsmon stops and read by the next run, which then does not rebuild them from every article
in the window; a saved window that no longer fits the store (another process recorded articles,
the window changed, the file is damaged) is rebuilt, and one that may not be the store's is never
saved. What a user sees is the same either way: a copy of an article recorded in an earlier run
joins its story and alerts nothing more."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3

import pytest
from fixtures import rss, write_config

from monitor import app, cli, window
from monitor.errors import StoreFault

WIRE = {"title": "TTP attack on police post in Lakki Marwat leaves two wounded",
        "summary": "Gunmen of the Tehreek-e-Taliban Pakistan attacked a police post in Lakki Marwat district before dawn, "
                   "wounding two officers, police said."}
OTHER = {"title": "TTP fighters ambush a convoy in North Waziristan, killing four soldiers",
         "summary": "Four soldiers were killed when militants of the Tehreek-e-Taliban Pakistan ambushed a convoy near "
                    "Mir Ali in North Waziristan on Tuesday, the military said."}


def feed(web, outlet: str, items: list[dict]) -> dict:
    made = [{**item, "guid": f"{outlet}-{number}", "path": f"/{outlet.lower()}/{number}.html"}
            for number, item in enumerate(items)]
    url = web.add(f"/{outlet.lower()}/rss.xml", rss(outlet, made), "application/rss+xml")
    return {"url": url, "outlet": outlet, "full_text": False, "alert_on_first_poll": True}


def run(path) -> None:
    assert cli.main(["--config", str(path), "--log-level", "debug", "run", "--once"]) == 0


def reads(capsys) -> list[str]:
    """What the runs since the last call said of their story windows: read from the saved one
    or rebuilt; and the damaged files they found."""
    said = capsys.readouterr().err.splitlines()
    return [line.split(" ", 1)[1].split(":")[0] for line in said if "window read" in line or "cannot be read" in line]


def stories_of(tmp_path) -> list[int]:
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        return [story for (story,) in db.execute("SELECT story_id FROM articles ORDER BY id")]


def test_the_story_window_is_saved_at_stop_and_read_by_the_next_run(tmp_path, web, capsys):
    desk = web.base.replace("http://", "json://") + "/desk"
    courier = feed(web, "Courier", [WIRE])
    run(write_config(tmp_path, [courier], {"desk": [desk]}))
    state = tmp_path / "state"
    assert (state / "story-window.pickle").exists() and (state / "event-window.pickle").exists()
    assert len(web.json_posts("/desk")) == 1

    # the next run: another outlet carries the wire text, word for word, and a report of another attack
    path = write_config(tmp_path, [courier, feed(web, "Dispatch", [WIRE, OTHER])], {"desk": [desk]})
    reads(capsys)
    run(path)
    assert reads(capsys) == ["DEBUG story window read (saved)", "DEBUG event window read (saved)"]
    with sqlite3.connect(state / "newsmon.db") as db:
        rows = db.execute("SELECT outlet, title, story_id FROM articles ORDER BY id").fetchall()
    assert rows[0][2] == rows[1][2] != rows[2][2]  # the copy joined the first run's story; the other attack is its own
    assert len(web.json_posts("/desk")) == 2  # one alert more: the other attack's

    # what the second run saved is what a rebuild from the store makes
    loaded = app.read(path)[0]
    opened = app.store.open_store(state)
    try:
        span = loaded.settings.story_window
        kept, rebuilt = window.load(state, "stories", opened, span), window.story_index(opened, span)
        assert sorted(kept.entries.values()) == sorted(rebuilt.entries.values())
        events = window.load(state, "events", opened, span)
        again = window.event_index(opened, span)
        assert events.documents == again.documents == 3
        assert sorted(events.df.values()) == sorted(again.df.values())
        for story, event in again.events.items():
            mine = events.events[story]
            for name in event.__slots__:
                if name not in ("words", "weights"):  # word keys: each index its own salt
                    assert getattr(mine, name) == getattr(event, name), name
            assert sorted(mine.weights) == sorted(event.weights)
    finally:
        opened.close()


def test_a_saved_window_the_store_has_moved_past_is_rebuilt(tmp_path, web, capsys):
    """A run that recorded articles and did not save (killed): the window saved before it no
    longer fits the store, and is rebuilt; so is one saved for another story window, and a
    damaged file (said once, at WARNING); each is saved anew at the stop."""
    desk = web.base.replace("http://", "json://") + "/desk"
    courier = feed(web, "Courier", [WIRE])
    run(write_config(tmp_path, [courier], {"desk": [desk]}))
    state = tmp_path / "state"
    old = tmp_path / "old"
    old.mkdir()
    for name in window.FILES.values():
        shutil.copy(state / name, old / name)
    path = write_config(tmp_path, [courier, feed(web, "Dispatch", [OTHER])], {"desk": [desk]})
    run(path)  # records the other attack, and saves
    for name in window.FILES.values():
        shutil.copy(old / name, state / name)  # as if that run had been killed before it saved
    dispatch = feed(web, "Dispatch", [OTHER, WIRE])
    path = write_config(tmp_path, [courier, dispatch], {"desk": [desk]})
    reads(capsys)
    run(path)
    assert reads(capsys) == ["DEBUG story window read (rebuilt)", "DEBUG event window read (rebuilt)"]
    assert stories_of(tmp_path) == [1, 2, 1]  # the copy still joined its story
    assert len(web.json_posts("/desk")) == 2

    path = write_config(tmp_path, [courier, dispatch], {"desk": [desk]}, story_window="2d")
    (state / "story-window.pickle").write_bytes(b"\x80\x05garbage")
    run(path)  # nothing new: nothing read, nothing saved
    web.add("/dispatch/rss.xml", rss("Dispatch", [{**OTHER, "guid": "d-9", "path": "/dispatch/9.html",
                                                     "title": OTHER["title"] + " (update)"}]),
            "application/rss+xml")
    run(path)
    said = reads(capsys)
    assert said[1:] == ["DEBUG story window read (rebuilt)", "DEBUG event window read (rebuilt)"]
    assert said[0].startswith("WARNING saved story window") and "cannot be read" in said[0]
    with app.store.open_store(state) as opened:
        assert window.load(state, "stories", opened, 2 * 86400) is not None  # saved anew


def test_a_window_that_may_not_be_the_stores_is_not_saved(tmp_path, web):
    """Not after a store fault in the process, and not when another process recorded articles
    after it was read (they are not in it): the file that process saved is kept."""
    desk = web.base.replace("http://", "json://") + "/desk"
    path = write_config(tmp_path, [feed(web, "Courier", [WIRE])], {"desk": [desk]})
    state = tmp_path / "state"

    faulted = app.open_app(app.read(path)[0])
    faulted.story_index(), faulted.event_index()
    faulted.store_failed(StoreFault("locked", "the state database is locked by another process"))
    asyncio.run(faulted.close())
    assert not list(state.glob("*.pickle"))

    earlier = app.open_app(app.read(path)[0])
    earlier.story_index(), earlier.event_index()  # read: nothing recorded yet
    run(path)  # another process records the wire report, and saves its window
    before = {name: (state / name).read_bytes() for name in window.FILES.values()}
    asyncio.run(earlier.close())
    assert {name: (state / name).read_bytes() for name in window.FILES.values()} == before


@pytest.mark.parametrize("kind", ["stories", "events"])
def test_an_index_that_missed_an_article_this_process_recorded_is_not_saved(tmp_path, web, kind):
    desk = web.base.replace("http://", "json://") + "/desk"
    path = write_config(tmp_path, [feed(web, "Courier", [WIRE])], {"desk": [desk]})
    opened = app.open_app(app.read(path)[0])
    index = opened.story_index() if kind == "stories" else opened.event_index()
    mark = opened._read_at[kind]
    if kind == "stories":  # as if the index had taken in an article whose recording failed
        index.counter += 1
    else:
        index.documents += 1
    assert not window.save(tmp_path / "state", kind, index, opened.store, mark)
    assert not (tmp_path / "state" / window.FILES[kind]).exists()
    if kind == "stories":
        index.counter -= 1
    else:
        index.documents -= 1
    assert window.save(tmp_path / "state", kind, index, opened.store, mark)
    asyncio.run(opened.close())
