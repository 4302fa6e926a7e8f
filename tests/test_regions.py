"""A region entity matches every place inside it: `@pack.kp` finds "Bannu", "Lakki Marwat" and
"Mir Ali" as the gazetteer (monitor/packs/places.toml) reads them, `newsmon match` says which
region a place is inside, and look-alike names (a SWAT team, a tank, Dir Street, Qalat in
another country) raise no region. Over the shared corpus: every events/ text about an incident
in Khyber Pakhtunkhwa or Balochistan is found by its province's entity, and no article page
gains a region match it did not have."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from conftest import run_newsmon

from monitor import packs, places
from monitor.match import Matcher
from monitor.model import Entity, Rule

RULES = (Rule(name="kp", any=("@pack.kp",)), Rule(name="balochistan", any=("@pack.balochistan",)),
         Rule(name="waziristan", any=("@pack.waziristan",)))


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher((), RULES, gazetteer=places.bundled)


def found(matcher: Matcher, text: str) -> dict[str, list[str]]:
    return {match.rule: [hit.alias for hit in match.hits] for match in matcher.match("", text)}


@pytest.mark.parametrize(("text", "regions"), [
    ("Gunmen attacked a police post in Lakki Marwat on Monday.", {"kp": ["Lakki Marwat"]}),
    ("Two soldiers were killed in Mir Ali, officials in Bannu said.",
     {"kp": ["Mir Ali", "Bannu"], "waziristan": ["Mir Ali"]}),
    ("A roadside bomb hit a convoy in Turbat, Kech district.", {"balochistan": ["Turbat", "Kech district"]}),
    ("Militants attacked a checkpost in Tank district near Dera Ismail Khan.",
     {"kp": ["Tank district", "Dera Ismail Khan"]}),
    ("A SWAT team raided a house in Dallas after a tank was seen near Dir Street.", {}),
    ("Mir Ali, the club's captain, scored twice.", {}),  # a person's name, with no place to support it
    ("Qalat is a village in Iran's Fars province.", {}),
])
def test_a_region_entity_finds_the_places_inside_it_and_not_their_look_alikes(matcher, text, regions):
    assert found(matcher, text) == regions


def test_without_the_gazetteer_a_region_matches_its_own_names_only():
    plain = Matcher((), RULES)
    assert found(plain, "Gunmen attacked a police post in Lakki Marwat on Monday.") == {}
    assert found(plain, "Khyber Pakhtunkhwa police said so.") == {"kp": ["Khyber Pakhtunkhwa"]}


def test_every_pack_region_place_is_in_the_gazetteer_and_an_entity_that_extends_it_keeps_it():
    gazetteer = places.bundled()
    regions = {name: entity.contains[0] for name, entity in packs.entities().items() if entity.contains}
    assert {"pack.kp", "pack.balochistan", "pack.fata", "pack.waziristan", "pack.kabul"} <= set(regions)
    for name, place in regions.items():
        assert gazetteer.place(place).kind in ("province", "division", "district", "town"), name
    mine = Entity(name="my-kp", names=("Pakhtunkhwa",), kind="region", contains=packs.entities()["pack.kp"].contains)
    assert found(Matcher((mine,), (Rule(name="mine", any=("@my-kp",)),), gazetteer=places.bundled),
                 "An explosion in Bannu.") == {"mine": ["Bannu"]}


def test_newsmon_match_says_which_region_a_place_is_inside(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[newsmon]\nstate_dir = "state"\n[channels.console]\nurls = ["console://"]\n'
                      '[entities.my-kp]\nextends = "pack.kp"\n[[rules]]\nname = "kp"\nany = ["@my-kp"]\n')
    article = tmp_path / "article.txt"
    article.write_text("Gunmen attacked a police post in Mir Ali, North Waziristan, late on Monday.\n")
    result = run_newsmon("--config", str(config), "match", str(article))
    assert result.returncode == 0, result.stderr
    assert "MATCH kp" in result.stdout
    assert "'Mir Ali' (@my-kp, name 'Mir Ali', inside Khyber Pakhtunkhwa)" in result.stdout


CORPUS = Path(os.environ["NEWSMON_CORPUS"]) if os.environ.get("NEWSMON_CORPUS") else None
needs_corpus = pytest.mark.skipif(CORPUS is None or not (CORPUS / "events").is_dir(),
                                  reason="NEWSMON_CORPUS is not set (the shared corpus is not in a user's clone)")


@needs_corpus
def test_every_corpus_report_of_an_incident_in_a_province_is_found_by_its_region(matcher):
    gazetteer = places.bundled()
    events = {event["slug"]: event for event in map(json.loads, (CORPUS / "events" / "events.jsonl").open())}
    wanted = {"khyber-pakhtunkhwa": "kp", "balochistan": "balochistan"}
    counts: dict[str, list[int]] = {rule: [0, 0] for rule in wanted.values()}
    for path in sorted((CORPUS / "events").glob("e*.json")):
        text = json.loads(path.read_text(encoding="utf-8"))
        event = events.get(text.get("event"))
        if event is None:
            continue
        provinces = {ancestor for mention in gazetteer.find(event["place"])
                     for ancestor in (mention.place.id, *gazetteer.ancestors(mention.place.id))} & set(wanted)
        for province in provinces:
            rule = wanted[province]
            counts[rule][0] += 1
            counts[rule][1] += rule in found(matcher, (text.get("title") or "") + "\n" + text["text"])
    for rule, (texts, hits) in counts.items():
        assert texts >= 40 and hits / texts >= 0.95, (rule, hits, texts)  # the pack's own names alone: 0.63, 0.84


@needs_corpus
def test_no_corpus_page_gains_a_region_match_from_the_places_inside_it(matcher):
    plain = Matcher((), RULES)
    gained = []
    for line in (CORPUS / "articles" / "manifest.jsonl").open(encoding="utf-8"):
        item = json.loads(line)
        if not item.get("truth"):
            continue
        path = CORPUS / "articles" / item["truth"][0]
        text = (gzip.decompress(path.read_bytes()).decode("utf-8", "replace") if path.suffix == ".gz"
                else path.read_text(encoding="utf-8", errors="replace"))
        if set(found(matcher, text)) - set(found(plain, text)):
            gained.append(item["id"])
    assert gained == []


USER_PLACES = """
[newsmon]
state_dir = "state"
[channels.console]
urls = ["console://"]
[places.university-town]
kind = "town"
inside = "peshawar"
names = ["University Town"]
lat = 34.003
lon = 71.486
[entities.peshawar-office]
kind = "region"
names = ["our Peshawar office"]
contains = ["university-town", "hayatabad"]
[[rules]]
name = "office"
any = ["@peshawar-office"]
[[rules]]
name = "kp"
any = ["@pack.kp"]
"""


def test_a_users_own_places_and_regions_match_and_are_checked(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(USER_PLACES)
    assert run_newsmon("--config", str(config), "check").returncode == 0
    article = tmp_path / "article.txt"
    article.write_text("A blast hit a market in University Town, Peshawar, police said.\n")
    result = run_newsmon("--config", str(config), "match", str(article))
    assert "MATCH office" in result.stdout and "MATCH kp" in result.stdout, result.stdout
    assert "'University Town' (@pack.kp, name 'University Town', inside Khyber Pakhtunkhwa)" in result.stdout
    article.write_text("A blast hit a market in Saddar, Peshawar, police said.\n")
    assert "no match office" in run_newsmon("--config", str(config), "match", str(article)).stdout

    for broken, said in [(USER_PLACES.replace('inside = "peshawar"', 'inside = "nowhere"'),
                          "at 'places.university-town': inside 'nowhere' is not a place"),
                         (USER_PLACES.replace('"hayatabad"]', '"hayatabad", "atlantis"]'),
                          "at 'entities.peshawar-office.contains[2]': unknown place 'atlantis'"),
                         (USER_PLACES.replace("[places.university-town]", "[places.peshawar]"),
                          "the bundled gazetteer already has a place 'peshawar'"),
                         (USER_PLACES.replace('lat = 34.003', 'latitude = 34.003'), "unknown key 'latitude'")]:
        config.write_text(broken)
        checked = run_newsmon("--config", str(config), "check")
        assert checked.returncode == 2 and said in checked.stdout, checked.stdout
