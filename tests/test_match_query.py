"""Rule queries: the parser in monitor.query (trees, binding, errors with positions) and how the
configuration check reports a bad query: the query with a caret under the problem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import config
from monitor.errors import ConfigError
from monitor.query import (QueryAnd, QueryNear, QueryNot, QuerySyntaxError, QueryTerm, parse_query,
                           query_holds_without_terms, query_terms, show_position)

ROOT = Path(__file__).resolve().parent.parent


def shape(node) -> object:
    """A compact form of a query tree: terms as text ('title:x' in the title), operators as tuples."""
    if isinstance(node, QueryTerm):
        return f"title:{node.text}" if node.title else node.text
    if isinstance(node, QueryNot):
        return ("NOT", shape(node.item))
    if isinstance(node, QueryNear):
        return ("NEAR", node.distance, shape(node.left), shape(node.right))
    return ("AND" if isinstance(node, QueryAnd) else "OR", *(shape(item) for item in node.items))


@pytest.mark.parametrize(("query", "tree"), [
    ("@ttp", "@ttp"),
    ("@ttp AND attack*", ("AND", "@ttp", "attack*")),
    ("@ttp attack*", ("AND", "@ttp", "attack*")),
    ("@ttp OR @iskp", ("OR", "@ttp", "@iskp")),
    ("@ttp and attack", ("AND", "@ttp", "and", "attack")),
    ("a or b not c", ("AND", "a", "or", "b", "not", "c")),
    ('"suicide attack" @ttp', ("AND", "suicide attack", "@ttp")),
    # NOT binds tightest, then NEAR, then AND (written or implied), then OR
    ("NOT a b", ("AND", ("NOT", "a"), "b")),
    ("a AND b OR c", ("OR", ("AND", "a", "b"), "c")),
    ("a OR b AND c", ("OR", "a", ("AND", "b", "c"))),
    ("a NEAR/3 b AND c", ("AND", ("NEAR", 3, "a", "b"), "c")),
    ("a NEAR/3 b OR c", ("OR", ("NEAR", 3, "a", "b"), "c")),
    ("a NEAR/3 (b OR c)", ("NEAR", 3, "a", ("OR", "b", "c"))),
    ("a AND NOT (b OR c)", ("AND", "a", ("NOT", ("OR", "b", "c")))),
    ("NOT NOT a", ("NOT", ("NOT", "a"))),
    ("title:a b", ("AND", "title:a", "b")),
    ("title:(a OR b) c", ("AND", ("OR", "title:a", "title:b"), "c")),
    ('title:"suicide attack"', "title:suicide attack"),
    ("NOT title:a b", ("AND", ("NOT", "title:a"), "b")),
    ("title:a NEAR/2 b", ("NEAR", 2, "title:a", "b")),
    ("(a)", "a"),
    ("  @pack.ttp  ", "@pack.ttp"),
    ("a NEAR/0 b", ("NEAR", 0, "a", "b")),
])
def test_parse(query, tree):
    assert shape(parse_query(query)) == tree


@pytest.mark.parametrize(("query", "message", "position"), [
    ("", "the query is empty", 0),
    ("@ttp AND", "expected a term, an @entity or '(' after AND", 8),
    ("@ttp OR", "after OR", 7),
    ("NOT", "after NOT", 3),
    ("AND @ttp", "AND needs a term on its left", 0),
    ("a OR OR b", "after OR", 5),
    ("(@ttp OR bomb*", "this '(' is never closed", 0),
    ("a AND (b OR (c)", "this '(' is never closed", 6),
    ("@ttp) AND a", "')' without a matching '('", 4),
    ("()", "empty parentheses", 1),
    ('"suicide attack', "this quote is never closed", 0),
    ('a ""', "empty phrase", 2),
    ('"@ttp"', "an @entity is written without quotes", 0),
    ("@ttp NEAR attack", "NEAR needs a distance", 5),
    ("a NEAR/500 b", "at most 100 words", 2),
    ("a NEAR/5 b NEAR/2 c", "NEAR cannot be chained", 11),
    ("NOT a NEAR/3 b", "NEAR joins terms", 6),
    ("(a AND b) NEAR/3 c", "NEAR joins terms", 10),
    ("a NEAR/3 (b OR c d)", "NEAR joins terms", 2),
    ("title:", "title: must be followed by a term", 6),
    ("title:NOT a", "title: must be followed by a term", 6),
])
def test_syntax_errors_say_where(query, message, position):
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert message in caught.value.message
    assert caught.value.position == position


def test_show_position_puts_the_caret_under_the_place():
    assert show_position("@ttp AND", 8, "bad") == "bad\n    @ttp AND\n            ^"
    assert show_position("a\nb", 2, "bad").splitlines()[1:] == ["    a b", "      ^"]


@pytest.mark.parametrize(("query", "holds"), [
    ("a", False), ("NOT a", True), ("a OR NOT b", True), ("a AND NOT b", False), ("NOT (a AND b)", True),
    ("NOT a NOT b", True), ("NOT NOT a", False), ("a NEAR/2 b", False), ("NOT (a NEAR/2 b)", True),
])
def test_query_that_holds_without_its_terms(query, holds):
    assert query_holds_without_terms(parse_query(query)) is holds


def test_query_terms_in_order_with_positions():
    terms = query_terms(parse_query('@ttp NEAR/3 (attack* OR "suicide bomb*") NOT title:cricket'))
    assert [(t.text, t.title, t.position) for t in terms] == [
        ("@ttp", False, 0), ("attack*", False, 13), ("suicide bomb*", False, 24), ("cricket", True, 51)]


# --- the configuration check ------------------------------------------------------------------

CONFIG = """
[newsmon]
state_dir = "state"

[channels.console]
urls = ["console://"]

[entities.ttp]
names = ["TTP", "Tehreek-e-Taliban Pakistan"]

[[rules]]
name = "r"
query = {query}
"""


def load(tmp_path: Path, query: str, **extra: str):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(query=query) + "".join(f'{k} = {v}\n' for k, v in extra.items()), encoding="utf-8")
    return config.load(path, environ={"HOME": str(tmp_path)})


def problems(tmp_path: Path, query: str, **extra: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, query, **extra)
    return [str(problem) for problem in caught.value.problems]


def test_valid_query_loads_into_the_rule(tmp_path):
    loaded = load(tmp_path, "'@ttp NEAR/5 (attack* OR bomb*) NOT title:cricket'", feed_tags='["pakistan"]')
    (rule,) = loaded.rules
    assert rule.query == "@ttp NEAR/5 (attack* OR bomb*) NOT title:cricket"
    assert rule.feed_tags == ("pakistan",)
    assert rule.all == rule.any == ()


def test_query_syntax_error_is_reported_with_a_caret(tmp_path):
    (problem,) = problems(tmp_path, "'@ttp AND (attack* OR bomb*'")
    file = tmp_path / "config.toml"
    assert problem == (f"{file}: at 'rules[0].query': bad query: this '(' is never closed\n"
                       f"    @ttp AND (attack* OR bomb*\n"
                       f"             ^")


def test_unknown_entity_in_a_query_is_reported_under_the_term(tmp_path):
    (problem,) = problems(tmp_path, "'attack* AND @tpp'")
    lines = problem.splitlines()
    assert lines[0].endswith("at 'rules[0].query': bad query: unknown entity 'tpp' (did you mean 'ttp'?)")
    assert lines[1:] == ["    attack* AND @tpp", "                ^"]


def test_bad_prefix_in_a_query_is_reported_under_the_term(tmp_path):
    (problem,) = problems(tmp_path, "'@ttp AND ab*'")
    assert "bad query: a prefix term needs at least 3 letters before '*': 'ab*'" in problem
    assert problem.splitlines()[-1] == "             ^"


def test_query_that_holds_without_terms_is_refused(tmp_path):
    (problem,) = problems(tmp_path, "'NOT cricket'")
    assert "at 'rules[0].query': bad query: it holds for an article that has none of its terms" in problem


def test_query_with_unknown_pack_entity(tmp_path):
    (problem,) = problems(tmp_path, "'@pack.tpp'")
    assert "bad query: unknown pack entity 'pack.tpp' (did you mean 'pack.ttp'?)" in problem


def test_every_problem_of_a_query_is_one_problem(tmp_path):
    found = problems(tmp_path, "'@tpp OR @iskp'")
    assert len(found) == 2
    assert all(problem.count("\n") == 2 for problem in found)


def test_newsmon_check_prints_the_query_and_the_caret(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(query="'@ttp NEAR attack*'"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "monitor", "--config", str(path), "check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "STATE_DIRECTORY": str(tmp_path / "state")})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"{path}: at 'rules[0].query': bad query: NEAR needs a distance in words, e.g. NEAR/5",
        "    @ttp NEAR attack*",
        "         ^",
    ]
    assert "Traceback" not in result.stderr
