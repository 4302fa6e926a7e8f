"""Watch rules, compiled once, matched against articles.

A phrase matches whole words only, after `text.normalize` on both sides: case-insensitive,
diacritics, dashes and apostrophes unified, whitespace collapsed. An alias written in capitals
with 2 to 6 letters (TTP, KP, IS-K) is an acronym and matches only in capitals. A hyphen or
space in a phrase matches a hyphen or whitespace in the text. `bomb*` is a prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from monitor import text as textmod
from monitor.model import Entity, Hit, Match, Rule

FIELDS = ("title", "text")
SEPARATOR = r"(?:\s?-\s?|\s)"


@dataclass(frozen=True)
class Pattern:
    """One alias of one term, compiled."""

    term: str
    entity: str | None
    alias: str
    regex: re.Pattern
    cased: bool


def is_acronym(alias: str) -> bool:
    """An alias with no lower-case letter and 2 to 6 letters (hyphens and digits not counted)."""
    letters = [c for c in alias if c.isalpha()]
    return 2 <= len(letters) <= 6 and not any(c.islower() for c in letters) and any(c.isupper() for c in letters)


def compile_alias(alias: str) -> tuple[re.Pattern, bool]:
    """The regex for one alias and whether it must match case-sensitively."""
    cased = is_acronym(alias)
    normal = textmod.normalize(alias.strip())
    phrase = normal.cased if cased else normal.folded
    prefix = phrase.endswith("*")
    if prefix:
        phrase = phrase[:-1]
    words = [w for w in re.split(r"[\s-]+", phrase) if w]
    body = SEPARATOR.join(re.escape(w) for w in words)
    tail = r"\w*" if prefix else ""
    return re.compile(rf"(?<!\w){body}{tail}(?!\w)"), cased


def compile_term(term: str, entities: dict[str, Entity]) -> list[Pattern]:
    """Every alias pattern of a rule term (a phrase or `@entity`)."""
    if term.startswith("@"):
        entity = entities[term[1:]]
        aliases: Iterable[str] = entity.names
        entity_name: str | None = entity.name
    else:
        aliases, entity_name = (term,), None
    patterns = []
    for alias in aliases:
        regex, cased = compile_alias(alias)
        patterns.append(Pattern(term, entity_name, alias, regex, cased))
    return patterns


class Matcher:
    """Rules compiled against their entities; `match()` is pure and may be called from anywhere."""

    def __init__(self, entities: Iterable[Entity], rules: Iterable[Rule]):
        by_name = {entity.name: entity for entity in entities}
        self.rules = tuple(rules)
        self.patterns: dict[str, list[Pattern]] = {}
        for rule in self.rules:
            for term in (*rule.all, *rule.any, *rule.none):
                if term not in self.patterns:
                    self.patterns[term] = compile_term(term, by_name)

    def find(self, fields: dict[str, str]) -> dict[str, list[Hit]]:
        """Every hit of every term in the given fields, by term."""
        normals = {name: textmod.normalize(value) for name, value in fields.items() if value}
        found: dict[str, list[Hit]] = {}
        for term, patterns in self.patterns.items():
            hits = []
            for pattern in patterns:
                for field, normal in normals.items():
                    haystack = normal.cased if pattern.cased else normal.folded
                    for occurrence in pattern.regex.finditer(haystack):
                        start, end = normal.span(occurrence.start(), occurrence.end())
                        hits.append(Hit(term, pattern.entity, pattern.alias, field, start, end))
            if hits:
                hits.sort(key=lambda hit: (FIELDS.index(hit.field) if hit.field in FIELDS else 9, hit.start))
                found[term] = hits
        return found

    def match(self, title: str, text: str) -> list[Match]:
        """The rules that match an article, each with the hits of its positive terms."""
        found = self.find({"title": title, "text": text})
        matches = []
        for rule in self.rules:
            if any(term in found for term in rule.none):
                continue
            if not all(term in found for term in rule.all):
                continue
            if rule.any and not any(term in found for term in rule.any):
                continue
            hits = tuple(hit for term in (*rule.all, *rule.any) for hit in found.get(term, ()))
            matches.append(Match(rule.name, _dedupe(hits)))
        return matches


def _dedupe(hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
    """Hits without repeats and without hits inside a longer one ("Islamic State Khorasan"
    inside "Islamic State Khorasan Province"), in field and text order."""
    ordered = sorted(hits, key=lambda hit: (FIELDS.index(hit.field) if hit.field in FIELDS else 9, hit.start, -hit.end))
    out: list[Hit] = []
    for hit in ordered:
        if out and out[-1].field == hit.field and out[-1].start <= hit.start and hit.end <= out[-1].end:
            continue
        out.append(hit)
    return tuple(out)
