"""An article's event features: what the join of monitor.events.index compares, read once.

`terms` weighs the content words of a title and its lead; `Features` holds them with what
`monitor.incidents` reads from the other stages (entities, places, type, figures, dates) and
packs them for the store.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

VERSION = 1  # of the packed features: features of another version are read again from the text
LEAD_WORDS = 60  # words of the text after the title that count as its lead
TERMS_KEPT = 40  # an article's heaviest words, kept in its features
NAME_WEIGHT = 2.0  # a word written with a capital inside a sentence (a name) weighs this much more
TITLE_WEIGHT = 2.0  # a title word weighs this much more than a lead word

WORD = re.compile(r"[^\W\d_](?:[\w\u0900-\u097f'\u2019-]*[\w\u0900-\u097f])?")
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor
not now of off on once only or other our ours ourselves out over own same she should so some such than that
the their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves
said says say saying told tells according reported reports report news new latest update updated live
today yesterday tomorrow monday tuesday wednesday thursday friday saturday sunday week weeks day days
year years month months time times one two three four five six seven eight nine ten first second third
mr mrs ms dr may might must shall get got make made many much well even still back since around near
among across within without via per us u s also however including including while whose told amid
people least several dozens dozen
""".split())


@dataclass(frozen=True)
class Features:
    """What an article says about its incident, as the join compares it."""

    terms: tuple[tuple[str, float], ...] = ()  # heaviest content words of title and lead, with weights
    entities: frozenset[str] = frozenset()  # entity names (pack entities as "pack.NAME")
    where: tuple[str, ...] = ()  # the main place and what contains it, most specific first
    places: frozenset[str] = frozenset()  # every place named, with what contains them
    district: str | None = None  # the main place's district, province and country, where known
    province: str | None = None
    country: str | None = None
    event_type: str = "other"
    killed: int | None = None
    injured: int | None = None
    dates: tuple[int, ...] = ()  # incident dates as proleptic ordinals, most likely first
    published: int | None = None  # the day it was published (ordinal): an incident is on or before it
    month_days: tuple[tuple[int, int], ...] = ()  # (month, day) of yearless dates when nothing says the year
    script: str = ""  # the script most of its words are written in ("Latn", "Arab", "Deva", ...; "Latn-es": Spanish)
    outlet: str = ""  # who published it
    claimed_by: str | None = None  # the watched actor a report says claimed the attack ("pack.bla")
    # the sentence each fact was read from: ("type" | "killed" | "injured" | "claimed_by" | "place", sentence)
    evidence: tuple[tuple[str, str], ...] = ()
    names: tuple[str, ...] = ()  # the names its lead gives (see `words`), as its terms write them

    def said(self, fact: str) -> str:
        """The sentence `fact` was read from ("" if none is kept)."""
        return next((sentence for name, sentence in self.evidence if name == fact), "")

    def pack(self) -> bytes:
        """Bytes for the store (compact JSON with a version)."""
        data = {"v": VERSION, "t": [[word, round(weight, 3)] for word, weight in self.terms],
                "e": sorted(self.entities), "w": list(self.where), "p": sorted(self.places),
                "d": [self.district, self.province, self.country], "y": self.event_type,
                "k": self.killed, "i": self.injured, "a": list(self.dates), "u": self.published,
                "m": [list(pair) for pair in self.month_days], "s": self.script, "o": self.outlet,
                "c": self.claimed_by, "x": [list(pair) for pair in self.evidence], "n": list(self.names)}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def unpack(cls, blob: bytes) -> Features | None:
        """Features from `pack`, or None for another version's (read them again from the text)."""
        try:
            data = json.loads(blob)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return None
        district, province, country = data["d"]
        return cls(tuple(map(tuple, data["t"])), frozenset(data["e"]), tuple(data["w"]),  # [word, weight] pairs
                   frozenset(data["p"]), district, province, country, data["y"], data["k"], data["i"],
                   tuple(data["a"]), data.get("u"), tuple(tuple(pair) for pair in data.get("m", ())),
                   data.get("s", ""), data.get("o", ""), data.get("c"),
                   tuple(tuple(pair) for pair in data.get("x", ())),  # older blobs: no evidence kept
                   tuple(data.get("n", ())))


SCRIPTS = ((0x0250, "Latn"), (0x0370, ""), (0x0400, "Grek"), (0x0530, "Cyrl"), (0x0590, ""), (0x0600, "Hebr"),
           (0x0780, "Arab"), (0x0900, ""), (0x0980, "Deva"))  # (first code point after it, script)


SCRIPT_ENDS = tuple(end for end, _name in SCRIPTS)


# Function words of other languages written in the Latin script (English ones are stop words):
# a text whose heaviest words hold FUNCTION_WORDS of one of these is in that language, and its
# words are not compared with English ones (a Spanish and an English report share only names).
LATIN_LANGUAGES = {name: frozenset(words.split()) for name, words in {
    "es": "el la los las del en un una con por para que al se su",
    "pt": "um uma em do da dos das na no os que com foi para por ao",
    "fr": "le la les des du une est dans et sur pour au aux par",
    "de": "der die das und den dem mit von ist ein eine im auf bei",
    "et": "ja on et oli see ning ka kui mis sai olid",
    "it": "il la gli delle della di del che un una per sono nel",
}.items()}
FUNCTION_WORDS = 3


def script(words: Iterable[str]) -> str:
    """The script most of `words` are written in (by their first letters), "" if none; for a
    Latin-script text in another language than English, "Latn-" and the language ("Latn-es")."""
    counts: Counter[str] = Counter()
    seen = set()
    for word in words:
        at = bisect.bisect_right(SCRIPT_ENDS, ord(word[0]))  # the first block ending after it
        counts[SCRIPTS[at][1] if at < len(SCRIPTS) else ""] += 1
        seen.add(word)
    counts.pop("", None)
    found = counts.most_common(1)[0][0] if counts else ""
    if found == "Latn":
        language, shared = max(((name, len(seen & held)) for name, held in LATIN_LANGUAGES.items()),
                               key=lambda item: item[1])
        if shared >= FUNCTION_WORDS:
            return f"Latn-{language}"
    return found


SENTENCE_MARKS = frozenset(".!?\n:\"“")  # one of these in the two characters before a word: it starts a sentence
POSSESSIVE = ("'s", "\u2019s")
SUFFIXES = ("ings", "ing", "ers", "ied", "ies", "ed", "es", "er", "s")  # English endings folded: bombers, bombing -> bomb


_stems: dict[str, str] = {}  # _stem's answers: an article's words are mostly words seen before


def _stem(word: str) -> str:
    """A Latin-script word without its commonest English ending (the words of two outlets'
    reports of one incident differ in them more than in their stems)."""
    if len(word) > 4 and word.isascii():
        for suffix in SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                stem = word[:-len(suffix)]
                return stem[:-1] if len(stem) > 3 and stem[-1] == stem[-2] else stem  # "killed" -> "kill", "bombing" -> "bomb"
    return word


def terms(title: str, text: str) -> tuple[tuple[str, float], ...]:
    """The heaviest content words of a title and the lead of its text, with their weights: a
    title word counts TITLE_WEIGHT, a lead word 1, a name (a capital inside a sentence) times
    NAME_WEIGHT; the same word again adds less each time (log)."""
    return words(title, text)[0]


def words(title: str, text: str) -> tuple[tuple[tuple[str, float], ...], tuple[str, ...]]:
    """`terms`, and the names of the lead among them (words written with a capital inside a
    sentence, acronyms aside), in the order they come."""
    counts: Counter[str] = Counter()
    named: dict[str, None] = {}
    get = counts.get
    lead = text[:LEAD_WORDS * 12]
    for part, weight, limit, in_lead in ((title, TITLE_WEIGHT, 40, False), (lead, 1.0, LEAD_WORDS, True)):
        previous_end = ""
        for index, found in enumerate(WORD.finditer(part)):
            if index >= limit:
                break
            word = found.group()
            folded = word.casefold()
            if folded.endswith(POSSESSIVE):  # "Pakistan's" is "Pakistan", "Kabul’s" "Kabul"
                folded = folded[:-2]
            begin, end = found.span()
            gap = part[begin - 2:begin] if begin else ""
            sentence_start = index == 0 or previous_end in ".!?\n" or not SENTENCE_MARKS.isdisjoint(gap)
            previous_end = part[end:end + 1]
            if folded in STOPWORDS or len(folded) < 2:
                continue
            name = word[0].isupper() and not sentence_start and not word.isupper()
            stem = _stems.get(folded)
            if stem is None:
                if len(_stems) > 100_000:
                    _stems.clear()
                stem = _stems[folded] = _stem(folded)
            counts[stem] = get(stem, 0) + weight * (NAME_WEIGHT if name else 1.0)  # no Counter.__missing__ call
            if name and in_lead:  # a title in title case says nothing of names
                named[stem] = None
    heaviest = counts.most_common(TERMS_KEPT)
    return tuple((word, round(1.0 + math.log(weight), 3)) for word, weight in heaviest), tuple(named)
