"""Gazetteer data: the bundled `monitor/packs/places.toml` and a configuration's own
`[places.ID]` tables, checked (`_problems`) and built into a `Gazetteer` (`load`,
`with_places`, `bundled`)."""

from __future__ import annotations

import tomllib
from functools import cache

from monitor import text as textmod
from monitor.places import KEYS, MAX_WORDS, RANKS, WORD, Gazetteer, NameRules, Place, PlaceName, case_bound, phrase_words


def _problems(data: dict) -> list[str]:
    """Everything wrong with a `places` table, one message each."""
    places = data.get("places")
    if not isinstance(places, dict) or not places:
        return ["the data has no [places] tables"]
    problems = []
    for pid, table in places.items():
        where = f"places.{pid}"
        if not isinstance(table, dict):
            problems.append(f"{where}: must be a table")
            continue
        for key in sorted(set(table) - KEYS):
            problems.append(f"{where}: unknown key {key!r}")
        kind = table.get("kind")
        if kind not in RANKS:
            problems.append(f"{where}: kind {kind!r} is not one of {', '.join(RANKS)}")
        names = table.get("names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            problems.append(f"{where}: names must be a non-empty list of names")
        inside = table.get("inside")
        if inside is None and kind != "country":
            problems.append(f"{where}: needs `inside` (only a country has no parent)")
        elif inside is not None and inside not in places:
            problems.append(f"{where}: inside {inside!r} is not a place")
        elif inside is not None and kind in RANKS and places[inside].get("kind") in RANKS \
                and RANKS[places[inside]["kind"]] < RANKS[kind]:
            problems.append(f"{where}: a {kind} cannot be inside a {places[inside]['kind']} ({inside})")
        for axis, bound in (("lat", 90), ("lon", 180)):
            value = table.get(axis)
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or abs(value) > bound):
                problems.append(f"{where}: {axis} must be a number within ±{bound}")
        if ("lat" in table) != ("lon" in table):
            problems.append(f"{where}: give both lat and lon, or neither")
        ambiguous = table.get("ambiguous", False)
        if not isinstance(ambiguous, bool) and not (isinstance(ambiguous, list) and isinstance(names, list)
                                                    and all(n in names for n in ambiguous)):
            problems.append(f"{where}: ambiguous must be true, false or a list of the place's names")
        for key in ("context", "not_near", "exclude"):
            value = table.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                problems.append(f"{where}: {key} must be a list of words or phrases")
        if not isinstance(table.get("person", False), bool):
            problems.append(f"{where}: person must be true or false")
    rooted: set[str] = set()  # places whose chain of parents ends (at a country or a problem)
    for pid in places:
        seen, current = [], pid
        while isinstance(places.get(current), dict) and current not in seen and current not in rooted:
            seen.append(current)
            current = places[current].get("inside")
        if current in seen and seen[0] == current:
            problems.append(f"places.{pid}: `inside` goes round in a cycle: {' -> '.join(seen + [current])}")
        elif current not in seen:
            rooted.update(seen)
    return problems


def load(data: dict) -> Gazetteer:
    """A gazetteer from parsed TOML with [places.ID] tables; raises ValueError listing every
    problem (an unknown `inside`, a cycle, a bad kind, a name without words, ...)."""
    problems = _problems(data)
    places, rules, table, phrases = [], [], {}, {}
    for index, (pid, spec) in enumerate(data["places"].items() if not problems else ()):
        names = tuple(spec["names"])
        places.append(Place(pid, names[0], spec["kind"], spec.get("inside"), spec.get("lat"), spec.get("lon"), names))
        lists = []
        for key in ("context", "not_near", "exclude"):
            for value in spec.get(key, ()):
                if value not in phrases:
                    phrases[value] = phrase_words(value)
                if not phrases[value]:
                    problems.append(f"places.{pid}: {key} {value!r} has no words")
            lists.append(tuple(phrases[value] for value in spec.get(key, ()) if phrases[value]))
        rules.append(NameRules(*lists, person=spec.get("person", False)))
        ambiguous = spec.get("ambiguous", False)
        for written in names:
            normal = written if written.isascii() else textmod.normalize(written).cased
            tokens = WORD.findall(normal)
            if not 1 <= len(tokens) <= MAX_WORDS:
                problems.append(f"places.{pid}: name {written!r} must have 1 to {MAX_WORDS} words")
                continue
            entry = PlaceName(index, tuple((k, t) for k, t in enumerate(tokens) if case_bound(t)),
                          ambiguous is True or (isinstance(ambiguous, list) and written in ambiguous),
                          tokens[0][0].isascii())
            bucket = table.setdefault(" ".join(t.lower() for t in tokens), [])
            if entry not in bucket:
                bucket.append(entry)
    if problems:
        raise ValueError("invalid places data:\n" + "\n".join(f"  {p}" for p in problems))
    return Gazetteer(places, rules, table)


def with_places(extra: tuple[tuple[str, dict], ...]) -> Gazetteer:
    """The bundled gazetteer and a configuration's own [places.ID] tables (`extra`), built once
    per set of tables; raises ValueError listing every problem (an id the bundled gazetteer
    already has, an unknown `inside`, a bad kind, ...)."""
    if not extra:
        return bundled()
    if _LAST and _LAST[0] is extra:  # a configuration's own tuple, asked for every article: no repr
        return _LAST[1]
    key = repr(extra)
    if key not in _EXTENDED:
        data = _bundled_data()
        clashes = [f"places.{pid}: the bundled gazetteer already has a place {pid!r} (give yours another id)"
                   for pid, _table in extra if pid in data["places"]]
        if clashes:
            raise ValueError("invalid places data:\n" + "\n".join(f"  {p}" for p in clashes))
        if len(_EXTENDED) > 8:  # a daemon reloaded many times keeps only the latest few
            _EXTENDED.clear()
        _EXTENDED[key] = load({"places": {**data["places"], **dict(extra)}})
    _LAST[:] = [extra, _EXTENDED[key]]
    return _EXTENDED[key]


_EXTENDED: dict[str, Gazetteer] = {}
_LAST: list = []  # [the tables last asked for, their gazetteer]


@cache
def _bundled_data() -> dict:
    from importlib import resources

    from monitor import packs

    return tomllib.loads(resources.files(packs).joinpath("places.toml").read_text(encoding="utf-8"))


@cache
def bundled() -> Gazetteer:
    """The gazetteer of monitor/packs/places.toml, loaded once."""
    return load(_bundled_data())
