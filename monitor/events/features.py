"""An article's event features: what the join of monitor.events.index compares, read once.

`terms` weighs the content words of a title and its lead; `Features` holds them with what
`monitor.incidents` reads from the other stages (entities, places, type, figures, dates) and
packs them for the store.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from operator import itemgetter

VERSION = 1  # of the packed features: features of another version are read again from the text
LEAD_WORDS = 60  # words of the text after the title that count as its lead
TERMS_KEPT = 40  # an article's heaviest words, kept in its features
NAME_WEIGHT = 2.0  # a word written with a capital inside a sentence (a name) weighs this much more
TITLE_WEIGHT = 2.0  # a title word weighs this much more than a lead word (both whole numbers: see `words`)

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

    def halves(self) -> tuple[bytes, bytes]:
        """`pack()` cut where the outlet's value goes: the bytes before it and after it, for
        features packed once and stored for many outlets (`packed_with`). A quote inside a
        string is escaped, so the outlet's key is the only place `,"o":"",` can be."""
        head, cut, tail = replace(self, outlet="").pack().partition(b',"o":"",')
        if not cut:
            raise ValueError("packed features without an outlet key")
        return head + b',"o":', b"," + tail

    @staticmethod
    def packed_with(halves: tuple[bytes, bytes], outlet: str) -> bytes:
        """`pack()` of the features `halves` were cut from, with `outlet` as their outlet."""
        return halves[0] + json.dumps(outlet, ensure_ascii=False).encode() + halves[1]

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


# A word's first letter as a code for its script (the script of the block it is in), by
# str.translate: every code point below the last block's end is mapped to the ASCII letter of
# its script, or to a space (no script); one past it stays as it is (no script either)
SCRIPT_CODES = {code: chr(ord("a") + at) if SCRIPTS[at][1] else " " for at in range(len(SCRIPTS))
                for code in range(SCRIPTS[at - 1][0] if at else 0, SCRIPTS[at][0])}
SCRIPT_NAMES = {chr(ord("a") + at): name for at, (_end, name) in enumerate(SCRIPTS) if name}


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
    words = list(words)
    # counted by script as they come (of equal counts, the script that came first wins)
    counts = Counter("".join(map(itemgetter(0), words)).translate(SCRIPT_CODES))
    found = max(((SCRIPT_NAMES[code], count) for code, count in counts.items() if code in SCRIPT_NAMES),
                key=lambda item: item[1], default=("", 0))[0]
    if found == "Latn":
        seen = set(words)
        language, shared = max(((name, len(seen & held)) for name, held in LATIN_LANGUAGES.items()),
                               key=lambda item: item[1])
        if shared >= FUNCTION_WORDS:
            return f"Latn-{language}"
    return found


SENTENCE_MARKS = frozenset(".!?\n:\"“")  # one of these in the two characters before a word: it starts a sentence
ENDS = ".!?\n"  # ...or one of these right after the word before it
SUFFIXES = ("ings", "ing", "ers", "ied", "ies", "ed", "es", "er", "s")  # English endings folded: bombers, bombing -> bomb
# A text cut into what stands before each word and the word (`re.split` keeps the words, as
# WORD finds them: a gap holds no letter); "'s" and "’s" at the end of a folded word (one a line).
CUT = re.compile(f"({WORD.pattern})")
POSSESSIVE = re.compile("['\u2019]s$", re.MULTILINE)


class _Stems(dict):
    """A folded word's stem, "" for a stop word or a single letter (`_stem`), made once: an
    article's words are mostly words seen before."""

    def __missing__(self, word: str) -> str:
        if len(self) > 100_000:
            self.clear()
        stem = self[word] = "" if word in STOPWORDS or len(word) < 2 else _stem(word)
        return stem


_stems = _Stems()


def _stem(word: str) -> str:
    """A Latin-script word without its commonest English ending (the words of two outlets'
    reports of one incident differ in them more than in their stems)."""
    if len(word) > 4 and word.isascii() and word.endswith(SUFFIXES):
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
    title_stems, title_names = _read(title, 40)
    lead_stems, lead_names = _read(text[:LEAD_WORDS * 12], LEAD_WORDS)
    # The weights are whole numbers: a word counted as many times as it weighs adds its weight
    # (counted by Counter in C), the words in the order they first come (that of equal weights
    # in most_common); a name once more for each more time it counts
    title, name = int(TITLE_WEIGHT), int(NAME_WEIGHT)
    counts = Counter(itertools.chain(*[title_stems] * title, *[title_names] * (title * name - title),
                                     lead_stems, *[lead_names] * (name - 1)))
    # most_common(TERMS_KEPT) without its heap of Python code: a stable sort keeps equal weights in that order
    heaviest = sorted(counts.items(), key=itemgetter(1), reverse=True)[:TERMS_KEPT]
    if not heaviest:
        return (), ()
    kept, weights = zip(*heaviest)
    return tuple(zip(kept, map(_WEIGHED.__getitem__, weights))), tuple(dict.fromkeys(lead_names))


class _Weighed(dict):
    """A term's weight in the features by its count (whole numbers, few): 1 + log(count), rounded."""

    def __missing__(self, count: int) -> float:
        weight = self[count] = round(1.0 + math.log(count), 3)
        return weight


_WEIGHED = _Weighed()


def _read(part: str, limit: int) -> tuple[list[str], list[str]]:
    """The stems of the content words among the first `limit` words of `part` (stop words and
    single letters left out), and those of its names: words written with a capital, not all in
    capitals, that do not start a sentence (a mark in the two characters before, or right
    after the word before)."""
    pieces = CUT.split(part, limit)  # gap, word, gap, word, ..., the rest
    found = pieces[1::2]
    if not found:
        return [], []
    folded = "\n".join(found).casefold()
    if "'s" in folded or "\u2019s" in folded:
        folded = POSSESSIVE.sub("", folded)  # "Pakistan's" is "Pakistan", "Kabul’s" "Kabul"
    folded = folded.split("\n")
    stems = list(map(_stems.__getitem__, folded))
    capitals = itertools.compress(range(len(found)), map(str.isupper, map(itemgetter(0), found)))
    names = [stems[k] for k in capitals if k and stems[k] and not found[k].isupper()
             and not ((gap := pieces[2 * k])[:1] in ENDS or not SENTENCE_MARKS.isdisjoint(gap[-2:]))]
    return list(filter(None, stems)), names
