"""The words `monitor.facts` reads with (`facts_lexicon.toml`), compiled once at import: the
lexicon's patterns folded as `monitor.text` folds text, the counts, casualty and date patterns
built from them, and the gate that tells which patterns may match in a sentence before any is
searched."""

from __future__ import annotations

import re
import tomllib

import ahocorasick
from importlib import resources
try:  # CPython's own pattern parser, to read the characters a pattern's matches begin with (`_lookahead`)
    from re import _constants as re_constants, _parser as re_parser
except ImportError:  # another Python: the patterns are searched as written (slower, the same matches)
    re_constants = re_parser = None

from monitor import text as textmod

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
    found where a word starts: only those are searched (a search per pattern per sentence was
    most of the time `read` took). Patterns without a literal beginning always are, unless they
    are `spotted`: a pattern of those may match only where a sentence holds one of the strings
    every match holds (`_needed`), found anywhere in the same pass, with where each stands."""

    def __init__(self, groups: dict[str, list[str]], spotted: dict[str, re.Pattern]):
        self.always, heads = set(), {}
        for key, parts in groups.items():
            for found in (_heads(_fold(part)) for part in parts):
                self.always |= {key} if found is None else set()
                for head in found or ():
                    heads.setdefault(head, set()).add(key)
        held: dict[str, set[str]] = {}
        self.spotted = set()  # the keys of the spotted patterns whose strings are known
        for key, pattern in spotted.items():
            for string in _needed(pattern) or ():
                held.setdefault(string, set()).add(key)
                self.spotted.add(key)
        self.always -= self.spotted
        # every head or string -> (its length, the keys it begins, whether it starts a count, the keys it is held by)
        self.automaton = ahocorasick.Automaton()
        for string in heads.keys() | held.keys():
            keys = heads.get(string, set())
            self.automaton.add_word(string, (len(string), frozenset(keys), "count" in keys, frozenset(held.get(string, ()))))
        self.automaton.make_automaton()

    def __call__(self, folded: str) -> tuple[set[str], list[int], dict[str, list[tuple[int, int]]]]:
        """The keys of the patterns that may match, where counts ("46", "five") begin, and where
        the strings of spotted patterns stand (by key): one automaton pass over the sentence for
        the literal beginnings, each kept where a word starts (or after an Arabic clitic: و، ال،
        بال...), and those strings, kept anywhere."""
        found, spots = set(self.always), {}
        if folded.isascii():  # digits are 0-9 only, the characters before them ASCII: a simpler search
            counts, clitics = [m.start() for m in ASCII_DIGIT_START.finditer(folded)], None
        else:
            counts, clitics = [m.start() for m in DIGIT_START.finditer(folded)], None
            if ARABIC_SCRIPT.search(folded):
                clitics = {m.end() for m in CLITIC.finditer(folded)}
                counts += [at for at in clitics if folded[at].isdigit()]  # "و٥": a count after a clitic
        for last, (length, keys, count, held) in self.automaton.iter(folded):
            at = last + 1 - length
            for key in held:
                spots.setdefault(key, []).append((at, last + 1))
            if not keys:
                continue
            if at and WORD_CHAR.match(folded, at - 1) or not WORD_CHAR.match(folded, at):  # not where a word starts
                if clitics is None or at not in clitics:
                    continue
            found |= keys
            if count and not folded[last + 1:last + 2].isalnum():
                counts.append(at)
        found.update(spots)
        return found, counts, spots

    def near(self, spots: dict[str, list[tuple[int, int]]], key: str, begin: int, end: int) -> bool:
        """Whether the pattern of spotted `key` may match within [begin, end) of a sentence with
        these `spots`: one of its strings stands there (always, when its strings are unknown)."""
        return key not in self.spotted or any(begin <= at and stop <= end for at, stop in spots.get(key, ()))


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


SPOTTED_SHORTEST = 3  # characters: strings any shorter would be found in most sentences


def _needed(pattern: re.Pattern) -> frozenset[str] | None:
    """Strings one of which every match of `pattern` holds, read from its parsed form: the
    longest run of literal characters it always takes, or of a choice one such set of each of
    its options; None when it has none (or none of SPOTTED_SHORTEST characters or more)."""
    if re_parser is None or pattern.flags & re.IGNORECASE:
        return None
    try:
        found = _held(re_parser.parse(pattern.pattern, pattern.flags).data)
    except Exception:  # noqa: BLE001 - a private parser that changed: the pattern is searched as before
        return None
    return frozenset(found) if found and min(map(len, found)) >= SPOTTED_SHORTEST else None


def _held(items) -> set[str] | None:
    """`_needed` of parsed items. Lookarounds, anchors and character classes hold nothing (a
    literal run ends at them); an optional item holds nothing; a group case-blind holds nothing."""
    best, run, c = None, "", re_constants
    for op, av in items:
        if op is c.LITERAL:
            run += chr(av)
            continue
        best, run = _better(best, {run} if run else None), ""
        if op is c.SUBPATTERN and not av[1] & re.IGNORECASE:
            best = _better(best, _held(av[3].data))
        elif op is c.BRANCH:
            options = [_held(branch.data) for branch in av[1]]
            best = _better(best, None if None in options else set().union(*options))
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT) and av[0] >= 1:
            best = _better(best, _held(av[2].data))
    return _better(best, {run} if run else None)


def _better(one: set[str] | None, other: set[str] | None) -> set[str] | None:
    """Of two sets of strings, each held by every match, the one whose shortest string is longer
    (then the smaller): the one that rules out more sentences."""
    if one is None or other is None:
        return other if one is None else one
    return max(one, other, key=lambda strings: (min(map(len, strings)), -len(strings)))


WORD_CHAR = re.compile(r"[\w\u0900-\u097f]")
# A count in figures: where a word starts with a digit (str.isdigit: \d and the superscript,
# subscript and circled digits).
DIGITS = (r"\d\u00b2\u00b3\u00b9\u1369-\u1371\u19da\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468\u2474-\u247c"
          r"\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792\U00010a40-\U00010a43"
          r"\U00010e60-\U00010e68\U00011052-\U0001105a\U0001f100-\U0001f10a")
# The test of the character before is made after the digit (a lookbehind over both), so that the
# search skips straight to digits; the same matches as (?<![\w\u0900-\u097f])[digits].
DIGIT_START = re.compile(rf"[{DIGITS}](?<![\w\u0900-\u097f][{DIGITS}])")
ASCII_DIGIT_START = re.compile(r"[0-9](?<![0-9A-Za-z_][0-9])")  # the same in ASCII text
CLITIC = re.compile(r"(?<!\w)(?:[وفبل]?(?:ال|لل)|[وفبل])(?=[\u0600-\u06ff])")
CUES = [(cue["type"], float(cue["weight"]), re.compile(_words(cue["words"], clitic=True))) for cue in LEXICON["cue"]]
CONTEXT = {name: re.compile("|".join(f"(?:{_fold(p)})" for p in patterns)) for name, patterns in LEXICON["context"].items()}
CONTEXT.update({name: _lookahead(CONTEXT[name]) for name in ("other_incident", "claims", "earlier", "published_line", "captions")})
NUMBER_WORDS, MONTHS, WEEKDAYS, RELATIVE_DAYS = (_table(s) for s in ("numbers", "months", "weekdays", "relative_days"))
_TENS, _UNITS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety", "one|two|three|four|five|six|seven|eight|nine"

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
# A count's verbs alone ("killed", "injured"): a sentence without any has no count before them
VERBS = {kind: _lookahead(re.compile(_words(LEXICON[kind]["before"]))) for kind in ("killed", "injured")}
ITEM_RE = re.compile(rf"(?P<count>{COUNT})(?P<noun>(?:\s+{GAPWORD}){{0,5}})")
LIST_RE = re.compile(rf"(?P<list>{LIST})(?P<one>{ONE_MORE})?")
NUM_RE, VAGUE_RE = re.compile(NUM), re.compile(VAGUE)
AFTER_VERB = re.compile(rf"{AUX}\s+{ALL_VERBS}")
COMBINED = re.compile(rf"\s*(?:and|or|/|&)\s*(?:injured|wounded|hurt){R}")  # "100 killed or injured": neither
PRECEDING = _lookahead(re.compile(rf"(?:{_words(MONTHS)}|{ASIDE})\.?,?\s+(?:{QUAL}\s+)?$"))  # "on July 15", "including five"
QUAL_START, QUAL_END = re.compile(rf"^\s*{QUAL}\s+"), re.compile(rf"{QUAL}\s+$")
# spotted (see `_Gate`): the searches of other incidents in every sentence, of a count's words
# and of what stands before a count
GATE = _Gate({**{f"cue{i}": cue["words"] for i, cue in enumerate(LEXICON["cue"])}, **LEXICON["context"],
              "month": list(MONTHS), "weekday": list(WEEKDAYS), "relative": list(RELATIVE_DAYS),
              "count": [*NUMBER_WORDS, *_TENS.split("|"), *GRAMMAR["vague"], "a hundred"]},
             {"other_incident": CONTEXT["other_incident"], "preceding": PRECEDING,
              **{f"{name}:{kind}": pattern for kind in PATTERNS
                 for name, pattern in (("after", PATTERNS[kind][1]), ("update", PATTERNS[kind][2]), ("verbs", VERBS[kind]))}})
ATTACKERS, NOT_PEOPLE = re.compile(_words(LEXICON["people"]["attackers"])), re.compile(_words(LEXICON["people"]["not_people"]))
NEGATED, SINGLE = re.compile(_words(GRAMMAR["negation"])), _lookahead(re.compile(_words(GRAMMAR["single"])))
SINGLE_OBJECT = _lookahead(re.compile(L + _words(GRAMMAR["single_object"], bounded=False)))
YET = re.compile(rf"{L}yet{R}")  # "no casualties have been reported yet" is no figure
MONTH_ONLY = re.compile(rf"{_words(GRAMMAR['month_only'])}\s+({'|'.join(m for m in MONTHS if len(m) > 3)}){R}(?!\s*\d)")

_MONTH, _DAY = _words(MONTHS, bounded=False), r"(?<![\d,.])(\d{1,2})(?:st|nd|rd|th|مه)?(?![\d:])"
DATE_PATTERNS = (("iso", None, re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")),
                 ("dmy", "month", re.compile(rf"{_DAY}\s+(?:of\s+|de\s+)?({_MONTH})\.?{R}(?:,?\s*(?:de\s+)?(\d{{4}})(?!\d))?")),
                 ("mdy", "month", re.compile(rf"{L}({_MONTH})\.?\s+{_DAY}(?:\s*,?\s*(\d{{4}})(?!\d))?")),
                 ("weekday", "weekday", re.compile(rf"{L}({_words(WEEKDAYS, bounded=False)}){R}")),
                 ("relative", "relative", re.compile(rf"{L}({_words(RELATIVE_DAYS, bounded=False)}){R}")))
# A year not preceded by a digit, "." or "-": that test made after the year (a lookbehind over
# both), so that the search skips to a "1" or a "2".
YEAR_RE = re.compile(r"((?:19|20)\d\d)(?<![\d.\-]\d{4})(?!\d)")
DATE_MARKER = re.compile(r"\A\s*date (\d{4})-(\d{2})(?:-(\d{2}))?")
NEAR_INCIDENT, TOLL_UPDATE = re.compile(_words(NEAR["incident"], bounded=False)), re.compile(_words(NEAR["update"]))
# the words a byline's date may stand with: weekdays, "am", "pm", time zones
CLOCK = re.compile(rf"{L}(?:{_words(WEEKDAYS, bounded=False)}|{_words(NEAR['clock'], bounded=False)}){R}")
BYLINE = re.compile(rf"{_words(NEAR['byline'], bounded=False)}(?: on)?:?\s*$")
UNTIL = re.compile(rf"{_words(NEAR['until'])}\s+(?:the\s+)?$")
OF_SOMETHING_ELSE = re.compile(rf"(?:{_words(NEAR['something_else']['done'])}(?:\s+[^\s,.;]+){{0,2}}?|{_words(NEAR['something_else']['named'])})"
                               rf"\s+(?:on|in|of|dated)\s+(?:the\s+)?$")
REPORTING = re.compile(rf"{_words(NEAR['reporting'])}[^,.]{{0,20}}$")
ABBREVIATION = re.compile(rf"{_words(NEAR['abbreviations'])}\.$", re.IGNORECASE)
# The longest match it has: a sentence ending is searched for one in its last few characters only
# (the whole sentence when the parser is not there to tell).
ABBREVIATION_WIDTH = re_parser.parse(ABBREVIATION.pattern, ABBREVIATION.flags).getwidth()[1] if re_parser else 1 << 30
BULLET = re.compile(r"\A\s*(?:[-•*▪►]|\d+\.)\s")
# Where a sentence ends: at a full stop (or "!", "?", "۔", "؟") followed by spaces and no lower-case
# letter or digit, or by a capital right away after a lower-case letter ("attack.The"). A match
# begins at the mark, so that the search skips from mark to mark: the sentence ends one after it.
SENTENCE_END = re.compile(r"[.!?\u06d4\u061f](?:\s+(?=[^\sa-z0-9])|(?<=[a-z][.!?])(?=[A-Z]))")
DASH_ASIDE = re.compile(r"[\u2014\u2013]([^\u2014\u2013\n.]{1,80})[\u2014\u2013]")  # an aside between dashes
