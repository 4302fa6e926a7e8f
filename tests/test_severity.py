"""A rule's severity reaches its alert: the `{severity}` placeholder, `alerts --json` and
routing by `min_severity` all say the rule's own severity, for every severity, never the
default ("medium").

One feed of four articles, each matched by exactly one rule, one rule per severity (low,
medium, high, critical), delivered by `newsmon run --once` to json:// receivers on loopback:
a channel per `min_severity`, one with a `rules` filter, one with both filters, and two whose
title and body templates show `{severity}`. Only user-facing entry points: `cli.main`."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import WebServer
from fixtures import page, rss, write_config

from monitor import cli

# rule name -> (its severity, the one article it matches). Each article names a place no other
# article names, and only that rule looks for it.
ARTICLES = {
    "sev-low": ("low", {
        "guid": "sev-low-1", "path": "/wire/harbour-nets.html", "word": "Quellbridge",
        "title": "Fishing nets cut in Quellbridge harbour",
        "summary": "Boat owners found their nets slashed at the harbour on Tuesday.",
        "body": ("Boat owners in Quellbridge found their nets slashed at the harbour on Tuesday morning.",
                 "The harbour master said the damage would be repaired within the week."),
    }),
    "sev-medium": ("medium", {
        "guid": "sev-medium-1", "path": "/wire/rail-strike.html", "word": "Marrowgate",
        "title": "Rail workers walk out at Marrowgate depot",
        "summary": "Trains were cancelled after a sudden stoppage over unpaid wages.",
        "body": ("Rail workers at the Marrowgate depot stopped work on Wednesday over unpaid wages.",
                 "Commuters waited on platforms as dozens of services were cancelled."),
    }),
    "sev-high": ("high", {
        "guid": "sev-high-1", "path": "/wire/border-shelling.html", "word": "Tesvaro",
        "title": "Shelling reported near the Tesvaro crossing",
        "summary": "Villagers fled as artillery fire hit fields close to the border post.",
        "body": ("Artillery fire struck farmland near the Tesvaro border crossing late on Thursday.",
                 "Villagers loaded carts and left for the nearest town before nightfall."),
    }),
    "sev-critical": ("critical", {
        "guid": "sev-critical-1", "path": "/wire/dam-breach.html", "word": "Ostrevik",
        "title": "Dam breach floods valley below Ostrevik",
        "summary": "Emergency crews evacuated thousands as water poured through a breach.",
        "body": ("A breach in the Ostrevik dam sent water pouring into the valley on Friday.",
                 "Emergency crews evacuated thousands of residents from low-lying districts."),
    }),
}
RULES = tuple(ARTICLES)
SEVERITY_OF = {rule: severity for rule, (severity, _item) in ARTICLES.items()}
TITLE_OF = {rule: item["title"] for rule, (_severity, item) in ARTICLES.items()}
assert sorted(SEVERITY_OF.values()) == sorted(("low", "medium", "high", "critical"))

TITLE_TEMPLATE = "{severity} | {rule} | {title}"
BODY_TEMPLATE = "severity={severity}; rule={rule}"

# channel name -> (its table but its URL, the rules whose alerts it must get: no more, no fewer)
CHANNELS = {
    "min-low": ({"min_severity": "low"}, {"sev-low", "sev-medium", "sev-high", "sev-critical"}),
    "min-medium": ({"min_severity": "medium"}, {"sev-medium", "sev-high", "sev-critical"}),
    "min-high": ({"min_severity": "high"}, {"sev-high", "sev-critical"}),
    "min-critical": ({"min_severity": "critical"}, {"sev-critical"}),
    "picked": ({"rules": ["sev-low", "sev-critical"]}, {"sev-low", "sev-critical"}),
    "picked-high": ({"rules": ["sev-low", "sev-medium", "sev-critical"], "min_severity": "high"}, {"sev-critical"}),
    "templated": ({"title": TITLE_TEMPLATE, "body": BODY_TEMPLATE}, set(RULES)),
    "templated-high": ({"title": TITLE_TEMPLATE, "body": BODY_TEMPLATE, "min_severity": "high"},
                       {"sev-high", "sev-critical"}),
}
TEMPLATED = ("templated", "templated-high")


def json_url(web: WebServer, path: str) -> str:
    return f"json://127.0.0.1:{web.base.rsplit(':', 1)[1]}{path}"


def receiver(channel: str) -> str:
    return f"/hook/{channel}"


def newsmon(*argv: str) -> tuple[int, str]:
    """Run the command in this process: (exit code, what it printed on stdout)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(argv))
    return code, out.getvalue()


@dataclass
class Delivered:
    web: WebServer
    run_code: int
    alerts: list[dict]  # `alerts --json`'s rows

    def posts(self, channel: str) -> list[dict]:
        return self.web.json_posts(receiver(channel))


@pytest.fixture(scope="module")
def delivered(tmp_path_factory) -> Iterator[Delivered]:
    """The four articles polled and delivered once; what each receiver got and `alerts --json`."""
    web = WebServer()
    web.thread.start()
    try:
        items = [item for _severity, item in ARTICLES.values()]
        for item in items:
            web.add(item["path"], page(item["path"], item["title"], "Severity Wire", *item["body"]))
        feed = web.add("/wire/rss.xml", rss("Severity Wire", items), "application/rss+xml")
        watchlist = {"rules": [{"name": rule, "any": [item["word"]], "severity": severity}
                               for rule, (severity, item) in ARTICLES.items()]}
        channels = {name: {"urls": [json_url(web, receiver(name))], **table} for name, (table, _rules) in CHANNELS.items()}
        directory = tmp_path_factory.mktemp("severity")
        path = write_config(directory, [{"url": feed, "alert_on_first_poll": True}], channels, watchlist=watchlist)
        run_code, _ = newsmon("--config", str(path), "run", "--once")
        code, out = newsmon("--config", str(path), "alerts", "--json", "--limit", "0")
        assert code == 0, out
        yield Delivered(web, run_code, json.loads(out)["alerts"])
    finally:
        web.httpd.shutdown()
        web.httpd.server_close()


def test_the_run_succeeds_and_every_rule_matched_its_article(delivered):
    assert delivered.run_code == 0
    assert sorted(post["title"] for post in delivered.posts("min-low")) == sorted(f"[{rule}] {TITLE_OF[rule]}"
                                                                                  for rule in RULES)


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_each_channel_gets_exactly_the_alerts_its_filters_let_in(delivered, channel):
    expected = CHANNELS[channel][1]
    got = [post["title"] for post in delivered.posts(channel)]
    if channel in TEMPLATED:
        want = [f"{SEVERITY_OF[rule]} | {rule} | {TITLE_OF[rule]}" for rule in expected]
    else:
        want = [f"[{rule}] {TITLE_OF[rule]}" for rule in expected]
    assert sorted(got) == sorted(want)  # each once: nothing refused got through, nothing let in is missing


@pytest.mark.parametrize("rule", RULES)
def test_the_severity_placeholder_says_the_rules_severity(delivered, rule):
    severity = SEVERITY_OF[rule]
    for channel in TEMPLATED:
        posts = [post for post in delivered.posts(channel) if TITLE_OF[rule] in post["title"]]
        if rule not in CHANNELS[channel][1]:
            assert posts == [], channel
            continue
        assert [(post["title"], post["message"]) for post in posts] == [
            (f"{severity} | {rule} | {TITLE_OF[rule]}", f"severity={severity}; rule={rule}")], channel


@pytest.mark.parametrize("rule", RULES)
def test_alerts_json_shows_the_rules_severity_on_each_channel_that_takes_it(delivered, rule):
    rows = [row for row in delivered.alerts if row["rule"] == rule]
    assert {row["severity"] for row in rows} == {SEVERITY_OF[rule]}
    assert {row["title"] for row in rows} == {TITLE_OF[rule]}
    assert {row["status"] for row in rows} == {"sent"}
    wanted = sorted(channel for channel, (_table, rules) in CHANNELS.items() if rule in rules)
    assert sorted(row["channel"] for row in rows) == wanted  # nothing queued for a channel that refuses it


def test_alerts_json_holds_exactly_the_routed_alerts(delivered):
    routed = sorted((channel, rule) for channel, (_table, rules) in CHANNELS.items() for rule in rules)
    assert sorted((row["channel"], row["rule"]) for row in delivered.alerts) == routed
    assert sorted((row["channel"], row["rule"], row["severity"]) for row in delivered.alerts) == sorted(
        (channel, rule, SEVERITY_OF[rule]) for channel, rule in routed)


def test_acceptance_critical_passes_min_severity_high_and_low_does_not(delivered):
    """The issue's acceptance, spelled out: critical shows `critical` everywhere and passes
    `min_severity = "high"`; low does not."""
    high_titles = [post["title"] for post in delivered.posts("min-high")]
    assert f"[sev-critical] {TITLE_OF['sev-critical']}" in high_titles
    assert not any(TITLE_OF["sev-low"] in title for title in high_titles)
    templated = {post["title"]: post["message"] for post in delivered.posts("templated-high")}
    assert templated == {f"critical | sev-critical | {TITLE_OF['sev-critical']}": "severity=critical; rule=sev-critical",
                         f"high | sev-high | {TITLE_OF['sev-high']}": "severity=high; rule=sev-high"}
    critical_rows = [row for row in delivered.alerts if row["rule"] == "sev-critical"]
    assert "min-high" in {row["channel"] for row in critical_rows}
    assert {row["severity"] for row in critical_rows} == {"critical"}
    assert not [row for row in delivered.alerts if row["rule"] == "sev-low" and row["channel"] == "min-high"]


# ---------------------------------------------------------------- `newsmon check`


def check_config(tmp_path, web, rules: list[tuple[str, str]]):
    """A configuration whose rules (name, severity) each name the channel 'urgent' (min_severity high)."""
    watchlist = {"rules": [{"name": name, "any": ["Ostrevik"], "severity": severity, "channels": ["urgent"]}
                           for name, severity in rules]}
    channels = {"urgent": {"urls": [json_url(web, "/urgent")], "min_severity": "high"},
                "everything": [json_url(web, "/everything")]}
    return write_config(tmp_path, [], channels, watchlist=watchlist)


@pytest.mark.parametrize(("severity", "refused"), [("low", True), ("medium", True), ("high", False),
                                                   ("critical", False)])
def test_check_reports_a_rule_naming_a_channel_that_refuses_its_severity(tmp_path, web, severity, refused):
    path = check_config(tmp_path, web, [("dam-watch", severity)])
    code, out = newsmon("--config", str(path), "check")
    problems = [line for line in out.splitlines() if "refuses" in line]
    if refused:
        assert code == 2, out
        assert len(problems) == 1, out
        assert "dam-watch" in problems[0] and "names channel 'urgent', which refuses it" in problems[0]
        assert f"its min_severity is 'high' and the rule's severity is '{severity}'" in problems[0]
    else:
        assert code == 0, out
        assert problems == [] and "OK" in out


def test_check_names_only_the_refused_rule(tmp_path, web):
    path = check_config(tmp_path, web, [("quiet-watch", "low"), ("loud-watch", "critical")])
    code, out = newsmon("--config", str(path), "check")
    assert code == 2, out
    assert "quiet-watch" in out and "'urgent'" in out
    assert "loud-watch" not in out
