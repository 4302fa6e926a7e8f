"""How close an event is to the places a user watches (`[[sites]]`: an office, a guest house, a
project site): the great-circle distance from where the event happened, as precisely as the
reports place it, to each site, and whether that is within the site's radius.

An event's place is the lead place its reports name (`events.Features.where`: the most specific
place first, then what contains it). Its precision is that place's kind: a site, a crossing or a
town is "town" precision, a district "district", a province "province". An event placed only at
province level (or only in a country) is never near a site on that basis alone: a province is
too large for its centre to say anything about an office in it. A district's coordinates are its
headquarters town's, so district precision is kept and said ("≈12 km, district precision").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from monitor.model import Site

EARTH_KM = 6371.0088
PRECISION = {"landmark": "site", "crossing": "town", "town": "town", "district": "district", "division": "province",
             "province": "province", "country": "country"}
NEAR_ENOUGH = ("site", "town", "district")  # precisions that can put an event near a site


@dataclass(frozen=True)
class Proximity:
    """The nearest site an event is within the radius of: how far (km), and the precision of
    the event's place that the distance rests on."""

    site: str
    km: float
    precision: str
    place: str  # the event's place, as named

    def said(self, show_site: bool) -> str:
        """"≈3 km from a watched site (town precision)", or with the site's name."""
        where = f"from {self.site}" if show_site else "from a watched site"
        distance = f"{self.km:.0f}" if self.km >= 1 else "<1"
        return f"≈{distance} km {where} ({self.precision} precision: {self.place})"


class Gazetteer(Protocol):
    def place(self, place_id: str): ...  # .name, .kind, .lat, .lon


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def locate(where: Sequence[str], gazetteer: Gazetteer) -> tuple[float, float, str, str] | None:
    """(lat, lon, precision, name) of an event placed at `where` (most specific place first):
    the first place of the chain with coordinates, at its own precision; None when none has."""
    for place_id in where:
        try:
            place = gazetteer.place(place_id)
        except KeyError:
            continue
        if place.lat is not None and place.lon is not None:
            return place.lat, place.lon, PRECISION.get(place.kind, "province"), place.name
    return None


def nearest(where: Sequence[str], sites: Iterable[Site], gazetteer: Gazetteer,
            only: Iterable[str] | None = None) -> Proximity | None:
    """The nearest of `sites` (or of those named in `only`) whose radius the event at `where`
    is within, at a precision that can say so; None when none is."""
    located = locate(where, gazetteer)
    if located is None:
        return None
    lat, lon, precision, name = located
    if precision not in NEAR_ENOUGH:
        return None
    wanted = None if only is None else set(only)
    best = None
    for site in sites:
        if wanted is not None and site.name not in wanted:
            continue
        km = distance_km(lat, lon, site.lat, site.lon)
        if km <= site.radius and (best is None or km < best.km):
            best = Proximity(site.name, km, precision, name)
    return best
