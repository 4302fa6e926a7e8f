"""Proof that alerts still flow: a channel failing for longer than `failing_alert_after` is said
once on the admin channels (and once more when it recovers), and a channel with `heartbeat`
gets a short "newsmon is watching N feeds; M alerts in the last 24 h" message on that period,
so that silence on it means that nothing happened, not that newsmon died.

Both are newsmon's own notices, queued in the outbox like alerts (retried, never lost or sent
twice). A failing notice never goes to the failing channel itself; when that is the only admin
channel, the failure is one ERROR log line and the `newsmon_channel_failing_seconds` metric.
The drain runs this after each round's attempts (a channel is failing while its last attempt
failed); what was said is recorded in the channel's state, so a restart says nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from monitor import times
from monitor.alert import message as messages
from monitor.alert.outbox import Outbox
from monitor.model import ChannelSpec, ChannelState

log = logging.getLogger("newsmon.delivery")
FAILING = "newsmon:channel-failing"
HEARTBEAT = "newsmon:heartbeat"
DAY = 86400.0


def span(seconds: float) -> str:
    """"2 h 10 min", "45 min", "30 s" for people."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    if hours >= 48:
        return f"{hours // 24} d {hours % 24} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def failing(outbox: Outbox, states: Mapping[str, ChannelState], admin: tuple[str, ...], after: float, now: float,
            gauge=None) -> set[str]:
    """Say, once each, which channels have been failing longer than `after`, and which of
    those have recovered; returns the channels a notice was queued for. `states`: every
    configured channel's; `gauge`: the metric newsmon_channel_failing_seconds (labelled by
    channel), or None."""
    told: set[str] = set()
    for name, state in states.items():
        if gauge is not None:
            gauge.labels(name).set(now - state.failing_since if state.failures and state.failing_since else 0)
        if state.failures and state.failing_since is not None and state.failing_notice is None:
            if now - state.failing_since <= after:  # longer than `after`
                continue
            others = tuple(channel for channel in admin if channel != name)
            title = f"Channel {name} has been failing for {span(now - state.failing_since)}"
            body = (f"newsmon cannot deliver to channel {name} since {times.shown(state.failing_since)} "
                    f"({state.failures} attempts; last error: {state.last_error or 'unknown'}). Its alerts wait in "
                    f"order and go when it recovers ('newsmon status' shows it; 'newsmon notify-test {name}' tries it).")
            if others:
                told.update(others)
                outbox.queue_notice(FAILING, others, messages.notice(FAILING, title, body, url=None, source="newsmon",
                                                                     now=now), now)
                log.warning("channel failing for %s channel=%s: said on %s", span(now - state.failing_since), name,
                            ",".join(others))
            else:
                log.error("channel failing for %s channel=%s error=%s (it is the only admin channel, so nothing else "
                          "can say it: see newsmon_channel_failing_seconds)", span(now - state.failing_since), name,
                          state.last_error)
            outbox.set_channel_state(name, failing_notice=now)
        elif not state.failures and state.failing_notice is not None:
            began = state.failing_since or state.failing_notice
            others = tuple(channel for channel in admin if channel != name)
            outbox.set_channel_state(name, failing_notice=None, failing_since=None)
            if not others:  # its failure was an ERROR line only: so is its recovery (INFO)
                log.info("channel recovered channel=%s after %s failing", name, span(now - began))
                continue
            told.update(others)
            title = f"Channel {name} recovered after {span(now - began)}"
            body = (f"Channel {name} delivers again ({times.shown(now)}); it had been failing since "
                    f"{times.shown(began)}. The alerts that waited for it have been or are being sent, in order.")
            outbox.queue_notice(FAILING, others, messages.notice(FAILING, title, body, url=None, source="newsmon",
                                                                 now=now), now)
            log.info("channel recovered channel=%s after %s: said on %s", name, span(now - began), ",".join(others))
    return told


def heartbeats(outbox: Outbox, specs: Mapping[str, ChannelSpec], states: Mapping[str, ChannelState], feeds: int,
               now: float) -> set[str]:
    """Queue each channel's heartbeat when its period has passed since the last one (the first
    one period after newsmon first saw the setting); returns the channels it was queued for."""
    told: set[str] = set()
    for name, spec in specs.items():
        if not spec.heartbeat:
            continue
        last = states[name].heartbeat_at
        if last is None:
            outbox.set_channel_state(name, heartbeat_at=now)
            continue
        if now < last + spec.heartbeat:
            continue
        sent = outbox.alerted_since(now - DAY)
        waiting = sum(outbox.alert_counts().get(status, 0) for status in ("pending", "held"))
        title = f"newsmon is watching {feeds} feed{'s' * (feeds != 1)}; {sent} alert{'s' * (sent != 1)} in the last 24 h"
        body = (f"A heartbeat from newsmon on channel {name} (every {span(spec.heartbeat)}): {feeds} "
                f"feed{'s' * (feeds != 1)} watched, {sent} alert{'s' * (sent != 1)} sent in the last 24 h, "
                f"{waiting} waiting. If this message stops coming, newsmon or this channel is down.")
        outbox.queue_notice(HEARTBEAT, (name,), messages.notice(HEARTBEAT, title, body, url=None, source="newsmon",
                                                                now=now), now)
        outbox.set_channel_state(name, heartbeat_at=now)
        told.add(name)
        log.info("heartbeat queued channel=%s feeds=%d sent_24h=%d", name, feeds, sent)
    return told
