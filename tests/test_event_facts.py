"""An event's facts, gathered from all its reports (issue #20, Parts B and C): figures revised as
reports arrive, each fact with its sentence; `severity = "auto"` graded from them; follow-ups
only on a material change (`on_update = "material"`); and `newsmon stories --json` showing
every fact with its evidence. The pure parts as tables, then as a user meets them: three
outlets' own reports of one bombing, served on loopback one run after another, the toll rising
32 → 35 → 59 (tests/data/toll_reports.toml, hand-written)."""

from __future__ import annotations

import html
import json
import sqlite3
import tomllib
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from conftest import run_newsmon
from fixtures import write_config

from monitor import cli, event_facts, events, incidents
from monitor.alert import routing
from monitor.model import AlertMessage, IncidentFacts, MaterialChange, SeverityGrades

DATA = Path(__file__).parent / "data" / "toll_reports.toml"
REPORTS = tomllib.loads(DATA.read_text(encoding="utf-8"))["report"]


def report(features: events.Features, at: float, outlet: str = "example.org") -> event_facts.Report:
    return event_facts.Report(features, outlet, f"https://{outlet}/{at:g}", None, at)


def gathered(*found: events.Features) -> event_facts.EventFacts:
    namer = incidents.namer({})
    facts = None
    for at, features in enumerate(found):
        facts = event_facts.add(facts, report(features, float(at)), namer)
    return facts


def read(number: int) -> events.Features:
    text = REPORTS[number]
    return incidents.read(text["title"], text["text"].replace("{weekday}", "Monday"))


# ---------------------------------------------------------------- gathering, pure


def test_the_toll_is_the_highest_figure_stated_with_the_sentence_that_states_it():
    facts = gathered(read(0), read(1), read(2))
    said = facts.said()
    assert (said.event_type, said.killed, said.injured, said.claimed_by) == ("suicide bombing", 59, 157, "TTP")
    assert "59" in facts.killed.evidence and facts.killed.outlet == "example.org" and facts.killed.at == 2.0
    assert "157 injured" in facts.injured.evidence
    assert "claimed responsibility" in facts.claimed_by.evidence
    assert said.place.startswith("Police Lines Peshawar") and said.precision == "district"
    assert facts.reports == 3


@pytest.mark.parametrize("figures, expected", [
    ((32, 35, 59), 59),
    ((59, 12), 59),  # a later, lower figure is a part ("12 of them policemen"), not a revision
    ((None, 7), 7),
    ((7, None), 7),
    ((None, None), None),
])
def test_figures_rise_and_never_fall(figures, expected):
    facts = gathered(*(events.Features(killed=figure, evidence=(("killed", f"{figure} killed"),)) for figure in figures))
    assert facts.said().killed == expected
    if expected is not None:
        assert facts.killed.evidence == f"{expected} killed"


def test_the_lowest_figure_is_kept_where_reports_disagree():
    facts = gathered(*(events.Features(killed=figure) for figure in (15, 46, 25, None)))
    assert (facts.said().killed, facts.said().killed_low) == (46, 15)
    assert event_facts.EventFacts.load(facts.dump()) == facts
    assert event_facts.merge(facts, gathered(events.Features(killed=9))).killed_low == 9


def test_equal_figures_keep_the_latest_statement():
    facts = gathered(events.Features(killed=5, evidence=(("killed", "first"),)),
                     events.Features(killed=5, evidence=(("killed", "second"),)))
    assert facts.killed.evidence == "second"


@pytest.mark.parametrize("chains, place", [
    ((("khyber-pakhtunkhwa", "pakistan"), ("bannu", "khyber-pakhtunkhwa", "pakistan")), "bannu"),  # finer: inside it
    ((("bannu", "khyber-pakhtunkhwa", "pakistan"), ("khyber-pakhtunkhwa", "pakistan")), "bannu"),  # coarser: kept
    ((("bannu", "khyber-pakhtunkhwa", "pakistan"), ("quetta", "balochistan", "pakistan")), "bannu"),  # elsewhere: kept
    (((), ("quetta", "balochistan", "pakistan")), "quetta"),
])
def test_the_place_only_gets_more_precise(chains, place):
    facts = gathered(*(events.Features(where=chain) for chain in chains))
    assert facts.place.value == place


@pytest.mark.parametrize("reports, place", [
    # the strikes (published on day 10) and the next day's denial, placed where it was issued
    (((11, ("kabul", "afghanistan")), (10, ("barmal", "paktika", "afghanistan"))), "barmal"),  # denial read first
    (((10, ("barmal", "paktika", "afghanistan")), (11, ("kabul", "afghanistan"))), "barmal"),  # strikes read first
    (((11, ("barmal", "paktika", "afghanistan")), (10, ("paktika", "afghanistan"))), "barmal"),  # earlier, but coarser
    (((None, ("kabul", "afghanistan")), (10, ("barmal", "paktika", "afghanistan"))), "kabul"),  # undated: first read
])
def test_the_place_is_the_earliest_reports_whichever_is_read_first(reports, place):
    facts = gathered(*(events.Features(where=chain, published=day) for day, chain in reports))
    assert facts.place.value == place
    assert event_facts.EventFacts.load(facts.dump()) == facts


@pytest.mark.parametrize("types, expected", [
    (("bombing_ied", "bombing_ied", "suicide_bombing"), "suicide bombing"),  # "a blast" is no denial of a bomber
    (("armed_assault", "armed_assault", "targeted_killing"), "armed assault"),
    (("other", "targeted_killing"), "targeted killing"),
    (("other",), ""),
])
def test_the_type_is_what_most_reports_say(types, expected):
    assert gathered(*(events.Features(event_type=kind) for kind in types)).said().event_type == expected


def test_facts_survive_the_store_and_two_events_merge_into_one():
    one = gathered(read(0))
    other = gathered(read(2))
    assert event_facts.EventFacts.load(one.dump()) == one
    assert event_facts.EventFacts.load("not json") is None
    merged = event_facts.merge(one, other)
    assert merged.said().killed == 59 and merged.said().claimed_by == "TTP" and merged.reports == 2
    assert event_facts.merge(None, one) == one


# ---------------------------------------------------------------- alert decisions, pure


def message(**facts) -> AlertMessage:
    return AlertMessage(rule="r", title="t", url=None, outlet="o", published=None, snippet="", highlights=(),
                        matched=(), **facts)


@pytest.mark.parametrize("before, after, said", [
    ({"killed": 32}, IncidentFacts(killed=35), ()),  # +3 is 9%: not material
    ({"killed": 32}, IncidentFacts(killed=59), ("Toll revised: 32 → 59 killed",)),
    ({"killed": 4}, IncidentFacts(killed=6), ()),  # +50% but fewer than 3 more
    ({"killed": 4}, IncidentFacts(killed=7), ("Toll revised: 4 → 7 killed",)),
    ({}, IncidentFacts(killed=3), ("Toll reported: 3 killed",)),
    ({"killed": 3, "injured": 10}, IncidentFacts(killed=3, injured=40), ("Toll revised: 10 → 40 injured",)),
    ({"killed": 3}, IncidentFacts(killed=3, claimed_by="TTP"), ("Claimed by TTP",)),
    ({"claimed_by": "TTP"}, IncidentFacts(claimed_by="TTP"), ()),
    ({"place": "Khyber Pakhtunkhwa", "place_precision": "province"},
     IncidentFacts(place="Bannu, Khyber Pakhtunkhwa", precision="district"),
     ("Place now Bannu, Khyber Pakhtunkhwa (district precision)",)),
    ({"place": "Bannu", "place_precision": "district"}, IncidentFacts(place="Khyber Pakhtunkhwa", precision="province"),
     ()),
])
def test_a_follow_up_is_due_only_on_a_material_change(before, after, said):
    assert routing.changes(message(**before), after, MaterialChange()) == said


@pytest.mark.parametrize("facts, near, level", [
    (IncidentFacts(), False, "low"),
    (IncidentFacts(killed=1), False, "medium"),
    (IncidentFacts(killed=3), False, "high"),
    (IncidentFacts(killed=10), False, "critical"),
    (IncidentFacts(injured=12), False, "high"),
    (IncidentFacts(), True, "critical"),  # near a watched site
    (None, False, "low"),
])
def test_auto_severity_is_graded_from_the_facts(facts, near, level):
    assert routing.grade(facts, near, SeverityGrades()) == level


# ---------------------------------------------------------------- as a user meets it


def serve(web, upto: int) -> list[dict]:
    """Feeds of the first `upto` outlets, each with its own report (published an hour apart)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    weekday = (now - timedelta(hours=5)).strftime("%A")
    feeds = []
    for number, item in enumerate(REPORTS[:upto]):
        outlet, published = item["outlet"], now - timedelta(hours=4 - number)
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{outlet}</title><link>https://{outlet}/</link><description>news</description>
<item><title>{html.escape(item["title"])}</title><link>{{BASE}}/{outlet}/report.html</link>
<guid isPermaLink="false">{outlet}-1</guid><pubDate>{format_datetime(published)}</pubDate>
<description>{html.escape(item["text"].replace("{weekday}", weekday))}</description></item>
</channel></rss>"""
        url = web.add(f"/{outlet}/rss.xml", body, "application/rss+xml")
        feeds.append({"url": url, "outlet": outlet, "full_text": False, "alert_on_first_poll": True})
    return feeds


def run_reports(tmp_path, web, rule: dict, channels: dict, **newsmon) -> list[list[dict]]:
    """Three runs, each with one more outlet's report; what each channel had received after each."""
    watchlist = {"rules": [{"name": "peshawar", "any": ["Peshawar"], **rule}]}
    seen = []
    for upto in (1, 2, 3):
        path = write_config(tmp_path, serve(web, upto), channels, watchlist=watchlist, **newsmon)
        assert cli.main(["--config", str(path), "run", "--once"]) == 0
        seen.append({name: web.json_posts(f"/{name}") for name in channels})
    return seen


def hook(web, name: str) -> list[str]:
    return [web.base.replace("http://", "json://") + f"/{name}"]


def test_a_rising_toll_sends_one_follow_up_when_it_changes_materially(tmp_path, web):
    seen = run_reports(tmp_path, web, {"on_update": "material"}, {"ops": hook(web, "ops")})
    assert [len(after["ops"]) for after in seen] == [1, 1, 2]  # 32: alert; 35: nothing; 59: one follow-up
    first, follow_up = seen[-1]["ops"]
    assert "Suicide bombing · 32 killed, 150 injured" in first["message"]
    assert follow_up["title"].startswith("[peshawar] Update: ")
    assert "Toll revised: 32 → 59 killed" in follow_up["message"]
    assert "Claimed by TTP" in follow_up["message"]
    assert "59 killed (reports: 32–59), 157 injured (reports: 150–157)" in follow_up["message"]
    assert "claimed by TTP" in follow_up["message"]

    result = run_newsmon("--config", str(tmp_path / "config.toml"), "stories", "--json")
    assert result.returncode == 0, result.stderr
    (story,) = json.loads(result.stdout)["stories"]
    facts = story["facts"]
    assert facts["killed"]["value"] == 59 and "At least 59 people were killed" in facts["injured"]["evidence"]
    assert facts["killed"]["lowest"] == 32 and facts["injured"]["lowest"] == 150
    assert facts["killed"]["outlet"] == "pakobserver.example" and facts["killed"]["url"].endswith("/report.html")
    assert facts["claimed_by"]["shown"] == "TTP" and "claimed responsibility" in facts["claimed_by"]["evidence"]
    assert facts["event_type"]["value"] == "suicide_bombing" and facts["event_type"]["evidence"]
    assert facts["place"]["precision"] == "district" and facts["place"]["lat"] is not None
    assert facts["reports"] == 3
    text = run_newsmon("--config", str(tmp_path / "config.toml"), "stories").stdout
    assert "killed: 59 (reports: 32–59) · “Peshawar mosque bombing: 59 dead" in text, text
    said = run_newsmon("--config", str(tmp_path / "config.toml"), "route-test", "--rule", "peshawar", "--story",
                       str(story["id"])).stdout
    assert "ops: a follow-up (only when the event's facts change materially: a toll up by more than" in said, said


def test_by_default_a_rising_toll_sends_nothing_more(tmp_path, web):
    seen = run_reports(tmp_path, web, {}, {"ops": hook(web, "ops")})
    assert [len(after["ops"]) for after in seen] == [1, 1, 1]


def test_auto_severity_reaches_a_stricter_channel_once_the_toll_is_grave_enough(tmp_path, web):
    channels = {"all": {"urls": hook(web, "all")}, "duty": {"urls": hook(web, "duty"), "min_severity": "critical"}}
    seen = run_reports(tmp_path, web, {"severity": "auto"}, channels, severity={"critical_killed": 50})
    assert [len(after["all"]) for after in seen] == [1, 1, 1]
    assert [len(after["duty"]) for after in seen] == [0, 0, 1]  # 59 killed: critical now
    (duty,) = seen[-1]["duty"]
    assert not duty["title"].startswith("[peshawar] Update")  # its first alert on this event
    assert "59 killed" in duty["message"]
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        severities = {channel: json.loads(text)["severity"] for channel, text in
                      db.execute("SELECT channel, message FROM alerts WHERE rule = 'peshawar'")}
    assert severities == {"all": "high", "duty": "critical"}
    (story,) = {row[0] for row in sqlite3.connect(tmp_path / "state" / "newsmon.db").execute("SELECT story_id FROM alerts")}
    said = run_newsmon("--config", str(tmp_path / "config.toml"), "route-test", "--rule", "peshawar", "--story", str(story))
    assert f"(severity auto: critical, graded from story {story}'s facts)" in said.stdout, said.stdout + said.stderr
    said = run_newsmon("--config", str(tmp_path / "config.toml"), "route-test", "--rule", "peshawar")
    assert "(severity auto: low, graded with no figures known" in said.stdout
    assert "duty: not routed: its min_severity is critical (the alert is low)" in said.stdout, said.stdout


def test_a_rise_to_critical_releases_an_alert_held_by_quiet_hours(tmp_path, web):
    channels = {"night": {"urls": hook(web, "night"), "quiet_hours": ["00:00-24:00"], "timezone": "UTC"}}
    seen = run_reports(tmp_path, web, {"severity": "auto"}, channels, severity={"critical_killed": 50})
    assert [len(after["night"]) for after in seen] == [0, 0, 1]  # high: held; critical: out at once
    (sent,) = seen[-1]["night"]
    assert "Suicide bombing · 59 killed (reports: 32–59), 157 injured" in sent["message"]  # known when it goes
    with sqlite3.connect(tmp_path / "state" / "newsmon.db") as db:
        rows = db.execute("SELECT status, message FROM alerts WHERE rule = 'peshawar'").fetchall()
    assert [(status, json.loads(text)["severity"]) for status, text in rows] == [("sent", "critical")]


@pytest.mark.parametrize("table, said", [
    ({"severity": {"critical_killd": 5}}, "'newsmon.severity.critical_killd': unknown key"),
    ({"severity": {"near_site": "grave"}}, "'newsmon.severity.near_site': must be one of"),
    ({"severity": {"high_killed": -1}}, "'newsmon.severity.high_killed': expected a whole number"),
    ({"material_toll_change": {"percent": "lots"}}, "'newsmon.material_toll_change.percent': expected a percentage"),
])
def test_grading_and_material_settings_are_checked(tmp_path, table, said):
    path = write_config(tmp_path, [], {"ops": ["json://127.0.0.1:9/hook"]}, **table)
    result = run_newsmon("--config", str(path), "check")
    assert result.returncode != 0 and said in result.stdout + result.stderr, result.stdout + result.stderr


def test_an_auto_rule_may_name_a_channel_that_takes_only_critical_alerts(tmp_path):
    watchlist = {"rules": [{"name": "grave", "any": ["Peshawar"], "severity": "auto", "channels": ["duty"],
                            "on_update": "material"}]}
    path = write_config(tmp_path, [], {"duty": {"urls": ["json://127.0.0.1:9/hook"], "min_severity": "critical"}},
                        watchlist=watchlist, material_toll_change={"percent": "10%", "at_least": 2})
    result = run_newsmon("--config", str(path), "check")
    assert result.returncode == 0, result.stderr
