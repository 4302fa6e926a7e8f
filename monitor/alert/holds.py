"""What holds an alert back before the drain sends it, and until when: the drain acts on these,
and `route-test` explains with them (`explain`).

Corroboration: a channel with `min_outlets` gets its alerts queued 'held' (`routing`); here they
are released once that many outlets have reported their story in their own words (copies of one
text count once), or recorded as not corroborated when the story window passes first. The drain
runs this first in every round, so a held alert is judged at least every round. Then a
channel's quiet hours (`quiet_hold`), its flood control (`folds_until`) and its digest
(`digest_due`) say until when an alert waits."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from monitor import schedule
from monitor.alert.outbox import Outbox
from monitor.model import SEVERITIES, ChannelSpec, ChannelState

log = logging.getLogger("newsmon.delivery")
HOUR = 3600.0


def release(outbox: Outbox, min_outlets: Mapping[str, int], now: float, window: float) -> None:
    """Held alerts whose story enough outlets have now reported become pending (then a rule's
    `group_wait`, if any, still applies; their 48-hour deadline counts from now); those that
    waited the whole story `window` are recorded as not corroborated and never sent. A channel
    that no longer asks for corroboration, or is gone, releases them (the drain then treats them
    as any other alert). `min_outlets`: each configured channel's."""
    counts: dict[int, int] = {}
    released, lapsed = [], []
    for alert in outbox.held():
        need = min_outlets.get(alert.channel, 1)
        if alert.story_id not in counts:
            counts[alert.story_id] = len(outbox.independent_outlets(alert.story_id))
        if counts[alert.story_id] >= need:
            released.append(alert)
            log.info("alert released: story %d reported by %d outlet(s) independently alert=%d channel=%s rule=%s "
                     "(min_outlets %d)", alert.story_id, counts[alert.story_id], alert.id, alert.channel, alert.rule, need)
        elif alert.created + window <= now:
            lapsed.append(alert)
            log.info("alert not corroborated: no second outlet reported story %d within the story window (%.0f h); "
                     "not sent alert=%d channel=%s rule=%s title=%r", alert.story_id, window / HOUR, alert.id,
                     alert.channel, alert.rule, alert.message.title)
    if released:
        outbox.release([alert.id for alert in released], now)
    if lapsed:
        outbox.not_corroborated([alert.id for alert in lapsed], f"not corroborated: no other outlet within {window / HOUR:g} h")


def quiet_hold(spec: ChannelSpec, message, now: float) -> float | None:
    """Until when the channel's quiet hours hold this alert at `now` (None: it goes): those
    below `quiet_min_severity`, and newsmon's notices; never an escalation."""
    if not spec.quiet_hours or message.escalation:
        return None
    if SEVERITIES.index(message.severity) >= SEVERITIES.index(spec.quiet_min_severity):
        return None
    return schedule.quiet_until(spec.quiet_hours, spec.timezone, now)


def folds_until(outbox, spec: ChannelSpec, state: ChannelState, now: float) -> float | None:
    """Whether flood control would fold an alert queued now into a summary, and until when
    (None: it goes alone): the channel is folding already, or the alerts sent alone in the
    sliding hour and those waiting ahead of it use up `max_per_hour`."""
    limit = spec.max_per_hour or 0
    if state.fold_until is not None and now < state.fold_until:
        return state.fold_until
    start = now if state.fold_until is not None else state.window_start  # a summary due now restarts the count
    count, earliest = outbox.sends_since(spec.name, max(now - HOUR, start or 0.0))
    ahead = [row for row in outbox.pending(spec.name, now, limit=None)
             if state.fold_until is None or row.created >= state.fold_until]
    if count + len(ahead) < limit:
        return None
    return (earliest if count else now) + HOUR


def digest_due(spec: ChannelSpec, state: ChannelState, oldest: float) -> float:
    """When a digest channel's next digest goes out: the first period boundary after its oldest
    waiting alert was queued (and after the last digest)."""
    start = max(state.digest_since or 0.0, oldest)
    return schedule.next_digest(start, every=spec.digest_every, cron=spec.digest_cron, zone=spec.timezone)
