"""A text cut into the sentences `monitor.facts` reads, each weighed by where it stands (title,
lead, body), page furniture left out, with what the lexicon's gate finds in it: its counts, its
type cues, and whether it recounts another incident or a party's claim."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from monitor import text as textmod
from monitor.facts.lexicon import (
    ABBREVIATION, ABBREVIATION_WIDTH, BULLET, CONTEXT, CUES, DATE_MARKER, GATE, SENTENCE_END, YEAR_RE,
)
from monitor.facts.normal import cut

TITLE, LEAD, BODY = 3.0, 2.0, 1.0  # weights of a sentence by where it stands
LEAD_SENTENCES = 3
CAPTION_WORDS = 60  # a line longer than this is no photo caption
_CUES = [(f"cue{i}", kind, weight, pattern) for i, (kind, weight, pattern) in enumerate(CUES)]  # with their gate keys
_CUE_KEYS = frozenset(key for key, _kind, _weight, _pattern in _CUES)
_MARKED = dict.fromkeys(("other_incident", "other_after", "claims", "earlier", "series"))  # what `mark` searches: none found


@dataclass(frozen=True)
class Evidence:
    sentence: str  # the sentence the words were found in
    start: int  # offsets of the words in title + "\n" + text
    end: int


@dataclass(frozen=True)
class Figure:
    value: int
    evidence: Evidence


@dataclass
class Sentence:
    start: int  # offset of its line in title + "\n" + text
    norm: textmod.Normalized  # of its line
    offset: int  # of the sentence in the line's normal form
    folded: str
    weight: float  # TITLE, LEAD or BODY
    meta: bool = False  # a byline or dateline
    caption: bool = False  # a photo caption's
    other: bool = False  # recounts another incident (says so, or names an earlier year)
    recap: bool = False  # ...says so ("last year", "a similar attack")
    year_from: int = 1 << 30  # folded offset of the earlier year it names, if it names one
    series: bool = False  # places the incident in a series ("the second attack this week")
    other_from: int = 1 << 30  # folded offset from which it recounts another incident...
    claim_from: int = 1 << 30  # ...or reports a party's claim
    earlier: bool = False  # an earlier stage of the toll ("initially")
    keys: frozenset = frozenset()  # the lexicon patterns that may match in it
    counts: tuple = ()  # where its counts begin
    spots: dict = field(default_factory=dict)  # where the strings of the gate's spotted patterns stand, by key
    cues: tuple = ()  # (type, weight, folded span) of its type cues

    def evidence(self, full: str, start: int, end: int) -> Evidence:
        begin, stop = (self.start + at for at in self.norm.span(self.offset + start, self.offset + end))
        return Evidence(DATE_MARKER.sub("", textmod.sentence_around(full, begin, stop)[0]).strip(), begin, stop)


def segment(work: str, title: str, text: textmod.Normalized | None = None) -> list[Sentence]:
    """The sentences of `work` (title + "\\n" + text) that may say something, with their weights.
    `text` is the normal form of the text as it was (`work` may have a character changed here
    and there): a line the same in both is cut from it (`monitor.facts.normal.cut`) rather than
    normalised again."""
    sentences, title_key = [], textmod.fold(title).strip(" .")
    prose, lead, offset = 0, LEAD_SENTENCES, 0  # prose: sentences of eight words or more so far
    lines = work.split("\n")
    normal_of = _normals(lines, text)
    for number, line in enumerate(lines):
        line_start, offset, norm = offset, offset + len(line) + 1, normal_of(number)
        folded_line = norm.folded.strip(" :")
        if number == 0 or not folded_line:
            sentences += [Sentence(0, norm, 0, norm.folded, TITLE)] if folded_line else []
            continue
        if prose >= 3 and CONTEXT["stop_lines"].fullmatch(folded_line):
            break
        if CONTEXT["skip_lines"].match(folded_line) or folded_line.strip(" .") == title_key or (
                prose >= 5 and BULLET.match(line)):  # links to other stories after the article
            continue
        meta = not line.rstrip().endswith(".") and (
            folded_line.count(" ") < 6 or bool(CONTEXT["published_line"].search(folded_line)))
        caption, begin = bool(CONTEXT["captions"].search(folded_line)) or _credited(lines, number, normal_of), 0
        for end in [*(m.start() + 1 for m in SENTENCE_END.finditer(norm.cased)), len(norm.cased)]:  # after the mark
            if end < len(norm.cased) and norm.cased[end - 1] == "." and _abbreviation(norm.cased, begin, end):
                continue
            piece = norm.folded[begin:end]
            words = len(piece.split())
            weight = LEAD if lead and words >= 5 and not meta and not caption else BODY
            lead -= weight == LEAD
            if words:
                sentences.append(Sentence(line_start, norm, begin + len(piece) - len(piece.lstrip()), piece.strip(), weight, meta,
                                          caption=caption))
            prose, begin = prose + (words >= 8), end
    return sentences


def _abbreviation(cased: str, begin: int, end: int) -> bool:
    """Whether the sentence cased[begin:end] ends with an abbreviation ("Mr.", "U.S."). A match
    ends at `end` (or before a newline there), so only the last ABBREVIATION_WIDTH characters are
    searched, with two more: that newline and the character the word boundary looks at (a search
    of the whole sentence tried every word of it)."""
    return bool(ABBREVIATION.search(cased, max(begin, end - ABBREVIATION_WIDTH - 2), end))


def _normals(lines: list[str], text: textmod.Normalized | None) -> Callable[[int], textmod.Normalized]:
    """The normal form of each of `lines` (the title's, then the text's as `segment` reads it),
    made once: cut from `text` where a line is the same in it."""
    made: dict[int, textmod.Normalized] = {}
    original = text.original if text is not None else ""
    begins = list(itertools.accumulate((len(line) + 1 for line in lines[1:-1]), initial=0))  # of lines[1:] in the text

    def normal_of(number: int) -> textmod.Normalized:
        norm = made.get(number)
        if norm is None:
            line = lines[number]
            if number and text is not None and original.startswith(line, begin := begins[number - 1]):
                norm = cut(text, begin, begin + len(line))
            else:
                norm = textmod.normalize(line)
            made[number] = norm
        return norm

    return normal_of


def _credited(lines: list[str], number: int, normal_of: Callable[[int], textmod.Normalized]) -> bool:
    """Whether line `number` is a photo's caption: a line of one sentence or two whose next line
    that says something else (blank lines and a repeat of the line skipped) is a photo credit
    alone ("AFP", "Photo Credit: AP"), with more text after it (a credit that ends the text is
    the article's own)."""
    own = lines[number].strip()
    if len(own.split()) > CAPTION_WORDS:
        return False
    for at in range(number + 1, min(number + 5, len(lines))):
        line = lines[at].strip()
        if line and line != own:
            folded = normal_of(at).folded if len(line) == len(lines[at]) else textmod.fold(line)  # nothing stripped
            return bool(CONTEXT["credit_lines"].fullmatch(folded.strip(" |-:()"))) and any(
                rest.strip() for rest in lines[at + 1:])
    return False


def years_named(folded: str) -> list[str]:
    """The years a sentence names (a search only where one may be: most sentences name none)."""
    return YEAR_RE.findall(folded) if "19" in folded or "20" in folded else []


def mark(s: Sentence, ref_year: int | None) -> None:
    """Find the sentence's counts and type cues, and whether it recounts another incident or a claim."""
    keys, counts, s.spots = GATE(s.folded)
    s.keys, s.counts = frozenset(keys), tuple(sorted(set(counts)))
    s.cues = tuple((kind, weight, m.span()) for key, kind, weight, pattern in _CUES
                   if key in keys and (m := pattern.search(s.folded))) if not _CUE_KEYS.isdisjoint(keys) else ()
    if s.cues and "cyber" in keys and CONTEXT["cyber"].search(s.folded):
        s.cues = ()  # a hacker's attack: no incident type (see the lexicon's `cyber`)
    if s.weight == TITLE:
        return
    found = {name: CONTEXT[name].search(s.folded) if name in keys else None
             for name in _MARKED} if not _MARKED.keys().isdisjoint(keys) else _MARKED  # most: none may match
    s.recap = bool(found["other_incident"])
    earlier = ([m.start() for m in YEAR_RE.finditer(s.folded) if int(m[1]) < ref_year]
               if ref_year is not None and ("19" in s.folded or "20" in s.folded) else [])  # as years_named
    s.year_from = earlier[0] if earlier else s.year_from
    s.other = s.recap or bool(earlier)
    s.other_from = found["other_after"].start() if found["other_after"] else s.other_from
    s.claim_from = found["claims"].start() if found["claims"] else s.claim_from
    s.earlier = bool(found["earlier"])
    s.series = bool(found["series"])
