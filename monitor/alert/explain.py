"""What would happen to an alert of a rule, per channel, and why (`newsmon route-test`): the
same rules the drain applies, in its order, judged at a given time against the state database
as it stands: not routed (the channel's filters), already alerted (a rule alerts once per
story), silenced, waiting for a second outlet (`min_outlets`), held for quiet hours, held back
while the channel fails, after the rule's `group_wait`, folded by flood control, into the next
digest, or sent now; and whether it would escalate. The decisions that are the drain's own
(quiet hours, a digest's time, flood control's count) are made by the same functions the drain
uses, so that the answer and what the daemon then does cannot drift apart (a test drives both
from one table of cases).

A silence whose matchers depend on the report (an entity, outlet or feed tag) is judged against
the story with `--story`; without one, the answer says what it depends on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from monitor.alert import routing, silences
from monitor.alert.holds import digest_due, folds_until, quiet_hold
from monitor.model import SEVERITIES, AlertMessage, ChannelSpec, ChannelState, PendingAlert, Rule, Silence

HOUR = 3600.0


class State(Protocol):
    """What judging needs from the state database (the store provides it)."""

    def silences(self, *, active_at: float | None = None, ids: Iterable[int] | None = None) -> list[Silence]: ...

    def channel_state(self, name: str) -> ChannelState: ...

    def sends_since(self, channel: str, since: float) -> tuple[int, float | None]: ...

    def pending(self, channel: str, now: float, *, limit: int | None = 100) -> list[PendingAlert]: ...

    def oldest_pending(self, channel: str) -> float | None: ...

    def independent_outlets(self, story_id: int) -> list[str]: ...

    def story_outlets(self, story_id: int) -> list[tuple[str, float, str | None]]: ...

    def story_entities(self, story_id: int, rule: str) -> set[str]: ...

    def alerted(self, story_id: int) -> dict[str, int]: ...

    def merged_from(self, story_id: int) -> list[int]: ...

    def ack(self, story_id: int): ...


@dataclasses.dataclass(frozen=True)
class Verdict:
    """What would happen on one channel: `outcome` (one word, for scripts and tests), `why`
    (for people), `until` (when it would go, if not now), `escalates` (to whom, after how long)."""

    channel: str
    outcome: str  # sent, not-routed, already-alerted, silenced, waiting-outlets, quiet-hours, retrying, group-wait,
    #               folded, digest, silenced-if (a silence depends on the report)
    why: str
    until: float | None = None
    escalates: str = ""

    def line(self) -> str:
        return f"{self.channel}: {self.why}" + (f"; {self.escalates}" if self.escalates else "")


FOLLOW_UP_WHEN = {"new_hits": "only when a report newly names one of the rule's entities",
                  "material": "only when the event's facts change materially: a toll up by more than "
                              "material_toll_change, a claim, a more precise place"}


def explain(rule: Rule, specs: tuple[ChannelSpec, ...], default: tuple[str, ...] | None, state: State, at: float,
            story: int | None = None) -> list[Verdict]:
    """Per channel, what an alert of `rule` (its severity as given) about `story` (None: a new
    one) would meet at `at`."""
    routed = set(routing.routes(specs, default, rule))
    by_name = {spec.name: spec for spec in specs}
    history = state.alerted(story) if story is not None else {}
    ack = state.ack(story) if story is not None else None
    active = sorted(state.silences(active_at=at), key=lambda silence: silence.id)
    verdicts = []
    for spec in specs:
        if spec.name not in routed:
            verdicts.append(Verdict(spec.name, "not-routed", f"not routed: {_refusal(spec, rule, default)}"))
            continue
        if rule.name in history:
            if rule.on_update not in ("new_hits", "material"):
                verdicts.append(Verdict(spec.name, "already-alerted", f"no alert: {rule.name} already alerted story "
                                        f"{story} (a rule alerts once per story)"))
                continue
            if spec.quiet_after_ack and ack is not None:
                verdicts.append(Verdict(spec.name, "silenced", "no follow-up: the story is acknowledged and the "
                                        "channel has quiet_after_ack"))
                continue
        verdict = _judge(rule, spec, state, at, story, active)
        if rule.name in history:  # a follow-up: it is made only when its condition holds
            when = FOLLOW_UP_WHEN.get(rule.on_update, "")
            verdict = dataclasses.replace(verdict, why=f"a follow-up ({when}): {verdict.why}")
        verdicts.append(dataclasses.replace(verdict, escalates=_escalates(rule, spec, by_name, ack, verdict)))
    return verdicts


def _refusal(spec: ChannelSpec, rule: Rule, default: tuple[str, ...] | None) -> str:
    if SEVERITIES.index(rule.severity) < SEVERITIES.index(spec.min_severity):
        return f"its min_severity is {spec.min_severity} (the alert is {rule.severity})"
    if spec.rules is not None and rule.name not in spec.rules:
        return "its 'rules' list does not include this rule"
    if rule.channels:
        return f"the rule sends to {', '.join(rule.channels)} only"
    return f"not in default_channels ({', '.join(default or ())})"


def _message(rule: Rule, state: State, story: int | None) -> AlertMessage:
    """The alert as far as it is known: its rule and severity; with a story, the entities the
    rule hit in it and its first outlet."""
    entities = tuple(sorted(state.story_entities(story, rule.name))) if story is not None else ()
    outlets = state.story_outlets(story) if story is not None else []
    return AlertMessage(rule=rule.name, title="", url=None, outlet=outlets[0][0] if outlets else "", published=None,
                        snippet="", highlights=(), matched=(), entities=entities, severity=rule.severity)


def _judge(rule: Rule, spec: ChannelSpec, state: State, at: float, story: int | None,
           active: list[Silence]) -> Verdict:
    name = spec.name
    message = _message(rule, state, story)
    alert = PendingAlert(0, rule.name, story if story is not None else 0, name, 0, message, created=at)
    stories = (story, *state.merged_from(story)) if story is not None else ()
    for silence in active:
        unknown = _depends(silence, story)
        if unknown:
            known = {key: value for key, value in silence.matchers.items() if key not in unknown}
            if silences.matches(dataclasses.replace(silence, matchers=known), alert, stories):
                return Verdict(name, "silenced-if", f"silenced by silence {silence.id} if the report has "
                               f"{silences.describe({key: silence.matchers[key] for key in unknown})} "
                               f"(until {_when(silence.ends, spec)}: {silence.reason}); otherwise "
                               f"{_judge(rule, spec, state, at, story, [s for s in active if s is not silence]).why}")
        elif silences.matches(silence, alert, stories):
            return Verdict(name, "silenced", f"silenced by silence {silence.id} until {_when(silence.ends, spec)} "
                           f"({silence.reason})" + ("; sent when it ends" if silence.resend else ""), silence.ends)
    if spec.min_outlets > 1:
        have = len(state.independent_outlets(story)) if story is not None else 1
        if have < spec.min_outlets:
            return Verdict(name, "waiting-outlets", f"waiting for {spec.min_outlets - have} more outlet"
                           f"{'s' * (spec.min_outlets - have != 1)} to report the story in their own words "
                           f"(min_outlets {spec.min_outlets}; it has {have}); not sent if none does within the story window")
    due = at + rule.group_wait
    channel = state.channel_state(name)
    if channel.failures and channel.retry_at and channel.retry_at > due:
        return Verdict(name, "retrying", f"held back: the channel is failing ({channel.failures} attempts; last error: "
                       f"{channel.last_error}); next try {_when(channel.retry_at, spec)} ('run --once' tries at once)",
                       channel.retry_at)
    quiet = quiet_hold(spec, message, due)
    if quiet is not None:
        return Verdict(name, "quiet-hours", f"held for quiet hours until {_when(quiet, spec)}, then sent in one "
                       f"summary (alerts of severity {spec.quiet_min_severity} or higher go at once)", quiet)
    waited = f"after the rule's group_wait ({rule.group_wait / 60:g} min), " if rule.group_wait else ""
    if spec.digest:
        oldest = state.oldest_pending(name)
        digest = digest_due(spec, channel, min(oldest, due) if oldest is not None else due)
        return Verdict(name, "digest", f"{waited}into the digest of {_when(digest, spec)}", max(digest, due))
    if spec.max_per_hour:
        folded = folds_until(state, spec, channel, due)
        if folded is not None:
            return Verdict(name, "folded", f"{waited}folded by flood control (max_per_hour {spec.max_per_hour}) into "
                           f"the summary of {_when(folded, spec)}", folded)
    if rule.group_wait:
        return Verdict(name, "group-wait", f"sent {_when(due, spec)}, after the rule's group_wait "
                       f"({rule.group_wait / 60:g} min) to gather outlets", due)
    return Verdict(name, "sent", "sent now")


def _depends(silence: Silence, story: int | None) -> tuple[str, ...]:
    """The matchers of `silence` that only the report can decide (without a story)."""
    return () if story is not None else tuple(key for key in ("entity", "outlet", "tag") if key in silence.matchers)


def _escalates(rule: Rule, spec: ChannelSpec, by_name: dict[str, ChannelSpec], ack, verdict: Verdict) -> str:
    target = by_name.get(spec.escalate_to or "")
    if (not spec.escalate_after or target is None or verdict.outcome in ("silenced", "waiting-outlets")
            or SEVERITIES.index(rule.severity) < SEVERITIES.index(spec.escalate_min_severity)):
        return ""
    if not routing.accepts(target, rule):
        return f"would not escalate: {target.name}'s filters refuse it"
    if ack is not None:
        return "no escalation: the story is acknowledged"
    return f"escalates to {target.name} after {spec.escalate_after / 60:g} min if unacknowledged"


def _when(moment: float, spec: ChannelSpec) -> str:
    """A time in the channel's own time zone: "2026-12-05 07:00 PKT (Asia/Karachi)"."""
    local = datetime.fromtimestamp(moment, ZoneInfo(spec.timezone))
    return f"{local:%Y-%m-%d %H:%M %Z}" + (f" ({spec.timezone})" if spec.timezone != "UTC" else "")
