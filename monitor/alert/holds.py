"""What holds an alert back before the drain sends it: corroboration. A channel with
`min_outlets` gets its alerts queued 'held' (`routing`); here they are released once that many
outlets have reported their story in their own words (copies of one text count once), or
recorded as not corroborated when the story window passes first. The drain runs this first in
every round, so a held alert is judged at least every round."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from monitor.alert.outbox import Outbox

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
