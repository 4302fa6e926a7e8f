"""Text normalisation shared by matching and de-duplication.

`normalize(text)` returns a `Normalized`: the text with each character in NFKC, Latin
diacritics removed, Arabic-script letter variants folded to one form (yeh, kaf, heh, alef, teh
marbuta), harakat, tatweel and invisible format characters (ZWNJ, ZWJ, direction marks, soft
hyphen) removed, every dash as "-", every apostrophe as "'", runs of whitespace as one space,
no space next to a dash and no run of dashes; `cased` keeps letter case, `folded` is
lower-cased, and both are the same length, with `origin(i)` / `offsets` mapping each of their
characters back to an index of the original text.

What each character becomes, and the tables built from that, live in `monitor.text.chars`;
the rule query syntax in `monitor.query`.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from monitor.text import chars


@dataclass(frozen=True, eq=False)
class Normalized:
    """A normalised text. `cased` and `folded` have the same length; `starts`/`origins` are the
    segments that map them back to `original` (see `origin`)."""

    cased: str
    folded: str
    starts: tuple[int, ...]
    origins: tuple[int, ...]
    original: str = ""

    def origin(self, index: int) -> int:
        """The index in the original text of the normalised character at `index`."""
        segment = bisect.bisect_right(self.starts, index) - 1
        return self.origins[segment] + index - self.starts[segment]

    def index(self, position: int) -> int:
        """The first normalised index whose character comes from `position` of the original
        text or after it (`len(cased)` if none does): `bisect_left(offsets, position)`, found
        from the segments without building `offsets`."""
        k = bisect.bisect_left(self.origins, position)
        if k:
            before = k - 1
            end = self.starts[k] if k < len(self.starts) else len(self.cased)
            if self.origins[before] + (end - self.starts[before]) - 1 >= position:
                return self.starts[before] + position - self.origins[before]
        return self.starts[k] if k < len(self.starts) else len(self.cased)

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        """`origin(i)` for every character, as one tuple."""
        return tuple(self.origin(index) for index in range(len(self.cased)))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalised text back to the original text; marks
        that normalisation dropped after the last character (accents, harakat) stay in."""
        stop = self.origin(end - 1) + 1
        while stop < len(self.original) and chars.is_dropped_mark(self.original[stop]):
            stop += 1
        return self.origin(start), stop


def _run(run: str, previous: str) -> list[tuple[str, int]]:
    """The normalised characters of a run of special characters, each with its index in the
    run; `previous` is the last character written before the run ("" at the start)."""
    out: list[tuple[str, int]] = []
    last = previous
    for index, char in enumerate(run):
        if unicodedata.combining(char) and char not in chars.DROPPED:
            if not last or last == " " or chars.is_latin(last):
                continue  # an accent on a Latin letter (decomposed text), or on nothing: dropped
            piece = unicodedata.normalize("NFKC", char)
        else:
            piece = chars.fold_char(char)
        for ch in piece:
            if ch == " ":
                if (out[-1][0] if out else last) in ("", " ", "-"):
                    continue
            elif ch == "-":
                if out and out[-1][0] == " ":
                    out.pop()
                if (out[-1][0] if out else last) == "-":
                    continue
            out.append((ch, index))
            last = ch
    return out


def _previous_key(previous: str) -> str:
    """What of the preceding character a run's normal form depends on (for the cache): whether
    it is nothing, a space or a dash (a space or dash of the run may fold into it), or a Latin
    letter (a combining mark written right after it is an accent, dropped). A mark anywhere in
    the run can follow it, not only a first one: the characters before the mark may all be dropped
    (a soft hyphen, a zero-width non-joiner)."""
    if previous in ("", " ", "-"):
        return previous
    return "L" if chars.is_latin(previous) else "x"


@functools.lru_cache(maxsize=16)
def normalize(text: str) -> Normalized:
    """Normalise `text` for matching; see the module docstring. The last few answers are kept
    (a `Normalized` is never changed): an article's title and text are normalised by the
    watchlist's matcher, the pack's and `facts` alike."""
    tables = chars.get_tables()
    if text.isascii():
        text_ = text.translate(tables.ascii)
        if not (text_.startswith(" ") or text_.endswith(" ") or "  " in text_ or " -" in text_
                or "- " in text_ or "--" in text_):
            return Normalized(text_, text_.lower(), (0,), (0,), text)  # the common case: nothing moves
        return _collapsed(text, text_, tables)
    fast = _one_to_one(text, tables)
    return fast if fast is not None else _runs(text, text, tables)


def _runs(text: str, text_: str, tables: chars.Tables) -> Normalized:
    """`normalize`'s general path: plain stretches copied, special runs normalised run by run."""
    pieces: list[str] = []
    # Segments: from position starts[i] on, a character's origin is origins[i] plus its distance
    # from starts[i]. One begins only where that shift changes (a character dropped or added),
    # not at every special character: a newline that becomes a space moves nothing.
    starts: list[int] = []
    origins: list[int] = []
    length = 0
    shift = None  # origin minus position in the current segment
    previous = ""
    done = 0
    cache = tables.runs
    # Plain stretches are copied whole; special runs (non-ASCII, dashes, spaces) go through the
    # per-run table. A final None closes the last plain stretch.
    for found in itertools.chain(tables.special.finditer(text_), (None,)):
        begin, end = found.span() if found is not None else (len(text_), len(text_))
        if begin > done:
            plain, origin = text_[done:begin], done
            if plain[0] == " " and not length:
                plain, origin = plain[1:], origin + 1
            if plain:
                if origin - length != shift:
                    shift = origin - length
                    starts.append(length)
                    origins.append(origin)
                pieces.append(plain)
                length += len(plain)
                previous = plain[-1]
        if found is None:
            break
        run = found.group()
        key = (run, _previous_key(previous))
        known = cache.get(key)
        if known is None:
            out = _run(run, previous)
            # the run's output, and each output character's index in the run minus its own
            known = ("".join(char for char, _index in out), tuple(index - k for k, (_char, index) in enumerate(out)))
            if len(cache) > 50000:
                cache.clear()
            cache[key] = known
        output, offsets = known
        for k, offset in enumerate(offsets):
            if begin + offset - length != shift:
                shift = begin + offset - length
                starts.append(length + k)
                origins.append(begin + offset + k)
        if output:
            pieces.append(output)
            length += len(output)
            previous = output[-1]
        done = end
    return _finished(text, pieces, starts, origins)


def _finished(text: str, pieces: list[str], starts: list[int], origins: list[int]) -> Normalized:
    """The `Normalized` the pieces make: a final space dropped, `folded` as long as `cased`."""
    cased = "".join(pieces)
    if cased.endswith(" "):
        cased = cased[:-1]
    folded = cased.lower()
    if len(folded) != len(cased):
        folded = "".join(c.lower() if len(c.lower()) == 1 else c for c in cased)
    return Normalized(cased, folded, tuple(starts) or (0,), tuple(origins) or (0,), text)


ASCII_NOISE = re.compile(r"[\x00-\x7f]+")  # what `_one_to_one` strips to find a text's other characters
PAIRS = ("  ", " -", "- ", "--")  # a run of spaces and dashes that folds contains one of these


def _one_to_one(text: str, tables: chars.Tables) -> Normalized | None:
    """`normalize` for a text whose every character normalises the same whatever precedes it
    (curly quotes, dashes, line breaks, accented Latin letters, Arabic-script letter variants,
    an ellipsis: most news), or None for the slow path. Characters that stay one character are
    replaced where they stand; then runs of spaces and dashes fold and the few that become
    several characters ("…" is "...") are put in (`_collapsed`). About twice as fast as the slow
    path, which reads such text run by run, with the same result (tests/test_text.py compares
    the two)."""
    mapped = [(char, normal) for char, normal in tables.ascii_special if char in text]
    longer: list[tuple[str, str]] = []
    marks: list[str] = []
    for char in set(ASCII_NOISE.sub("", text)):
        kind = tables.kinds.get(char)
        if kind is None:
            kind = tables.kind(char)
        if kind is False:
            if not tables.kept_mark(char):
                return None
            marks.append(char)
        elif kind is not True:
            (mapped if len(kind) == 1 else longer).append((char, kind))
    if marks and not _marks_kept(text, marks, tables):
        return None
    text_ = text
    for char, normal in mapped:
        text_ = text_.replace(char, normal)
    return _collapsed(text, text_, tables, longer)


def _marks_kept(text: str, marks: list[str], tables: chars.Tables) -> bool:
    """Whether every one of `marks` (combining marks that normalise to themselves: a Bengali or
    Devanagari virama or nukta) stands right after a character kept as it is that is not Latin
    (a letter of its script), or after another of them: then each is kept where it stands, as
    the slow path keeps a mark after a letter that is not Latin. A mark after a Latin letter
    (an accent: dropped), a space, a dash or at the start is for the slow path."""
    kinds, allowed = tables.kinds, set(marks)
    for mark in marks:
        at = text.find(mark)
        while at >= 0:
            before = text[at - 1] if at else " "
            if before not in allowed and (kinds.get(before) is not True or chars.is_latin(before) or before in " -"):
                return False
            at = text.find(mark, at + 1)
    return True


def _collapsed(text: str, text_: str, tables: chars.Tables, longer: list[tuple[str, str]] = ()) -> Normalized:
    """The normal form of `text` given `text_`, the same length with every character already in
    its normal form but those of `longer` (a character and the several it becomes): runs of
    spaces and dashes fold to one space, or to their first dash; a space at either end goes.
    `starts`/`origins` as the slow path makes them."""
    changes: list[tuple[int, int, str, int]] = []  # (begin, end, what replaces it, the origin of each of its characters)
    ends: dict[int, int] = {}
    for pair in PAIRS:  # a run is the union of the pairs it holds
        at = text_.find(pair)
        while at >= 0:
            ends[at] = at + 2
            at = text_.find(pair, at + 1)
    if ends:
        begin = end = -1
        for at in sorted(ends):
            if at <= end:
                end = at + 2
                continue
            if begin >= 0:
                changes.append(_folded(text_, begin, end))
            begin, end = at, at + 2
        changes.append(_folded(text_, begin, end))
    if text_.startswith(" ") and (not changes or changes[0][0] != 0):
        changes.append((0, 1, "", 0))
    for char, normal in longer:
        at = text_.find(char)
        while at >= 0:
            changes.append((at, at + 1, normal, at))
            at = text_.find(char, at + 1)
    changes.sort()
    pieces: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    length = done = 0
    shift = None
    for begin, end, output, at in changes:
        if begin > done:
            if done - length != shift:
                shift = done - length
                starts.append(length)
                origins.append(done)
            pieces.append(text_[done:begin])
            length += begin - done
        for char in output:
            if at - length != shift:
                shift = at - length
                starts.append(length)
                origins.append(at)
            pieces.append(char)
            length += 1
        done = end
    if done < len(text_):
        if done - length != shift:
            starts.append(length)
            origins.append(done)
        pieces.append(text_[done:])
    return _finished(text, pieces, starts, origins)


def _folded(text_: str, begin: int, end: int) -> tuple[int, int, str, int]:
    """A run of spaces and dashes: its first dash, else one space (none at the very start)."""
    dash = text_.find("-", begin, end)
    if dash >= 0:
        return begin, end, "-", dash
    return begin, end, " " if begin else "", begin


def _slow(text: str) -> Normalized:
    """`normalize` run by run, without its fast paths (tests compare the two)."""
    tables = chars.get_tables()
    return _runs(text, text.translate(tables.ascii) if text.isascii() else text, tables)


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
