"""An event's facts, gathered from all its reports: what happened, how bad, who claimed it, where
and when, each with the sentence, outlet and link it came from, revised as reports arrive.

Each report's own facts are read once (`monitor.incidents.read` → `events.Features`, with their
sentences); `add` folds one more report into an event's facts and `merge` joins two events'.
Both are pure and order-tolerant enough to be kept incrementally in the store (`stories.facts`):

- **type**: the type most reports give ("other" left out); a "bombing" whose reports include a
  suicide bombing is a suicide bombing (a report that says only "blast" is not a denial);
- **killed, injured**: the highest figure any report states, the latest such statement its
  evidence. Tolls rise as bodies are counted; a later, lower figure is almost always a part
  ("three soldiers among the dead") or an earlier count repeated, not a revision downwards.
  The lowest figure stated is kept too: where reports disagree (one outlet's 46 against
  others' 15), alerts say so ("46 killed (reports: 15–46)") rather than hide it;
- **claimed by**: the watched actor most reports name as claiming it (ties: the first named);
- **place**: the first report's lead place, replaced by another report's when that one lies
  inside it (Khyber Pakhtunkhwa → Peshawar → Hayatabad: the place only ever gets more precise),
  or when that one was published on an earlier day. "First" is the earliest published, not the
  first newsmon read: on a first poll, or catching up, a day-after report placed where a denial
  was issued ("KABUL —") arrives as often before the report of the strikes as after it, and
  the event is placed where the strikes were either way;
- **date**: the incident date most reports give.

`EventFacts.said` is what alerts state of them (`model.IncidentFacts`): the alert path grades a
severity from it (`severity = "auto"`) and tells material changes (`on_update = "material"`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import NamedTuple

from monitor.model import IncidentFacts

TYPE_NAMES = {  # monitor.facts.EVENT_TYPES as alerts say them
    "suicide_bombing": "suicide bombing", "bombing_ied": "bombing", "armed_assault": "armed assault",
    "targeted_killing": "targeted killing", "airstrike_drone": "air or drone strike",
    "cross_border_clash": "cross-border clash", "kidnapping_hijacking": "kidnapping or hijacking",
    "military_operation": "military operation"}
REFINES = {"bombing_ied": "suicide_bombing"}  # a report of this type refines a majority of that one


@dataclass(frozen=True)
class Stated:
    """One fact of an event as one report states it."""

    value: str | int  # a type, a figure, an entity ("pack.ttp"), a place id
    shown: str  # how an alert says it ("suicide bombing", "32", "TTP", "Peshawar, Khyber Pakhtunkhwa")
    evidence: str  # the sentence it was read from
    outlet: str = ""
    url: str | None = None
    article: int | None = None
    at: float = 0.0  # when newsmon recorded the report

    def as_dict(self) -> dict:
        return {"value": self.value, "shown": self.shown, "evidence": self.evidence, "outlet": self.outlet,
                "url": self.url, "article": self.article, "at": self.at}


@dataclass(frozen=True)
class Place:
    """Where an event happened, as precisely as its reports say."""

    where: tuple[str, ...]  # the place and what contains it, most specific first
    precision: str  # one of model.PRECISIONS
    lat: float | None = None
    lon: float | None = None
    day: int | None = None  # the day (ordinal) the report it came from was published, if known


@dataclass(frozen=True)
class Report:
    """One report, for `add`: its features and where it came from."""

    features: object  # events.Features
    outlet: str
    url: str | None
    article: int | None
    at: float


class Namer(NamedTuple):
    """How facts are said: a place chain → (name as shown, precision, lat, lon); an entity id → its name."""

    place: Callable[[tuple[str, ...]], tuple[str, str, float | None, float | None] | None]
    entity: Callable[[str], str]


STATED = ("killed", "injured", "place")  # the Stated fields EventFacts keeps; type and claim are derived


LOADED = 256  # stories' facts kept as read (`EventFacts.load`), by their text


@dataclass(frozen=True)
class EventFacts:
    """An event's facts. The type, claimant and date are what most reports say (`types`,
    `claims`, `dates`), each with the evidence of the first report that said it (`firsts`)."""

    killed: Stated | None = None
    injured: Stated | None = None
    killed_low: int | None = None  # the lowest figure any report states
    injured_low: int | None = None
    place: Stated | None = None
    located: Place | None = None
    types: tuple[tuple[str, int], ...] = ()  # reports per type, first given first
    claims: tuple[tuple[str, int], ...] = ()  # reports per claimant
    dates: tuple[tuple[str, int], ...] = ()  # reports per incident date (ISO)
    reports: int = 0
    firsts: dict = field(default_factory=dict, hash=False)  # "type:X" / "claim:Y" -> the first Stated of it

    @property
    def event_type(self) -> Stated | None:
        winner = _winner(self.types)
        refined = REFINES.get(winner or "")
        kind = refined if refined and dict(self.types).get(refined) else winner
        return self.firsts.get(f"type:{kind}") if kind else None

    @property
    def claimed_by(self) -> Stated | None:
        claim = _winner(self.claims)
        return self.firsts.get(f"claim:{claim}") if claim else None

    @property
    def date(self) -> str | None:
        """The incident's day (ISO) most reports give."""
        return _winner(self.dates)

    def dump(self) -> str:
        """JSON for the store."""
        data: dict = {name: getattr(self, name).as_dict() for name in STATED if getattr(self, name) is not None}
        if self.located:
            data["located"] = {"where": list(self.located.where), "precision": self.located.precision,
                               "lat": self.located.lat, "lon": self.located.lon, "day": self.located.day}
        data.update(low=[self.killed_low, self.injured_low], types=[list(p) for p in self.types],
                    claims=[list(p) for p in self.claims], dates=[list(p) for p in self.dates], reports=self.reports,
                    firsts={key: stated.as_dict() for key, stated in self.firsts.items()})
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None) -> EventFacts | None:
        """Facts from `dump`; None for None or unreadable text (they are gathered again). The
        same text gives the same (immutable) facts: the last LOADED are kept, as every copy of a
        wire text that joins its story reads the story's facts again."""
        if not text:
            return None
        return _loaded(text)

    @classmethod
    def _load(cls, text: str) -> EventFacts | None:
        try:
            data = json.loads(text)
            located = data.get("located")
            killed_low, injured_low = data.get("low") or (None, None)
            return cls(**{name: Stated(**data[name]) for name in STATED if name in data},
                       located=Place(tuple(located["where"]), located["precision"], located["lat"], located["lon"],
                                     located.get("day"))
                       if located else None,
                       killed_low=killed_low, injured_low=injured_low,
                       types=tuple(tuple(p) for p in data.get("types", ())),
                       claims=tuple(tuple(p) for p in data.get("claims", ())),
                       dates=tuple(tuple(p) for p in data.get("dates", ())), reports=data.get("reports", 0),
                       firsts={key: Stated(**value) for key, value in data.get("firsts", {}).items()})
        except (ValueError, TypeError, KeyError):
            return None

    def said(self) -> IncidentFacts:
        """What an alert states of these facts."""
        return IncidentFacts(
            event_type=self.event_type.shown if self.event_type else "",
            killed=int(self.killed.value) if self.killed else None,
            injured=int(self.injured.value) if self.injured else None,
            killed_low=self.killed_low, injured_low=self.injured_low,
            claimed_by=self.claimed_by.shown if self.claimed_by else "",
            place=self.place.shown if self.place else "",
            precision=self.located.precision if self.located else "")

    def as_dict(self) -> dict:
        """The facts as `newsmon stories --json` shows them: each with its evidence and source."""
        out: dict = {}
        for name in ("event_type", "killed", "injured", "claimed_by", "place"):
            stated = getattr(self, name)
            if stated is not None:
                out[name] = stated.as_dict()
                low = getattr(self, f"{name}_low", None)
                if low is not None and low != stated.value:
                    out[name]["lowest"] = low  # what the report that said least said
        if self.located is not None:
            out["place"] = {**out.get("place", {}), "precision": self.located.precision, "lat": self.located.lat,
                            "lon": self.located.lon, "inside": list(self.located.where[1:])}
        if self.date:
            out["date"] = self.date
        out["reports"] = self.reports
        return out


_loaded = functools.lru_cache(maxsize=LOADED)(EventFacts._load)  # (see `EventFacts.load`)


def _count(pairs: tuple[tuple[str, int], ...], more: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """`pairs` with the counts of `more` added (first given first)."""
    counts = dict(pairs)
    for key, times in more:
        counts[key] = counts.get(key, 0) + times
    return tuple(counts.items())


def _winner(pairs: tuple[tuple[str, int], ...]) -> str | None:
    """The value most reports give; ties go to the one given first."""
    best = None
    for value, count in pairs:  # insertion order: first given first
        if best is None or count > best[1]:
            best = (value, count)
    return best[0] if best else None


def _higher(current: Stated | None, new: Stated | None) -> Stated | None:
    """The higher figure; at equal figures, the later statement (the latest word on it)."""
    if new is None or current is None:
        return current or new
    old_value, new_value = int(current.value), int(new.value)
    return new if new_value > old_value or (new_value == old_value and new.at >= current.at) else current


def _lower(current: int | None, new: int | None) -> int | None:
    return current if new is None else new if current is None else min(current, new)


def _finer(current: tuple[Stated | None, Place | None], new: tuple[Stated | None, Place | None]):
    """The more precise of two placings: the new one when it lies inside the current one, or came
    from a report published on an earlier day (the current one not lying inside it: a finer
    place is kept, whoever said it first)."""
    located, new_located = current[1], new[1]
    if new_located is None:
        return current
    if located is None:
        return new
    if new_located.where[0] != located.where[0] and located.where[0] in new_located.where[1:]:
        return new
    if (new_located.day is not None and located.day is not None and new_located.day < located.day
            and new_located.where[0] not in located.where[1:]):
        return new
    return current


def add(current: EventFacts | None, report: Report, namer: Namer) -> EventFacts:
    """`current` (None: an event's first report) with one more report's facts folded in."""
    current = current or EventFacts()
    found = report.features

    def stated(name: str, value, shown: str) -> Stated:
        return Stated(value, shown, found.said(name), report.outlet, report.url, report.article, report.at)

    firsts = dict(current.firsts)
    kind = found.event_type if found.event_type != "other" else None
    if kind:
        firsts.setdefault(f"type:{kind}", stated("type", kind, TYPE_NAMES.get(kind, kind.replace("_", " "))))
    if found.claimed_by:
        firsts.setdefault(f"claim:{found.claimed_by}", stated("claimed_by", found.claimed_by, namer.entity(found.claimed_by)))
    killed = stated("killed", found.killed, str(found.killed)) if found.killed is not None else None
    injured = stated("injured", found.injured, str(found.injured)) if found.injured is not None else None
    placing: tuple[Stated | None, Place | None] = (None, None)
    if found.where and (described := namer.place(found.where)):
        name, precision, lat, lon = described
        placing = (stated("place", found.where[0], name), Place(tuple(found.where), precision, lat, lon, found.published))
    place, located = _finer((current.place, current.located), placing)
    day = date.fromordinal(found.dates[0]).isoformat() if found.dates else None
    return replace(
        current, killed=_higher(current.killed, killed), injured=_higher(current.injured, injured),
        killed_low=_lower(current.killed_low, found.killed), injured_low=_lower(current.injured_low, found.injured),
        place=place, located=located, types=_count(current.types, ((kind, 1),) if kind else ()),
        claims=_count(current.claims, ((found.claimed_by, 1),) if found.claimed_by else ()),
        dates=_count(current.dates, ((day, 1),) if day else ()), reports=current.reports + 1, firsts=firsts)


def merge(survivor: EventFacts | None, absorbed: EventFacts | None) -> EventFacts | None:
    """The facts of two events found to be one (`absorbed`'s reports joined `survivor`'s)."""
    if survivor is None or absorbed is None:
        return survivor or absorbed
    place, located = _finer((survivor.place, survivor.located), (absorbed.place, absorbed.located))
    return replace(
        survivor, killed=_higher(survivor.killed, absorbed.killed), injured=_higher(survivor.injured, absorbed.injured),
        killed_low=_lower(survivor.killed_low, absorbed.killed_low),
        injured_low=_lower(survivor.injured_low, absorbed.injured_low), place=place, located=located,
        types=_count(survivor.types, absorbed.types), claims=_count(survivor.claims, absorbed.claims),
        dates=_count(survivor.dates, absorbed.dates), reports=survivor.reports + absorbed.reports,
        firsts={**absorbed.firsts, **survivor.firsts})
