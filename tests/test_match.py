"""monitor.match: the data-driven table in tests/data/match_cases.toml, plus a few tests of
the Matcher's API that a table cannot express."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

from monitor.match import Matcher, is_acronym
from monitor.model import Entity, Hit, Match, Rule

CASES_FILE = Path(__file__).parent / "data" / "match_cases.toml"
CASE_KEYS = {"id", "all", "any", "none", "title", "text", "matched", "hits", "xfail", "note", "entities"}


def load_table() -> tuple[dict[str, tuple[str, ...]], list[dict]]:
    with CASES_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    entities = {name: tuple(names) for name, names in data["entities"].items()}
    return entities, data["cases"]


ENTITIES, CASES = load_table()


def case_params():
    params = []
    for case in CASES:
        marks = []
        if case.get("xfail"):
            marks.append(pytest.mark.xfail(reason=case["xfail"]))
        params.append(pytest.param(case, id=case["id"], marks=marks))
    return params


def test_table_is_well_formed():
    assert len(CASES) >= 30
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for case in CASES:
        unknown = set(case) - CASE_KEYS
        assert not unknown, f"{case['id']}: unknown keys {unknown}"
        assert case.get("all") or case.get("any"), f"{case['id']}: no positive term"
        assert isinstance(case["matched"], bool), case["id"]
        if case["matched"]:
            assert case.get("hits"), f"{case['id']}: a match needs its expected hits"
        else:
            assert not case.get("hits"), f"{case['id']}: no hits expected without a match"
        for field, expected in case.get("hits", []):
            assert field in ("title", "text"), case["id"]
            assert expected in case.get(field, ""), f"{case['id']}: {expected!r} is not in the {field}"


@pytest.mark.parametrize("case", case_params())
def test_match_case(case):
    entity_names = {**ENTITIES, **{k: tuple(v) for k, v in case.get("entities", {}).items()}}
    entities = [Entity(name, names) for name, names in entity_names.items()]
    rule = Rule("case", all=tuple(case.get("all", ())), any=tuple(case.get("any", ())),
                none=tuple(case.get("none", ())))
    title, text = case.get("title", ""), case.get("text", "")
    fields = {"title": title, "text": text}

    result = Matcher(entities, [rule]).match(title, text)

    if not case["matched"]:
        assert result == []
        return
    assert [m.rule for m in result] == ["case"]
    got = []
    for hit in result[0].hits:
        assert hit.field in fields
        assert 0 <= hit.start < hit.end <= len(fields[hit.field])
        got.append((hit.field, fields[hit.field][hit.start:hit.end]))
    expected = [tuple(pair) for pair in case["hits"]]
    assert Counter(got) == Counter(expected)


# --- the API around the table ------------------------------------------------------------

TTP = Entity("ttp", ("TTP", "Tehreek-e-Taliban Pakistan"))
KP = Entity("kp", ("KP", "Khyber Pakhtunkhwa"))


@pytest.mark.parametrize(("alias", "acronym"), [
    ("TTP", True), ("KP", True), ("ISKP", True), ("IS-K", True), ("ISIS-K", True),
    ("ABCDEF", True), ("ABCDEFG", False), ("K", False), ("Isis", False), ("Ttp", False),
    ("G7", False), ("تحریک", False), ("Khyber Pakhtunkhwa", False),
])
def test_is_acronym(alias, acronym):
    assert is_acronym(alias) is acronym


def test_hit_records_term_entity_alias_and_field():
    matcher = Matcher([TTP, KP], [Rule("r", all=("@ttp",), any=("attack",))])
    [match] = matcher.match("Attack in Swat", "The Tehreek-e-Taliban Pakistan said so.")
    assert isinstance(match, Match)
    by_term = {hit.term: hit for hit in match.hits}
    assert by_term["@ttp"] == Hit("@ttp", "ttp", "Tehreek-e-Taliban Pakistan", "text", 4, 30)
    assert by_term["attack"] == Hit("attack", None, "attack", "title", 0, 6)


def test_several_rules_each_judged_on_its_own():
    rules = [
        Rule("ttp-in-kp", all=("@ttp", "@kp")),
        Rule("ttp", any=("@ttp",)),
        Rule("kp-not-ttp", any=("@kp",), none=("@ttp",)),
        Rule("nothing", any=("cricket",)),
    ]
    matcher = Matcher([TTP, KP], rules)
    assert [m.rule for m in matcher.match("", "TTP attack in KP")] == ["ttp-in-kp", "ttp"]
    assert [m.rule for m in matcher.match("", "Floods in KP")] == ["kp-not-ttp"]
    assert matcher.match("", "Nothing to see") == []


def test_same_place_hit_by_two_terms_is_reported_once():
    matcher = Matcher([TTP], [Rule("r", all=("@ttp", "TTP"))])
    [match] = matcher.match("", "The TTP said")
    assert [(h.field, h.start, h.end) for h in match.hits] == [("text", 4, 7)]


def test_matcher_is_reusable_and_pure():
    matcher = Matcher([TTP], [Rule("r", any=("@ttp",))])
    first = matcher.match("TTP", "")
    assert matcher.match("", "no match here") == []
    assert matcher.match("TTP", "") == first


def test_empty_fields():
    matcher = Matcher([TTP], [Rule("r", any=("@ttp",))])
    assert matcher.match("", "") == []
