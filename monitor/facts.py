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
the highest. Dates: explicit dates, weekdays and "yesterday" (against the publication date),
scored by where they stand and what stands next to them.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
try:  # CPython's own pattern parser, to read the characters a pattern's matches begin with (`_lookahead`)
    from re import _constants as re_constants, _parser as re_parser
except ImportError:  # another Python: the patterns are searched as written (slower, the same matches)
    re_constants = re_parser = None

from monitor import text as textmod

EVENT_TYPES = ("suicide_bombing", "bombing_ied", "armed_assault", "targeted_killing", "airstrike_drone",
               "cross_border_clash", "kidnapping_hijacking", "military_operation", "other")
VIOLENCE = frozenset({"suicide_bombing", "bombing_ied", "armed_assault"})
STRIKES = frozenset({"airstrike_drone", "cross_border_clash", "military_operation"})
TITLE, LEAD, BODY = 3.0, 2.0, 1.0  # weights of a sentence by where it stands
LEAD_SENTENCES = 3
OTHER_WEIGHT = 0.25  # what a sentence about another incident still counts for the type
MIN_TYPE_SCORE = 2.0  # below this the text says too little about an incident: "other"
DATE_SLACK = 2  # days: a sentence dated further from the incident is about another one
BACKGROUND_DAYS = 30  # a date this long before publication is probably background
DATE_KIND_WEIGHT = {"full": 4.0, "yearless": 3.0, "weekday": 2.0, "relative": 1.0}
MAX_COUNTS = 40  # counts read per sentence: a run-on table of numbers costs no more than a sentence


@dataclass(frozen=True)
class Evidence:
    sentence: str  # the sentence the words were found in
    start: int  # offsets of the words in title + "\n" + text
    end: int


@dataclass(frozen=True)
class Figure:
    value: int
    evidence: Evidence


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


# ------------------------------------------------------------------ the lexicon, compiled

LEXICON = tomllib.loads(resources.files("monitor").joinpath("facts_lexicon.toml").read_text(encoding="utf-8"))
GRAMMAR, NEAR = LEXICON["grammar"], LEXICON["near"]
L, R = r"(?<![\w\u0900-\u097f])", r"(?![\w\u0900-\u097f])"  # word boundaries that know Devanagari vowel signs
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff]")


def _fold(pattern: str) -> str:
    """A lexicon pattern folded as monitor.text folds text: its non-ASCII runs only (the regular
    expression syntax is ASCII and stays as written)."""
    return re.sub(r"[^\x00-\x7f]+", lambda found: textmod.fold(found.group()), pattern)


def _words(words, *, clitic: bool = False, bounded: bool = True) -> str:
    """One alternation of lexicon patterns, longest first; Arabic-script words may carry a clitic."""
    folded = sorted({_fold(w) for w in words}, key=len, reverse=True)
    body = "(?:" + "|".join(f"(?:[وفبل]?(?:ال|لل)?)?{w}" if clitic and ARABIC_SCRIPT.match(w) else w for w in folded) + ")"
    return L + body + R if bounded else body


def _table(section: str) -> dict[str, int]:
    """A {word: value} table of every language of a lexicon section, words folded."""
    return {textmod.fold(word): value for table in LEXICON[section].values() for word, value in table.items()}


def _heads(pattern: str) -> set[str] | None:
    """The literal beginnings every match of a lexicon pattern starts with (a group of plain
    options expanded), or None when it has none."""
    index, head = (2 if pattern.startswith("\\b") else 1 if pattern.startswith("^") else 0), ""
    while index < len(pattern) and len(head) < 16:
        if pattern.startswith("(?:", index):
            close = pattern.find(")", index)
            if "(" in pattern[index + 3:close] or pattern[close + 1:close + 2] in ("?", "*", "{", "+"):
                break
            tails = [_heads(option + pattern[close + 1:]) for option in pattern[index + 3:close].split("|")]
            return ({head} if head else None) if None in tails else {head + t for tail in tails for t in tail}
        if pattern[index] in "()[]{}?*+\\.|^$" or pattern[index + 1:index + 2] in ("?", "*", "{"):
            break
        head, index = head + pattern[index], index + 1
    return {head} if head else None


class _Gate:
    """Which lexicon patterns may match in a sentence, told by the literal words they begin with,
    looked up at each word start: only those are searched (a search per pattern per sentence was
    most of the time `read` took). Patterns without a literal beginning always are."""

    def __init__(self, groups: dict[str, list[str]]):
        self.always, heads = set(), {}
        for key, parts in groups.items():
            for found in (_heads(_fold(part)) for part in parts):
                self.always |= {key} if found is None else set()
                for head in found or ():
                    heads.setdefault(head, set()).add(key)
        self.index: dict[str, list[tuple[str, set[str]]]] = {}  # by the first three characters (or fewer)
        for head, keys in heads.items():
            self.index.setdefault(head[:3], []).append((head, keys))
        self.short = {len(head) for head in heads if len(head) < 3}

    def __call__(self, folded: str) -> tuple[set[str], list[int]]:
        """The keys of the patterns that may match, and where counts ("46", "five") begin."""
        found, counts, index = set(self.always), [], self.index
        starts = [m.start() for m in WORD_START.finditer(folded)]
        sizes = (3,) if folded.isascii() else (3, *self.short)  # the short heads are not ASCII
        if not folded.isascii() and ARABIC_SCRIPT.search(folded):
            starts += [m.end() for m in CLITIC.finditer(folded)]  # و، ال، بال... before an Arabic word
        for at in starts:
            if folded[at].isdigit():
                counts.append(at)
                continue
            for size in sizes:
                for head, keys in index.get(folded[at:at + size]) or ():
                    if folded.startswith(head, at):
                        found |= keys
                        if "count" in keys and not folded[at + len(head):at + len(head) + 1].isalnum():
                            counts.append(at)
        return found, counts


_CATEGORIES = ({re_constants.CATEGORY_DIGIT: r"\d", re_constants.CATEGORY_WORD: r"\w", re_constants.CATEGORY_SPACE: r"\s"}
               if re_constants else {})


def _first(items) -> tuple[str | None, bool]:
    """The characters a match of a parsed pattern may begin with, as the inside of a character
    class (None: any), and whether it may match the empty string."""
    parts, c = [], re_constants
    for op, av in items:
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):  # \b, ^, lookarounds: they take no character
            continue
        if op is c.LITERAL or op is c.IN:
            for kind, value in [(op, av)] if op is c.LITERAL else av:
                if kind is c.LITERAL or kind is c.RANGE:
                    parts.append("-".join(re.escape(chr(v)) for v in ((value,) if kind is c.LITERAL else value)))
                elif kind is c.CATEGORY and value in _CATEGORIES:
                    parts.append(_CATEGORIES[value])
                else:  # a negated class, another category
                    return None, False
            return "".join(parts), False
        if op is c.SUBPATTERN and not av[1] & re.IGNORECASE:
            found, empty = _first(av[3].data)
        elif op is c.BRANCH:
            firsts = [_first(branch.data) for branch in av[1]]
            found = None if any(f is None for f, _e in firsts) else "".join(f for f, _e in firsts)
            empty = any(e for _f, e in firsts)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            found, empty = _first(av[2].data)
            empty = empty or av[0] == 0
        else:
            return None, False
        if found is None:
            return None, False
        parts.append(found)
        if not empty:
            return "".join(parts), False
    return "".join(parts), True


def _lookahead(pattern: re.Pattern) -> re.Pattern:
    """`pattern` led by a lookahead for the characters its matches begin with: the same matches,
    found several times faster by `search` when it is an alternation of many words (the regular
    expression engine tries every branch at every position; the lookahead skips most of them)."""
    if re_parser is None:
        return pattern
    try:
        found, empty = _first(re_parser.parse(pattern.pattern, pattern.flags).data)
    except Exception:  # noqa: BLE001 - a private parser that changed: the pattern as written is still right
        return pattern
    if found is None or empty or pattern.flags & re.IGNORECASE:
        return pattern
    return re.compile(f"(?=[{found}])(?:{pattern.pattern})", pattern.flags)


WORD_START = re.compile(r"(?<![\w\u0900-\u097f])[\w\u0900-\u097f]")
CLITIC = re.compile(r"(?<!\w)(?:[وفبل]?(?:ال|لل)|[وفبل])(?=[\u0600-\u06ff])")
CUES = [(cue["type"], float(cue["weight"]), re.compile(_words(cue["words"], clitic=True))) for cue in LEXICON["cue"]]
CONTEXT = {name: re.compile("|".join(f"(?:{_fold(p)})" for p in patterns)) for name, patterns in LEXICON["context"].items()}
CONTEXT.update({name: _lookahead(CONTEXT[name]) for name in ("other_incident", "claims", "earlier", "published_line", "captions")})
NUMBER_WORDS, MONTHS, WEEKDAYS, RELATIVE_DAYS = (_table(s) for s in ("numbers", "months", "weekdays", "relative_days"))
_TENS, _UNITS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety", "one|two|three|four|five|six|seven|eight|nine"
GATE = _Gate({**{f"cue{i}": cue["words"] for i, cue in enumerate(LEXICON["cue"])}, **LEXICON["context"],
              "month": list(MONTHS), "weekday": list(WEEKDAYS), "relative": list(RELATIVE_DAYS),
              "count": [*NUMBER_WORDS, *_TENS.split("|"), *GRAMMAR["vague"], "a hundred"]})

# a count: "46", "2,025", "twenty-three", "a dozen", "at least 46", "46 على الأقل", "25-30"
VAGUE = _words(GRAMMAR["vague"], bounded=False)
NUM = (rf"(?!(?:19|20)\d\d(?!\d))(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?!\d|/|:\d)|(?:{_TENS})[- ](?:{_UNITS}){R}"
       rf"|(?:a|one|two|three|four|five)[- ]hundred{R}|{VAGUE}{R}|{_words(NUMBER_WORDS, bounded=False)}{R}")
QUAL, POSTQUAL = _words(LEXICON["qualifiers"]["before"]), _words(LEXICON["qualifiers"]["after"])
COUNT = rf"(?:{QUAL}\s+)?(?<![\w.,:/-])(?:{NUM})(?:\s*(?:-|to|or)\s*(?:{NUM}))?(?:\s+{POSTQUAL})?"
ALL_VERBS = _words([*LEXICON["killed"]["before"], *LEXICON["injured"]["before"]])
NUMBER_WORD = _words([*NUMBER_WORDS, *_TENS.split("|"), *GRAMMAR["vague"]])
GAPWORD = rf"(?!{_words(GRAMMAR['stop'])}|{ALL_VERBS}|{NUMBER_WORD})[^\s\d,;:.!?()\"“”]+"  # who: "civilians", "of its"
ITEM = rf"{COUNT}(?:\s+{GAPWORD}){{0,5}}"
LIST = rf"{ITEM}(?:(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+as well as\s+|\s+plus\s+|\s+و\s*|\s+और\s+|\s+[ye]\s+){ITEM}){{0,6}}"
ONE_MORE = rf"\s+and\s+(?:a|an|one|their|his|her)\s+(?:\S+\s+)?{_words(GRAMMAR['one_more'])}"
ASIDE = _words(GRAMMAR["aside"])
PAREN = rf"(?:\s*,\s*{ASIDE}[^,;:.]{{0,100}},|\s*\([^)]{{0,80}}\))?"
AUX = rf"(?:\s+{_words(GRAMMAR['aux'])})*"
PATTERNS = {kind: (  # a count before its words ("the wounded" is no verb), matched at the count; the words
    # before a count; a toll update
    re.compile(rf"(?P<list>{LIST})(?P<one>{ONE_MORE})?{PAREN}{AUX}(?<!\bthe)\s+{_words(LEXICON[kind]['before'])}"),
    _lookahead(re.compile(rf"{_words(LEXICON[kind]['after'], clitic=True)}\s+(?:{QUAL}\s+)?$")),
    _lookahead(re.compile(rf"{_words(LEXICON[kind]['update'], bounded=False)}\s+(?:{QUAL}\s+)?$"))) for kind in ("killed", "injured")}
ITEM_RE = re.compile(rf"(?P<count>{COUNT})(?P<noun>(?:\s+{GAPWORD}){{0,5}})")
LIST_RE = re.compile(rf"(?P<list>{LIST})(?P<one>{ONE_MORE})?")
NUM_RE, VAGUE_RE = re.compile(NUM), re.compile(VAGUE)
AFTER_VERB = re.compile(rf"{AUX}\s+{ALL_VERBS}")
COMBINED = re.compile(rf"\s*(?:and|or|/|&)\s*(?:injured|wounded|hurt){R}")  # "100 killed or injured": neither
PRECEDING = re.compile(rf"(?:{_words(MONTHS)}|{ASIDE})\.?,?\s+(?:{QUAL}\s+)?$")  # "on July 15", "including five"
QUAL_START, QUAL_END = re.compile(rf"^\s*{QUAL}\s+"), re.compile(rf"{QUAL}\s+$")
ATTACKERS, NOT_PEOPLE = re.compile(_words(LEXICON["people"]["attackers"])), re.compile(_words(LEXICON["people"]["not_people"]))
NEGATED, SINGLE = re.compile(_words(GRAMMAR["negation"])), re.compile(_words(GRAMMAR["single"]))
SINGLE_OBJECT = re.compile(L + _words(GRAMMAR["single_object"], bounded=False))
YET = re.compile(rf"{L}yet{R}")  # "no casualties have been reported yet" is no figure
MONTH_ONLY = re.compile(rf"{_words(GRAMMAR['month_only'])}\s+({'|'.join(m for m in MONTHS if len(m) > 3)}){R}(?!\s*\d)")

_MONTH, _DAY = _words(MONTHS, bounded=False), r"(?<![\d,.])(\d{1,2})(?:st|nd|rd|th|مه)?(?![\d:])"
DATE_PATTERNS = (("iso", None, re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")),
                 ("dmy", "month", re.compile(rf"{_DAY}\s+(?:of\s+|de\s+)?({_MONTH})\.?{R}(?:,?\s*(?:de\s+)?(\d{{4}})(?!\d))?")),
                 ("mdy", "month", re.compile(rf"{L}({_MONTH})\.?\s+{_DAY}(?:\s*,?\s*(\d{{4}})(?!\d))?")),
                 ("weekday", "weekday", re.compile(rf"{L}({_words(WEEKDAYS, bounded=False)}){R}")),
                 ("relative", "relative", re.compile(rf"{L}({_words(RELATIVE_DAYS, bounded=False)}){R}")))
YEAR_RE = re.compile(r"(?<![\d.\-])((?:19|20)\d\d)(?!\d)")
DATE_MARKER = re.compile(r"\A\s*date (\d{4})-(\d{2})(?:-(\d{2}))?")
NEAR_INCIDENT, TOLL_UPDATE = re.compile(_words(NEAR["incident"], bounded=False)), re.compile(_words(NEAR["update"]))
BYLINE = re.compile(rf"{_words(NEAR['byline'], bounded=False)}(?: on)?:?\s*$")
UNTIL = re.compile(rf"{_words(NEAR['until'])}\s+(?:the\s+)?$")
REPORTING = re.compile(rf"{_words(NEAR['reporting'])}[^,.]{{0,20}}$")
ABBREVIATION = re.compile(rf"{_words(NEAR['abbreviations'])}\.$", re.IGNORECASE)
BULLET = re.compile(r"\A\s*(?:[-•*▪►]|\d+\.)\s")
SENTENCE_END = re.compile(r"(?<=[.!?\u06d4\u061f])\s+(?=[^\sa-z0-9])|(?<=[a-z][.!?])(?=[A-Z])")
DASH_ASIDE = re.compile(r"[\u2014\u2013]([^\u2014\u2013\n.]{1,80})[\u2014\u2013]")  # an aside between dashes


# ------------------------------------------------------------------ reading


@dataclass
class _Sentence:
    start: int  # offset of its line in title + "\n" + text
    norm: textmod.Normalized  # of its line
    offset: int  # of the sentence in the line's normal form
    folded: str
    weight: float  # TITLE, LEAD or BODY
    meta: bool = False  # a byline or dateline
    other: bool = False  # recounts another incident
    other_from: int = 1 << 30  # folded offset from which it recounts another incident...
    claim_from: int = 1 << 30  # ...or reports a party's claim
    earlier: bool = False  # an earlier stage of the toll ("initially")
    keys: frozenset = frozenset()  # the lexicon patterns that may match in it
    counts: tuple = ()  # where its counts begin
    cues: tuple = ()  # (type, weight, folded span) of its type cues

    def evidence(self, full: str, start: int, end: int) -> Evidence:
        begin, stop = (self.start + at for at in self.norm.span(self.offset + start, self.offset + end))
        return Evidence(DATE_MARKER.sub("", textmod.sentence_around(full, begin, stop)[0]).strip(), begin, stop)


@dataclass
class _Candidate:
    kind: str  # "killed" or "injured"
    value: int | None
    sentence: _Sentence
    start: int  # folded offsets in the sentence
    end: int
    rank: str  # "title", "update", "normal" or "earlier"
    attackers: bool = False
    others: bool = False  # "six others died": others than a victim named alone
    bare: bool = False  # no noun says who ("ten were injured", "10 others")


def _segment(work: str, title: str) -> list[_Sentence]:
    """The sentences of `work` (title + "\\n" + text) that may say something, with their weights."""
    sentences, title_key = [], textmod.fold(title).strip(" .")
    prose, lead, offset = 0, LEAD_SENTENCES, 0  # prose: sentences of eight words or more so far
    for number, line in enumerate(work.split("\n")):
        line_start, offset, norm = offset, offset + len(line) + 1, textmod.normalize(line)
        folded_line = norm.folded.strip(" :")
        if number == 0 or not folded_line:
            sentences += [_Sentence(0, norm, 0, norm.folded, TITLE)] if folded_line else []
            continue
        if prose >= 3 and CONTEXT["stop_lines"].fullmatch(folded_line):
            break
        if CONTEXT["skip_lines"].match(folded_line) or folded_line.strip(" .") == title_key or (
                BULLET.match(line) and prose >= 5):  # links to other stories after the article
            continue
        meta = not line.rstrip().endswith(".") and (
            folded_line.count(" ") < 6 or bool(CONTEXT["published_line"].search(folded_line)))
        caption, begin = bool(CONTEXT["captions"].search(folded_line)), 0
        for end in [*(m.start() for m in SENTENCE_END.finditer(norm.cased)), len(norm.cased)]:
            if end < len(norm.cased) and norm.cased[end - 1] == "." and ABBREVIATION.search(norm.cased, begin, end):
                continue
            piece = norm.folded[begin:end]
            words = len(piece.split())
            weight = LEAD if lead and words >= 5 and not meta and not caption else BODY
            lead -= weight == LEAD
            if words:
                sentences.append(_Sentence(line_start, norm, begin + len(piece) - len(piece.lstrip()), piece.strip(), weight, meta))
            prose, begin = prose + (words >= 8), end
    return sentences


def _years(folded: str) -> list[str]:
    """The years a sentence names (a search only where one may be: most sentences name none)."""
    return YEAR_RE.findall(folded) if "19" in folded or "20" in folded else []


def _mark(s: _Sentence, ref_year: int | None) -> None:
    """Find the sentence's counts and type cues, and whether it recounts another incident or a claim."""
    keys, counts = GATE(s.folded)
    s.keys, s.counts = frozenset(keys), tuple(sorted(set(counts)))
    s.cues = tuple((kind, weight, m.span()) for i, (kind, weight, pattern) in enumerate(CUES)
                   if f"cue{i}" in keys and (m := pattern.search(s.folded)))
    if s.weight == TITLE:
        return
    found = {name: CONTEXT[name].search(s.folded) if name in keys else None
             for name in ("other_incident", "other_after", "claims", "earlier")}
    s.other = bool(found["other_incident"]) or (ref_year is not None and any(
        int(year) < ref_year for year in _years(s.folded)))
    s.other_from = found["other_after"].start() if found["other_after"] else s.other_from
    s.claim_from = found["claims"].start() if found["claims"] else s.claim_from
    s.earlier = bool(found["earlier"])


def _event_type(full: str, sentences: list[_Sentence]) -> tuple[str, Evidence | None]:
    """The incident type the cues weigh most for, and the words that said it most loudly."""
    scores: dict[str, float] = {}
    loudest: dict[str, tuple[float, _Sentence, tuple[int, int]]] = {}
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


def _mentions(s: _Sentence, published: datetime.date | None):
    """(kind, date, start) of each date the sentence gives (kind "full", "yearless", "weekday" or
    "relative"); all but full dates are resolved against `published` and dropped without it."""
    found, taken = [], []
    for kind, key, pattern in DATE_PATTERNS:
        for m in pattern.finditer(s.folded) if key is None or key in s.keys else ():
            if any(a < m.end() and m.start() < b for a, b in taken) or (published is None and kind in ("weekday", "relative")):
                continue
            taken.append(m.span())
            if kind == "weekday":
                found.append((kind, published - datetime.timedelta(days=(published.weekday() - WEEKDAYS[m[1]]) % 7), m.start()))
            elif kind == "relative":
                found.append((kind, published - datetime.timedelta(days=RELATIVE_DAYS[m[1]]), m.start()))
            else:
                year, month, day = ((m[1], int(m[2]), int(m[3])) if kind == "iso" else
                                    (m[3], MONTHS[m[2]], int(m[1])) if kind == "dmy" else (m[3], MONTHS[m[1]], int(m[2])))
                try:
                    date = datetime.date(int(year or (published.year if published else 2000)), month, day)
                except ValueError:  # "February 30"; February 29 of a year that has none
                    continue
                if year:
                    found.append(("full", date, m.start()))
                elif published is not None:  # a yearless date is not after publication
                    found.append(("yearless", date if date <= published else date.replace(year=date.year - 1), m.start()))
                else:  # a day of the year only (kept apart: "partial")
                    found.append(("partial", date, m.start()))
    return found


def _dates(sentences: list[_Sentence], published: datetime.date | None):
    """The incident dates, most likely first, and each sentence's explicit dates. A mention weighs
    more in the title and lead and next to words of the incident ("the attack on Tuesday"), less
    in a byline, a toll update ("rose to 15 on Wednesday"), after "said", in a sentence about
    another incident or long before publication; a date's best mention decides."""
    scores: dict[datetime.date, list[float]] = {}
    first: dict[datetime.date, int] = {}
    explicit: list[list[datetime.date]] = []
    partial: dict[tuple[int, int], int] = {}  # (month, day) of yearless dates, when publication is unknown
    for index, s in enumerate(sentences):
        explicit.append([])
        if not (mentions := _mentions(s, published)):
            continue
        near = [m.start() for m in NEAR_INCIDENT.finditer(s.folded)] + [span[0] for _k, _w, span in s.cues]
        update = bool(TOLL_UPDATE.search(s.folded))
        for kind, date, at in mentions:
            before = s.folded[max(0, at - 30):at]
            if kind == "partial":
                if not s.other and not s.meta:
                    partial.setdefault((date.month, date.day), index * 10000 + at)
                continue
            if (published is not None and date > published) or UNTIL.search(before):
                continue
            meta = s.meta or bool(BYLINE.search(before))
            if kind in ("full", "yearless") and not meta:
                explicit[-1].append(date)
            distance = min((abs(at - where) for where in near), default=99)
            score = (DATE_KIND_WEIGHT[kind] * (2.0 if s.weight > BODY else 1.0) * (0.3 if meta else 1.0)
                     * (1.5 if s.cues else 1.0) * (3.0 if distance <= 15 else 2.0 if distance <= 50 else 1.0)
                     * (0.5 if REPORTING.search(before) else 1.0) * (0.5 if update and distance > 15 else 1.0)
                     * (0.2 if s.other or at >= s.other_from else 1.0)
                     * (0.3 if published and (published - date).days > BACKGROUND_DAYS else 1.0))
            scores.setdefault(date, []).append(score)
            first.setdefault(date, index * 10000 + at)
    total = {date: max(found) + 0.25 * (sum(found) - max(found)) for date, found in scores.items()}
    return tuple(sorted(total, key=lambda d: (-total[d], first[d]))), explicit, tuple(sorted(partial, key=partial.get))


def _value(count: str, qualified: bool = False) -> int | None:
    """The number a count says ("at least 46" is 46, "25-30" is 25, "twenty-three" 23, "a dozen"
    12), or None for "dozens", "several", "over a dozen"."""
    if qualified or QUAL_START.match(count):
        if "dozen" in count:
            return None
        count = QUAL_START.sub("", count)
    if not (found := NUM_RE.search(count)) or (VAGUE_RE.fullmatch(first := found.group()) and first != "a dozen"):
        return None
    if first[0].isdigit():
        return int(first.replace(",", ""))
    if first in NUMBER_WORDS or first == "a dozen":
        return NUMBER_WORDS.get(first, 12)
    parts = re.split(r"[- ]", first)  # "twenty-three", "two hundred"
    return NUMBER_WORDS.get(parts[0], 1) * 100 if parts[-1] == "hundred" else NUMBER_WORDS[parts[0]] + NUMBER_WORDS[parts[1]]


def _candidates(s: _Sentence) -> list[_Candidate]:
    """The killed and injured figures a sentence gives, attackers marked. Each count is read once,
    by the first pattern that takes it: a toll update, a count after its words, before them."""
    folded, found, taken = s.folded, [], set()
    for p in s.counts[:MAX_COUNTS]:
        if p in taken or PRECEDING.search(folded, max(0, p - 40), p):
            continue  # a day of a month ("on July 15 were killed"), inside an aside ("including five")
        for direction, kind in ((d, k) for d in ("update", "after", "before") for k in PATTERNS):
            before, after, update = PATTERNS[kind]
            if direction == "before":
                if not (m := before.match(folded, start := p)) or (kind == "killed" and COMBINED.match(folded, m.end())):
                    continue
            elif not (lead := (update if direction == "update" else after).search(folded, max(0, p - 220), p)) or not (
                    m := (ITEM_RE if direction == "update" else LIST_RE).match(folded, start := p)):
                continue
            else:
                start = lead.start()
            items = [item for item in ITEM_RE.finditer(folded, *m.span("list" if direction != "update" else 0))
                     if item.start() == p or not PRECEDING.search(folded, max(0, item.start() - 40), item.start())]
            if direction == "after":
                if AFTER_VERB.match(folded, items[0].end()):
                    continue  # "five killed 29 injured": 29 is the subject of "injured"
                cut = next((k for k in range(1, len(items)) if AFTER_VERB.match(folded, items[k].end())), len(items))
                items = items[:cut]  # "killed 46 people and 140 were injured": 140 were not killed
            end = m.end() if direction == "before" else items[-1].end()
            taken.update(q for q in s.counts if start <= q < end)
            one, qualified = direction != "update" and bool(m["one"]), bool(QUAL_END.search(folded, max(0, p - 25), p))
            found.append(_candidate(kind, direction, s, start, end, items, one, qualified))
            break
    attackers = False
    for c in found:  # "six attackers were killed and 10 others injured": the others are attackers too
        attackers = attackers or c.attackers
        c.attackers = c.attackers or (attackers and c.bare)
    return found


def _candidate(kind: str, direction: str, s: _Sentence, start: int, end: int, items: list[re.Match],
               one: bool, qualified: bool) -> _Candidate:
    """A figure from its counts: victims summed, attackers left out."""
    while items and NOT_PEOPLE.fullmatch(items[0]["noun"].strip().split(" ", 1)[0] or "-"):
        items = items[1:]  # "35 bodies and more than 50 wounded": the bodies are not the wounded
    total, attackers, victims = 0, False, False
    for item in items:
        noun = item["noun"].strip()
        first_noun = noun.split(" ", 1)[0]
        if first_noun and NOT_PEOPLE.fullmatch(first_noun):
            break
        if (value := _value(item["count"], qualified and item is items[0])) is None:
            total = None if item is items[0] else total  # "dozens": no figure; "and many others": so far
            break
        if ATTACKERS.search(noun) or (attackers and first_noun in ("", "others", "more")):
            attackers = True
        else:
            victims, total = True, total + value
    noun = items[0]["noun"].strip() if items else ""
    rank = "title" if s.weight == TITLE else "update" if direction == "update" else "earlier" if s.earlier else "normal"
    return _Candidate(kind, total + (one and victims) if total is not None and victims else None, s, start, end, rank,
                      attackers and not victims, noun.startswith("others"), noun.split(" ", 1)[0] in ("", "others", "more"))


def _best(candidates: list[_Candidate]) -> _Candidate | None:
    """The title's figure, else the latest toll update, else the highest figure, else an earlier one."""
    for rank in ("title", "update", "normal", "earlier"):
        if pool := [c for c in candidates if c.rank == rank]:
            return max(pool, key=lambda c: c.value)
    return None


def _single(s: _Sentence) -> _Candidate | None:
    """One victim named alone ("the governor was killed", "gunmen shot dead a cleric"; "killing
    him and two others": three), not an attacker and not "no one"."""
    if s.folded.isascii() and "kill" not in s.folded and " dead" not in s.folded and "martyr" not in s.folded \
            and "gunned" not in s.folded and "assassinat" not in s.folded:
        return None
    matches = sorted([*((m, False) for m in SINGLE.finditer(s.folded)), *((m, True) for m in SINGLE_OBJECT.finditer(s.folded))],
                     key=lambda found: found[0].start())
    for m, victim_after in matches:
        if m.start() >= min(s.other_from, s.claim_from):
            break
        near = s.folded[m.end():m.end() + 30] if victim_after else s.folded[max(0, m.start() - 30):m.start()]
        if NEGATED.search(near[-12:]) or ATTACKERS.search(near) or NUM_RE.search(near[-20:]):
            continue
        value, end = 1, m.end()
        if m.group().endswith(("and", "with")) and (item := ITEM_RE.match(s.folded, end + 1)):
            if (more := _value(item["count"])) is None:
                continue
            value, end = 1 + more, item.end()
        return _Candidate("killed", value, s, m.start(), end, "title" if s.weight == TITLE else "normal")
    return None


def _figures(full: str, sentences: list[_Sentence]) -> tuple[Figure | None, Figure | None]:
    """The killed and injured figures of the text's incident."""
    usable = [c for s in sentences if not s.other for c in _candidates(s) if c.value is not None
              and not c.attackers and c.start < min(s.other_from, s.claim_from)]
    singles = [c for s in sentences if not s.other and (c := _single(s))]
    killed = _best([c for c in usable if c.kind == "killed"] + singles)
    injured_pool = [c for c in usable if c.kind == "injured"]
    injured = _best([c for c in injured_pool if c.rank == "title"])
    if injured is None and killed is not None and killed.rank == "update":  # "rose to 15, with 32 injured"
        injured = _best([c for c in injured_pool if c.sentence is killed.sentence])
    injured = injured or _best(injured_pool)
    figures = [None if c is None else Figure(c.value + (c is killed and c.others and bool(singles)),
                                             c.sentence.evidence(full, c.start, c.end)) for c in (killed, injured)]
    for s in sentences if None in figures else ():  # "no casualties or injuries were reported"
        if not s.other and "no_casualties" in s.keys and (m := CONTEXT["no_casualties"].search(s.folded)) \
                and not YET.search(s.folded):
            zero, both = Figure(0, s.evidence(full, *m.span())), "casualties" in m.group() or "injur" in m.group()
            figures = [figures[0] or zero, figures[1] or (zero if both else None)]
            break
    return figures[0], figures[1]


def read(title: str, text: str, *, published: datetime.date | None = None) -> Facts:
    """The facts one news text gives about its incident. Evidence offsets are in
    title + "\\n" + text. A leading " date YYYY-MM-DD" marker in `text` is the publication date,
    used when `published` is None, never the incident's date."""
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
    sentences = _segment(title.replace("\n", " ") + "\n" + work, title)
    years = [int(year) for s in sentences for year in _years(s.folded)]
    ref_year = published.year if published else marker_year or max(years, default=None)
    for s in sentences:
        _mark(s, ref_year)
    dates, explicit, month_days = _dates(sentences, published)
    if day := (dates[0] if dates else published):  # a sentence dated days away is about another incident
        for s, mine in zip(sentences, explicit):
            month = MONTH_ONLY.search(s.folded) if "month" in s.keys else None  # "In November, 14 soldiers were killed"
            if s.weight != TITLE and ((mine and all(abs((d - day).days) > DATE_SLACK for d in mine))
                                      or (month and MONTHS[month[1]] != day.month)):
                s.other = True
    event_type, type_evidence = _event_type(full, sentences)
    killed, injured = _figures(full, sentences)
    return Facts(event_type, type_evidence, killed, injured, dates, () if dates else month_days)
