"""Delivering the outbox: pending alerts per channel, oldest first, through `alert`'s
channels; a channel that fails backs off as a whole, so its alerts keep their order."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random

from monitor import timing
from monitor.app import App
from monitor.model import AlertMessage

log = logging.getLogger("newsmon.delivery")
RETRY_BASE = 30.0
RETRY_CAP = 3600.0


def retry_delay(attempts: int) -> float:
    """Seconds before retrying a channel after `attempts` failed tries: 30 s doubling to 1 h, with jitter."""
    delay = min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


async def drain(app: App, *, ignore_backoff: bool = False, stop: asyncio.Event | None = None) -> tuple[int, int]:
    """Deliver due alerts, per channel, oldest first; returns (sent, failed). Drains never run
    at the same time (they take `app.outbox_lock`). With `stop`, no new delivery starts once it
    is set."""
    async with app.outbox_lock:
        return await _drain(app, ignore_backoff, stop)


async def _drain(app: App, ignore_backoff: bool, stop: asyncio.Event | None) -> tuple[int, int]:
    sent = failed = 0
    for channel_name in app.store.pending_channels():
        channel = app.channels.get(channel_name)
        if channel is None:
            log.warning("alerts waiting for a channel that is not configured channel=%s (kept)", channel_name)
            continue
        for pending in app.store.pending(channel_name, app.clock(), retry_now=ignore_backoff):
            if stop is not None and stop.is_set():
                return sent, failed
            if not app.store.claim(pending.id):
                continue
            message = _with_outlets(app, pending.story_id, pending.message)
            try:
                ok = await channel.deliver(message)
                problem = "the channel did not accept the alert"
            except Exception as error:  # a plugin bug must not lose the alert
                ok, problem = False, f"{type(error).__name__}: {error}"
            if ok:
                app.store.mark_sent(pending.id)
                sent += 1
                app.metrics.alerts_sent.labels(channel_name).inc()
                if pending.created:
                    app.metrics.latency.observe(max(0.0, app.clock() - pending.created))
                log.info("alert sent channel=%s rule=%s story=%d", channel_name, pending.rule, pending.story_id)
                continue
            app.metrics.alerts_failed.labels(channel_name).inc()
            delay = retry_delay(pending.attempts + 1)
            app.store.mark_failed(pending.id, problem, app.clock() + delay)
            failed += 1
            log.warning("alert not delivered channel=%s rule=%s story=%d attempt=%d error=%s (retry in %.0fs)",
                        channel_name, pending.rule, pending.story_id, pending.attempts + 1, problem, delay)
            break  # keep this channel's order: later alerts wait behind the failed one
    return sent, failed


def _with_outlets(app: App, story: int, message: AlertMessage) -> AlertMessage:
    """The alert with the other outlets that have reported its story by now."""
    others = tuple((outlet, timing.iso(first) or "") for outlet, first, _url in app.store.story_outlets(story)
                   if outlet != message.outlet)
    return dataclasses.replace(message, also_reported_by=others) if others else message


