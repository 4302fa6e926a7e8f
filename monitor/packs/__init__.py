"""Bundled entity packs: the actors and places our users watch, as data (the `*.toml` files
beside this module), ready to use in rules as `@pack.NAME`.

A pack file holds `[entities.NAME]` tables with the keys of a user's entity (names, kind, case,
context, context_window, ambiguous, exclude) plus `note`, and a `[sources]` table that says
where each name not written in the Latin script comes from. `monitor.watchlist` checks pack files
with the same rules as a user's configuration (`watchlist.pack_problems`).
"""

from __future__ import annotations

import tomllib
from functools import cache

from monitor.model import Entity

PREFIX = "pack."
FILES = ("south-central-asia.toml",)


@cache
def raw(file: str) -> dict:
    """The parsed TOML of one pack file."""
    from importlib import resources  # here, not at import: `newsmon --help` stays fast

    return tomllib.loads(resources.files(__name__).joinpath(file).read_text(encoding="utf-8"))


@cache
def entities() -> dict[str, Entity]:
    """Every pack entity by its full name ("pack.ttp")."""
    found: dict[str, Entity] = {}
    for file in FILES:
        for name, table in raw(file).get("entities", {}).items():
            found[PREFIX + name] = Entity(
                name=PREFIX + name,
                names=tuple(dict.fromkeys((*table["names"], *table.get("broad", ())))),
                kind=table.get("kind", "actor"),
                case=table.get("case", "auto"),
                context=tuple(table.get("context", ())),
                context_window=table.get("context_window", 20),
                ambiguous=tuple(table["ambiguous"]) if "ambiguous" in table else None,
                exclude=tuple(table.get("exclude", ())),
                contains=(table["place"],) if "place" in table else (),
                broad=tuple(table.get("broad", ())),
                broad_context=tuple(table.get("broad_context", ())),
            )
    return found


def names() -> frozenset[str]:
    """The full names of every pack entity."""
    return frozenset(entities())
