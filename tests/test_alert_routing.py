"""Alert routing and the message an alert carries, alone (monitor.alert.routing and .message are
pure): which channels take a rule's alerts, by severity and `rules` filters, and the rule's
severity in the message. tests/test_severity.py checks the same through `newsmon run`."""

from __future__ import annotations

import pytest

from monitor import alert
from monitor.model import SEVERITIES, Article, ChannelSpec, Hit, Match, Rule

CHANNELS = (
    ChannelSpec("all", ("json://127.0.0.1/a",)),
    ChannelSpec("medium+", ("json://127.0.0.1/b",), min_severity="medium"),
    ChannelSpec("high+", ("json://127.0.0.1/c",), min_severity="high"),
    ChannelSpec("critical", ("json://127.0.0.1/d",), min_severity="critical"),
    ChannelSpec("picked", ("json://127.0.0.1/e",), rules=("r-low", "r-critical")),
)

# rule severity -> the channels its alerts reach when the rule names none and no default is set
EXPECTED = {
    "low": ("all", "picked"),
    "medium": ("all", "medium+"),
    "high": ("all", "medium+", "high+"),
    "critical": ("all", "medium+", "high+", "critical", "picked"),
}


@pytest.mark.parametrize("severity", SEVERITIES)
def test_channels_take_the_severities_they_ask_for(severity):
    rule = Rule(name=f"r-{severity}", any=("TTP",), severity=severity)
    assert alert.routes(CHANNELS, None, rule) == EXPECTED[severity]


@pytest.mark.parametrize("severity", SEVERITIES)
def test_default_channels_are_filtered_too(severity):
    rule = Rule(name=f"r-{severity}", any=("TTP",), severity=severity)
    assert alert.routes(CHANNELS, ("high+", "all"), rule) == tuple(
        name for name in ("high+", "all") if name in EXPECTED[severity])


def test_a_rule_naming_a_channel_that_refuses_it_is_a_problem():
    rules = [Rule(name="r-low", any=("TTP",), channels=("high+",), severity="low"),
             Rule(name="r-critical", any=("TTP",), channels=("high+",), severity="critical")]
    problems = alert.routing_problems(CHANNELS, None, rules)
    assert problems == [("r-low", "names channel 'high+', which refuses it: its min_severity is 'high' "
                                  "and the rule's severity is 'low'")]


def test_a_rule_no_channel_accepts_is_a_problem():
    rules = [Rule(name="r-low", any=("TTP",), severity="low")]
    problems = alert.routing_problems(CHANNELS[1:4], None, rules)
    assert [rule for rule, _message in problems] == ["r-low"] and "reaches no channel" in problems[0][1]


@pytest.mark.parametrize("severity", SEVERITIES)
def test_the_message_carries_the_rules_severity(severity):
    text = "Militants of the TTP attacked a checkpoint. Nobody was hurt."
    article = Article(url="https://example.org/a", title="Checkpoint attacked", text=text, source="page",
                      outlet="example.org")
    found = Match("r", (Hit("TTP", None, "TTP", "text", text.index("TTP"), text.index("TTP") + 3),))
    message = alert.for_match(found, article, Rule(name="r", any=("TTP",), severity=severity), "Example feed")
    assert message.severity == severity
    assert message.snippet == "Militants of the TTP attacked a checkpoint."
    assert [message.snippet[start:end] for start, end in message.highlights] == ["TTP"]
    for kind in ("text", "markdown", "html"):
        title, _body = alert.render(message, kind, "{severity}: {title}")
        assert title == f"{severity}: Checkpoint attacked"
