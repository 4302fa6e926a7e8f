"""An open event: what its reports say, summed; and the guards that keep an article or another
event from it (places, dates, types), shared by the join (`index`) and repair."""

from __future__ import annotations

import sys
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from operator import itemgetter
from typing import NamedTuple

from monitor.events.features import Features

EVENT_TERMS = 80  # an event's heaviest words, kept in its summary
KEY_WORDS = 20  # an article's or event's heaviest words that find candidates
DATE_APART = 2  # days: incident dates this far apart are two incidents
TOLL = 3  # killed or injured: a toll this high that two reports give alike is a sign of one incident
FOLLOW_UP = 10  # days: a report published this long after another's incident is not about it


class Dated(NamedTuple):
    """A report's dates as the dates guard (`dates_apart`) reads them."""

    dates: tuple[int, ...]
    month_days: tuple[tuple[int, int], ...]
    published: int | None


class Event:
    """An open event: what its reports say, summed. Tens of thousands are open at once, so it
    keeps small tuples and sets rather than counters (about 2 KB an event)."""

    __slots__ = ("story", "words", "weights", "entities", "names", "wheres", "areas", "places", "types", "dates", "month_days",
                 "published", "scripts", "outlets", "killed", "injured", "first_dates", "reports", "seen")

    def __init__(self, story: int):
        self.story = story
        # its reports' words (by their keys: EventIndex.key) and weights summed, heaviest first (EVENT_TERMS kept)
        self.words = array("q")
        self.weights = array("f")
        self.entities: frozenset[str] = frozenset()
        self.names: frozenset[str] = frozenset()  # the names its reports' leads give (interned)
        self.wheres: tuple[tuple[str, ...], ...] = ()  # the lead-place chains of its reports
        self.areas: tuple[tuple[str | None, str | None, str | None], ...] = ()  # their (district, province, country)
        self.places: frozenset[str] = frozenset()
        self.types: tuple[str, ...] = ()  # its reports' incident types, "other" left out
        self.dates: tuple[int, ...] = ()  # its reports' first incident dates
        self.month_days: tuple[tuple[int, int], ...] = ()  # the days of the year its undated reports give
        self.published: tuple[int, ...] = ()  # the days its reports were published
        self.scripts: tuple[str, ...] = ()  # its reports' scripts, one for each
        self.outlets: tuple[str, ...] = ()
        self.first_dates: tuple[int, ...] = ()  # the incident dates its first report gives (see `lone`)
        self.killed: tuple[int, ...] = ()  # the tolls its reports give
        self.injured: tuple[int, ...] = ()
        self.reports = 0
        self.seen = 0.0

    def event_type(self) -> str:
        """The type most of its reports give ("other" if none gives one)."""
        return Counter(self.types).most_common(1)[0][0] if self.types else "other"

    def add(self, found: Features, seen: float, keys: Sequence[int]) -> bool:
        """Count `found` as one of its reports (`keys`: its words' keys, `EventIndex.keys`);
        whether it told the event anything new: a word, entity, name, place, date, type, toll or
        script its reports had not given (a copy of one of them, word for word, tells it
        nothing: only its weights and outlets grow)."""
        self.reports += 1
        self.seen = max(self.seen, seen)
        if self.reports == 1:
            self.first_dates = found.dates[:3]
        terms = dict(zip(self.words, self.weights))
        known, get = len(terms), terms.get
        for key, (_word, weight) in zip(keys, found.terms):
            terms[key] = get(key, 0.0) + weight
        told = len(terms) != known
        # heaviest first; equal weights keep their order (a reversed sort is stable too)
        heaviest = sorted(terms.items(), key=itemgetter(1), reverse=True)[:EVENT_TERMS]
        self.words = array("q", map(itemgetter(0), heaviest))
        self.weights = array("f", map(itemgetter(1), heaviest))
        sizes = len(self.entities), len(self.places), len(self.names)
        self.entities = self.entities | found.entities if self.entities else found.entities  # shared, not copied
        self.places = self.places | found.places if self.places else found.places
        if found.names:
            self.names = self.names.union(map(sys.intern, found.names))
        told = told or sizes != (len(self.entities), len(self.places), len(self.names))
        if found.event_type != "other":
            told = told or found.event_type not in self.types
            self.types += (found.event_type,)
        area = (found.district, found.province, found.country) if found.where else None
        if found.script:
            told = told or found.script not in self.scripts
            self.scripts += (found.script,)  # one for each report: which script most are in counts
        month_day = found.month_days[0] if found.month_days and not found.dates else None
        for name, value in (("wheres", found.where), ("areas", area), ("dates", found.dates[0] if found.dates else None),
                            ("month_days", month_day),
                            ("published", found.published), ("outlets", found.outlet), ("killed", found.killed),
                            ("injured", found.injured)):
            held = getattr(self, name)
            if value and value not in held:
                setattr(self, name, held + (value,))
                told = told or name != "outlets"  # (an area is new only with a new lead place)
        return told

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
        self.names |= other.names
        self.places |= other.places
        self.types += other.types
        self.scripts += other.scripts
        for name in ("wheres", "areas", "dates", "month_days", "published", "outlets", "killed", "injured"):
            held = getattr(self, name)
            setattr(self, name, held + tuple(value for value in getattr(other, name) if value not in held))

    def dated(self) -> Dated:
        """What the dates guard (`dates_apart`) reads of `lone`: its dates alone, without the
        rest of the features made."""
        return Dated(self.first_dates, self.month_days[:1], self.published[0] if self.published else None)

    def lone(self) -> Features:
        """What the report of an event of one report said (or, of an event of undated reports,
        what they said together), as features but for its words, which the event keeps by their
        keys: to judge it again against an event that has grown (`repair.late`)."""
        district, province, country = self.areas[0] if self.areas else (None, None, None)
        dated = self.dated()
        return Features(entities=self.entities, names=tuple(self.names), where=self.wheres[0] if self.wheres else (), places=self.places,
                        district=district, province=province, country=country,
                        event_type=self.event_type(), dates=dated.dates, published=dated.published,
                        month_days=dated.month_days,
                        killed=self.killed[0] if self.killed else None, injured=self.injured[0] if self.injured else None,
                        script=self.scripts[0] if self.scripts else "", outlet=self.outlets[0] if self.outlets else "")


def apart(a: Event, b: Event, compatible: Callable[[str, str], bool]) -> str | None:
    """The guard that keeps two open events apart, if one does (the article guards, event to
    event, stricter): every lead place of one is apart from every lead place of the other
    (`places_apart`, over `leads`; even in a border clash, where a report may join an event
    placed across the border); their incident dates are DATE_APART or more days apart; their
    types cannot be one incident's."""
    if a.wheres and b.wheres and all(places_apart(*mine, *theirs) for mine in leads(a) for theirs in leads(b)):
        return "places"
    if a.dates and b.dates and min(abs(mine - theirs) for mine in a.dates for theirs in b.dates) >= DATE_APART:
        return "dates"
    yearless, dated = (a.month_days, b.dates) if a.month_days and b.dates else (b.month_days, a.dates)
    if yearless and dated and not (a.dates and b.dates) and min(
            _apart_in_year(month_day, dated) for month_day in yearless) >= DATE_APART:
        return "dates"  # a day of the year that one of them gives, in the years of the other's dates
    if not compatible(a.event_type(), b.event_type()):
        return "type"
    return None


def leads(event: Event) -> list[tuple[tuple[str, ...], str | None]]:
    """(chain, district) of the lead place of each of an event's reports: those below a
    province, where any is (a report placed only in "Khyber Pakhtunkhwa" that joined a Bannu
    event does not open it to every district of the province)."""
    districts = {area[0] for area in event.areas if area[0]}
    wide = {name for area in event.areas for name in area[1:] if name}
    found = [(where, next((place for place in where if place in districts), None)) for where in event.wheres]
    below = [(where, district) for where, district in found if district is not None or where[0] not in wide]
    return below or found


def places_apart(a: tuple[str, ...], a_district: str | None, b: tuple[str, ...], b_district: str | None) -> bool:
    """Whether two lead places (chains, most specific first, with their districts) cannot be
    one incident's: neither contains the other, and they are in different districts (an Afghan
    province named as its capital's district contains the districts inside it); or, where one
    has no district of its own (Chitral, a division of two districts; a city such as Karachi),
    the narrowest area holding both is not a district: Chitral and Bajaur are apart, Chitral and
    Drosh, a town in it, are not."""
    if a[0] in b or b[0] in a:
        return False
    if a_district and b_district:
        return a_district != b_district and a_district not in b and b_district not in a
    common = next((place for place in a if place in b), None)
    return common is None or common not in (a_district, b_district)


def lookup_keys(found: Features | Event, words: Sequence[int] = ()) -> set:
    """What finds an event, and what an article looks it up by: its heaviest words (by their
    keys: ints; an article's given in `words`, `EventIndex.keys`), its entities and its lead
    place and district (strings)."""
    if isinstance(found, Event):
        return event_keys(found.words[:KEY_WORDS], found.entities, found.wheres)  # heaviest first
    return set(words[:KEY_WORDS]) | {_key("e:", name) for name in found.entities} | {_key("p:", place) for place in found.where[:2]}


def event_keys(heaviest: Iterable[int], entities: Iterable[str], wheres: Iterable[tuple[str, ...]]) -> set:
    """An event's keys (`lookup_keys`) from its heaviest words, entities and lead places."""
    leads = {place for where in wheres for place in where[:2]}
    return set(heaviest) | {_key("e:", name) for name in entities} | {_key("p:", place) for place in leads}


def same_toll(found: Features, event: Event) -> bool:
    """Whether a report gives a toll that one of an event's reports gives too (killed or
    injured, TOLL or more: one or two killed says little)."""
    return bool(found.killed and found.killed >= TOLL and found.killed in event.killed
                or found.injured and found.injured >= TOLL and found.injured in event.injured)


def local_area(where: tuple[str, ...], district: str | None, province: str | None, country: str | None) -> str | None:
    """The area below the province that a lead place is in: its district, else the widest place
    of its chain under the province (a division such as Karachi, which has no district)."""
    if district:
        return district
    below = [place for place in where if place not in (province, country)]
    return below[-1] if below and (province or country) else None


def local_areas(event: Event) -> set[str]:
    """The areas below the province that an event's lead places are in (see `local_area`)."""
    wide = {name for area in event.areas for name in area[1:] if name}
    found = {area[0] for area in event.areas if area[0]}
    districts = set(found)
    for where in event.wheres:
        below = [place for place in where if place not in wide]
        if below and len(below) < len(where) and districts.isdisjoint(where):
            found.add(below[-1])
    return found


def _key(kind: str, name: str) -> str:
    """A lookup key, interned: tens of thousands of events hold the same ones."""
    return sys.intern(kind + name)


def dates_apart(found: Features, event: Event) -> bool:
    """Whether the dates they give cannot be one incident's: incident dates DATE_APART or more
    days apart; or, where one side gives only the day it was published, an incident after that
    day, or more than FOLLOW_UP days before it; or publication days that far apart."""
    days = incident_days(found, event)
    if days is not None:
        return days >= DATE_APART
    if found.dates and event.published:
        return all(found.dates[0] > day + 1 or day - found.dates[0] > FOLLOW_UP for day in event.published)
    if event.dates and found.published is not None:
        return all(day > found.published + 1 or found.published - day > FOLLOW_UP for day in event.dates)
    if found.published is not None and event.published:
        return all(abs(found.published - day) > FOLLOW_UP for day in event.published)
    return False


def incident_days(found: Features, event: Event) -> int | None:
    """Days between the incident dates a report and an event give (the nearest of the report's
    first three: a follow-up's first date may be a later development's; a day of the year, when
    one side says no year, placed in the other's years), None when they cannot be compared. An
    event of one report is compared as a report is, both ways: the article's first date against
    its report's first three too (whichever of the two came first, a follow-up that opens with its
    own day joins the report of the incident), but not background date against background date."""
    if found.dates and event.dates:
        days = min(abs(mine - day) for mine in found.dates[:3] for day in event.dates)
        if event.reports == 1:  # symmetric: the article's first date against the report's first three
            days = min(days, min(abs(found.dates[0] - day) for day in event.first_dates))
        return days
    if found.month_days and event.dates:
        return _apart_in_year(found.month_days[0], event.dates)
    if found.dates and event.month_days:
        return min(_apart_in_year(month_day, found.dates[:1]) for month_day in event.month_days)
    if found.month_days and event.month_days:  # both without a year: within one (a leap one, for February 29)
        return _apart_in_year(found.month_days[0], [date(2000, *month_day).toordinal() for month_day in event.month_days])
    return None


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
