"""Which alerts a match makes, and where they go.

A rule alerts once per story; with `on_update = "new_hits"` it sends a follow-up when the story
names an entity the rule had not hit in it before. On a channel with `min_outlets` the alert is
queued held, and the drain releases it once that many outlets have reported the story in their
own words (`alert.drain`). A rule's alerts go to the channels it names,
else to `default_channels` (else every channel), each kept only where the channel's
`min_severity` and `rules` filters let the rule in. newsmon's own notices (a feed gone silent)
go to `admin_channels`, else every channel.

`Router` is built from the checked configuration; `routing_problems` is run at load (by
`monitor.app.check`) so that a rule whose alerts could go nowhere is a configuration error,
never a silent surprise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from monitor.alert import message as messages
from monitor.model import SEVERITIES, Article, ChannelSpec, Match, QueuedAlert, Rule


class StoryHistory(Protocol):
    """What routing needs to know of a story's past alerts (the store provides it)."""

    def alerted(self, story_id: int) -> dict[str, int]:
        """Rule -> highest alert seq already queued for the story."""
        ...

    def story_entities(self, story_id: int, rule: str) -> set[str]:
        """The entities (or bare terms) the rule has hit in any article of the story."""
        ...


def accepts(channel: ChannelSpec, rule: Rule) -> bool:
    """Whether a channel's filters let a rule's alerts in."""
    return takes(channel, rule.name, rule.severity)


def takes(channel: ChannelSpec, rule: str, severity: str) -> bool:
    """Whether a channel's filters (`min_severity`, `rules`) let in an alert of this rule and severity."""
    if SEVERITIES.index(severity) < SEVERITIES.index(channel.min_severity):
        return False
    return channel.rules is None or rule in channel.rules


def routes(channels: Iterable[ChannelSpec], default: tuple[str, ...] | None, rule: Rule) -> tuple[str, ...]:
    """The channels a rule's alerts go to: the ones it names, else `default` (None: every
    channel), kept only where the channel's filters accept the rule."""
    by_name = {channel.name: channel for channel in channels}
    names = rule.channels or (default if default is not None else tuple(by_name))
    return tuple(name for name in names if name in by_name and accepts(by_name[name], rule))


class Router:
    """The routing of one configuration: rules, channels, `default_channels`, `admin_channels`."""

    def __init__(self, rules: Iterable[Rule], channels: Iterable[ChannelSpec], *,
                 default_channels: tuple[str, ...] | None = None, admin_channels: tuple[str, ...] | None = None):
        self.rules = {rule.name: rule for rule in rules}
        channels = tuple(channels)
        self.channels = {rule.name: routes(channels, default_channels, rule) for rule in self.rules.values()}
        self.admin = admin_channels if admin_channels is not None else tuple(channel.name for channel in channels)
        # a channel with min_outlets holds each alert until the event is corroborated (alert.drain releases it)
        self.holds = {channel.name: f"min_outlets {channel.min_outlets}" if channel.min_outlets > 1 else ""
                      for channel in channels}

    def alerts_for(self, matches: Iterable[Match], article: Article, feed_name: str, story: int | None,
                   history: StoryHistory, tags: tuple[str, ...] = (), near: dict | None = None) -> list[QueuedAlert]:
        """Outbox rows for an article's matches (`story`: the story it joins, None for a new one):
        a rule alerts once per story; with on_update = "new_hits" it sends a follow-up when the
        story gains an entity it had not named."""
        alerted = history.alerted(story) if story is not None else {}
        queued = []
        for found in matches:
            rule = self.rules[found.rule]
            if found.rule not in alerted:
                seq, update, delay = 0, False, rule.group_wait
            elif rule.on_update == "new_hits":
                named = {hit.entity or hit.term for hit in found.hits}
                if not named - history.story_entities(story, found.rule):
                    continue
                seq, update, delay = alerted[found.rule] + 1, True, 0.0
            else:
                continue
            message = messages.for_match(found, article, rule, feed_name, update=update, tags=tags,
                                         near=(near or {}).get(found.rule))
            queued.extend(QueuedAlert(found.rule, channel, message, seq=seq, delay=delay, hold=self.holds[channel])
                          for channel in self.channels[found.rule])
        return queued


def routing_problems(channels: tuple[ChannelSpec, ...], default: tuple[str, ...] | None,
                     rules: Iterable[Rule]) -> list[tuple[str, str]]:
    """(rule name, message) for rules whose alerts could go nowhere, or that name a channel
    whose filters refuse them; ("", "channels.NAME.rules[i]: message") for a channel's `rules`
    naming an unknown rule. All would be silent surprises."""
    out = []
    rules = tuple(rules)
    by_name = {channel.name: channel for channel in channels}
    for rule in rules:
        for name in rule.channels:
            channel = by_name.get(name)
            if channel is not None and not accepts(channel, rule):
                why = (f"its min_severity is {channel.min_severity!r} and the rule's severity is {rule.severity!r}"
                       if SEVERITIES.index(rule.severity) < SEVERITIES.index(channel.min_severity)
                       else "its 'rules' list does not include this rule")
                out.append((rule.name, f"names channel {name!r}, which refuses it: {why}"))
        candidates = [name for name in (default if default is not None else by_name) if name in by_name]
        if candidates and not rule.channels and not routes(channels, default, rule):
            out.append((rule.name, f"reaches no channel: every channel it could use filters it out "
                                   f"(severity {rule.severity!r}); set the rule's 'channels' or a channel's filters"))
    rule_names = {rule.name for rule in rules}
    for channel in channels:
        for index, rule_name in enumerate(channel.rules or ()):
            if rule_name not in rule_names:
                out.append(("", f"channels.{channel.name}.rules[{index}]: unknown rule {rule_name!r}"))
    return out

