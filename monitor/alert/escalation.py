"""Escalation: an alert delivered on a channel with `escalate_after` and not acknowledged within
that time is sent once to `escalate_to`, saying it is an escalation. The clock starts at
delivery; only alerts at least `escalate_min_severity` (default critical) escalate; the target
channel's `min_severity` and `rules` apply, its quiet hours do not (escalation exists to wake
someone); acknowledging the story (`newsmon ack`) stops it, and a silenced alert, never sent,
never escalates. An escalation is its own alert on the target channel, queued in the outbox
like any other, so it is retried, and never lost or sent twice."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from monitor.alert import routing
from monitor.alert.outbox import Outbox
from monitor.model import SEVERITIES, ChannelSpec

log = logging.getLogger("newsmon.delivery")
LOOK_BACK = 24 * 3600.0  # alerts sent longer ago than their escalation time plus this are not escalated any more


def escalate(outbox: Outbox, specs: Mapping[str, ChannelSpec], now: float) -> None:
    """Queue the escalations that are due, once each."""
    for name, spec in specs.items():
        target = specs.get(spec.escalate_to or "")
        if not spec.escalate_after or target is None:
            continue
        minutes = f"{spec.escalate_after / 60:g} min"
        for alert in outbox.unescalated(name, now - spec.escalate_after, now - spec.escalate_after - LOOK_BACK):
            if (alert.rule.startswith("newsmon:") or alert.message.escalation
                    or SEVERITIES.index(alert.message.severity) < SEVERITIES.index(spec.escalate_min_severity)
                    or not routing.takes(target, alert.rule, alert.message.severity)
                    or outbox.ack(alert.story_id) is not None):
                continue
            message = dataclasses.replace(alert.message, escalation=f"not acknowledged within {minutes} on {name}")
            if outbox.escalate(alert.id, target.name, message, now):
                log.warning("alert escalated alert=%d channel=%s to=%s rule=%s story=%d: not acknowledged within %s "
                            "('newsmon ack %d' stops escalations)", alert.id, name, target.name, alert.rule,
                            alert.story_id, minutes, alert.story_id)
