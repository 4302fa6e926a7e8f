"""Repair: when a later report shows two open events to be one incident, they merge. Alerts
already sent stay sent; the absorbed event's waiting alert is cancelled and recorded as
"merged into #N" when the survivor has its own; `newsmon stories` says what merged and why,
and `stories --why` explains any two articles or stories. Hand-written reports: one outlet
writes about the bombing, another about the hospital that treats its victims (too few words
in common to join), a third about both."""

from __future__ import annotations

import dataclasses
import html
import json
import sqlite3
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime

from conftest import run_newsmon
from fixtures import write_config

from monitor import cli, events, incidents

DAY = date.today() - timedelta(days=1)
WHEN = f"{DAY:%B} {DAY.day}, {DAY.year}"
BOMBING = ("Suicide bomber strikes police station in Bannu",
           f"BANNU: A suicide bomber rammed an explosives-laden car into the gate of the City police station in Bannu "
           f"on {WHEN}, killing seven policemen, district police officials said. The blast destroyed the station's "
           "front wall and several vehicles parked outside.")
HOSPITAL = ("Surgeons appeal for blood donors",
            f"Doctors at the District Headquarters Hospital in Bannu treated eleven injured people on {WHEN}; surgeons "
            "appealed for blood donors and the emergency ward declared an emergency.")
BOTH = ("Seven policemen killed, eleven injured in Bannu police station bombing",
        f"BANNU: A suicide bomber rammed an explosives-laden car into the gate of the City police station in Bannu on "
        f"{WHEN}, killing seven policemen. Doctors at the District Headquarters Hospital in Bannu treated eleven "
        "injured people; surgeons appealed for blood donors and the emergency ward declared an emergency.")
LATER = ("Bannu police station attack: funeral prayers held for seven policemen",
         f"Funeral prayers were offered in Bannu for the seven policemen killed when a suicide bomber rammed a car into "
         f"the City police station on {WHEN}; doctors said eleven injured people remain in hospital.")
WATCHLIST = {"rules": [{"name": "bannu", "any": ["Bannu"]}]}


def read(report: tuple[str, str], outlet: str) -> events.Features:
    return incidents.read(*report, published=DAY, outlet=outlet)


def test_a_report_that_joins_two_open_events_merges_them_into_the_older():
    index = incidents.index(1e12)
    index.add(1, read(BOMBING, "a.example"), 0.0)
    assert index.find(read(HOSPITAL, "b.example"), 0.0) is None  # too few words in common: a story of its own
    index.add(2, read(HOSPITAL, "b.example"), 0.0)

    story, absorbed = index.assign(read(BOTH, "c.example"), 0.0)

    assert story == 1 and [verdict.story for verdict in absorbed] == [2]
    index.merge(1, 2)
    assert len(index) == 1 and index.events[1].reports == 2
    assert index.find(read(HOSPITAL, "d.example"), 0.0) == 1  # the merged event now has the hospital's words


def event(story: int, *, dates=(), district="bannu", event_type="suicide_bombing") -> events.Event:
    made = events.Event(story)
    made.add(events.Features(terms=(("police", 1.0),), where=(district, "khyber-pakhtunkhwa", "pakistan"),
                             places=frozenset({district}), district=district, province="khyber-pakhtunkhwa",
                             country="pakistan", event_type=event_type, dates=tuple(dates)), 0.0, [1])
    return made


def test_events_that_cannot_be_one_incident_are_never_merged():
    from monitor import facts

    day = DAY.toordinal()
    assert events.apart(event(1, dates=[day]), event(2, dates=[day + 1]), facts.compatible) is None
    assert events.apart(event(1, dates=[day]), event(2, dates=[day + 3]), facts.compatible) == "dates"
    assert events.apart(event(1), event(2, district="lakki-marwat"), facts.compatible) == "places"
    assert events.apart(event(1), event(2, event_type="kidnapping_hijacking"), facts.compatible) == "type"


def serve(web, outlet: str, report: tuple[str, str]) -> dict:
    title, text = report
    published = format_datetime(datetime.now(timezone.utc) - timedelta(hours=2))
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{outlet}</title><link>https://{outlet}/</link><description>news</description>
<item><title>{html.escape(title)}</title><link>{{BASE}}/{outlet}/1.html</link><guid isPermaLink="false">{outlet}-1</guid>
<pubDate>{published}</pubDate><description>{html.escape(text)}</description></item>
</channel></rss>"""
    return {"url": web.add(f"/{outlet}/rss.xml", body, "application/rss+xml"), "outlet": outlet,
            "alert_on_first_poll": True}


def run(path) -> None:
    assert cli.main(["--config", str(path), "run", "--once"]) == 0


def test_a_merge_cancels_the_absorbed_events_waiting_alert_and_says_why(tmp_path, web):
    hook = web.base.replace("http://", "json://") + "/hook"
    bombing, hospital = serve(web, "a.example", BOMBING), serve(web, "b.example", HOSPITAL)
    watchlist = {"rules": [{**WATCHLIST["rules"][0], "group_wait": "10m"}]}
    run(write_config(tmp_path, [bombing, hospital], {"hook": [hook]}, watchlist=watchlist))
    database = tmp_path / "state" / "newsmon.db"
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT story_id, status FROM alerts ORDER BY story_id").fetchall() == [(1, "pending"),
                                                                                                   (2, "pending")]

    path = write_config(tmp_path, [bombing, hospital, serve(web, "c.example", BOTH)], {"hook": [hook]},
                        watchlist=watchlist)
    result = run_newsmon("--config", str(path), "run", "--once")

    assert result.returncode == 0, result.stderr
    assert "stories merged story=2 into=1 alerts moved=0 cancelled=1" in result.stderr
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT story_id, status, note FROM alerts ORDER BY id").fetchall() == [
            (1, "pending", None), (2, "merged", "merged into #1")]
        assert db.execute("SELECT DISTINCT story_id FROM articles").fetchall() == [(1,)]
    assert web.json_posts("/hook") == []  # group_wait: the one alert left goes out later
    (story,) = json.loads(run_newsmon("--config", str(path), "stories", "--json").stdout)["stories"]
    assert story["id"] == 1 and sorted(a["outlet"] for a in story["articles"]) == ["a.example", "b.example", "c.example"]
    assert story["merged"][0]["story"] == 2 and story["merged"][0]["why"].startswith("a report joined both")
    assert "merged #2 into it" in run_newsmon("--config", str(path), "stories").stdout
    assert "merged into #1" in run_newsmon("--config", str(path), "alerts").stdout

    why = run_newsmon("--config", str(path), "stories", "--why", "a:1", "a:2")
    assert why.returncode == 0, why.stderr
    assert "too low to join" in why.stdout and "they are one story now" in why.stdout  # words alike at 0.13 only
    why = run_newsmon("--config", str(path), "stories", "--why", "a:3", "s:2")
    assert "merged into #1" in why.stdout and ": joins" in why.stdout


def test_alerts_already_sent_stay_sent_and_the_merged_event_alerts_no_more(tmp_path, web):
    hook = web.base.replace("http://", "json://") + "/hook"
    feeds = [serve(web, "a.example", BOMBING), serve(web, "b.example", HOSPITAL)]
    run(write_config(tmp_path, feeds, {"hook": [hook]}, watchlist=WATCHLIST))
    assert len(web.json_posts("/hook")) == 2  # two events, as far as anyone could tell

    feeds.append(serve(web, "c.example", BOTH))
    run(write_config(tmp_path, feeds, {"hook": [hook]}, watchlist=WATCHLIST))
    feeds.append(serve(web, "d.example", LATER))
    run(write_config(tmp_path, feeds, {"hook": [hook]}, watchlist=WATCHLIST))

    assert len(web.json_posts("/hook")) == 2
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        assert db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall() == [("sent", 2)]
        assert db.execute("SELECT COUNT(DISTINCT story_id), COUNT(*) FROM articles").fetchone() == (1, 4)


def report(words: str, *, day: int, district: str = "bannu") -> events.Features:
    return events.Features(terms=tuple((word, 1.0) for word in words.split()), where=(district, "khyber-pakhtunkhwa"),
                           places=frozenset({district, "khyber-pakhtunkhwa"}), district=district,
                           province="khyber-pakhtunkhwa", country="pakistan", event_type="suicide_bombing",
                           dates=(day,) if day else (), script="Latn")


def test_an_event_that_grows_to_match_another_is_settled_into_it():
    day = DAY.toordinal()
    index = incidents.index(1e12)
    index.add(1, report("bannu police station bomber gate", day=day), 0.0)
    index.add(2, report("bannu police station bomber hospital", day=day), 0.0)
    index.add(3, report("bannu police station bomber gate", day=day + 3), 0.0)  # three days later: another attack
    index.add(4, report("bannu police station bomber gate", day=day, district="lakki-marwat"), 0.0)  # elsewhere
    index.add(5, report("bannu police station bomber gate", day=0), 0.0)  # says nothing of when

    assert [verdict.story for verdict in index.settle(2, 0.0)] == [1]
    assert index.settle(5, 0.0) == []  # an undated event is never merged: nothing rules out another day
    assert index.compare(index.events[1], index.events[3]).guard == "dates"
    assert index.compare(index.events[1], index.events[4]).guard == "places"


def test_only_a_report_that_tells_its_event_something_new_calls_for_settling():
    # settling judges the event's candidates again: after a copy, word for word, of one of its
    # reports (a wire text in many feeds), every verdict would be what it was
    day = DAY.toordinal()
    index = incidents.index(1e12)
    wire = report("bannu police station bomber gate", day=day)
    assert index.add(1, wire, 0.0)  # a new event
    assert index.add(1, dataclasses.replace(wire, outlet="b.example"), 0.0)  # its second report: it may draw lone events now
    assert not index.add(1, dataclasses.replace(wire, outlet="c.example"), 0.0)  # a third copy tells it nothing
    assert index.add(1, report("bannu police station bomber gate wall", day=day), 0.0)  # a word it had not
    assert index.add(1, report("bannu police station bomber gate", day=day - 1), 0.0)  # a date it had not
    assert index.add(1, dataclasses.replace(wire, entities=frozenset({"pack.ttp"})), 0.0)  # an actor it had not
    assert not index.add(1, dataclasses.replace(wire, outlet="d.example"), 0.0)
    assert index.events[1].reports == 7


def test_border_clashes_a_day_apart_are_two_incidents():
    day = DAY.toordinal()
    clash = dict(event_type="cross_border_clash")
    index = incidents.index(1e12)
    index.add(1, events.Features(**{**report("border clash posts taliban kurram", day=day).__dict__, **clash}), 0.0)
    later = events.Features(**{**report("border clash posts taliban kurram", day=day + 1).__dict__, **clash})
    assert index.judge(later, index.events[1]).guard == "dates"  # a series along one border: only the same day joins


def test_an_undated_report_that_fits_two_incidents_joins_neither():
    day = DAY.toordinal()
    index = incidents.index(1e12)
    index.add(1, report("bannu cantonment bomber vehicles gate", day=day - 230), 0.0)  # last July
    undated = report("bannu cantonment bomber vehicles gate", day=0)
    assert index.find(undated, 0.0) == 1  # one open incident like it: it joins
    index.add(2, report("bannu cantonment bomber vehicles gate", day=day), 0.0)  # the same attack again, months later
    assert index.find(undated, 0.0) is None


def test_a_report_the_event_had_not_grown_enough_to_take_is_drawn_in_when_it_grows():
    day = DAY.toordinal()
    index = incidents.index(1e12)
    index.add(1, report("bannu police station bomber gate car", day=day), 0.0)
    hospital = report("district hospital surgeons blood donors injured emergency", day=day)
    assert index.find(hospital, 0.0) is None  # no word in common with the event as it is: a story of its own
    index.add(2, hospital, 0.0)
    index.add(1, report("bannu police station bomber gate hospital surgeons blood donors injured", day=day), 0.0)

    assert [verdict.story for verdict in index.settle(1, 0.0)] == [2]  # as the join would decide now
    index.add(3, report("district hospital surgeons blood donors injured emergency", day=day + 3), 0.0)
    assert 3 not in [verdict.story for verdict in index.settle(1, 0.0)]  # three days later: another incident


def test_two_grown_events_whose_words_are_much_alike_settle_without_a_place_or_a_date():
    index = incidents.index(1e12)
    words = "central bank raises interest rate half point inflation governor"

    def news(outlet: str) -> events.Features:
        return events.Features(terms=tuple((word, 1.0) for word in words.split()), script="Latn", outlet=outlet)

    for story, outlet in ((1, "a.example"), (1, "b.example"), (2, "c.example"), (2, "d.example")):
        index.add(story, news(outlet), 0.0)
    assert [verdict.story for verdict in index.settle(2, 0.0)] == [1]
    index.add(3, dataclasses.replace(news("e.example"), dates=(DAY.toordinal() - 400,)), 0.0)
    index.add(3, dataclasses.replace(news("f.example"), dates=(DAY.toordinal() - 400,)), 0.0)
    index.add(1, dataclasses.replace(news("g.example"), dates=(DAY.toordinal(),)), 0.0)
    assert 3 not in [verdict.story for verdict in index.settle(1, 0.0)]  # a year apart: the dates guard
