"""An open event: what its reports say, summed; and the guards that keep an article or another
event from it (places, dates, types), shared by the join (`index`) and repair."""

from __future__ import annotations

import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date

from monitor.events.features import Features

EVENT_TERMS = 80  # an event's heaviest words, kept in its summary
KEY_WORDS = 20  # an article's or event's heaviest words that find candidates
DATE_APART = 2  # days: incident dates this far apart are two incidents
FOLLOW_UP = 10  # days: a report published this long after another's incident is not about it


class Event:
    """An open event: what its reports say, summed. Tens of thousands are open at once, so it
    keeps small tuples and sets rather than counters (about 2 KB an event)."""

    __slots__ = ("story", "words", "weights", "entities", "wheres", "areas", "places", "types", "dates", "published", "scripts",
                 "outlets", "reports", "seen")

    def __init__(self, story: int):
        self.story = story
        # its reports' words (by their hash) and weights summed, heaviest first (EVENT_TERMS kept)
        self.words = array("q")
        self.weights = array("f")
        self.entities: frozenset[str] = frozenset()
        self.wheres: tuple[tuple[str, ...], ...] = ()  # the lead-place chains of its reports
        self.areas: tuple[tuple[str | None, str | None, str | None], ...] = ()  # their (district, province, country)
        self.places: frozenset[str] = frozenset()
        self.types: tuple[str, ...] = ()  # its reports' incident types, "other" left out
        self.dates: tuple[int, ...] = ()  # its reports' first incident dates
        self.published: tuple[int, ...] = ()  # the days its reports were published
        self.scripts: tuple[str, ...] = ()
        self.outlets: tuple[str, ...] = ()
        self.reports = 0
        self.seen = 0.0

    def event_type(self) -> str:
        """The type most of its reports give ("other" if none gives one)."""
        return Counter(self.types).most_common(1)[0][0] if self.types else "other"

    def add(self, found: Features, seen: float) -> None:
        self.reports += 1
        self.seen = max(self.seen, seen)
        terms = dict(zip(self.words, self.weights))
        for word, weight in found.terms:
            key = hash(word)
            terms[key] = terms.get(key, 0.0) + weight
        heaviest = sorted(terms.items(), key=lambda item: -item[1])[:EVENT_TERMS]
        self.words = array("q", [key for key, _weight in heaviest])
        self.weights = array("f", [weight for _key, weight in heaviest])
        self.entities = self.entities | found.entities if self.entities else found.entities  # shared, not copied
        self.places = self.places | found.places if self.places else found.places
        if found.event_type != "other":
            self.types += (found.event_type,)
        area = (found.district, found.province, found.country) if found.where else None
        for name, value in (("wheres", found.where), ("areas", area), ("dates", found.dates[0] if found.dates else None),
                            ("published", found.published), ("scripts", found.script), ("outlets", found.outlet)):
            held = getattr(self, name)
            if value and value not in held:
                setattr(self, name, held + (value,))


    def absorb(self, other: Event) -> None:
        """Take in what another open event's reports said (the two were found to be one)."""
        self.reports += other.reports
        self.seen = max(self.seen, other.seen)
        terms = dict(zip(self.words, self.weights))
        for key, weight in zip(other.words, other.weights):
            terms[key] = terms.get(key, 0.0) + weight
        heaviest = sorted(terms.items(), key=lambda item: -item[1])[:EVENT_TERMS]
        self.words = array("q", [key for key, _weight in heaviest])
        self.weights = array("f", [weight for _key, weight in heaviest])
        self.entities |= other.entities
        self.places |= other.places
        self.types += other.types
        for name in ("wheres", "areas", "dates", "published", "scripts", "outlets"):
            held = getattr(self, name)
            setattr(self, name, held + tuple(value for value in getattr(other, name) if value not in held))


def apart(a: Event, b: Event, compatible: Callable[[str, str], bool]) -> str | None:
    """The guard that keeps two open events apart, if one does (the article guards, event to
    event, stricter): every area of one conflicts with every area of the other (even in a
    border clash, where a report may join an event placed across the border); their incident
    dates are DATE_APART or more days apart; their types cannot be one incident's."""
    if a.areas and b.areas and all(_chain_conflict(mine, theirs) for mine in a.areas for theirs in b.areas):
        return "places"
    if a.dates and b.dates and min(abs(mine - theirs) for mine in a.dates for theirs in b.dates) >= DATE_APART:
        return "dates"
    if not compatible(a.event_type(), b.event_type()):
        return "type"
    return None


def _keys(found: Features | Event) -> set:
    """What finds an event, and what an article looks it up by: its heaviest words (by their
    hash: an int), its entities and its lead place and district (strings)."""
    if isinstance(found, Event):
        words: set = set(found.words[:KEY_WORDS])  # heaviest first
        leads = {place for where in found.wheres for place in where[:2]}
    else:
        words = {hash(word) for word, _weight in found.terms[:KEY_WORDS]}
        leads = set(found.where[:2])
    return words | {_key("e:", name) for name in found.entities} | {_key("p:", place) for place in leads}


def _key(kind: str, name: str) -> str:
    """A lookup key, interned: tens of thousands of events hold the same ones."""
    return sys.intern(kind + name)


def _chain_conflict(a: tuple[str | None, str | None, str | None], b: tuple[str | None, str | None, str | None]) -> bool:
    """Whether two (district, province, country) triples name different areas neither of which
    contains the other: compared at the most specific level both know."""
    for mine, theirs in zip(a, b):
        if mine and theirs:
            return mine != theirs
    return False


def _dates_apart(found: Features, event: Event) -> bool:
    """Whether the dates they give cannot be one incident's: incident dates DATE_APART or more
    days apart; or, where one side gives only the day it was published, an incident after that
    day, or more than FOLLOW_UP days before it; or publication days that far apart."""
    if found.dates and event.dates:  # a follow-up's first date may be a later development's
        return min(abs(mine - day) for mine in found.dates[:3] for day in event.dates) >= DATE_APART
    if found.month_days and event.dates:
        return _apart_in_year(found.month_days[0], event.dates) >= DATE_APART
    if found.dates and event.published:
        return all(found.dates[0] > day + 1 or day - found.dates[0] > FOLLOW_UP for day in event.published)
    if event.dates and found.published is not None:
        return all(day > found.published + 1 or found.published - day > FOLLOW_UP for day in event.dates)
    if found.published is not None and event.published:
        return all(abs(found.published - day) > FOLLOW_UP for day in event.published)
    return False


def _apart_in_year(month_day: tuple[int, int], days: Iterable[int]) -> int:
    """Days between a day of the year and the nearest of `days`, placed in their years."""
    best = 366
    for day in days:
        year = date.fromordinal(day).year
        for candidate_year in (year - 1, year, year + 1):
            try:
                best = min(best, abs(date(candidate_year, *month_day).toordinal() - day))
            except ValueError:  # February 29 of a year without one
                continue
    return best
