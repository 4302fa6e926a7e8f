"""The configuration's geography: the user's [[sites]] (where their staff and offices are, for
rules' `near` and alerts' proximity) and [places.ID] (places they add to the bundled gazetteer).
Their keys and values are checked here; whether a site's `place` or a place's parent exists is
the gazetteer's to judge, once it is built (`monitor.app.read`)."""

from __future__ import annotations

from typing import Any

from monitor.config.schema import PLACE_KEYS, SITE_KEYS, Checker, Invalid, describe, parse_radius, suggest
from monitor.model import Site


def sites(reader: Checker, raw: Any) -> tuple[Site, ...]:
    """The [[sites]] of the main file: a name, a `place` (a gazetteer id: its coordinates) or
    `lat` and `lon`, and a `radius` (default 10 km)."""
    if not isinstance(raw, list):
        reader.problem("sites", f"expected an array of tables ([[sites]]), got {describe(raw)}")
        return ()
    out: list[Site] = []
    for index, table in enumerate(raw):
        path = f"sites[{index}]"
        if not isinstance(table, dict):
            reader.problem(path, f"expected a table, got {describe(table)}")
            continue
        for key in table:
            if key not in SITE_KEYS:
                reader.problem(f"{path}.{key}", f"unknown key {key!r}{suggest(key, SITE_KEYS)}")
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            reader.problem(f"{path}.name", "a site needs a name (rules' near and alerts use it)")
            continue
        if any(site.name == name for site in out):
            reader.problem(f"{path}.name", f"site {name!r} is defined twice")
        coordinates = [table.get(axis) for axis in ("lat", "lon")]
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in coordinates)
        if ("place" in table) == any(v is not None for v in coordinates):
            reader.problem(path, "give a site either a 'place' (a gazetteer id) or 'lat' and 'lon'")
            continue
        if "place" not in table and (not numbers or abs(coordinates[0]) > 90 or abs(coordinates[1]) > 180):
            reader.problem(path, "lat and lon must be decimal degrees (lat within ±90, lon within ±180)")
            continue
        try:
            radius = parse_radius(table.get("radius", 10))
        except Invalid as error:
            reader.problem(f"{path}.radius", str(error))
            continue
        place = table.get("place")
        out.append(Site(name, None if place else float(coordinates[0]), None if place else float(coordinates[1]),
                        radius, place if isinstance(place, str) else None))
    return tuple(out)


def places(reader: Checker, raw: list) -> tuple[tuple[str, dict], ...]:
    """The user's [places.ID] tables, their keys checked here (a place's parent, kind and
    names are the gazetteer's to judge: `monitor.app.read`)."""
    out: dict[str, dict] = {}
    for file, pid, table in raw:
        reader.file = file
        if not isinstance(table, dict):
            reader.problem(f"places.{pid}", f"expected a table, got {describe(table)}")
        elif pid in out:
            reader.problem(f"places.{pid}", f"place {pid!r} is defined twice")
        else:
            for key in table:
                if key not in PLACE_KEYS:
                    reader.problem(f"places.{pid}.{key}", f"unknown key {key!r}{suggest(key, PLACE_KEYS)}")
            out[pid] = {"kind": "town", **{key: value for key, value in table.items() if key in PLACE_KEYS}}
    return tuple(out.items())
