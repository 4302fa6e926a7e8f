"""What each character becomes in `monitor.text.normalize`: the folding rules for one
character (dashes, apostrophes, spaces, Latin diacritics, Arabic-script letter variants,
invisible format characters) and the tables built from them on first use, which tell
normalize's fast paths which characters stay as they are."""

from __future__ import annotations

import functools
import re
import unicodedata

DASHES = frozenset("\u002d\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
APOSTROPHES = frozenset("'\u2018\u2019\u02bc\u02bb\u0060\u00b4\u2032")
# Arabic-script letters with several forms, mapped to one (Arabic/Persian/Urdu variants).
ARABIC_FOLD = str.maketrans({
    "\u064a": "\u06cc", "\u0649": "\u06cc", "\u06d2": "\u06cc",  # yeh forms -> Farsi yeh
    "\u0643": "\u06a9",  # Arabic kaf -> keheh
    "\u06c1": "\u0647", "\u06be": "\u0647", "\u06d5": "\u0647",  # heh goal, doachashmee, ae -> heh
    "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",  # alef forms
    "\u0629": "\u0647",  # teh marbuta -> heh
})
# Harakat, superscript alef and tatweel; the invisible joiners, direction marks and the soft
# hyphen (an HTML &shy; is a hyphenation hint inside a word, not a dash).
ARABIC_DROP = frozenset(chr(c) for c in [*range(0x064B, 0x0660), 0x0670, 0x0640, 0x200C, 0x200D, 0x200E, 0x200F])
INVISIBLE = frozenset("\u00ad\u061c\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
DROPPED = ARABIC_DROP | INVISIBLE
SPACE_LIKE = frozenset("\u200b")  # zero-width space: a word break, so a space
# Blocks whose characters get a precomputed one-to-one translation or count as "plain"
# (unchanged by normalisation); anything else takes the slower per-character path. The Indic
# blocks after Devanagari (Bengali to Sinhala) are in: a Bangla feed outside them went through
# that path character by character, most of a feed-only run's normalising time.
TABLE_RANGES = ((0x0000, 0x058F), (0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x0DFF),
                (0x1E00, 0x1EFF), (0x2000, 0x218F), (0x2460, 0x24FF), (0x3000, 0x303F),
                (0xFB00, 0xFDFF), (0xFE70, 0xFEFF), (0xFF00, 0xFFEF))


def is_dropped_mark(char: str) -> bool:
    return char in DROPPED or (unicodedata.combining(char) > 0 and char not in "\u200c\u200d")


def is_latin(char: str) -> bool:
    code = ord(char)
    return code < 0x0250 or 0x1E00 <= code <= 0x1EFF


def fold_char(char: str) -> str:
    """The normalised form of one character (possibly empty or several characters)."""
    if char in DASHES:
        return "-"
    if char in APOSTROPHES:
        return "'"
    if char in DROPPED:
        return ""
    if char.isspace() or char in SPACE_LIKE:
        return " "
    decomposed = unicodedata.normalize("NFKD", char)
    if len(decomposed) > 1 and is_latin(decomposed[0]):
        decomposed = "".join(c for c in decomposed if not unicodedata.combining(c))
        return unicodedata.normalize("NFKC", decomposed).translate(ARABIC_FOLD)
    return unicodedata.normalize("NFKC", char).translate(ARABIC_FOLD)


class Tables:
    """Built on first use (a few milliseconds), so that importing this module stays cheap."""

    def __init__(self) -> None:
        plain: list[int] = []
        for low, high in TABLE_RANGES:
            for code in range(low, high + 1):
                char = chr(code)
                if char in " -" or char in DROPPED or unicodedata.combining(char):
                    continue
                if fold_char(char) == char:
                    plain.append(code)
        ranges: list[list[int]] = []
        for code in plain:
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
        klass = "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)
        # What normalisation may change: a run of two or more characters that are not plain
        # (spaces and dashes included), or one character that is not plain, a space or a dash.
        # Written as "a non-plain character that is not a space or a dash, or a space or a dash
        # followed by another non-plain one; then every non-plain character after it": the same
        # spans as [^K]{2,}|[^K \-], a fifth faster (one test per plain character, not two).
        self.special = re.compile(f"(?:[^{klass} \\-]|[ \\-][^{klass}])[^{klass}]*")
        self.ascii = str.maketrans({**{c: " " for c in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"}, "`": "'"})
        self.runs: dict[tuple[str, str], tuple[str, tuple[int, ...]]] = {}  # normalize's per-run cache
        # Per character, for `monitor.text._one_to_one`: True (unchanged), its one-character normal
        # form, or False (it may change the text's length, or depends on what precedes it: the
        # slow path).
        self.kinds: dict[str, bool | str] = {}
        self.ascii_special = [(chr(code), normal) for code, normal in self.ascii.items()]  # (character, its normal form)
        self.marks: dict[str, bool] = {}  # for `kept_mark`

    def kept_mark(self, char: str) -> bool:
        """Whether `char` is a combining mark that normalisation keeps as it is after a letter
        that is not Latin (see `monitor.text._marks_kept`)."""
        found = self.marks.get(char)
        if found is None:
            found = bool(unicodedata.combining(char)) and char not in DROPPED and unicodedata.normalize("NFKC", char) == char
            if len(self.marks) < 10_000:
                self.marks[char] = found
        return found

    def kind(self, char: str) -> bool | str:
        found = self.kinds.get(char)
        if found is None:
            if unicodedata.combining(char) or char in DROPPED:
                found = False
            else:  # several characters: only where none is a space or a dash (they fold with their neighbours)
                folded = fold_char(char)
                found = True if folded == char else folded if folded and (len(folded) == 1 or not (
                    " " in folded or "-" in folded)) else False
            if len(self.kinds) < 100_000:
                self.kinds[char] = found
        return found


@functools.cache
def get_tables() -> Tables:
    """The tables, built on the first call."""
    return Tables()
