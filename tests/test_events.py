"""Events: independently written reports of one incident join one story; different incidents
do not, whatever they share (monitor.events, with its features read by monitor.incidents)."""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import date, timedelta
from pathlib import Path

import pytest

from monitor import events, incidents, stories, story_index

DATA = Path(__file__).parent / "data" / "event_reports.toml"
DAY = date(2026, 3, 12).toordinal()


def same_kind(a: str, b: str) -> bool:
    return a == b or "other" in (a, b)


def features(words: str, *, where=("bannu-city", "bannu", "khyber-pakhtunkhwa", "pakistan"), kind="suicide_bombing",
             day: int | None = DAY, entities=("pack.ttp",), killed=None) -> events.Features:
    district, province, country = (where[1], where[2], where[3]) if len(where) == 4 else (
        (None, *where[-2:]) if where else (None, None, None))
    return events.Features(terms=events.terms(words, ""), entities=frozenset(entities), where=tuple(where),
                           places=frozenset(where), district=district, province=province, country=country,
                           event_type=kind, killed=killed, dates=(day,) if day else ())


def index_with(*found: events.Features) -> events.EventIndex:
    index = events.EventIndex(86400 * 3, same_kind)
    for story, item in enumerate(found, 1):
        index.add(story, item, 100.0)
    return index


def test_title_words_weigh_more_than_the_lead_and_names_more_than_words():
    weights = dict(events.terms("Blast in Bannu", "A blast hit a market. Officials in Bannu said the blast was heard "
                                "across town, and the Governor visited."))
    assert "the" not in weights and "said" not in weights  # stop words
    assert weights["bannu"] > weights["market"]  # in the title and a name in the lead
    assert weights["governor"] > weights["market"]  # a capital inside a sentence: a name
    assert weights["blast"] > weights["official"]  # English endings folded: "officials", "visited"
    assert "visit" in weights


def test_a_possessive_is_the_word_itself():
    weights = dict(events.terms("Pakistan's army strikes", "Kabul\u2019s government said it\u2019s ready. Pakistan army "
                                "officials said the strikes hit Paktika."))
    assert "pakistan" in weights and "kabul" in weights
    assert not [word for word in weights if word.endswith(("'", "\u2019")) or word == "it"]


def test_features_survive_the_store_and_another_version_is_read_again():
    found = dataclasses.replace(features("Suicide bomber kills seven policemen in Bannu", killed=7),
                                names=("bannu", "kpk"))
    assert events.Features.unpack(found.pack()) == found
    assert events.Features.unpack(found.pack().replace(b'"v":1', b'"v":0')) is None
    assert events.Features.unpack(b"not json") is None


def test_a_report_in_other_words_joins_the_open_event():
    index = index_with(features("Suicide bomber kills seven policemen in Bannu police station"))
    other = features("Nine police officers martyred as attacker blows himself up at Bannu police station", killed=9)
    assert index.find(other, 100.0) == 1


@pytest.mark.parametrize("change, guard", [
    ({"where": ("lakki-town", "lakki-marwat", "khyber-pakhtunkhwa", "pakistan")}, "places"),
    ({"day": DAY + 7}, "dates"),
    ({"day": DAY + 2}, "dates"),
    ({"kind": "kidnapping_hijacking"}, "type"),
])
def test_a_guard_keeps_different_incidents_apart_whatever_their_words_share(change, guard):
    words = "Suicide bomber kills seven policemen at police station"
    index = index_with(features(words))
    other = features(words, **change)
    verdict = index.best(other, 100.0)
    assert verdict.guard == guard and verdict.parts["terms"] > 0.9
    assert index.find(other, 100.0) is None


def test_a_province_and_a_district_inside_it_do_not_conflict():
    index = index_with(features("Suicide bomber kills seven policemen at police station in Bannu"))
    wider = features("Suicide attack on police station kills seven in Khyber Pakhtunkhwa",
                     where=("khyber-pakhtunkhwa", "pakistan"))
    assert index.best(wider, 100.0).guard is None
    assert index.find(wider, 100.0) == 1


def test_one_day_apart_is_the_same_incident_reported_the_next_day():
    index = index_with(features("Suicide bomber kills seven policemen at Bannu police station"))
    assert index.find(features("Toll from Bannu police station suicide attack rises to nine", day=DAY + 1), 100.0) == 1


def test_events_close_when_no_report_reaches_them_within_the_window():
    index = index_with(features("Suicide bomber kills seven policemen at Bannu police station"))
    later = 100.0 + 86400 * 3 + 1
    assert index.find(features("Suicide bomber kills seven policemen at Bannu police station"), later) is None
    assert len(index) == 0


def test_an_index_loaded_at_start_up_is_the_index_added_to_one_report_at_a_time():
    reports = [(1, features("suicide bomber police station bannu gate"), 10.0),
               (2, features("border clash kurram posts", where=("kurram", "kurram", "khyber-pakhtunkhwa", "pakistan"),
                            kind="cross_border_clash"), 11.0),
               (1, features("bomber bannu police station gate seven killed", killed=7), 12.0),
               (1, features("suicide bomber police station bannu gate"), 13.0),  # a copy
               (3, features("flood relief sindh villages", where=(), kind="other", entities=(), day=None), 14.0)]
    one_by_one = incidents.index(1e6)
    loaded = incidents.index(1e6, salt=one_by_one.salt)  # the same word keys
    for story, found, seen in reports:
        one_by_one.add(story, found, seen)
    loaded.load(reports)

    def state(index):
        return (index.documents, dict(index.df), dict(index.logdf), list(index.order),
                {key: holders for key, holders in index.by_key.items() if holders},
                {story: [repr(getattr(event, name)) for name in event.__slots__] for story, event in index.events.items()})

    assert state(loaded) == state(one_by_one)
    assert loaded.find(features("police station bannu suicide bomber gate"), 20.0) == 1
    with pytest.raises(ValueError):
        loaded.load(reports)  # only an empty index is loaded


def test_nothing_shared_finds_no_candidate():
    index = index_with(features("Suicide bomber kills seven policemen at Bannu police station"))
    assert index.best(features("Cricket final washed out by rain", where=(), entities=(), kind="other", day=None),
                      100.0) is None


# ------------------------------------------------------------------ through monitor.incidents


def reports() -> tuple[dict, list[dict]]:
    data = tomllib.loads(DATA.read_text(encoding="utf-8"))
    return data["events"], data["report"]


def filled(text: str, day: date) -> str:
    return text.replace("{weekday}", day.strftime("%A")).replace("{date}", f"{day.day} {day:%B %Y}")


def test_five_outlets_reports_of_one_incident_are_one_event_and_look_alikes_are_not():
    today = date(2026, 3, 20)
    incidents_of, items = reports()
    index = incidents.index(86400 * 30)
    story_of, next_story = {}, 0
    for number, report in enumerate(items):
        incident = today - timedelta(days=incidents_of[report["event"]]["incident_days_ago"])
        published = today - timedelta(days=report["days_ago"])
        found = incidents.read(filled(report["title"], incident), filled(report["text"], incident), published=published)
        story = index.find(found, 100.0)
        if story is None:
            next_story += 1
            story = next_story
        index.add(story, found, 100.0)
        story_of[number] = (report["event"], story)
    by_event: dict[str, set[int]] = {}
    for event, story in story_of.values():
        by_event.setdefault(event, set()).add(story)
    assert len(by_event["bannu-police-station"]) == 1, story_of
    assert by_event["lakki-checkpost"].isdisjoint(by_event["bannu-police-station"])
    assert by_event["bannu-market-week-later"].isdisjoint(by_event["bannu-police-station"])


def test_the_hand_written_story_sets_join_rewrites_and_no_look_alike():
    """tests/data/story_sets.toml (written for newsmon): each outlet's own rewrite of an event now
    joins it through its event; the look-alikes (the same group the same day in another city,
    another attack in the district two days later, a day-2 follow-up...) still do not."""
    from test_stories_corpus import false_joins, score, story_set_items

    for lead_only in (False, True):
        items = story_set_items(lead_only=lead_only)
        copies, index, assigned = story_index.StoryIndex(1e12), incidents.index(1e12), []
        for item in items:
            found = incidents.read(item.title, item.text, outlet=item.name.split(":")[0])
            signature = stories.signature(item.title, item.text)
            story = copies.find(signature, 0.0) or index.find(found, 0.0)
            story = story or len(set(assigned)) + 1000
            copies.add(story, signature, 0.0, item.title)
            index.add(story, found, 0.0)
            assigned.append(story)
        assert not false_joins(items, assigned), lead_only
        rewritten = score(items, assigned, lambda item: item.kind == "rewritten")
        assert rewritten.recall >= (0.25 if lead_only else 0.6), (lead_only, rewritten)  # copies alone: 0.00


# ------------------------------------------------------------------ places, scripts and tolls


def placed(found: events.Features, where: tuple, district, province, country="pakistan") -> events.Features:
    return dataclasses.replace(found, where=where, places=frozenset(where), district=district, province=province,
                               country=country)


def test_an_afghan_province_named_as_its_capital_holds_the_districts_inside_it():
    words = "Suicide bomber kills worshippers at Shia mosque during Friday prayers"
    kunduz = placed(features(words, entities=("pack.iskp",)), ("kunduz", "afghanistan"), "kunduz", "kunduz", "afghanistan")
    index = index_with(kunduz)
    khanabad = placed(features(words, entities=("pack.iskp",)), ("khanabad", "kunduz", "afghanistan"), "khanabad", "kunduz",
                      "afghanistan")
    assert index.best(khanabad, 100.0).guard is None and index.find(khanabad, 100.0) == 1
    kandahar = placed(features(words, entities=("pack.iskp",)), ("kandahar", "afghanistan"), "kandahar", "kandahar",
                      "afghanistan")
    assert index.best(kandahar, 100.0).guard == "places"


def test_a_city_without_a_district_is_the_place_of_a_landmark_inside_it():
    words = "Explosion near the airport targets a convoy of Chinese engineers"
    index = index_with(placed(features(words), ("karachi", "sindh", "pakistan"), None, "sindh"))
    airport = placed(features("Blast outside the airport kills two Chinese nationals"),
                     ("karachi-airport", "karachi", "sindh", "pakistan"), None, "sindh")
    assert index.best(airport, 100.0).parts["place"] == 0.7  # its city: more than the province (0.3)
    assert index.best(placed(features(words), ("karachi", "sindh", "pakistan"), None, "sindh"), 100.0).parts["place"] == 1.0


def test_a_latin_script_text_in_another_language_is_not_compared_word_for_word_with_english():
    spanish = events.terms("Atentado suicida en la estación de tren de Quetta",
                           "El sábado 9 de noviembre, un atentado suicida con bomba explotó en la estación de tren "
                           "de Quetta, la capital de la provincia, y causó la muerte de al menos 26 personas.")
    english = events.terms("Suicide bombing at Quetta railway station", "A suicide bomber blew himself up at the "
                           "railway station in Quetta on Saturday, killing at least 26 people, officials said.")
    assert events.script(word for word, _weight in spanish) == "Latn-es"
    assert events.script(word for word, _weight in english) == "Latn"


def test_an_undated_report_in_another_script_joins_an_incident_only_with_its_place_type_and_actors():
    index = index_with(features("Suicide bomber kills seven policemen at Bannu police station"))
    urdu = dataclasses.replace(features("بنوں پولیس اسٹیشن پر خودکش حملہ", day=None), script="Arab")
    assert index.find(urdu, 100.0) == 1  # the same district, type and group (pack.ttp)
    assert index.find(dataclasses.replace(urdu, entities=frozenset()), 100.0) is None  # no actor named: no join
    assert index.best(dataclasses.replace(urdu, entities=frozenset()), 100.0).guard == "other script"


def test_an_undated_report_giving_the_same_toll_needs_a_lower_score():
    index = index_with(features("Suicide bomber kills seven policemen at Bannu police station", killed=7))
    undated = features("Policemen martyred in Bannu attack", day=None, killed=7)
    verdict = index.best(undated, 100.0)
    assert "date" not in verdict.parts and index.needed(undated, verdict) == events.JOIN + events.SAME_TOLL
    other_toll = dataclasses.replace(undated, killed=12)
    assert index.needed(other_toll, index.best(other_toll, 100.0)) == events.JOIN + events.UNDATED


def test_names_are_the_leads_capitalised_words_inside_sentences():
    _terms, names = events.words("Actress Checks Into Rehab Center",
                                 "Lindsay Lohan checked into the Betty Ford Center late on Thursday, her lawyer Shawn "
                                 "Holley told the LAPD. Lohan had skipped a Newport Beach facility.")
    assert names == ("lohan", "betty", "ford", "cent", "shawn", "holley", "newport", "beach")  # as terms write them
    # a title in title case says nothing; a sentence's first word and an acronym are not names
    assert "actress" not in names and "lindsay" not in names and "lapd" not in names


def _undated(words: str, names: tuple[str, ...]) -> events.Features:
    return dataclasses.replace(features(words, where=(), kind="other", day=None, entities=()), names=names)


def test_rare_names_in_common_anchor_two_undated_reports():
    first = _undated("Lohan checks into rehab at Betty Ford after skipping a court deadline",
                     ("lohan", "betty", "ford", "holley", "newport"))
    second = _undated("Lohan enters Betty Ford rehab clinic after court deadline, lawyer Holley says",
                      ("lohan", "betty", "ford", "holley"))
    index = index_with(first)
    verdict = index.judge(second, index.events[1])
    assert verdict.parts["names"] == 4 and verdict.guard is None
    assert events.JOIN <= verdict.score < events.JOIN + events.UNDATED  # alike enough only with the names
    assert index.needed(second, verdict) == events.JOIN and index.find(second, 100.0) == 1
    assert "4 rare names in common" in events.described(verdict.parts)

    # names that many reports give are not rare: the same two reports need the words of an undated join
    common = index_with(first, *(_undated(f"Lohan, Betty Ford and Holley in story {number}", ("lohan", "betty", "ford", "holley"))
                                 for number in range(60)))
    verdict = common.judge(second, common.events[1])
    assert verdict.parts["names"] == 0 and verdict.guard == "no anchor" and common.find(second, 100.0) is None


def test_rare_names_say_who_not_when_nor_which_of_an_outlets_stories():
    first = _undated("Lohan checks into rehab at Betty Ford after skipping a court deadline",
                     ("lohan", "betty", "ford", "holley", "newport"))
    second = _undated("Lohan enters Betty Ford rehab clinic after court deadline, lawyer Holley says",
                      ("lohan", "betty", "ford", "holley"))
    # published a day apart: the day before a vote and the day of it are two stories about one man
    index = index_with(dataclasses.replace(first, published=DAY))
    verdict = index.judge(dataclasses.replace(second, published=DAY + 1), index.events[1])
    assert verdict.parts["names"] == 4 and verdict.guard == "no anchor"
    # one outlet's second story on the same people is a new development
    index = index_with(dataclasses.replace(first, outlet="people.example"))
    verdict = index.judge(dataclasses.replace(second, outlet="people.example"), index.events[1])
    assert verdict.guard == "same outlet"


def test_a_follow_up_that_arrives_first_is_joined_by_the_report_of_its_incident():
    # Kabul's denial, a day after the strikes, gives its own day first and the strikes' day third;
    # the strikes report, arriving after it, is compared with all three (as the other way round)
    denial = dataclasses.replace(features("Kabul denies sheltering TTP after Pakistani strikes in Paktika",
                                          kind="other", where=("kabul", "afghanistan"), killed=8),
                                 dates=(DAY + 2, DAY + 1, DAY), district="kabul",  # an Afghan province named by its capital
                                 places=frozenset({"kabul", "barmal", "paktika", "afghanistan"}))
    strikes = dataclasses.replace(features("Pakistan strikes TTP hideouts in Paktika", kind="cross_border_clash",
                                           where=("barmal", "paktika", "afghanistan"), killed=8), dates=(DAY,),
                                  places=frozenset({"barmal", "paktika", "kabul", "afghanistan"}))
    for first, second in ((denial, strikes), (strikes, denial)):
        index = index_with(first)
        verdict = index.judge(second, index.events[1])
        assert verdict.parts["date"] == 1.0 and verdict.guard is None and index.find(second, 100.0) == 1


def test_a_report_placed_only_in_a_province_does_not_open_the_event_to_all_its_districts():
    bannu = features("Suicide bomber kills seven policemen in Bannu")
    province = features("Suicide bomber kills seven policemen in Khyber Pakhtunkhwa",
                        where=("khyber-pakhtunkhwa", "pakistan"))
    index = index_with(bannu)
    index.add(1, province, 100.0)  # the province-wide report joins the Bannu event
    lakki = features("Suicide bomber kills seven policemen in Lakki Marwat",
                     where=("lakki-marwat-city", "lakki-marwat", "khyber-pakhtunkhwa", "pakistan"))
    assert index.judge(lakki, index.events[1]).guard == "places"
    assert index.judge(province, index.events[1]).guard is None  # and a province-wide one still may


def test_two_reports_do_not_join_by_a_background_date_they_both_recall():
    # each opens with its own incident's day, four days apart; both recall an attack of DAY - 5
    first = dataclasses.replace(features("Suicide bomber kills seven policemen in Bannu"), dates=(DAY, DAY - 5))
    second = dataclasses.replace(features("Suicide bomber kills two soldiers in Bannu"), dates=(DAY + 4, DAY - 5))
    index = index_with(first)
    assert index.judge(second, index.events[1]).guard == "dates"


def test_a_division_without_a_district_is_apart_from_districts_outside_it():
    # Chitral is a division of two districts in the gazetteer: a report placed there has no district
    chitral = dataclasses.replace(features("Gunmen attack police post in Chitral, TTP blamed",
                                           where=("chitral", "malakand-division", "khyber-pakhtunkhwa", "pakistan")),
                                  district=None, province="khyber-pakhtunkhwa", country="pakistan")
    bajaur = features("Gunmen attack police post in Bajaur, TTP blamed",
                      where=("bajaur", "bajaur", "khyber-pakhtunkhwa", "pakistan"))
    drosh = features("Gunmen attack police post in Drosh, TTP blamed",
                     where=("drosh", "lower-chitral", "khyber-pakhtunkhwa", "pakistan"))
    drosh = dataclasses.replace(drosh, where=("drosh", "lower-chitral", "chitral", "malakand-division",
                                              "khyber-pakhtunkhwa", "pakistan"))
    for first, second in ((chitral, bajaur), (bajaur, chitral)):
        index = index_with(first)
        assert index.judge(second, index.events[1]).guard == "places"
    for first, second in ((chitral, drosh), (drosh, chitral)):
        index = index_with(first)
        assert index.judge(second, index.events[1]).guard is None
