"""Which alerts a match makes, and where they go.

A rule alerts once per story; with `on_update = "new_hits"` it sends a follow-up when the story
names an entity the rule had not hit in it before; with `on_update = "material"`, when the
event's facts change materially since its last alert (`changes`: a toll up by more than
`material_toll_change`, a claim, a more precise place). A rule with `severity = "auto"` is
graded from the event's facts (`grade`, `[newsmon.severity]`) each time a report comes: a
channel whose `min_severity` refused it gets its first alert once the event is grave enough. On a channel with `min_outlets` the alert is
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
from typing import NamedTuple, Protocol

from monitor.alert import message as messages
from monitor.model import (PRECISIONS, SEVERITIES, AlertMessage, Article, ChannelSpec, IncidentFacts, Match, MaterialChange,
                           QueuedAlert, Rule, SeverityGrades)


class StoryHistory(Protocol):
    """What routing needs to know of a story's past alerts (the store provides it)."""

    def alerted(self, story_id: int) -> dict[str, int]:
        """Rule -> highest alert seq already queued for the story."""
        ...

    def story_entities(self, story_id: int, rule: str) -> set[str]:
        """The entities (or bare terms) the rule has hit in any article of the story."""
        ...

    def alerted_channels(self, story_id: int, rule: str) -> set[str]:
        """The channels that have an alert of the rule for the story (any seq, any status)."""
        ...

    def last_message(self, story_id: int, rule: str) -> AlertMessage | None:
        """What the rule's latest alert on the story said (its highest seq), if any."""
        ...


def accepts(channel: ChannelSpec, rule: Rule) -> bool:
    """Whether a channel's filters let a rule's alerts in (a rule graded "auto" may reach any level)."""
    return takes(channel, rule.name, "critical" if rule.severity == "auto" else rule.severity)


def grade(facts: IncidentFacts | None, near: bool, grades: SeverityGrades) -> str:
    """The severity an event's facts give a rule with `severity = "auto"`: the highest level
    any threshold of `[newsmon.severity]` reaches (`otherwise` when none does)."""
    levels = [grades.otherwise]
    killed = (facts.killed or 0) if facts else 0
    injured = (facts.injured or 0) if facts else 0
    for level, threshold, figure in (("critical", grades.critical_killed, killed), ("high", grades.high_killed, killed),
                                     ("medium", grades.medium_killed, killed), ("high", grades.high_injured, injured),
                                     ("medium", grades.medium_injured, injured)):
        if threshold and figure >= threshold:
            levels.append(level)
    if near:
        levels.append(grades.near_site)
    return max(levels, key=SEVERITIES.index)


def changes(before: AlertMessage, after: IncidentFacts, material: MaterialChange) -> tuple[str, ...]:
    """What changed materially since an alert said `before`, as lines a follow-up shows ("Toll
    revised: 32 → 59 killed"); () when nothing did."""
    out = []
    for name in ("killed", "injured"):
        old, new = getattr(before, name), getattr(after, name)
        if new is None or new == old:
            continue
        if old is None:
            out.append(f"Toll reported: {new} {name}")
        elif new - old >= material.at_least and new - old > old * material.percent / 100:
            out.append(f"Toll revised: {old} → {new} {name}")
    if after.claimed_by and not before.claimed_by:
        out.append(f"Claimed by {after.claimed_by}")
    old_rank = PRECISIONS.index(before.place_precision) if before.place_precision in PRECISIONS else len(PRECISIONS)
    if after.place and after.precision in PRECISIONS and PRECISIONS.index(after.precision) < old_rank:
        out.append(f"Place now {after.place} ({after.precision} precision)")
    return tuple(out)


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


class Routed(NamedTuple):
    """What `Router.alerts_for` found for one article: the alerts to queue, and the first alerts
    it may head instead of a later report (rule -> the message with it at its head)."""

    queued: list[QueuedAlert]
    leads: dict[str, AlertMessage]


class Router:
    """The routing of one configuration: rules, channels, `default_channels`, `admin_channels`,
    and how "auto" rules grade an event (`[newsmon.severity]`) and follow-ups are judged material."""

    def __init__(self, rules: Iterable[Rule], channels: Iterable[ChannelSpec], *,
                 default_channels: tuple[str, ...] | None = None, admin_channels: tuple[str, ...] | None = None,
                 grades: SeverityGrades = SeverityGrades(), material: MaterialChange = MaterialChange()):
        self.rules = {rule.name: rule for rule in rules}
        channels = tuple(channels)
        self.specs = {channel.name: channel for channel in channels}
        self.channels = {rule.name: routes(channels, default_channels, rule) for rule in self.rules.values()}
        self.admin = admin_channels if admin_channels is not None else tuple(channel.name for channel in channels)
        # a channel with min_outlets holds each alert until the event is corroborated (alert.drain releases it)
        self.holds = {channel.name: f"min_outlets {channel.min_outlets}" if channel.min_outlets > 1 else ""
                      for channel in channels}
        self.grades, self.material = grades, material

    def severity(self, rule: Rule, facts: IncidentFacts | None, near: bool) -> str:
        """A rule's severity for an event: its own, or graded from the event's facts ("auto")."""
        return grade(facts, near, self.grades) if rule.severity == "auto" else rule.severity

    def severities(self, matches: Iterable[Match], facts: IncidentFacts | None, near: dict | None = None) -> dict[str, str]:
        """The severity of each matching "auto" rule for the event (the store raises its waiting alerts to it)."""
        return {found.rule: self.severity(self.rules[found.rule], facts, found.rule in (near or {}))
                for found in matches if self.rules[found.rule].severity == "auto"}

    def alerts_for(self, matches: Iterable[Match], article: Article, feed_name: str, story: int | None,
                   history: StoryHistory, tags: tuple[str, ...] = (), near: dict | None = None,
                   facts: IncidentFacts | None = None) -> Routed:
        """Outbox rows for an article's matches (`story`: the story it joins, None for a new one;
        `facts`: its event's facts with this article counted): a rule alerts once per story and
        channel; a follow-up goes where the rule alerted before, when `on_update` finds one due.

        With them, the alert each rule that has alerted on the story only once would send with
        this article at its head (`Routed.leads`): the store puts it in place of a first alert
        still waiting whose report was published later than this one (`refresh_waiting`). So the
        report that heads a story's alert is its earliest, not whichever newsmon read first: on
        a first poll the strikes' own report, not the next day's denial."""
        alerted = history.alerted(story) if story is not None else {}
        queued: list[QueuedAlert] = []
        leads: dict[str, AlertMessage] = {}
        for found in matches:
            rule = self.rules[found.rule]
            severity = self.severity(rule, facts, found.rule in (near or {}))
            channels = [name for name in self.channels[found.rule] if takes(self.specs[name], rule.name, severity)]

            def build(update: bool, changed: tuple[str, ...] = ()) -> AlertMessage:
                return messages.for_match(found, article, rule, feed_name, update=update, tags=tags,
                                          near=(near or {}).get(found.rule), facts=facts, severity=severity,
                                          changed=changed)

            if found.rule not in alerted:
                message = build(False)
                queued.extend(QueuedAlert(found.rule, channel, message, seq=0, delay=rule.group_wait,
                                          hold=self.holds[channel]) for channel in channels)
                continue
            if alerted[found.rule] == 0 and article.published is not None:
                leads[found.rule] = build(False)
            if rule.severity != "auto" and rule.on_update not in ("new_hits", "material"):
                continue  # alerted once per story: nothing more to ask of its history
            before = history.alerted_channels(story, found.rule)
            if rule.severity == "auto" and (first := [name for name in channels if name not in before]):
                message = build(False)  # graver now: a channel that refused it gets its first alert
                queued.extend(QueuedAlert(found.rule, channel, message, seq=0, hold=self.holds[channel])
                              for channel in first)
            changed: tuple[str, ...] = ()
            if rule.on_update == "new_hits":
                named = {hit.entity or hit.term for hit in found.hits}
                if not named - history.story_entities(story, found.rule):
                    continue
            elif rule.on_update == "material":
                last = history.last_message(story, found.rule)
                changed = changes(last, facts, self.material) if last is not None and facts is not None else ()
                if not changed:
                    continue
            else:
                continue
            message = build(True, changed)
            queued.extend(QueuedAlert(found.rule, channel, message, seq=alerted[found.rule] + 1, delay=0.0,
                                      hold=self.holds[channel]) for channel in channels if channel in before)
        return Routed(queued, leads)


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
                       if rule.severity != "auto" and SEVERITIES.index(rule.severity) < SEVERITIES.index(channel.min_severity)
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

