"""The watchlist: checking `[entities.NAME]` tables and `[[rules]]` (their terms and queries)
into `Entity` and `Rule`, merging an entity with the bundled pack entity it `extends`, and
checking the bundled pack files themselves (`pack_problems`).

Every function reports problems to a `schema.Checker` (the configuration's reader) instead of
raising, so that one report lists them all.
"""

from __future__ import annotations

import re
from typing import Any

from monitor.errors import Problem
from monitor.model import Entity, Rule
from monitor.config.schema import (ENTITY_KEYS, REQUIRED, RULE_KEYS, Checker, look_alike_problem, name_problem,
                                   nonempty_string, string_list, suggest)

TERM_PREFIX = re.compile(r"^(.*?)\*$")


def entities(reader: Checker, raw: list) -> list[Entity]:
    """The entities of (file, name, table) triples, one per name; problems go to `reader`."""
    found: dict[str, Entity] = {}
    skeletons: dict[str, str] = {}
    for file, name, table in raw:
        reader.file = file
        path = f"entities.{name}"
        extends = isinstance(table, dict) and "extends" in table
        checked = reader.table(table, path, ENTITY_KEYS, () if extends else REQUIRED["entities"])
        if name in found:
            reader.problem(path, f"entity {name!r} is defined twice")
            continue
        if message := name_problem(name):  # shown escaped, in the message only
            reader.problem("entities", message)
        elif message := look_alike_problem("entity", name, skeletons):
            reader.problem(path, message)
        if name.startswith("pack."):
            reader.problem(path, f"entity names starting with 'pack.' belong to the bundled pack: {name!r}")
        if "names" in checked and not checked["names"] and not extends:
            reader.problem(f"{path}.names", "an entity needs at least one name")
        found[name] = _entity(reader, path, name, checked)
    return list(found.values())


def rules(reader: Checker, raw: list, channel_names: list[str], entity_names: set[str],
          site_names: tuple[str, ...] = ()) -> tuple[Rule, ...]:
    """The rules of (file, index, table) triples, their terms, queries and channels checked
    against the known entities and channels; problems go to `reader`."""
    found: list[Rule] = []
    seen: set[str] = set()
    skeletons: dict[str, str] = {}
    for file, index, table in raw:
        reader.file = file
        path = f"rules[{index}]"
        checked = reader.table(table, path, RULE_KEYS, REQUIRED["rules"])
        name = checked.get("name")
        if name is not None:
            if name in seen:
                reader.problem(f"{path}.name", f"duplicate rule name {name!r}")
            seen.add(name)
            message = name_problem(name) or look_alike_problem("rule", name, skeletons)
            if message:
                reader.problem(f"{path}.name", message)
        for key in ("all", "any", "none"):
            for position, term in enumerate(checked.get(key, ())):
                message = term_problem(term, entity_names)
                if message:
                    reader.problem(f"{path}.{key}[{position}]", message)
        if "query" in checked:
            _query_problems(reader, path, checked["query"], entity_names)
        for position, site in enumerate(checked.get("near", ())):
            if site not in site_names:
                known = f"; sites: {', '.join(site_names)}" if site_names else "; no [[sites]] are defined"
                reader.problem(f"{path}.near[{position}]", f"unknown site {site!r}{suggest(site, site_names) or known}")
        for position, channel in enumerate(checked.get("channels", ())):
            if channel not in channel_names:
                reader.problem(f"{path}.channels[{position}]", f"unknown channel {channel!r}{suggest(channel, channel_names)}")
        if isinstance(table, dict) and not checked.get("all") and not checked.get("any") and "query" not in table:
            reader.problem(path, "a rule needs at least one positive term in 'all' or 'any' (or a 'query')")
        if name:
            found.append(Rule(name=name, **{k: checked[k] for k in ("all", "any", "none", "query", "feed_tags", "channels", "on_update",
                                                                    "group_wait", "severity", "near") if k in checked}))
    return tuple(found)


def term_problem(term: str, entity_names: set[str]) -> str | None:
    """Why a rule term is unusable, or None."""
    if term.startswith("@"):
        name = term[1:]
        if name not in entity_names:
            if name.startswith("pack."):
                pack = _pack_entities()
                return None if name in pack else f"unknown pack entity {name!r}{suggest(name, pack)}"
            return f"unknown entity {name!r}{suggest(name, entity_names)}"
        return None
    if not any(ch.isalnum() for ch in term):
        return f"a term needs at least one letter or digit: {term!r}"
    prefix = TERM_PREFIX.match(term.strip())
    if prefix and sum(ch.isalpha() for ch in prefix.group(1)) < 3:
        return f"a prefix term needs at least 3 letters before '*': {term!r}"
    if "*" in term.strip()[:-1]:
        return f"'*' may only end a term: {term!r}"
    return None


# ---------------------------------------------------------------- entities, queries, packs


def _pack_entities() -> dict[str, Entity]:
    from monitor import packs  # the bundled pack is read on first use only

    return packs.entities()


def _name_problem(alias: str) -> str | None:
    """Why an entity name cannot match, or None."""
    if alias.strip().startswith("@"):
        return f"a name cannot start with '@': {alias!r}"
    return term_problem(alias, set())


def _entity(reader: Checker, path: str, name: str, checked: dict[str, Any]) -> Entity:
    """The entity of a checked [entities.NAME] table, with the pack entity it `extends` merged
    in (its names and list settings first, then this table's); problems go to `reader`."""
    base: Entity | None = None
    extends = checked.get("extends")
    if extends is not None:
        pack = _pack_entities()
        base = pack.get(extends)
        if base is None:
            reader.problem(f"{path}.extends", f"unknown pack entity {extends!r}{suggest(extends, pack)}")
    for index, alias in enumerate(checked.get("names", ())):
        message = _name_problem(alias)
        if message:
            reader.problem(f"{path}.names[{index}]", message)
    for key in ("context", "exclude"):
        for index, term in enumerate(checked.get(key, ())):
            message = (f"{key} terms are phrases, not entities: {term!r}" if term.strip().startswith("@")
                       else term_problem(term, set()))
            if message:
                reader.problem(f"{path}.{key}[{index}]", message)

    def merged(key: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*(getattr(base, key) or () if base else ()), *checked.get(key, ()))))

    names, context, exclude = merged("names"), merged("context"), merged("exclude")
    ambiguous = merged("ambiguous") if "ambiguous" in checked or (base and base.ambiguous is not None) else None
    for index, alias in enumerate(checked.get("ambiguous", ())):
        if alias not in names:
            reader.problem(f"{path}.ambiguous[{index}]", f"{alias!r} is not one of the entity's names{suggest(alias, names)}")
    if checked.get("ambiguous") and not context and not exclude:
        reader.problem(f"{path}.ambiguous", "ambiguous names need 'context' terms (or 'exclude' phrases) to be judged by")
    return Entity(name=name, names=names, kind=checked.get("kind", base.kind if base else "actor"),
                  case=checked.get("case", base.case if base else "auto"), context=context,
                  context_window=checked.get("context_window", base.context_window if base else 20),
                  ambiguous=ambiguous, exclude=exclude, extends=extends,
                  contains=tuple(dict.fromkeys((*(base.contains if base else ()), *checked.get("contains", ())))),
                  broad=base.broad if base else (), broad_context=base.broad_context if base else ())


def _query_problems(reader: Checker, path: str, query: str, entity_names: set[str]) -> None:
    """Report a rule query that does not parse, names an unknown entity or a bad term, or holds
    without any of its terms; each problem shows the query with a caret under the place."""
    from monitor import query as querymod

    try:
        tree = querymod.parse_query(query)
    except querymod.QuerySyntaxError as error:
        reader.problem(f"{path}.query", querymod.show_position(query, error.position, f"bad query: {error.message}"))
        return
    for term in querymod.query_terms(tree):
        message = term_problem(term.text, entity_names)
        if message:
            reader.problem(f"{path}.query", querymod.show_position(query, term.position, f"bad query: {message}"))
    if querymod.query_holds_without_terms(tree):
        reader.problem(f"{path}.query", querymod.show_position(
            query, 0, "bad query: it holds for an article that has none of its terms; add a term that must appear"))


def _is_latin_name(alias: str) -> bool:
    return all(ord(ch) < 0x0250 or 0x1E00 <= ord(ch) <= 0x1EFF for ch in alias if ch.isalpha())


def pack_problems() -> list[Problem]:
    """Every problem in the bundled pack files, checked like a user's entities (`note` allowed,
    `extends` not), plus any name not in the Latin script without a note in [sources]."""
    from monitor import packs

    reader = Checker()
    schema = {**{key: value for key, value in ENTITY_KEYS.items() if key != "extends"}, "note": nonempty_string,
              "place": nonempty_string,  # a region's place in the gazetteer (packs/places.toml)
              "broad": string_list, "broad_context": string_list}  # a wider whole's names, and what they need near
    for file in packs.FILES:
        reader.file = f"monitor/packs/{file}"
        data = packs.raw(file)
        for key in data:
            if key not in ("entities", "sources"):
                reader.problem(key, f"unknown key {key!r}: a pack holds [entities.NAME] tables and [sources]")
        sources = data.get("sources", {})
        every_name: set[str] = set()
        for name, table in data.get("entities", {}).items():
            path = f"entities.{name}"
            checked = reader.table(table, path, schema, REQUIRED["entities"])
            _entity(reader, path, packs.PREFIX + name, checked)
            if checked.get("broad") and not checked.get("broad_context"):
                reader.problem(f"{path}.broad", "names of a wider whole need 'broad_context' terms to be judged by")
            for index, alias in enumerate((*checked.get("names", ()), *checked.get("broad", ()))):
                every_name.add(alias)
                if not _is_latin_name(alias) and not str(sources.get(alias, "")).strip():
                    reader.problem(f"{path}.names[{index}]", f"{alias!r} needs a note of where it comes from in [sources]")
        for alias in sources:
            if alias not in every_name:
                reader.problem(f"sources.{alias}", "no entity has this name")
    return reader.problems
