"""monitor.places: the table of hand-written cases in tests/data/places_cases.toml (what `find`
and `named` return, containment, `load` errors), checks of the bundled data file, and, when
NEWSMON_CORPUS points at the shared corpus, two corpus-driven checks:

- events/: for each text of an event, whether the gazetteer names a place consistent with the
  text's own `facts.place`, and whether any event would be split by the clustering guard
  "different districts that do not contain one another never join" (the district of each
  text's first `named` place);
- articles/: real pages, mostly not about the region, must raise no place of ours beyond the
  few they really name (listed in the table).

    NEWSMON_CORPUS=/work/shared/corpus .venv/bin/pytest -q -p no:cacheprovider -n 0 tests/test_places.py -s
"""

from __future__ import annotations

import gzip
import json
import tomllib
import unicodedata
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import pytest
from conftest import corpus_dir

from monitor import places

CASES_FILE = Path(__file__).parent / "data" / "places_cases.toml"
CASE_KEYS = {"id", "text", "named", "first", "found", "absent", "empty", "note"}
DATA = tomllib.loads(CASES_FILE.read_text(encoding="utf-8"))
GAZETTEER = places.bundled()
PACK = Path(places.__file__).parent.parent / "packs" / "places.toml"


@pytest.mark.parametrize("case", DATA["cases"], ids=[case["id"] for case in DATA["cases"]])
def test_case(case):
    assert set(case) <= CASE_KEYS, f"unknown keys {set(case) - CASE_KEYS}"
    found = GAZETTEER.find(case["text"])
    named = [place.id for place in GAZETTEER.named(case["text"])]
    for mention in found:  # offsets point at the text as written
        assert case["text"][mention.start:mention.end] == mention.name
    if "found" in case:
        assert [[mention.name, mention.place.id] for mention in found] == case["found"]
    if "named" in case:
        assert named == case["named"]
    if "first" in case:
        assert named[:1] == [case["first"]], f"named: {named}"
    for place_id in case.get("absent", ()):
        assert place_id not in named
    if case.get("empty"):
        assert found == (), f"found {[(m.name, m.place.id) for m in found]}"


def test_a_landmark_named_in_urdu_is_the_lead_place():
    # written for this test: "a blast on the platform of Quetta railway station"
    named = [place.id for place in GAZETTEER.named("کوئٹہ ریلوے اسٹیشن کے پلیٹ فارم پر دھماکہ ہوا۔")]
    assert named[:1] == ["quetta-railway-station"] and GAZETTEER.district_of(named[0]) == "quetta"


@pytest.mark.parametrize("row", DATA["containment"], ids=[row["place"] for row in DATA["containment"]])
def test_containment(row):
    place_id = row["place"]
    assert GAZETTEER.ancestors(place_id) == tuple(row["ancestors"])
    assert GAZETTEER.district_of(place_id) == (row["district"] or None)
    assert GAZETTEER.province_of(place_id) == (row["province"] or None)
    assert GAZETTEER.contains(place_id, place_id)
    for outer in row["ancestors"]:
        assert GAZETTEER.contains(outer, place_id) and not GAZETTEER.contains(place_id, outer)


def test_mir_ali_chain_and_unrelated_places():
    assert GAZETTEER.contains("pakistan", "mir-ali")
    assert GAZETTEER.contains("khyber-pakhtunkhwa", "north-waziristan")
    assert not GAZETTEER.contains("north-waziristan", "wana")
    assert not GAZETTEER.contains("afghanistan", "mir-ali")
    mir_ali = GAZETTEER.place("mir-ali")
    assert (mir_ali.name, mir_ali.kind, mir_ali.inside) == ("Mir Ali", "town", "north-waziristan")
    with pytest.raises(KeyError, match="no place"):
        GAZETTEER.place("atlantis")


@pytest.mark.parametrize("row", DATA["load_errors"], ids=[row["id"] for row in DATA["load_errors"]])
def test_load_errors(row):
    with pytest.raises(ValueError) as raised:
        places.load(row["data"])
    for part in row["messages"]:
        assert part in str(raised.value)


def test_load_user_places():
    data = tomllib.loads(PACK.read_text(encoding="utf-8"))
    data["places"]["jani-khel-bazaar"] = {"kind": "landmark", "inside": "jani-khel-bannu", "names": ["Jani Khel Bazaar"]}
    gazetteer = places.load(data)
    assert [p.id for p in gazetteer.named("Shops burnt in Jani Khel Bazaar")] == ["jani-khel-bazaar"]
    assert gazetteer.district_of("jani-khel-bazaar") == "bannu"
    assert places.bundled() is GAZETTEER  # loaded once


# ------------------------------------------------------------------ the bundled data

def test_data_covers_the_region():
    by_kind = defaultdict(list)
    for place in GAZETTEER.places():
        by_kind[place.kind].append(place)
    inside = defaultdict(list)
    for place in GAZETTEER.places():
        if place.kind == "district":
            inside[GAZETTEER.province_of(place.id)].append(place.id)
    assert len([p for p in by_kind["province"] if p.inside == "afghanistan"]) == 34
    assert len([p for p in by_kind["province"] if p.inside == "pakistan"]) == 7
    assert len(inside["khyber-pakhtunkhwa"]) >= 36 and len(inside["balochistan"]) >= 36
    assert len(inside["punjab"]) >= 36 and len(inside["sindh"]) >= 30
    for place in by_kind["province"] + by_kind["district"]:
        if GAZETTEER.province_of(place.id) in {"khyber-pakhtunkhwa", "balochistan"} or place.kind == "province":
            assert place.names, place.id
    located = [p for p in GAZETTEER.places() if p.kind in ("province", "district", "town") and p.lat is not None]
    assert len(located) >= 235  # coordinates are optional; see [sources] for where they come from


def test_every_non_latin_name_has_a_source():
    data = tomllib.loads(PACK.read_text(encoding="utf-8"))
    names = {name for table in data["places"].values() for name in table["names"]}
    non_latin = {name for name in names if any(unicodedata.name(c, "").split()[0] not in ("LATIN", "SPACE", "HYPHEN-MINUS",
                                                                                           "FULL", "APOSTROPHE", "DIGIT")
                                               for c in name)}
    sourced = set(data["sources"]) - {"names", "containment", "coordinates", "licence"}
    assert not non_latin - sourced, f"names without a source: {sorted(non_latin - sourced)}"
    assert not sourced - names, f"sources for names no place has: {sorted(sourced - names)}"


# ------------------------------------------------------------------ the shared corpus

def events_dir() -> Path | None:
    root = corpus_dir()
    found = root / "events" if root is not None else None
    return found if found is not None and (found / "events.jsonl").is_file() else None


def names_in(phrase: str) -> set[str]:
    """The places one of whose names occurs, as whole words, in a text's `facts.place` (countries
    only when it names nothing finer)."""
    words = " " + " ".join(places.phrase_words(phrase)) + " "
    hits = {place.id for place in GAZETTEER.places() for name in place.names
            if f" {' '.join(places.phrase_words(name))} " in words}
    return {p for p in hits if GAZETTEER.place(p).kind != "country"} or hits


def test_events_corpus():
    root = events_dir()
    if root is None:
        pytest.skip("NEWSMON_CORPUS is unset or has no events/events.jsonl")
    texts = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(root.glob("e*.json"))]
    texts = [t for t in texts if t["event"]]
    consistent, missed, districts = 0, [], defaultdict(list)
    for text in texts:
        body = (text["title"] or "") + "\n" + text["text"]
        named = GAZETTEER.named(body)
        targets = names_in(text["facts"]["place"] or "")
        if any(GAZETTEER.contains(p.id, t) or GAZETTEER.contains(t, p.id) for p in named for t in targets):
            consistent += 1
        else:
            missed.append(f"{text['id']} ({text['facts']['place']}): {[p.id for p in named][:4]}")
        district = GAZETTEER.district_of(named[0].id) if named else None
        districts[text["event"]].append((text["id"], named[0].id if named else None, district))
    split = []
    for slug, rows in sorted(districts.items()):
        seen = {district for _id, _first, district in rows if district}
        if any(not GAZETTEER.contains(a, b) and not GAZETTEER.contains(b, a) for a, b in combinations(sorted(seen), 2)):
            split.append(f"{slug}: {rows}")
    share = consistent / len(texts)
    print(f"\nevents: {consistent}/{len(texts)} texts consistent with facts.place ({share:.1%}); "
          f"{len(split)} of {len(districts)} events split by the district guard")
    for line in missed + split:
        print("  ", line)
    assert share >= 0.97, f"only {consistent}/{len(texts)} texts consistent with facts.place ({share:.1%}): {missed}"
    assert len(split) <= 1, f"{len(split)} events would be split by the different-districts guard: {split}"


def test_articles_raise_no_false_places():
    root = corpus_dir()
    if root is None or not (root / "articles" / "manifest.jsonl").is_file():
        pytest.skip("NEWSMON_CORPUS is unset or has no articles/manifest.jsonl")
    import lxml.html

    allowed = DATA["articles"]
    rows = [json.loads(line) for line in (root / "articles" / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]
    false_hits, pages_naming = [], 0
    for row in rows:
        document = lxml.html.fromstring(gzip.decompress((root / "articles" / row["html"]).read_bytes()))
        for element in document.xpath("//script|//style|//noscript"):
            element.drop_tree()
        text = document.text_content()  # the whole page: menus and footers too
        found = GAZETTEER.find(text)
        pages_naming += bool(found)
        for mention in found:
            if mention.place.kind != "country" and mention.place.id not in allowed.get(row["id"], ()):
                context = " ".join(text[max(0, mention.start - 50):mention.end + 50].split())
                false_hits.append(f"{row['id']}: {mention.place.id} in «{context}»")
    print(f"\narticles: {len(rows)} pages, {pages_naming} name a place of ours, {len(false_hits)} false hits")
    assert not false_hits, f"{len(false_hits)} false hits:\n" + "\n".join(false_hits)


TRICKY = ("D.I. Khan police", "in D. I. Khan", "S. Waziristan", "South-Waziristan and North Waziristan", "renew tanker",
          "a tank in Tank", "Pakistan's Swat", "وپشاور میں دھماکہ", "पेशावर में धमाका", "Lower Dir", "lower dir",
          "the new police lines in Peshawar", "Data Darbar", "dir", "")


def _found_without_shortcut(gazetteer, text: str):
    saved = gazetteer._may_name
    gazetteer._may_name = lambda folded, end: True
    try:
        return gazetteer.find(text, limit=5000)
    finally:
        gazetteer._may_name = saved


@pytest.mark.parametrize("text", TRICKY)
def test_the_shortcut_for_texts_naming_no_place_changes_nothing(text):
    """`find` first asks one automaton whether a text may name a place at all (most texts do
    not); it must never skip one that cutting the text into words would find."""
    gazetteer = places.bundled()
    assert gazetteer.find(text, limit=5000) == _found_without_shortcut(gazetteer, text)


@pytest.mark.skipif(corpus_dir() is None, reason="needs the shared corpus (NEWSMON_CORPUS)")
def test_the_shortcut_changes_nothing_on_real_news():
    import json

    gazetteer, texts = places.bundled(), []
    for path in sorted((corpus_dir() / "events").glob("e*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        texts += [data["text"], data.get("title") or ""]
    for line in (corpus_dir() / "ecbplus" / "docs.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        texts += [data.get("text") or "", data.get("title") or ""]
    found = [gazetteer.find(text, limit=5000) for text in texts]
    assert sum(1 for mentions in found if mentions) > 100
    assert found == [_found_without_shortcut(gazetteer, text) for text in texts]
