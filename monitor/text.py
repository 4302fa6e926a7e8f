"""Text normalisation shared by matching and de-duplication.

`normalize(text)` returns a `Normalized`: the text in NFKC with Latin diacritics, Arabic
harakat and tatweel removed, every dash as "-", every apostrophe as "'", runs of whitespace as
one space; `cased` keeps letter case, `folded` is lower-cased, and both are the same length as
`offsets`, which maps each of their characters back to an index of the original text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

DASHES = frozenset("\u002d\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u00ad")
APOSTROPHES = frozenset("'\u2018\u2019\u02bc\u02bb\u0060\u00b4\u2032")
# Arabic-script letters with several forms, mapped to one (Arabic/Persian/Urdu variants).
ARABIC_FOLD = str.maketrans({
    "\u064a": "\u06cc", "\u0649": "\u06cc", "\u06d2": "\u06cc",  # yeh forms -> Farsi yeh
    "\u0643": "\u06a9",  # Arabic kaf -> keheh
    "\u06c1": "\u0647", "\u06be": "\u0647", "\u06d5": "\u0647",  # heh goal, doachashmee, ae -> heh
    "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",  # alef forms
    "\u0629": "\u0647",  # teh marbuta -> heh
})
ARABIC_DROP = frozenset(chr(c) for c in [*range(0x064B, 0x0660), 0x0670, 0x0640, 0x200C, 0x200D, 0x200E, 0x200F])


@dataclass(frozen=True)
class Normalized:
    cased: str
    folded: str
    offsets: tuple[int, ...]
    original: str = ""

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalised text back to the original text; marks
        that normalisation dropped after the last character (accents, harakat) stay in."""
        stop = self.offsets[end - 1] + 1
        while stop < len(self.original) and _is_dropped_mark(self.original[stop]):
            stop += 1
        return self.offsets[start], stop


def _is_dropped_mark(char: str) -> bool:
    return char in ARABIC_DROP or (unicodedata.combining(char) > 0 and char not in "\u200c\u200d")


def _is_latin(char: str) -> bool:
    code = ord(char)
    return code < 0x0250 or 0x1E00 <= code <= 0x1EFF


def _fold_char(char: str) -> str:
    """The normalised form of one character (possibly empty or several characters)."""
    if char in DASHES:
        return "-"
    if char in APOSTROPHES:
        return "'"
    if char in ARABIC_DROP:
        return ""
    if char.isspace():
        return " "
    decomposed = unicodedata.normalize("NFKD", char)
    if len(decomposed) > 1 and _is_latin(decomposed[0]):
        decomposed = "".join(c for c in decomposed if not unicodedata.combining(c))
        return unicodedata.normalize("NFKC", decomposed).translate(ARABIC_FOLD)
    return unicodedata.normalize("NFKC", char).translate(ARABIC_FOLD)


def normalize(text: str) -> Normalized:
    """Normalise `text` for matching; see the module docstring."""
    cased: list[str] = []
    offsets: list[int] = []
    last_space = True
    for index, char in enumerate(text):
        if ord(char) < 128 and char not in "'`-" and not char.isspace():
            piece = char  # fast path for ASCII
        elif unicodedata.combining(char) and cased and _is_latin(cased[-1]):
            continue  # a separate accent on a Latin letter (decomposed text): dropped
        else:
            piece = _fold_char(char)
        for out in piece:
            if out == " ":
                if last_space:
                    continue
                last_space = True
            else:
                if unicodedata.combining(out) and not cased:
                    continue
                last_space = False
            cased.append(out)
            offsets.append(index)
    while cased and cased[-1] == " ":
        cased.pop()
        offsets.pop()
    folded = [c.lower() if len(c.lower()) == 1 else c for c in cased]
    return Normalized("".join(cased), "".join(folded), tuple(offsets), text)


def fold(text: str) -> str:
    """The folded normal form of `text` (no offsets), for comparing phrases."""
    return normalize(text).folded


SENTENCE_END = re.compile(r"(?<=[.!?\u06d4\u061f])\s+|\n+")


def sentence_around(text: str, start: int, end: int, limit: int = 320) -> tuple[str, int]:
    """The sentence of `text` holding span [start, end), at most about `limit` characters;
    returns it and the offset of its first character in `text`."""
    begin = 0
    for found in SENTENCE_END.finditer(text, 0, start):
        begin = found.end()
    stop = len(text)
    found = SENTENCE_END.search(text, end)
    if found:
        stop = found.start()
    if stop - begin > limit:
        half = max(0, (limit - (end - start)) // 2)
        begin = max(begin, start - half)
        stop = min(stop, end + half)
        while begin > 0 and begin < start and not text[begin - 1].isspace():
            begin += 1
        while stop < len(text) and stop > end and not text[stop].isspace():
            stop -= 1
    return text[begin:stop].strip(), begin + (len(text[begin:stop]) - len(text[begin:stop].lstrip()))
