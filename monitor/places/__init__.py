"""The gazetteer: names of places in Pakistan and Afghanistan found in a text, with what
contains what.

`bundled()` is the gazetteer of `monitor/packs/places.toml` (read once); `load(data)` builds one
from a parsed TOML table of the same shape. `Gazetteer.find(text)` returns every mention in text
order: whole words, across Latin, Arabic-script and Devanagari text, the longest name winning
("Khyber Pakhtunkhwa" over "Khyber"); `named(text)` the distinct places, most specific first.
Names that are also common words or places elsewhere ("Tank", "Hub", "Swat", "Dir") count only
as the data file allows: capitalised, with support nearby (see the file's header). Pure: no I/O
beyond reading the bundled file.
"""

from __future__ import annotations

import re

import ahocorasick
from dataclasses import dataclass
from typing import NamedTuple

from monitor import text as textmod

# Specificity: lower is more specific. Places of one rank may nest (a landmark in a town).
RANKS = {"landmark": 0, "crossing": 0, "town": 0, "district": 1, "division": 2, "province": 3, "country": 4}
KEYS = {"kind", "inside", "names", "lat", "lon", "ambiguous", "context", "not_near", "exclude", "person", "note"}
WINDOW = 30  # words either side in which support for an ambiguous name is looked for
MAX_WORDS = 4  # longest name, in words
# A word: letters and digits, with Devanagari vowel signs and viramas kept inside (\w lacks them).
WORD = re.compile(r"[\w\u0900-\u0963\u0966-\u097f]+")
WORD_CHAR = re.compile(r"[\w\u0900-\u0963\u0966-\u097f]")
# Attached Arabic proclitics (wa-, bi-, li-, al-, bil-, lil- and their combinations).
ARABIC_BLOCKS = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF))
ARABIC = re.compile("[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in ARABIC_BLOCKS) + "]")
PROCLITICS = re.compile("\u0648?(?:\u0627\u0644|\u0628\u0627\u0644|\u0644\u0644|\u0628|\u0644)?")
# Words that, right beside an ambiguous name, support it when its place has no `context` list.
GENERIC = frozenset({"district", "districts", "tehsil", "agency", "province", "ضلع", "تحصیل", "ولسوالی", "ولسوالۍ",
                     "ولایت", "ولایه"})
# Capitalised words that may stand right before / after a place that is also a person's name.
BEFORE_OK = frozenset("""in at from to near and of the on across outside inside upper lower central north south east
    west district tehsil agency province division valley city for by with while after before during when where as
    his her its their our a an but or nor so since into through between""".split())
AFTER_OK = frozenset("""district districts agency province tehsil valley city division tribal region area areas
    subdivision police bazaar town road border""".split())


@dataclass(frozen=True)
class Place:
    """One place: `name` is its first name, `inside` its parent's id (None for a country)."""

    id: str
    name: str
    kind: str
    inside: str | None
    lat: float | None
    lon: float | None
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Found:
    """A mention: [start, end) in the text given to `find`, and the text as written there."""

    place: Place
    start: int
    end: int
    name: str


class PlaceName(NamedTuple):
    """One name of one place, as looked up: which tokens must keep their case, and the rules."""

    place: int
    cased: tuple[tuple[int, str], ...]  # (position, token) pairs that must match exactly
    ambiguous: bool
    latin: bool


class NameRules(NamedTuple):
    context: tuple[tuple[str, ...], ...]
    not_near: tuple[tuple[str, ...], ...]
    exclude: tuple[tuple[str, ...], ...]
    person: bool


def phrase_words(text: str) -> tuple[str, ...]:
    """The folded words of a name or phrase."""
    return tuple(WORD.findall(text.lower() if text.isascii() else textmod.normalize(text).folded))


def case_bound(token: str) -> bool:
    """A name's word that must match in its own case: a capital after its first letter (KP, DI,
    PoK), or a single capital letter (the N. of "N. Waziristan")."""
    rest = token[1:]
    return rest != rest.lower() or (not rest and token.isupper())


def _capitalised(token: str, acronym: bool) -> bool:
    """Written with a capital, and not all in capitals unless the name is ("SWAT" is not Swat)."""
    return token[0].isupper() and (acronym or len(token) == 1 or not token.isupper())


def _occurs(phrases: tuple[tuple[str, ...], ...], words: list[str], lo: int, hi: int, own: tuple[int, int]) -> bool:
    """Whether one of `phrases` occurs within words[lo:hi], other than inside words[own[0]:own[1]]."""
    for phrase in phrases:
        size = len(phrase)
        for k in range(max(lo, 0), min(hi, len(words)) - size + 1):
            if words[k] == phrase[0] and tuple(words[k:k + size]) == phrase and not own[0] <= k < k + size <= own[1]:
                return True
    return False


class Gazetteer:
    """Places by id, with the lookup tables `find` uses. Build with `load` or `bundled`."""

    def __init__(self, places: list[Place], rules: list[NameRules], table: dict[str, list[PlaceName]]):
        self._list = places
        self._by_id = {place.id: place for place in places}
        self._rules = rules
        self._table = table
        self._first = {}  # a name's first word -> its most words
        for key in table:
            words = key.split(" ")
            self._first[words[0]] = max(self._first.get(words[0], 0), len(words))
        self._ancestors: dict[str, tuple[str, ...]] = {}
        for place in places:
            chain, parent = [], place.inside
            while parent is not None:
                chain.append(parent)
                parent = self._by_id[parent].inside
            self._ancestors[place.id] = tuple(chain)
        self._lines = [frozenset((place.id, *self._ancestors[place.id])) for place in places]
        self._starts: ahocorasick.Automaton | None = None  # names' first words, for `_may_name`

    # ------------------------------------------------------------------ containment
    def place(self, place_id: str) -> Place:
        """The place with this id; raises KeyError for an unknown id."""
        try:
            return self._by_id[place_id]
        except KeyError:
            raise KeyError(f"no place with id {place_id!r} in the gazetteer") from None

    def places(self) -> tuple[Place, ...]:
        """Every place, in the data file's order."""
        return tuple(self._list)

    def ancestors(self, place_id: str) -> tuple[str, ...]:
        """The ids of the places containing `place_id`, nearest first, up to its country."""
        self.place(place_id)
        return self._ancestors[place_id]

    def contains(self, outer: str, inner: str) -> bool:
        """Whether `outer` is `inner` or one of its ancestors."""
        return outer == inner or outer in self.ancestors(inner)

    def district_of(self, place_id: str) -> str | None:
        """The district `place_id` is in (itself for a district); None above district level."""
        for candidate in (place_id, *self.ancestors(place_id)):
            kind = self._by_id[candidate].kind
            if kind == "district":
                return candidate
            if RANKS[kind] > RANKS["district"]:
                return None
        return None

    def province_of(self, place_id: str) -> str | None:
        """The province (or territory) `place_id` is in (itself for one); None for a country."""
        for candidate in (place_id, *self.ancestors(place_id)):
            if self._by_id[candidate].kind == "province":
                return candidate
        return None

    # ------------------------------------------------------------------ finding names
    def find(self, text: str, limit: int | None = None, normal: textmod.Normalized | None = None) -> tuple[Found, ...]:
        """Every mention of a place in `text`, in text order (see the module docstring); with
        `limit`, in about its first `limit` characters only (reading costs about 0.3 ms per
        thousand characters). `normal` is `textmod.normalize(text)` when the caller has it."""
        normal = normal if normal is not None else textmod.normalize(text)
        end = len(normal.cased) if limit is None else limit
        if not self._may_name(normal.folded, end):
            return ()
        spans = [match.span() for match in WORD.finditer(normal.cased, 0, end)]
        if not spans:
            return ()
        cased, folded = normal.cased, normal.folded
        words = [folded[a:b] for a, b in spans]
        candidates = []  # (first word, end word, [PlaceName])
        count, k, first = len(words), 0, self._first
        while k < count:
            word = words[k]
            if word not in first and (word[0] < "\u0600" or not ARABIC.match(word)):  # the common case
                k += 1
                continue
            found = self._lookup(cased, spans, words, k)
            if found:
                candidates.append(found)
                k = found[1]
            else:
                k += 1
        anchors: list[tuple[int, int]] = []  # (word, place) of mentions that need no support
        for start, end, names, _cut in candidates:
            places = {name.place for name in names if not name.ambiguous}
            if len(places) == 1:
                anchors.append((start, next(iter(places))))
        chosen = []
        for start, end, names, cut in candidates:
            sure = [name for name in names if not name.ambiguous]
            options = sure or [name for name in names if self._supported(name, start, end, words, anchors)]
            if options:
                chosen.append((start, end, cut, self._resolve([name.place for name in options], anchors)))
        result = []
        for start, end, cut, place in chosen:  # `cut`: letters of an attached proclitic, left out
            begin, stop = normal.span(spans[start][0] + cut, spans[end - 1][1])
            result.append(Found(self._list[place], begin, stop, text[begin:stop]))
        return tuple(result)

    def _may_name(self, folded: str, end: int) -> bool:
        """Whether the first `end` characters of a folded text may name a place: a one-word name,
        or the first two words of a longer one, stand there as words; or an Arabic-script word
        does (its proclitics are read by `_lookup`). One automaton pass, far cheaper than cutting
        the text into words, which most texts (naming no place) never need."""
        head = folded[:end]
        if not head.isascii() and ARABIC.search(head):
            return True
        if self._starts is None:
            self._starts = ahocorasick.Automaton()
            for key in self._table:  # a name's one word, or its first two as `_joined` joins them
                words = key.split(" ")
                gaps = (" ", "-", "'", ".", ". ") if len(words[0]) <= 2 else (" ", "-", "'")
                for start in (words[0],) if len(words) == 1 else (gap.join(words[:2]) for gap in gaps):
                    self._starts.add_word(start, len(start))
            self._starts.make_automaton()
        size = len(head)
        for last, length in self._starts.iter(head):
            begin, after = last + 1 - length, last + 1
            if (begin == 0 or not WORD_CHAR.match(head[begin - 1])) and (after >= size or not WORD_CHAR.match(head[after])):
                return True
        return False

    def named(self, text: str) -> tuple[Place, ...]:
        """The distinct places `find` sees, the lead's district first, each part most specific
        first. The lead is the first place named at district level or below (else, of the areas
        below country level named there, the one the text names most often, with the places
        inside it: "Kabul denies ... strikes in Paktika" is about Paktika), datelines aside ("QUETTA:", "Islamabad, May 21", "Kabul /
        Islamabad"): in the first line (a headline) or after the first dateline if there is one
        there, else anywhere. The places inside the lead's district (or inside the lead, above
        district level) come first, then the others. Within each part: landmarks, crossings and
        towns, then districts, divisions, provinces, countries; among equals a place with a
        descendant also named comes after it, then by first mention."""
        return self.named_found(text)[0]

    def named_found(self, text: str, normal: textmod.Normalized | None = None) -> tuple[tuple[Place, ...], tuple[Found, ...]]:
        """`named`, and the mentions (`find`) it was read from; `normal` as for `find`."""
        found = self.find(text, normal=normal)
        first: dict[str, int] = {}
        for mention in found:
            first.setdefault(mention.place.id, len(first))
        lead = self._lead(text, found)
        area = (self.district_of(lead) or lead) if lead else None
        above = {parent for place_id in first for parent in self._ancestors[place_id]}
        order = sorted(first, key=lambda pid: (area is None or not self.contains(area, pid),
                                               RANKS[self._by_id[pid].kind], pid in above, first[pid]))
        return tuple(self._by_id[pid] for pid in order), found

    def _lead(self, text: str, found: tuple[Found, ...]) -> str | None:
        """The place a report is about, for `named`: see its docstring."""
        incidental = [_incidental(text, m, found) for m in found]
        usable = [m for m, aside in zip(found, incidental) if not aside and m.place.kind != "country"]
        headline_end = text.find("\n") % (len(text) + 1)
        story = next((m.end for m, aside in zip(found, incidental) if aside), 0)  # after the first dateline
        tier = ([m for m in usable if m.end <= headline_end] or [m for m in usable if m.start >= story] or usable)
        fine = next((m.place.id for m in tier if RANKS[m.place.kind] <= RANKS["district"]), None)

        def weight(area: str) -> int:  # mentions of the area or of places inside it
            return sum(1 for m in usable if self.contains(area, m.place.id))

        if fine is None:  # the areas it names first: the one the text says most of ("Kabul denies ... in Paktika")
            return max(tier, key=lambda m: weight(m.place.id)).place.id if tier else None  # ties: the first

        own, at = weight(self.district_of(fine) or fine), next(k for k, m in enumerate(tier) if m.place.id == fine)
        return next((m.place.id for k, m in enumerate(tier) if RANKS[m.place.kind] > RANKS["district"]
                     and not self.contains(m.place.id, fine) and (weight(m.place.id), k < at) > (own, False)), fine)

    def _lookup(self, cased: str, spans, words: list[str], k: int):
        """The longest name starting at word `k` that passes the checks needing no context."""
        heads = [words[k]]
        if words[k] not in self._first and ARABIC.match(words[k]):
            heads += [words[k][cut:] for cut in (1, 2, 3, 4) if len(words[k]) - cut >= 3
                      and PROCLITICS.fullmatch(words[k][:cut]) and words[k][cut:] in self._first]
        for head in heads:
            size, most = 1, min(self._first.get(head, 0), len(words) - k)
            while size < most and self._joined(cased, spans, k + size):
                size += 1
            for length in range(size, 0, -1):
                key = " ".join([head, *words[k + 1:k + length]])
                names = [name for name in self._table.get(key, ()) if self._fits(name, cased, spans, words, k, length)]
                if names:
                    return k, k + length, names, len(words[k]) - len(head)
        return None

    @staticmethod
    def _joined(cased: str, spans, k: int) -> bool:
        """Whether word `k` continues a name from word k-1: only a space, a dash, an apostrophe
        or the full stop of an initial ("D.I. Khan") between them."""
        gap = cased[spans[k - 1][1]:spans[k][0]]
        if gap in (" ", "-", "'"):
            return True
        return gap in (".", ". ") and spans[k - 1][1] - spans[k - 1][0] <= 2

    def _fits(self, name: PlaceName, cased: str, spans, words: list[str], k: int, length: int) -> bool:
        tokens = [cased[a:b] for a, b in spans[k:k + length]]
        for position, token in name.cased:
            if tokens[position] != token:
                return False
        rules = self._rules[name.place]
        if name.ambiguous and name.latin and not all(_capitalised(t, bool(name.cased)) for t in tokens if t[0].isalpha()):
            return False
        for phrase in rules.exclude:
            for offset in range(len(phrase) - length + 1):
                if k - offset >= 0 and tuple(words[k - offset:k - offset + len(phrase)]) == phrase:
                    return False
        if rules.person and name.latin:
            before = k - 1
            if before >= 0 and cased[spans[before][1]:spans[k][0]] == " " and cased[spans[before][0]].isupper() \
                    and words[before] not in BEFORE_OK:
                return False
            after = k + length
            if after < len(words) and cased[spans[after - 1][1]:spans[after][0]] == " " \
                    and cased[spans[after][0]].isupper() and words[after] not in AFTER_OK:
                return False
        return True

    def _supported(self, name: PlaceName, start: int, end: int, words: list[str], anchors) -> bool:
        rules = self._rules[name.place]
        lo, hi = start - WINDOW, end + WINDOW
        if rules.not_near and _occurs(rules.not_near, words, lo, hi, (start, end)):
            return False
        if rules.context:
            return _occurs(rules.context, words, lo, hi, (start, end))
        if any(lo <= word < hi and not start <= word < end for word, _place in anchors):
            return True
        return any(0 <= k < len(words) and words[k] in GENERIC for k in (start - 2, start - 1, end, end + 1))

    def _resolve(self, options: list[int], anchors) -> int:
        """Of several places with one name, the one sharing the most of its line with a place
        named elsewhere in the text; else the first listed."""
        if len(set(options)) == 1:
            return options[0]
        lines = [self._lines[place] for _word, place in anchors]
        return max(sorted(set(options)), key=lambda p: max((len(self._lines[p] & line) for line in lines), default=0))


# Datelines, bylines and captions say where a report was filed or a photo taken, not what
# happened where: `named` does not take its lead from them.
MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
DATED = re.compile(rf"\s*,\s*(?:{MONTH}\s+\d|\d{{1,2}}\s+{MONTH})", re.IGNORECASE)  # "Islamabad, May 21"
DATE_FIRST = re.compile(r"^[\W\d_]*(?:(?:date|dated|published|updated)\b[\W\d_]*)?", re.IGNORECASE)  # "date 2025-01-16 "
LEADS_IN = re.compile(r"\s*(?:\([^()\n]{1,40}\)\s*)?[:\u2013\u2014-]")  # "QUETTA:", "Quetta (AFP) -"
# A photo caption's line: it ends with a credit ("(Reuters)", "/ AP") or starts "Photo:".
CAPTION = re.compile(r"(?:\([^()\n]*\b(?:Reuters|AFP|AP|EPA|Getty|Xinhua|Anadolu|Photo|File)\b[^()\n]*\)|/ ?(?:AP|AFP|Reuters|"
                     r"EPA|Getty Images))[ \t]*$|^[ \t]*(?:File )?[Pp]hoto(?: credit)?:", re.MULTILINE)


def _incidental(text: str, mention: Found, found: tuple[Found, ...]) -> bool:
    """Whether a mention is in a photo caption, a dateline or a byline: a place in capitals
    ("QUETTA"), a place starting its line before a colon or dash ("Quetta (AFP) -") or before a
    date ("Islamabad, May 21"), a line of place names only ("Kabul / Islamabad"), or a name and
    a place alone on a line ("Tariq Saeed Peshawar")."""
    line_start = text.rfind("\n", 0, mention.start) + 1
    line_end = text.find("\n", mention.end) % (len(text) + 1)
    if CAPTION.search(text, line_start, line_end):
        return True
    written = mention.name
    before, after = DATE_FIRST.sub("", text[line_start:mention.start]), text[mention.end:line_end]
    if sum(c.isupper() for c in written) >= 3 and not any(c.islower() for c in written) \
            and any(c.islower() for c in mention.place.name):
        return True
    if DATED.match(after) or (not any(c.isalpha() for c in before) and LEADS_IN.match(after)):
        return True
    on_line = [m for m in found if line_start <= m.start and m.end <= line_end]
    bounds = [line_start, *(x for m in on_line for x in (m.start, m.end)), line_end]
    if not any(c.isalpha() for a, b in zip(bounds[::2], bounds[1::2]) for c in text[a:b]):
        return True
    words = before.split()
    return not after.strip(" \t.,;") and 1 <= len(words) <= 3 and all(w[0].isupper() and w.isalpha() for w in words) \
        and not any(w.lower() in BEFORE_OK for w in words)


# Loading and checking gazetteer data (imported last: it builds the classes above).
from monitor.places.data import _problems, bundled, load, with_places  # noqa: E402,F401
