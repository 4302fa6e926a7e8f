"""monitor.facts: incident type, killed and injured figures and incident dates from one text.

1. Hand-written cases (tests/data/facts_cases.toml): types, tolls, sums, attackers, other scripts,
   earlier incidents, dates, and `compatible`.
2. The event corpus (needs NEWSMON_CORPUS): accuracy against each text's hand-made `facts`, with
   floors a little below what the rules reach; the achieved figures are in the message.

    NEWSMON_CORPUS=/work/shared/corpus .venv/bin/pytest -q -n 0 tests/test_facts.py -s
"""

from __future__ import annotations

import datetime
import json
import tomllib
from pathlib import Path

import pytest

from conftest import corpus_dir
from monitor import facts

CASES = tomllib.loads((Path(__file__).resolve().parent / "data" / "facts_cases.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES["case"], ids=[case["id"] for case in CASES["case"]])
def test_case(case):
    title, text = case.get("title", ""), case["text"]
    found = facts.read(title, text, published=case.get("published"))
    full = f"{title}\n{text}"
    got = {"type": found.event_type, "killed": found.killed and found.killed.value,
           "injured": found.injured and found.injured.value}
    for field in ("type", "killed", "injured"):
        if field in case:
            assert got[field] == case[field], (field, found)
    for field in case.get("none", ()):
        assert getattr(found, field) in (None, ()), (field, found)
    if "dates" in case:
        assert found.dates[:len(case["dates"])] == tuple(case["dates"]), found.dates
    assert not set(case.get("absent_dates", ())) & set(found.dates), found.dates
    if "month_days" in case:
        assert found.month_days[:len(case["month_days"])] == tuple(map(tuple, case["month_days"])), found.month_days
        assert case["month_days"] or not found.month_days, found.month_days
    for field, words in case.get("evidence", {}).items():
        assert words in getattr(found, field).evidence.sentence
    for figure in (found.killed, found.injured):  # evidence offsets index title + "\n" + text
        if figure is not None and figure.value:
            assert 0 <= figure.evidence.start < figure.evidence.end <= len(full)
            assert full[figure.evidence.start:figure.evidence.end].strip()
    assert found.event_type in facts.EVENT_TYPES


@pytest.mark.parametrize("text, captions", [
    ("Police guard the site of the blast in Quetta on May 2, 2026.\nAFP\nQUETTA: A blast killed four people.", [True, False]),
    ("Police guard the site of the blast in Quetta on May 2, 2026.\n\nPhoto Credit: Reuters/File\n\nQUETTA: A blast killed four people.",
     [True, False]),
    ("QUETTA: A blast killed four people on Monday, officials said.\nAFP", [False]),  # the credit ends the text: the article's
    ("QUETTA: A blast killed four people on Monday, officials said.\nAnother blast hit Turbat.", [False, False]),
])
def test_a_line_before_a_photo_credit_is_a_caption(text, captions):
    segment, title = facts.sentences.segment, facts.sentences.TITLE
    found = [s for s in segment("Title\n" + text, "Title") if s.weight != title and not s.meta]
    assert [s.caption for s in found] == captions


@pytest.mark.parametrize("a, b, expected", [tuple(pair) for table in CASES["compatible"] for pair in table["pairs"]])
def test_compatible(a, b, expected):
    assert facts.compatible(a, b) is expected
    assert facts.compatible(b, a) is expected


def test_every_type_is_compatible_with_itself_and_other():
    for kind in facts.EVENT_TYPES:
        assert facts.compatible(kind, kind) and facts.compatible(kind, "other")


def test_lexicon_types_are_event_types():
    assert {cue["type"] for cue in facts.LEXICON["cue"]} <= set(facts.EVENT_TYPES)


def test_evidence_points_at_the_words():
    title, text = "Blast in Kohat", "KOHAT: At least 14 people were killed and 30 injured on Monday."
    found = facts.read(title, text, published=datetime.date(2026, 3, 3))
    full = f"{title}\n{text}"
    assert "14" in full[found.killed.evidence.start:found.killed.evidence.end]
    assert "30" in full[found.injured.evidence.start:found.injured.evidence.end]
    assert found.killed.evidence.sentence == "KOHAT: At least 14 people were killed and 30 injured on Monday."
    assert full[found.type_evidence.start:found.type_evidence.end] == "Blast"


@pytest.mark.parametrize("text", ["", "\n\n", "1, " * 700, "killed " * 300, "٥ ۵ ५ " * 100, "x" * 5000,
                                  " date 2024-13-45 nothing", "\u200c\u200d\u2014\u2013 - ;;; ...", "5 people " * 300])
def test_never_raises(text):
    found = facts.read("", text, published=datetime.date(2026, 1, 1))
    assert found.event_type in facts.EVENT_TYPES


# ------------------------------------------------------------------ the event corpus

FLOORS = {"event_type": 0.95, "killed": 0.93, "injured": 0.92, "date": 0.58}


def test_event_corpus_accuracy():
    root = corpus_dir()
    files = sorted((root / "events").glob("e*.json")) if root else []
    if not files:
        pytest.skip("NEWSMON_CORPUS is unset or has no events/e*.json")
    events = {}
    for line in (root / "events" / "events.jsonl").read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        events[event["slug"]] = event
    right = dict.fromkeys(FLOORS, 0)
    dated = 0
    misses = []
    for path in files:
        item = json.loads(path.read_text(encoding="utf-8"))
        published = datetime.date.fromisoformat(item["published"]) if item["published"] else None
        found = facts.read(item["title"] or "", item["text"], published=published)
        expected = item["facts"]
        got = {"event_type": found.event_type, "killed": found.killed and found.killed.value,
               "injured": found.injured and found.injured.value}
        for field in ("event_type", "killed", "injured"):
            right[field] += got[field] == expected[field]
            if got[field] != expected[field]:
                misses.append(f"{item['id']} {field} {got[field]} != {expected[field]}")
        if item["event"]:  # the incident's date from the event list
            dated += 1
            right["date"] += bool(found.dates) and found.dates[0].isoformat() == events[item["event"]]["date"]
    achieved = {field: right[field] / (dated if field == "date" else len(files)) for field in FLOORS}
    report = ", ".join(f"{field} {achieved[field]:.3f} (floor {FLOORS[field]})" for field in FLOORS)
    print(f"\nfacts on {len(files)} corpus texts: {report}")
    assert all(achieved[field] >= FLOORS[field] for field in FLOORS), report + "\n" + "\n".join(misses)


def test_without_cpythons_pattern_parser_a_pattern_is_searched_as_written(monkeypatch):
    import re

    from monitor import facts

    pattern = re.compile(r"\b(?:claimed|claims)\b")
    assert facts.lexicon._lookahead(pattern).pattern.startswith("(?=[")  # CPython: led by its first characters
    monkeypatch.setattr(facts.lexicon, "re_parser", None)
    assert facts.lexicon._lookahead(pattern) is pattern
