"""The verdict on an article (or an event) against an open event: the weights of its parts,
their weighted mean, and the thresholds of the join and of repair (see the package's docstring
and docs/stories.md)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from monitor.events.event import Event

CANDIDATES = 30  # events compared in full, most keys shared first
COMMON_KEY = 200  # a key (word, entity, place) held by more open events than this does not find candidates

# Weights of a comparison's parts (each between 0 and 1). The score is their weighted mean over
# the parts both sides say something about: a report that names no place is neither near nor far
# from one that does. An article joins the best event scoring JOIN or more. "names" (how many rare
# names they share) is counted, not scored: it anchors (NAMES, NAMED).
WEIGHTS = {"names": 0.0, "terms": 0.55, "entities": 0.15, "place": 0.15, "date": 0.1, "type": 0.1}
JOIN = 0.4
MIN_TERMS = 0.12  # reports in one script whose words are less alike than this are not one incident's
UNANCHORED = 0.6  # ...and, with no place or incident date in common, less alike than this
SAME_DAY = 0.4  # ...or than this, with the same incident date but not both reports of an incident
UNDATED = 0.2  # JOIN + this when neither their dates nor their publication days can be compared
SAME_TOLL = 0.1  # ...or JOIN + this when they give the same toll (`event.same_toll`)
MERGE = 0.45  # a report that joins one open event merges another into it when it scores this much with it too
SETTLE = 0.45  # two open events whose summaries are this alike, placed and dated as one incident, merge
SETTLE_WORDS = 0.6  # ...and two grown events, neither placed nor dated as one, whose words are this alike
NAME_RARE = 0.02  # a name that fewer than this share of the reports seen give is rare (see `EventIndex.rare_names`)
NAMES = 2  # reports that share this many rare names are anchored to one incident as by a place...
NAMED = 4  # ...and this many stand for a date in common: JOIN suffices, not JOIN + UNDATED
LATE = 3  # reports of other open events that a grown event may now take: at most this many are judged in full


def score(parts: dict[str, float]) -> float:
    """The weighted mean of a comparison's known parts (see WEIGHTS)."""
    weight = sum(WEIGHTS[name] for name in parts)
    return sum(WEIGHTS[name] * value for name, value in parts.items()) / weight if weight else 0.0


def described(parts: dict[str, float]) -> str:
    """A comparison's parts in words, for logs and `newsmon stories --why`."""
    return ", ".join(f"{value:.0f} rare names in common" if name == "names" else f"{name} {value:.2f}"
                     for name, value in parts.items())


@dataclass(frozen=True)
class Verdict:
    """Why an article was or was not joined to an event: for `newsmon stories --why`."""

    story: int
    score: float
    parts: dict
    guard: str | None  # the guard that refused the join, if one did


def foreign(script: str, event: Event, cosine: float | None) -> bool:
    """Whether a report (in `script`, `Features.script`) whose words are unlike an event's is in
    a language the event took in besides the script most of its reports are in (a Persian report
    and an English event that holds an Urdu one): its words are then not compared, as for
    another script."""
    scripts = event.scripts
    return (cosine is not None and cosine < MIN_TERMS and bool(script) and len(scripts) > 1
            and scripts.count(script) * 2 <= len(scripts)  # (most of them in `script`: it is the most common)
            and Counter(scripts).most_common(1)[0][0] != script)
