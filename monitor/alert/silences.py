"""Silences and acknowledgements, applied at send time (so a silence also holds alerts already
waiting, and takes effect in a running daemon at its next delivery round).

A silence matches an alert when every matcher it has matches (a matcher with several values
matches any of them): rule, entity the rule hit (`ttp`, `pack.ttp`), story (or a story merged
into it), outlet (the domain or a parent domain), the feed's tag, channel, and severity ("this
or lower"). A matched alert is recorded as silenced: its (rule, story, channel) counts as
alerted, so later reports of the story do not alert it again; when the silence ends, what it
held is sent if it was made with `resend`, and a notice on the admin channels says how many
alerts it held, or that it matched nothing in its whole life. newsmon's own notices are never
silenced (they say newsmon's health). A channel with `quiet_after_ack` sends no follow-ups of a
story someone acknowledged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from monitor import times
from monitor.alert import message as messages
from monitor.alert.outbox import Outbox
from monitor.model import SEVERITIES, PendingAlert, Silence

log = logging.getLogger("newsmon.delivery")
NOTICE = "newsmon:silence"


def matches(silence: Silence, alert: PendingAlert, stories: Iterable[int]) -> bool:
    """Whether `silence` matches `alert` (`stories`: its story and those merged into it)."""
    wanted, message = silence.matchers, alert.message
    checks = {
        "rule": lambda values: alert.rule in values,
        "channel": lambda values: alert.channel in values,
        "story": lambda values: bool(set(stories) & set(values)),
        "outlet": lambda values: any(_same_site(message.outlet, value) for value in values),
        "entity": lambda values: bool(set(values) & set(message.entities)),
        "tag": lambda values: bool(set(values) & set(message.tags)),
        "severity": lambda value: SEVERITIES.index(message.severity) <= SEVERITIES.index(value),
    }
    return all(checks[key](value) for key, value in wanted.items() if key in checks)


def _same_site(outlet: str, value: str) -> bool:
    outlet, value = outlet.lower().removeprefix("www."), value.lower().removeprefix("www.")
    return outlet == value or outlet.endswith("." + value)


def apply(outbox: Outbox, quiet_after_ack: Mapping[str, bool], now: float) -> None:
    """Record as silenced the waiting alerts that a silence in force matches, and the follow-ups
    of acknowledged stories on channels with `quiet_after_ack`."""
    active = sorted(outbox.silences(active_at=now), key=lambda silence: silence.id)
    quiet_channels = {name for name, quiet in quiet_after_ack.items() if quiet}
    by_story = any("story" in silence.matchers for silence in active)  # then stories merged into one count too
    silenced, quiet, stopped = [], [], []
    for alert in outbox.pending_everywhere():
        if alert.rule.startswith("newsmon:"):
            continue
        stories = (alert.story_id, *outbox.merged_from(alert.story_id)) if by_story else (alert.story_id,)
        found = next((silence for silence in active if matches(silence, alert, stories)), None)
        if found is not None:
            silenced.append((alert.id, found.id))
            log.info("alert silenced by silence %d alert=%d channel=%s rule=%s story=%d (until %s: %s)", found.id,
                     alert.id, alert.channel, alert.rule, alert.story_id, times.shown(found.ends), found.reason)
        elif alert.message.escalation and outbox.ack(alert.story_id) is not None:
            stopped.append(alert.id)
        elif alert.channel in quiet_channels and alert.message.update and outbox.ack(alert.story_id) is not None:
            quiet.append(alert.id)
    if silenced:
        outbox.silence_alerts(silenced)
    if quiet:
        outbox.quiet_alerts(quiet, "a follow-up of an acknowledged story (the channel's quiet_after_ack)")
    if stopped:
        outbox.quiet_alerts(stopped, "an escalation stopped: its story was acknowledged before it went out")


def end(outbox: Outbox, admin: tuple[str, ...], now: float) -> None:
    """Handle the silences that have ended: resend what they held if asked to, and say so on the
    admin channels, once each."""
    for silence in outbox.ended_silences(now):
        resent = outbox.end_silence(silence, now)
        held = (f"it held {silence.held} alert{'s' * (silence.held != 1)}" if silence.held
                else "it matched nothing in its whole life")
        then = (f"; {resent} queued again now" if resent else "; they stay unsent (it was not made with "
                "--resend-on-expiry)" if silence.held else "")
        title = f"Silence {silence.id} ended: {held}"
        body = (f"Silence {silence.id} ({describe(silence.matchers)}) ended {times.shown(now)}; {held}{then}. "
                f"Reason: {silence.reason}" + (f" (by {silence.by})" if silence.by else ""))
        log.info("silence ended silence=%d held=%d resent=%d: %s", silence.id, silence.held, resent, silence.reason)
        if admin:
            outbox.queue_notice(NOTICE, admin, messages.notice(NOTICE, title, body, url=None, source="newsmon",
                                                              now=now), now)


def describe(matchers: dict) -> str:
    """A silence's matchers for people: "rule kp-attacks, story 12 or 14, severity medium or lower"."""
    parts = []
    for key, value in sorted(matchers.items()):
        if key == "severity":
            parts.append(f"severity {value} or lower")
        else:
            parts.append(f"{key} {' or '.join(map(str, value))}")
    return ", ".join(parts)
