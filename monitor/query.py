"""The rule query syntax shared by the configuration check and the matcher.

`parse_query(source)` parses a rule query (`AND`, `OR`, `NOT`, parentheses, "quoted phrases",
`@entity`, `A NEAR/n B`, `title:`) into a tree, or raises `QuerySyntaxError` with a position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The grammar:
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
