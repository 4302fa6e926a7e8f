"""monitor.match: the data-driven table in tests/data/match_cases.toml, plus a few tests of
the Matcher's API that a table cannot express."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

from monitor.match import Matcher, is_acronym, is_case_sensitive
from monitor.model import Entity, Hit, Match, Rule

CASES_FILE = Path(__file__).parent / "data" / "match_cases.toml"
CASE_KEYS = {"id", "all", "any", "none", "query", "feed_tags", "tags", "title", "text", "matched", "hits",
             "cancelled", "xfail", "note", "entities"}
ENTITY_KEYS = {"names", "case", "context", "context_window", "ambiguous", "exclude"}


def make_entity(name: str, spec: list | dict) -> Entity:
    """A table entity: a list of names, or a table with the keys of an [entities.NAME] table."""
    if isinstance(spec, list):
        return Entity(name, tuple(spec))
    assert set(spec) <= ENTITY_KEYS, f"entity {name}: unknown keys {set(spec) - ENTITY_KEYS}"
    return Entity(name, tuple(spec["names"]), case=spec.get("case", "auto"), context=tuple(spec.get("context", ())),
                  context_window=spec.get("context_window", 20),
                  ambiguous=tuple(spec["ambiguous"]) if "ambiguous" in spec else None,
                  exclude=tuple(spec.get("exclude", ())))


def load_table() -> tuple[dict[str, list | dict], list[dict]]:
    with CASES_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    return data["entities"], data["cases"]


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
    assert len(CASES) >= 100
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    for case in CASES:
        unknown = set(case) - CASE_KEYS
        assert not unknown, f"{case['id']}: unknown keys {unknown}"
        assert case.get("all") or case.get("any") or case.get("query"), f"{case['id']}: no positive term"
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
    specs = {**ENTITIES, **case.get("entities", {})}
    entities = [make_entity(name, spec) for name, spec in specs.items()]
    rule = Rule("case", all=tuple(case.get("all", ())), any=tuple(case.get("any", ())),
                none=tuple(case.get("none", ())), query=case.get("query", ""),
                feed_tags=tuple(case.get("feed_tags", ())))
    title, text = case.get("title", ""), case.get("text", "")
    fields = {"title": title, "text": text}
    matcher = Matcher(entities, [rule])

    result = matcher.match(title, text, feed_tags=case.get("tags"))

    [verdict] = matcher.explain(title, text, feed_tags=case.get("tags"))
    assert verdict.matched == bool(result)
    assert not verdict.matched or verdict.hits == result[0].hits
    cancelled = [(c.hit.field, fields[c.hit.field][c.hit.start:c.hit.end], c.reason) for c in verdict.cancelled]
    for field, expected, reason in case.get("cancelled", []):
        assert any(f == field and got == expected and reason in why for f, got, why in cancelled), (
            f"expected {expected!r} in the {field} cancelled with {reason!r}; cancelled: {cancelled}")
    if not case["matched"]:
        assert result == [], f"matched with {[(h.field, fields[h.field][h.start:h.end]) for h in result[0].hits]}"
        assert verdict.reason
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


@pytest.mark.parametrize(("alias", "case", "sensitive"), [
    ("TTP", "auto", True), ("IS-K", "auto", True), ("LeT", "auto", True), ("JeM", "auto", True),
    ("HuJI", "auto", True), ("Isis-K", "auto", False), ("iPhone", "auto", False), ("Taliban", "auto", False),
    ("Le Monde", "auto", False), ("TTP", "insensitive", False), ("Swat", "sensitive", True),
])
def test_is_case_sensitive(alias, case, sensitive):
    assert is_case_sensitive(alias, case) is sensitive


def test_unknown_entity_is_refused():
    with pytest.raises(ValueError, match="unknown entity 'tpp'"):
        Matcher([TTP], [Rule("r", any=("@tpp",))])


def test_bad_query_is_refused():
    with pytest.raises(ValueError):
        Matcher([TTP], [Rule("r", query="@ttp AND")])


def test_feed_tags_none_means_not_checked():
    matcher = Matcher([TTP], [Rule("r", any=("@ttp",), feed_tags=("pakistan",))])
    assert [m.rule for m in matcher.match("", "TTP")] == ["r"]
    assert [m.rule for m in matcher.match("", "TTP", feed_tags=("pakistan",))] == ["r"]
    assert matcher.match("", "TTP", feed_tags=()) == []


def test_hits_lists_every_entity_hit_that_counts():
    ctx = Entity("ctx", ("TTP",), context=("Pakistan",))
    matcher = Matcher([ctx, KP], [Rule("r", any=("@ctx",))])
    hits = matcher.hits("KP police", "TTP in Pakistan. " + "word " * 30 + "TTP alone.")
    assert [(h.entity, h.field, h.start) for h in hits] == [("kp", "title", 0), ("ctx", "text", 0)]


def test_explain_gives_every_rule_a_verdict():
    matcher = Matcher([TTP, KP], [Rule("a", any=("@ttp",)), Rule("b", all=("@kp",)), Rule("c", any=("x",), none=("TTP",)),
                                  Rule("d", query="@ttp NOT @kp")])
    verdicts = {v.rule: v for v in matcher.explain("", "The TTP said.")}
    assert verdicts["a"].matched and verdicts["a"].reason == ""
    assert verdicts["b"].reason == "'all' term @kp not found"
    assert verdicts["c"].reason == "'none' term TTP found: 'TTP' in the text at 4"
    assert verdicts["d"].matched
    assert not verdicts["d"].cancelled


def test_rule_without_positive_terms_never_matches():
    matcher = Matcher([TTP], [Rule("r", none=("cricket",))])
    assert matcher.match("", "anything at all") == []
