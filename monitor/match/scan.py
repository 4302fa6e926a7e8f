"""What one reading of an article finds: its normalised fields with word positions, the
candidate hits in both coordinate systems, and the distances between them; the verdicts handed
out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor import text as textmod
from monitor.match.names import search_key
from monitor.model import Hit

FIELDS = ("title", "text")


@dataclass
class Variant:
    """One searchable form of one or more aliases: the same key, case rule and prefix flag."""

    key: str
    cased: str | None  # the case-sensitive form of the key, or None
    prefix: bool
    proclitics: bool
    owners: list[tuple[str, str]]  # (source, alias as written); a source is "@entity" or a phrase
    word_start: bool
    word_end: bool


class Found:
    """A candidate hit, in normalised coordinates and in original ones."""

    __slots__ = ("source", "alias", "field", "nstart", "nend", "start", "end")

    def __init__(self, source: str, alias: str, field: str, nstart: int, nend: int, start: int, end: int):
        self.source, self.alias, self.field = source, alias, field
        self.nstart, self.nend, self.start, self.end = nstart, nend, start, end

    def hit(self, term: str, entity: str | None) -> Hit:
        return Hit(term, entity, self.alias, self.field, self.start, self.end)


@dataclass(frozen=True)
class Cancelled:
    """A hit of an entity that does not count, and why."""

    hit: Hit
    reason: str


@dataclass(frozen=True)
class Verdict:
    """How one rule judged one article: its hits when it matched, else the reason it did not;
    `cancelled` lists the hits of its entities that did not count."""

    rule: str
    matched: bool
    hits: tuple[Hit, ...]
    reason: str
    cancelled: tuple[Cancelled, ...] = ()


class Field:
    """One normalised article field and its word positions (computed when first needed)."""

    __slots__ = ("name", "normal", "key", "_words")

    def __init__(self, name: str, value: str):
        self.name = name
        self.normal = textmod.normalize(value)
        self.key = search_key(self.normal.folded)
        self._words: dict[int, int] = {}

    def word(self, position: int) -> int:
        """The index of the word holding the normalised `position`."""
        index = self._words.get(position)
        if index is None:
            index = self._words[position] = self.key.count(" ", 0, position)
        return index


def distance(fields: dict[str, Field], a: Found, b: Found) -> int:
    """Words strictly between two hits of one field (0 when they touch or overlap)."""
    field = fields[a.field]
    if a.nend <= b.nstart:
        return max(0, field.word(b.nstart) - field.word(a.nend - 1) - 1)
    if b.nend <= a.nstart:
        return max(0, field.word(a.nstart) - field.word(b.nend - 1) - 1)
    return 0


class Scan:
    """Everything found in one article: candidate hits by source, the entity hits that count,
    and the cancelled ones."""

    def __init__(self, fields: dict[str, Field]):
        self.fields = fields
        self.raw: dict[str, list[Found]] = {}
        self.counted: dict[str, list[Found]] = {}  # by source; entities after their checks
        self.cancelled: dict[str, list[tuple[Found, str]]] = {}  # by "@entity"
        self.placed: set[int] = set()  # ids of the hits of regions that are places inside them (not mentions)


def nearest(fields: dict[str, Field], hit: Found, others: Iterable[Found]) -> int | None:
    """Words between `hit` and the nearest of `others` in its field, or None."""
    best = None
    for other in others:
        if other.field == hit.field and other is not hit:
            gap = distance(fields, hit, other)
            if best is None or gap < best:
                best = gap
    return best


def within(fields: dict[str, Field], hit: Found, others: Iterable[Found], window: int) -> bool:
    """Whether one of `others` (not the hit's own span) is within `window` words of `hit`."""
    for other in others:
        if other.field != hit.field or (other.nstart == hit.nstart and other.nend == hit.nend):
            continue
        if distance(fields, hit, other) < window:
            return True
    return False


def where(scan: Scan, found: Found) -> str:
    original = scan.fields[found.field].normal.original
    return f"{original[found.start:found.end]!r} in the {found.field} at {found.start}"


def dedupe(hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
    """Hits without repeats and without hits inside a longer one ("Islamic State Khorasan"
    inside "Islamic State Khorasan Province"), in field and text order."""
    ordered = sorted(hits, key=lambda hit: (FIELDS.index(hit.field) if hit.field in FIELDS else 9, hit.start, -hit.end))
    out: list[Hit] = []
    for hit in ordered:
        if out and out[-1].field == hit.field and out[-1].start <= hit.start and hit.end <= out[-1].end:
            continue
        out.append(hit)
    return tuple(out)
