"""What happened and how bad, read from one news text: the incident type, the killed and injured
figures and the incident dates, each with the sentence it came from. Pure; the words it reads
with are data (`facts_lexicon.toml`: English, Urdu, Arabic, Persian, Pashto, Hindi), compiled at import.

The rules are those the event corpus's labels were made with. Lines and sentences are weighed by
where they stand (title, lead, body); page furniture is left out; a sentence that recounts
another incident (an earlier year or date, "last year", statistics) or what follows a party's
claim gives no figures and counts little for the type. Type: cue words per type, counted once per
sentence; a bombing the text calls a suicide attack is a suicide bombing. Figures: a count before
its words ("46 people were killed") or after them ("killing 13"), parts summed, attackers left
out, "dozens" no figure; the title's figure wins, then the latest toll update ("rose to"), then
the highest. Dates: explicit dates, weekdays and "yesterday" (against the publication date, or
a byline's), scored by where they stand and what stands next to them; a photo caption's weigh
little, and dates of something else ("signed on", "until") or of an earlier incident in a
series ("the second attack this week. On October 11, ...") hardly count or not at all.

The package: `lexicon` (the words, compiled), `sentences` (a text cut and weighed), `figures`
(killed and injured); the type, the dates and `read` here.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from monitor import text as textmod
from monitor.facts.lexicon import (  # LEXICON: for callers, as before the split
    BYLINE, CLOCK, CONTEXT, DASH_ASIDE, DATE_MARKER, DATE_PATTERNS, LEXICON, MONTHS, MONTH_ONLY, NEAR_INCIDENT,
    OF_SOMETHING_ELSE, RELATIVE_DAYS, REPORTING, TOLL_UPDATE, UNTIL, WEEKDAYS,
)
from monitor.facts.figures import casualties
from monitor.facts.sentences import BODY, TITLE, Evidence, Figure, Sentence, mark, segment, years_named

__all__ = ["EVENT_TYPES", "LEXICON", "Evidence", "Facts", "Figure", "compatible", "read"]

EVENT_TYPES = ("suicide_bombing", "bombing_ied", "armed_assault", "targeted_killing", "airstrike_drone",
               "cross_border_clash", "kidnapping_hijacking", "military_operation", "other")
VIOLENCE = frozenset({"suicide_bombing", "bombing_ied", "armed_assault"})
STRIKES = frozenset({"airstrike_drone", "cross_border_clash", "military_operation"})
WORD = re.compile(r"[^\W\d_]{3,}")  # a word of three letters or more
OTHER_WEIGHT = 0.25  # what a sentence about another incident still counts for the type
MIN_TYPE_SCORE = 2.0  # below this the text says too little about an incident: "other"
DATE_SLACK = 2  # days: a sentence dated further from the incident is about another one
BACKGROUND_DAYS = 30  # a date this long before publication is probably background
DATE_KIND_WEIGHT = {"full": 4.0, "yearless": 3.0, "weekday": 2.0, "relative": 1.0}
_DATE_KEYS = frozenset(key for _kind, key, _pattern in DATE_PATTERNS if key is not None)  # the gate's, of dates


@dataclass(frozen=True)
class Facts:
    event_type: str  # one of EVENT_TYPES; "other" when nothing says
    type_evidence: Evidence | None
    killed: Figure | None  # victims only; attackers are not counted
    injured: Figure | None
    dates: tuple[datetime.date, ...]  # dates the text gives for the incident, most likely first
    # (month, day) of the dates it gives without a year, when neither it nor the caller says when
    # it was published (so they cannot be placed in a year); () when `dates` has any
    month_days: tuple[tuple[int, int], ...] = ()


def compatible(a: str, b: str) -> bool:
    """Whether reports with incident types `a` and `b` could be of one incident: the same type,
    "other" with anything, bombings and assaults among themselves (one outlet's "blast" is
    another's "suicide attack"; complex attacks have bombers and gunmen), strikes, clashes and
    operations among themselves, and a targeted killing with an armed assault."""
    pair = {a, b}
    return (a == b or "other" in pair or pair <= VIOLENCE or pair <= STRIKES
            or pair == {"targeted_killing", "armed_assault"})


def _event_type(full: str, sentences: list[Sentence]) -> tuple[str, Evidence | None]:
    """The incident type the cues weigh most for, and the words that said it most loudly."""
    scores: dict[str, float] = {}
    loudest: dict[str, tuple[float, Sentence, tuple[int, int]]] = {}
    for s in sentences:
        for kind, weight, (start, end) in s.cues:
            score = weight * s.weight * (OTHER_WEIGHT if s.other or start >= s.other_from else 1.0)
            scores[kind] = scores.get(kind, 0.0) + score
            if score > loudest.get(kind, (0.0,))[0]:
                loudest[kind] = (score, s, (start, end))
    suicide = scores.get("suicide_bombing", 0.0)
    families = {"bombing_ied": suicide + scores.get("bombing_ied", 0.0), **{k: scores.get(k, 0.0) for k in EVENT_TYPES[2:-1]}}
    best = max(families, key=lambda kind: families[kind])  # ties: the earlier in EVENT_TYPES
    if families[best] < MIN_TYPE_SCORE:
        return "other", None
    if best == "bombing_ied" and suicide >= 1.0:
        best = "suicide_bombing"
    if best == "kidnapping_hijacking" and scores.get("targeted_killing"):
        best = "targeted_killing"  # passengers taken off a bus after an identity check and shot
    _score, s, (start, end) = loudest.get(best) or loudest["bombing_ied"]
    return best, s.evidence(full, start, end)


def _mentions(s: Sentence, published: datetime.date | None):
    """(kind, date, start, end) of each date the sentence gives (kind "full", "yearless",
    "weekday", "relative", or "partial": a yearless date when `published` is None, placed in
    2000); all but full dates are resolved against `published`, weekdays and relative days
    dropped without it."""
    found, taken = [], []
    if _DATE_KEYS.isdisjoint(s.keys) and "-" not in s.folded:  # most sentences: no pattern is searched
        return found
    for kind, key, pattern in DATE_PATTERNS:
        # searched only where the gate saw its words; an ISO date ("2021-10-08") only where there is a dash
        if (key is not None and key not in s.keys) or (kind == "iso" and "-" not in s.folded):
            continue
        for m in pattern.finditer(s.folded):
            if any(a < m.end() and m.start() < b for a, b in taken) or (published is None and kind in ("weekday", "relative")):
                continue
            taken.append(m.span())
            if kind == "weekday":
                found.append((kind, published - datetime.timedelta(days=(published.weekday() - WEEKDAYS[m[1]]) % 7), *m.span()))
            elif kind == "relative":
                found.append((kind, published - datetime.timedelta(days=RELATIVE_DAYS[m[1]]), *m.span()))
            else:
                year, month, day = ((m[1], int(m[2]), int(m[3])) if kind == "iso" else
                                    (m[3], MONTHS[m[2]], int(m[1])) if kind == "dmy" else (m[3], MONTHS[m[1]], int(m[2])))
                try:
                    date = datetime.date(int(year or (published.year if published else 2000)), month, day)
                except ValueError:  # "February 30"; February 29 of a year that has none
                    continue
                if year:
                    found.append(("full", date, *m.span()))
                elif published is not None:  # a yearless date is not after publication
                    try:
                        found.append(("yearless", date if date <= published else date.replace(year=date.year - 1), *m.span()))
                    except ValueError:  # February 29 of the year before, which has none
                        continue
                else:  # a day of the year only (kept apart: "partial")
                    found.append(("partial", date, *m.span()))
    return found


def _byline_day(sentences: list[Sentence]) -> datetime.date | None:
    """The first full date of a byline or dateline line that says it is when the page was
    published ("Updated: July 7, 2012") or says nothing else ("Saturday, 28 September 2013
    01:43"): the day the page was published. None when no line does."""
    for s in sentences:
        if not s.meta:
            continue
        for kind, date, at, end in _mentions(s, None):
            if kind == "full" and (CONTEXT["published_line"].search(s.folded)
                                   or not WORD.search(CLOCK.sub(" ", s.folded[:at] + " " + s.folded[end:]))):
                return date
    return None


def _of_something_else(s: Sentence, at: int) -> bool:
    """Whether the date at folded offset `at` is when something else happens or happened: after
    "until" ("closed till September 15"), "signed on", "the elections of"."""
    before = s.folded[max(0, at - 30):at]
    return bool(UNTIL.search(before) or OF_SOMETHING_ELSE.search(before))


def _near_year(day: datetime.date, anchor: datetime.date) -> datetime.date | None:
    """A day of the year (`day`'s month and day) placed in the year that puts it nearest to
    `anchor`; None if it is in none of them (February 29)."""
    placed = []
    for year in (anchor.year - 1, anchor.year, anchor.year + 1):
        try:
            placed.append(datetime.date(year, day.month, day.day))
        except ValueError:
            continue
    return min(placed, key=lambda d: abs((d - anchor).days), default=None)


def _dates(sentences: list[Sentence], published: datetime.date | None):
    """The incident dates, most likely first, and each sentence's explicit dates. A mention weighs
    more in the title and lead and next to words of the incident ("the attack on Tuesday"), less
    in a byline or a photo caption, a toll update ("rose to 15 on Wednesday"), after "said", in
    a sentence about another incident or long before publication; a date's best mention decides.
    A date of something else ("until", "signed on") is none; one in the sentence after a series
    ("the second attack this week.") is probably an earlier incident's. Without `published`, a
    date without a year is placed in the year, of the three around it, that puts it nearest to
    the latest full date the text gives outside sentences about other incidents (a caption's);
    with none, it is only a day of the year."""
    scores: dict[datetime.date, list[float]] = {}
    first: dict[datetime.date, int] = {}
    explicit: list[list[datetime.date]] = []
    partial: dict[tuple[int, int], int] = {}  # (month, day) of yearless dates, when publication is unknown
    found = [(s, _mentions(s, published)) for s in sentences]
    anchor = max((date for s, mentions in found if not s.other for kind, date, at, _end in mentions
                  if kind == "full" and not _of_something_else(s, at)), default=None) if published is None else None
    for index, (s, mentions) in enumerate(found):
        explicit.append([])
        if not mentions:
            continue
        recounted = index > 0 and sentences[index - 1].series and sentences[index - 1].start == s.start  # its paragraph's
        near = [m.start() for m in NEAR_INCIDENT.finditer(s.folded)] + [span[0] for _k, _w, span in s.cues]
        update = bool(TOLL_UPDATE.search(s.folded))
        for kind, date, at, end in mentions:
            if _of_something_else(s, at):
                continue
            before = s.folded[max(0, at - 30):at]
            elsewhere = s.recap or recounted or at >= s.other_from or end > s.year_from  # about another incident
            if kind == "partial":
                if anchor is None or (placed := _near_year(date, anchor)) is None:
                    if not elsewhere and not s.meta:
                        partial.setdefault((date.month, date.day), index * 10000 + at)
                    continue
                kind, date = "yearless", placed
            if published is not None and date > published:
                continue
            meta = s.meta or bool(BYLINE.search(before))
            if kind in ("full", "yearless") and not meta:
                explicit[-1].append(date)
            distance = min((abs(at - where) for where in near), default=99)
            score = (DATE_KIND_WEIGHT[kind] * (2.0 if s.weight > BODY else 1.0) * (0.3 if meta or s.caption else 1.0)
                     * (1.5 if s.cues else 1.0) * (3.0 if distance <= 15 else 2.0 if distance <= 50 else 1.0)
                     * (0.5 if REPORTING.search(before) else 1.0) * (0.5 if update and distance > 15 else 1.0)
                     * (0.2 if elsewhere else 1.0)
                     * (0.3 if published and (published - date).days > BACKGROUND_DAYS else 1.0))
            scores.setdefault(date, []).append(score)
            first.setdefault(date, index * 10000 + at)
    total = {date: max(found) + 0.25 * (sum(found) - max(found)) for date, found in scores.items()}
    return tuple(sorted(total, key=lambda d: (-total[d], first[d]))), explicit, tuple(sorted(partial, key=partial.get))


def read(title: str, text: str, *, published: datetime.date | None = None,
         normal: textmod.Normalized | None = None) -> Facts:
    """The facts one news text gives about its incident. Evidence offsets are in
    title + "\\n" + text. A leading " date YYYY-MM-DD" marker in `text` is the publication date,
    used when `published` is None, never the incident's date; without either, a byline's date
    ("Updated: July 7, 2012 10:04 PM") is (`_byline_day`). `normal` is `text`'s normal form
    (`monitor.text.normalize`) when the caller has it: its lines are cut from it."""
    full = f"{title}\n{text}"
    published = published.date() if isinstance(published, datetime.datetime) else published
    work = DASH_ASIDE.sub(lambda m: f"({m[1]})", text.replace(" - ", " \u2014 ")).replace("\u2014", ",").replace("\u2013", ",")
    marker_year = None
    if marker := DATE_MARKER.match(text):
        marker_year, work = int(marker[1]), " " * marker.end() + work[marker.end():]
        if published is None and marker[3]:
            try:
                published = datetime.date(marker_year, int(marker[2]), int(marker[3]))
            except ValueError:
                pass
    sentences = segment(title.replace("\n", " ") + "\n" + work, title, normal)
    # the years the text names, read only when nothing else says which year it is
    ref_year = published.year if published else marker_year or max(
        (int(year) for s in sentences for year in years_named(s.folded)), default=None)
    turned_at = None  # the paragraph in which a sentence turned to another incident
    for s in sentences:
        mark(s, ref_year)
        if "topic_change" in s.keys and s.weight != TITLE and CONTEXT["topic_change"].search(s.folded):
            turned_at = s.start
        s.other = s.other or s.start == turned_at  # that sentence and the rest of its paragraph
    if published is None:  # relative dates are read against the day a byline says the page was published
        published = _byline_day(sentences)
    dates, explicit, month_days = _dates(sentences, published)
    if day := (dates[0] if dates else published):  # a sentence dated days away is about another incident
        for s, mine in zip(sentences, explicit):
            month = MONTH_ONLY.search(s.folded) if "month" in s.keys else None  # "In November, 14 soldiers were killed"
            if s.weight != TITLE and ((mine and all(abs((d - day).days) > DATE_SLACK for d in mine))
                                      or (month and MONTHS[month[1]] != day.month)):
                s.other = True
    event_type, type_evidence = _event_type(full, sentences)
    killed, injured = casualties(full, sentences)
    return Facts(event_type, type_evidence, killed, injured, dates, () if dates else month_days)
