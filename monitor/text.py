"""Text normalisation shared by matching and de-duplication, and the rule query syntax shared
by the configuration check and the matcher.

`normalize(text)` returns a `Normalized`: the text with each character in NFKC, Latin
diacritics removed, Arabic-script letter variants folded to one form (yeh, kaf, heh, alef, teh
marbuta), harakat, tatweel and invisible format characters (ZWNJ, ZWJ, direction marks, soft
hyphen) removed, every dash as "-", every apostrophe as "'", runs of whitespace as one space,
no space next to a dash and no run of dashes; `cased` keeps letter case, `folded` is
lower-cased, and both are the same length, with `origin(i)` / `offsets` mapping each of their
characters back to an index of the original text.

`parse_query(source)` parses a rule query (`AND`, `OR`, `NOT`, parentheses, "quoted phrases",
`@entity`, `A NEAR/n B`, `title:`) into a tree, or raises `QuerySyntaxError` with a position.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

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
# (unchanged by normalisation); anything else takes the slower per-character path.
TABLE_RANGES = ((0x0000, 0x058F), (0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x097F),
                (0x1E00, 0x1EFF), (0x2000, 0x218F), (0x2460, 0x24FF), (0x3000, 0x303F),
                (0xFB00, 0xFDFF), (0xFE70, 0xFEFF), (0xFF00, 0xFFEF))


def _is_dropped_mark(char: str) -> bool:
    return char in DROPPED or (unicodedata.combining(char) > 0 and char not in "\u200c\u200d")


def _is_latin(char: str) -> bool:
    code = ord(char)
    return code < 0x0250 or 0x1E00 <= code <= 0x1EFF


def _fold_char(char: str) -> str:
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
    if len(decomposed) > 1 and _is_latin(decomposed[0]):
        decomposed = "".join(c for c in decomposed if not unicodedata.combining(c))
        return unicodedata.normalize("NFKC", decomposed).translate(ARABIC_FOLD)
    return unicodedata.normalize("NFKC", char).translate(ARABIC_FOLD)


class _Tables:
    """Built on first use (a few milliseconds), so that importing this module stays cheap."""

    def __init__(self) -> None:
        plain: list[int] = []
        for low, high in TABLE_RANGES:
            for code in range(low, high + 1):
                char = chr(code)
                if char in " -" or char in DROPPED or unicodedata.combining(char):
                    continue
                if _fold_char(char) == char:
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
        self.special = re.compile(f"[^{klass}]{{2,}}|[^{klass} \\-]")
        self.ascii = str.maketrans({**{c: " " for c in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"}, "`": "'"})
        self.runs: dict[tuple[str, str], list[tuple[str, int]]] = {}


_tables: _Tables | None = None


def _get_tables() -> _Tables:
    global _tables
    if _tables is None:
        _tables = _Tables()
    return _tables


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

    @cached_property
    def offsets(self) -> tuple[int, ...]:
        """`origin(i)` for every character, as one tuple."""
        return tuple(self.origin(index) for index in range(len(self.cased)))

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the normalised text back to the original text; marks
        that normalisation dropped after the last character (accents, harakat) stay in."""
        stop = self.origin(end - 1) + 1
        while stop < len(self.original) and _is_dropped_mark(self.original[stop]):
            stop += 1
        return self.origin(start), stop


def _run(run: str, previous: str) -> list[tuple[str, int]]:
    """The normalised characters of a run of special characters, each with its index in the
    run; `previous` is the last character written before the run ("" at the start)."""
    out: list[tuple[str, int]] = []
    last = previous
    for index, char in enumerate(run):
        if unicodedata.combining(char) and char not in DROPPED:
            if not last or last == " " or _is_latin(last):
                continue  # an accent on a Latin letter (decomposed text), or on nothing: dropped
            piece = unicodedata.normalize("NFKC", char)
        else:
            piece = _fold_char(char)
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


def _previous_key(run: str, previous: str) -> str:
    """What of the preceding character a run's normal form depends on (for the cache)."""
    if previous in ("", " ", "-"):
        return previous
    if unicodedata.combining(run[0]):
        return "L" if _is_latin(previous) else "x"
    return "x"


def normalize(text: str) -> Normalized:
    """Normalise `text` for matching; see the module docstring."""
    tables = _get_tables()
    if text.isascii():
        text_ = text.translate(tables.ascii)
        if not (text_.startswith(" ") or text_.endswith(" ") or "  " in text_ or " -" in text_
                or "- " in text_ or "--" in text_):
            return Normalized(text_, text_.lower(), (0,), (0,), text)  # the common case: nothing moves
    else:
        text_ = text
    pieces: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    length = 0
    previous = ""
    done = 0
    cache = tables.runs
    for found in tables.special.finditer(text_):
        begin, end = found.span()
        if begin > done:
            plain, origin = text_[done:begin], done
            if plain[0] == " " and not length:
                plain, origin = plain[1:], origin + 1
            if plain:
                pieces.append(plain)
                starts.append(length)
                origins.append(origin)
                length += len(plain)
                previous = plain[-1]
        run = found.group()
        key = (run, _previous_key(run, previous))
        out = cache.get(key)
        if out is None:
            out = _run(run, previous)
            if len(cache) > 50000:
                cache.clear()
            cache[key] = out
        for char, index in out:
            pieces.append(char)
            starts.append(length)
            origins.append(begin + index)
            length += 1
        if out:
            previous = out[-1][0]
        done = end
    if done < len(text_):
        plain, origin = text_[done:], done
        if plain[0] == " " and not length:
            plain, origin = plain[1:], origin + 1
        if plain:
            pieces.append(plain)
            starts.append(length)
            origins.append(origin)
    cased = "".join(pieces)
    if cased.endswith(" "):
        cased = cased[:-1]
    folded = cased.lower()
    if len(folded) != len(cased):
        folded = "".join(c.lower() if len(c.lower()) == 1 else c for c in cased)
    return Normalized(cased, folded, tuple(starts) or (0,), tuple(origins) or (0,), text)


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


# ---------------------------------------------------------------- rule queries
#
#   query   := or
#   or      := and ("OR" and)*
#   and     := near (["AND"] near)*          adjacent terms are joined by AND
#   near    := unary ["NEAR/n" unary]        operands: a term or a parenthesised OR-group
#   unary   := "NOT" unary | ["title:"] atom
#   atom    := WORD | "quoted phrase" | @entity | "(" or ")"
#
# Operators are upper case only; "and", "or", "not" are words like any other.

NEAR_LIMIT = 100


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed; `position` is the index of the problem in the query."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class QueryTerm:
    """A phrase, a prefix (`bomb*`) or an `@entity`; `title` limits it to the article title."""

    text: str
    title: bool
    position: int


@dataclass(frozen=True)
class QueryAnd:
    items: tuple


@dataclass(frozen=True)
class QueryOr:
    items: tuple


@dataclass(frozen=True)
class QueryNot:
    item: object


@dataclass(frozen=True)
class QueryNear:
    """`left NEAR/distance right`: at most `distance` words between them, either order."""

    left: object
    right: object
    distance: int
    position: int


QUERY_TOKEN = re.compile(r'\s*(?:(?P<open>\()|(?P<close>\))|(?P<quote>"[^"]*"?)|(?P<title>title:)|(?P<word>[^\s()"]+))')
NEAR_OPERATOR = re.compile(r"NEAR(?:/(\d+))?$")


def _tokens(source: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) for every token; kinds: ( ) phrase title word AND OR NOT NEAR."""
    tokens = []
    position = 0
    while True:
        found = QUERY_TOKEN.match(source, position)
        if not found:
            if source[position:].strip():
                raise QuerySyntaxError("unexpected character", position + len(source[position:]) - len(source[position:].lstrip()))
            break
        kind = found.lastgroup
        start = found.start(kind)
        text = found.group(kind)
        position = found.end()
        if kind == "quote":
            if len(text) < 2 or not text.endswith('"'):
                raise QuerySyntaxError('this quote is never closed', start)
            phrase = text[1:-1]
            if not phrase.strip():
                raise QuerySyntaxError("empty phrase", start)
            if phrase.strip().startswith("@"):
                raise QuerySyntaxError("an @entity is written without quotes", start)
            tokens.append(("phrase", phrase.strip(), start))
        elif kind == "word" and text in ("AND", "OR", "NOT"):
            tokens.append((text, text, start))
        elif kind == "word" and text.startswith("NEAR") and NEAR_OPERATOR.match(text):
            distance = NEAR_OPERATOR.match(text).group(1)
            if distance is None:
                raise QuerySyntaxError("NEAR needs a distance in words, e.g. NEAR/5", start)
            if int(distance) > NEAR_LIMIT:
                raise QuerySyntaxError(f"NEAR distance is at most {NEAR_LIMIT} words", start)
            tokens.append(("NEAR", distance, start))
        elif kind == "open":
            tokens.append(("(", text, start))
        elif kind == "close":
            tokens.append((")", text, start))
        else:
            tokens.append((kind, text, start))
    return tokens


class _QueryParser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = _tokens(source)
        self.index = 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def where(self) -> int:
        token = self.peek()
        return token[2] if token else len(self.source.rstrip())

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> object:
        if not self.tokens:
            raise QuerySyntaxError("the query is empty", 0)
        tree = self.or_()
        token = self.peek()
        if token is not None:
            if token[0] == ")":
                raise QuerySyntaxError("')' without a matching '('", token[2])
            raise QuerySyntaxError(f"unexpected {token[1]!r}", token[2])
        return tree

    def or_(self) -> object:
        items = [self.and_()]
        while (token := self.peek()) and token[0] == "OR":
            self.take()
            items.append(self.and_("OR"))
        return items[0] if len(items) == 1 else QueryOr(tuple(items))

    def and_(self, after: str | None = None) -> object:
        items = [self.near(after)]
        while (token := self.peek()) and token[0] not in ("OR", ")"):
            if token[0] == "AND":
                self.take()
                items.append(self.near("AND"))
            else:
                items.append(self.near())
        return items[0] if len(items) == 1 else QueryAnd(tuple(items))

    def near(self, after: str | None = None) -> object:
        left = self.unary(after)
        token = self.peek()
        if not token or token[0] != "NEAR":
            return left
        self.take()
        right = self.unary("NEAR")
        for operand, place in ((left, token[2]), (right, token[2])):
            _check_near_operand(operand, place)
        if (following := self.peek()) and following[0] == "NEAR":
            raise QuerySyntaxError("NEAR cannot be chained; join two NEARs with AND", following[2])
        return QueryNear(left, right, int(token[1]), token[2])

    def unary(self, after: str | None = None) -> object:
        token = self.peek()
        if token is None or token[0] in ("OR", "AND", "NEAR", ")"):
            where = self.where()
            if after:
                raise QuerySyntaxError(f"expected a term, an @entity or '(' after {after}", where)
            if token is not None and token[0] == ")":
                raise QuerySyntaxError("')' without a matching '('", where)
            if token is None:
                raise QuerySyntaxError("expected a term, an @entity or '('", where)
            raise QuerySyntaxError(f"{token[0]} needs a term on its left", where)
        if token[0] == "NOT":
            self.take()
            return QueryNot(self.unary("NOT"))
        if token[0] == "title":
            self.take()
            following = self.peek()
            if following is None or following[0] not in ("word", "phrase", "("):
                raise QuerySyntaxError("title: must be followed by a term or a parenthesised group", self.where())
            return _in_title(self.atom())
        return self.atom()

    def atom(self) -> object:
        kind, text, position = self.take()
        if kind == "(":
            if (token := self.peek()) and token[0] == ")":
                raise QuerySyntaxError("empty parentheses", token[2])
            inner = self.or_()
            closing = self.peek()
            if closing is None or closing[0] != ")":
                raise QuerySyntaxError("this '(' is never closed", position)
            self.take()
            return inner
        return QueryTerm(text, False, position)


def _in_title(node: object) -> object:
    if isinstance(node, QueryTerm):
        return QueryTerm(node.text, True, node.position)
    if isinstance(node, QueryNot):
        return QueryNot(_in_title(node.item))
    if isinstance(node, QueryNear):
        return QueryNear(_in_title(node.left), _in_title(node.right), node.distance, node.position)
    return type(node)(tuple(_in_title(item) for item in node.items))


def _check_near_operand(node: object, position: int) -> None:
    if isinstance(node, QueryTerm):
        return
    if isinstance(node, QueryOr) and all(isinstance(item, QueryTerm) for item in node.items):
        return
    if isinstance(node, QueryOr):
        for item in node.items:
            _check_near_operand(item, position)
        return
    raise QuerySyntaxError("NEAR joins terms, @entities or parenthesised OR-groups of them", position)


def parse_query(source: str) -> object:
    """The tree of a rule query (QueryTerm, QueryAnd, QueryOr, QueryNot, QueryNear). Raises
    `QuerySyntaxError`."""
    return _QueryParser(source).parse()


def query_terms(node: object) -> list[QueryTerm]:
    """Every term of a query tree, left to right."""
    if isinstance(node, QueryTerm):
        return [node]
    if isinstance(node, QueryNot):
        return query_terms(node.item)
    if isinstance(node, QueryNear):
        return query_terms(node.left) + query_terms(node.right)
    return [term for item in node.items for term in query_terms(item)]


def query_holds_without_terms(node: object) -> bool:
    """Whether the query is true for an article in which none of its terms appear."""
    if isinstance(node, (QueryTerm, QueryNear)):
        return False
    if isinstance(node, QueryNot):
        return not query_holds_without_terms(node.item)
    if isinstance(node, QueryAnd):
        return all(query_holds_without_terms(item) for item in node.items)
    return any(query_holds_without_terms(item) for item in node.items)


def show_position(source: str, position: int, message: str) -> str:
    """`message`, then the query on its own line with a caret under `position`."""
    line = source.replace("\n", " ").replace("\t", " ").replace("\r", " ")
    return f"{message}\n    {line}\n    {' ' * position}^"
