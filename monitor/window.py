"""The story window in memory: its two indexes read from the store (`story_index`,
`event_index`), and kept between runs (`save`, `load`): saved when newsmon stops, read back the
next time they are needed instead of being rebuilt from the store.

Every process that records articles needs the story window in memory: the copy signatures
(`story_index.StoryIndex`) and the open events (`events.EventIndex`) of the articles fetched within
`story_window`. Rebuilt from the store (`story_index`, `event_index`) they cost about 70 µs of
CPU an article, 1.3 s for the 18,000 of a 500-feed farm: most of a `run --once` that brings a
few new entries, and more the more feeds a user watches. So `App.close` saves them to the state
directory (`save`) and the next process reads them (`read`: `load`, else a rebuild), if the store
still holds what they were saved with.

What was saved is checked by a stamp of the store's articles from the oldest one in the window
on (`Store.window_stamp`): how many, the highest id and the sum of their story ids. An article
recorded since (by this newsmon or another process), removed, or moved to another story (a merge
moves it to an older story: a lower id) changes it, and the index is rebuilt from the store, as
it always was. So do another newsmon version, another story window, another version of the
signatures or features, and a file that cannot be read (said once, at WARNING).

An index is saved only when it is known to be the store's: not after a store fault in this
process (a write the store lost may be in memory), not when another process recorded articles
since it was read (they are in the store, not in memory), and not when it took in fewer or more
articles than this process recorded since (a recording that failed between the store and
memory). One read from the file and left as it was is not written again.

The files are pickles, written whole or not at all (a temporary file renamed into place), in
the state directory, which is newsmon's own (mode 0700): whoever can write there can change the
state database as well.
"""

from __future__ import annotations

import logging
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import monitor
from monitor import atomic, events, incidents, stories
from monitor.story_index import StoryIndex

if TYPE_CHECKING:
    from collections.abc import Iterator

    from monitor.store import Store

log = logging.getLogger("newsmon.store")
REREAD = 500  # articles of an older newsmon whose event features are read again at the first start (~10 ms each)

FORMAT = 4  # of the files (2: the story index is monitor.story_index.StoryIndex; 3: with its copies' heads; 4: a value's several holders in one slot)
FILES = {"stories": "story-window.pickle", "events": "event-window.pickle"}


@dataclass(frozen=True)
class Mark:
    """Where the store and an index stood when the index was read: the store's highest article
    id, how many articles this process had recorded (`Store.articles_added`), and how many the
    index had taken in (`taken`)."""

    last: int
    added: int
    taken: int


def mark(opened: Store, index: object) -> Mark:
    """The store and `index` as they stand now (see `Mark`)."""
    return Mark(opened.last_article(), opened.articles_added, taken(index))


def taken(index: object) -> int:
    """How many articles an index has taken in since it was made."""
    return index.counter if isinstance(index, StoryIndex) else index.documents


def path(state_dir: Path, kind: str) -> Path:
    """The file an index of `kind` ("stories" or "events") is saved in."""
    return Path(state_dir) / FILES[kind]


def _header(kind: str, window: float, stamp: tuple[int, int, int, int]) -> dict:
    return {"format": FORMAT, "newsmon": monitor.__version__, "kind": kind, "window": window,
            "signatures": stories.VERSION, "features": events.VERSION, "stamp": list(stamp)}


def load(state_dir: Path, kind: str, opened: Store, window: float) -> object | None:
    """The index of `kind` saved in the state directory, if the store still holds what it was
    saved with (see the module), else None (rebuild it). A file that cannot be read is said
    once and removed."""
    file = path(state_dir, kind)
    try:
        with open(file, "rb") as handle:
            header = pickle.load(handle)
            first = header.get("stamp", [None])[0] if isinstance(header, dict) else None
            if not isinstance(first, int) or header != _header(kind, window, opened.window_stamp(0.0, first)):
                log.debug("saved %s window %s does not fit the store: rebuilt", kind, file)
                return None
            index = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception as error:  # noqa: BLE001 (a truncated or foreign file: any unpickling error)
        log.warning("saved story window %s cannot be read (%s: %s): rebuilt from the state database, and saved again "
                    "when newsmon stops", file, type(error).__name__, error)
        file.unlink(missing_ok=True)
        return None
    return index if isinstance(index, KINDS[kind][0]) else None


def read(state_dir: Path, kind: str, opened: Store, window: float) -> tuple[object, str]:
    """The index of `kind`, and how it was read: "saved" (`load`), or "rebuilt" from the store
    when no saved one fits it (`story_index`, `event_index`)."""
    index = load(state_dir, kind, opened, window)
    return (index, "saved") if index is not None else (KINDS[kind][1](opened, window), "rebuilt")


def described(kind: str, index: object, *how: str) -> tuple[str, ...]:
    """How the logs name an index of `kind` and its size: ("story window", "18000 signatures");
    `how` ("saved", "rebuilt") between."""
    _class, _rebuild, name, unit = KINDS[kind]
    return (name, *how, f"{len(index)} {unit}")


def save(state_dir: Path, kind: str, index: object, opened: Store, since: Mark) -> bool:
    """Save an index of `kind`, read when the store stood at `since`, with the store's stamp
    (what the store must still hold for `load` to take it). Not when another process recorded
    articles since (they are not in it), nor when the saved one is this one unchanged. Whether
    it was written. The store's waiting writes are committed first (`Store.flush`)."""
    opened.flush()
    recorded = opened.articles_added - since.added
    if opened.articles_after(since.last) != recorded or taken(index) - since.taken != recorded:
        log.debug("%s window not saved: it may not hold what the store holds", kind)
        return False
    window = index.window
    header = _header(kind, window, opened.window_stamp(time.time() - window))
    file = path(state_dir, kind)
    try:
        with open(file, "rb") as handle:
            if pickle.load(handle) == header:
                return False  # the one saved is this one, unchanged
    except Exception:  # noqa: BLE001, S110 (none, or one that cannot be read: written anew)
        pass

    def write(handle: BinaryIO) -> None:
        pickle.dump(header, handle, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(index, handle, protocol=pickle.HIGHEST_PROTOCOL)

    atomic.write(file, write)
    return True


def story_index(opened: Store, window: float) -> StoryIndex:
    """The signatures of the articles fetched within the story window. Those an older newsmon
    made with another shingle hash are made again from the stored text, and stored, so that
    stories from before an upgrade are still joined (and the next start reads them as they are)."""
    since = time.time() - window
    index = StoryIndex(window, expected=opened.count_recent_signatures(since))
    resigned = []
    for article_id, story, blob, title, seen, original in opened.recent_signatures(since):
        if not stories.is_current(blob):
            blob = stories.signature(title, opened.article_text(article_id)).pack()
            resigned.append((article_id, blob))
        index.add_packed(story, blob, title, seen, original)
    if resigned:
        opened.set_signatures(resigned)
    return index


def event_index(opened: Store, window: float) -> events.EventIndex:
    """The events of the articles fetched within the story window. The features of the most
    recent articles an older newsmon recorded (before events, or with another version of them)
    are read again from their stored text, and stored, once: at most REREAD of them, so that the
    first start after an upgrade costs seconds, not minutes; older ones join copies only."""
    since = time.time() - window
    index = incidents.index(window)
    missing = []

    def stored() -> Iterator[tuple[int, events.Features, float]]:
        for article_id, story, blob, seen in opened.recent_features(since):
            found = events.Features.unpack(blob) if blob else None
            if found is None:
                missing.append((article_id, story, seen))
            else:
                yield story, found, seen

    index.load(stored())
    again = []
    for article_id, story, seen in missing[-REREAD:]:
        title, text, published, outlet = opened.article_for_features(article_id)
        found = incidents.read(title, text, published=incidents.day(published), outlet=outlet)
        again.append((article_id, found.pack()))
        index.add(story, found, seen)
    if again:
        log.info("event features read again for %d articles stored by an older newsmon (once)%s", len(again),
                 f"; {len(missing) - len(again)} older ones will join copies only" if len(missing) > len(again) else "")
        opened.set_features(again)
    return index


# kind -> (its index's class, how it is rebuilt from the store, its name and unit in the logs)
KINDS = {"stories": (StoryIndex, story_index, "story window", "signatures"),
         "events": (events.EventIndex, event_index, "event window", "events")}
