"""Delivering the outbox, per channel, oldest first.

Each channel is one of three kinds, by its configuration:
- immediate: every alert alone, as soon as it is due;
- flood-controlled (`max_per_hour`): alone while the channel has sent fewer than that many in
  the sliding hour; past it, the rest fold into a summary sent when that hour ends (then the
  count starts again) — never dropped, split into several messages when long;
- digest (`digest`): one message per period listing every story, grouped by rule.

A channel whose target fails backs off as a whole (30 s doubling to 1 h, with jitter), so its
alerts keep their order; a retry goes only to the targets that have not accepted the alert. An
alert still unsent 48 h after it was queued becomes dead (one ERROR line; `newsmon alerts --dead`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor import alert, timing
from monitor.app import App
from monitor.model import AlertMessage, ChannelSpec, PendingAlert
from monitor.store import ChannelState

log = logging.getLogger("newsmon.delivery")
RETRY_BASE = 30.0
RETRY_CAP = 3600.0
HOUR = 3600.0


def retry_delay(attempts: int) -> float:
    """Seconds before retrying a channel after `attempts` failed tries: 30 s doubling to 1 h, with jitter."""
    delay = min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


@dataclasses.dataclass
class Tally:
    sent: int = 0
    failed: int = 0


async def drain(app: App, *, ignore_backoff: bool = False, stop: asyncio.Event | None = None) -> tuple[int, int]:
    """Deliver what is due, per channel; returns (alerts sent, failed attempts). Drains never
    run at the same time (they take `app.outbox_lock`). `ignore_backoff` (run --once) tries
    every channel now, whatever its backoff. With `stop`, no new delivery starts once it is set."""
    async with app.outbox_lock:
        tally = Tally()
        _expire(app)
        for name in app.store.pending_channels():
            if stop is not None and stop.is_set():
                break
            channel = app.channels.get(name)
            if channel is None or not channel.targets:
                if ("channel", name) not in app.warned:
                    app.warned.add(("channel", name))
                    log.warning("alerts waiting for a channel that is not configured channel=%s (kept; they become "
                                "dead 48 h after they were queued)", name)
                continue
            state = app.store.channel_state(name)
            if not ignore_backoff and state.retry_at and app.clock() < state.retry_at:
                continue
            if channel.spec.digest:
                await _digest(app, channel, state, tally)
            elif channel.spec.max_per_hour:
                await _flood_controlled(app, channel, state, tally, stop)
            else:
                await _singles(app, channel, state, tally, stop)
        return tally.sent, tally.failed


def _expire(app: App) -> None:
    for row in app.store.expire(app.clock()):
        app.metrics.alerts_dead.labels(row.channel).inc()
        log.error("alert dead: not delivered within 48 h alert=%d channel=%s rule=%s story=%d title=%r last_error=%s "
                  "(listed by 'newsmon alerts --dead'; 'newsmon alerts --retry-dead' queues it again)",
                  row.id, row.channel, row.rule, row.story_id, row.title, row.last_error)


async def _singles(app: App, channel: alert.Channel, state: ChannelState, tally: Tally,
                   stop: asyncio.Event | None, budget: int | None = None) -> bool:
    """Send due alerts one by one, oldest first, until none is left, the channel fails, `stop`
    is set or `budget` alerts were sent. Returns True when alerts are left over because of the
    budget."""
    while True:
        batch = app.store.pending(channel.name, app.clock())
        if not batch:
            return False
        for pending in batch:
            if stop is not None and stop.is_set():
                return False
            if budget is not None and budget <= 0:
                return True
            message = _with_outlets(app, pending.story_id, pending.message)
            thread = alert.thread_id(pending.story_id, pending.rule)
            accepted, problems = set(), []
            for target in channel.targets:
                if target.id in pending.delivered:
                    continue
                title, body = channel.render(message, target)
                outcome = await channel.deliver(target, title, body, thread, reply=message.update)
                if outcome.ok:
                    accepted.add(target.id)
                else:
                    problems.append(f"{target.privacy}: {outcome.reason}")
            now = app.clock()
            problem = "; ".join(problems) or None
            app.store.mark_delivered([pending.id], accepted, now, "alert", channel.target_ids, problem)
            if problem:
                _failed(app, channel, state, problem, tally)
                return False
            tally.sent += 1
            if budget is not None:
                budget -= 1
            app.metrics.alerts_sent.labels(channel.name).inc()
            if pending.created:
                app.metrics.latency.observe(max(0.0, now - pending.created))
            log.info("alert sent channel=%s rule=%s story=%d", channel.name, pending.rule, pending.story_id)
            state = _succeeded(app, channel, state)


async def _flood_controlled(app: App, channel: alert.Channel, state: ChannelState, tally: Tally,
                            stop: asyncio.Event | None) -> None:
    limit = channel.spec.max_per_hour or 0
    now = app.clock()
    if state.fold_until is not None:
        pending = app.store.pending(channel.name, now, limit=None)
        held = [row for row in pending if row.created < state.fold_until]
        if now < state.fold_until:
            app.store.hold(channel.name, state.fold_until)
            return
        if held:
            batch = alert.Batch(
                heading=f"newsmon · {channel.name}: {len(held)} more alert{'s' * (len(held) != 1)} (flood control)",
                intro=f"More than {limit} alerts within the hour from {timing.iso(state.fold_until - HOUR)}: these were "
                      f"held back to keep this channel usable (max_per_hour = {limit}). Every one is listed.",
                messages=())
            if not await _batch(app, channel, state, held, batch, "summary", tally):
                return
            log.info("flood summary sent channel=%s alerts=%d", channel.name, len(held))
        now = app.clock()
        app.store.set_channel_state(channel.name, fold_until=None, window_start=now)
        state = dataclasses.replace(state, fold_until=None, window_start=now)
    count, _earliest = app.store.sends_since(channel.name, max(now - HOUR, state.window_start or 0.0))
    if not await _singles(app, channel, state, tally, stop, budget=limit - count):
        return
    _count, earliest = app.store.sends_since(channel.name, max(now - HOUR, state.window_start or 0.0))
    fold_until = (earliest or now) + HOUR
    app.store.set_channel_state(channel.name, fold_until=fold_until)
    app.store.hold(channel.name, fold_until)
    log.warning("flood control channel=%s max_per_hour=%d: further alerts fold into one summary at %s",
                channel.name, limit, timing.iso(fold_until))


async def _digest(app: App, channel: alert.Channel, state: ChannelState, tally: Tally) -> None:
    """One message per period with every pending alert: due at the first period boundary after
    the oldest of them was queued (and after the last digest)."""
    spec = channel.spec
    now = app.clock()
    rows = app.store.pending(channel.name, now, limit=None)
    if not rows:
        return
    due = digest_due(spec, state, rows[0].created)
    if now < due:
        app.store.hold(channel.name, due)  # a weekly digest's alerts are not dead after 48 h
        return
    zone = ZoneInfo(spec.timezone)
    since = datetime.fromtimestamp(state.digest_since or rows[0].created, zone)
    until = datetime.fromtimestamp(due, zone)
    stories = len({row.story_id for row in rows})
    batch = alert.Batch(
        heading=f"newsmon digest · {channel.name}: {stories} stor{'ies' if stories != 1 else 'y'}, "
                f"{since:%Y-%m-%d %H:%M} to {until:%H:%M %Z}",
        intro=f"{len(rows)} alert{'s' * (len(rows) != 1)} since {since:%Y-%m-%d %H:%M %Z}, grouped by rule.",
        messages=())
    if await _batch(app, channel, state, rows, batch, "digest", tally):
        app.store.set_channel_state(channel.name, digest_since=now)
        log.info("digest sent channel=%s alerts=%d stories=%d", channel.name, len(rows), stories)


def digest_due(spec: ChannelSpec, state: ChannelState, oldest: float) -> float:
    """When a digest channel's next digest goes out: the first period boundary after its oldest
    waiting alert was queued (and after the last digest)."""
    start = max(state.digest_since or 0.0, oldest)
    return timing.next_digest(start, every=spec.digest_every, cron=spec.digest_cron, zone=spec.timezone)


async def _batch(app: App, channel: alert.Channel, state: ChannelState, rows: list[PendingAlert],
                 batch: alert.Batch, via: str, tally: Tally) -> bool:
    """Send `rows` as one batch message (several parts when long) to every target that has not
    had them yet, recording each part as it is accepted. False when a target failed."""
    messages = [_with_outlets(app, row.story_id, row.message) for row in rows]
    for target in channel.targets:
        todo = [index for index, row in enumerate(rows) if target.id not in row.delivered]
        if not todo:
            continue
        parts = channel.parts(dataclasses.replace(batch, messages=tuple(messages[i] for i in todo)), target)
        for part in parts:
            outcome = await channel.deliver(target, part.title, part.body)
            if not outcome.ok:
                problem = f"{target.privacy}: {outcome.reason}"
                app.store.mark_delivered([rows[i].id for i in todo], (), app.clock(), via, channel.target_ids,
                                         problem)  # none accepted: an attempt, and why it failed
                _failed(app, channel, state, problem, tally)
                return False
            ids = [rows[todo[member]].id for member in part.members]
            tally.sent += app.store.mark_delivered(ids, {target.id}, app.clock(), via, channel.target_ids)
            app.metrics.alerts_sent.labels(channel.name).inc(len(ids))
    _succeeded(app, channel, state)
    return True


def _failed(app: App, channel: alert.Channel, state: ChannelState, problem: str, tally: Tally) -> None:
    """The channel backs off as a whole. Said once (WARNING) per new problem; repeats at DEBUG."""
    failures = state.failures + 1
    delay = retry_delay(failures)
    app.store.set_channel_state(channel.name, failures=failures, retry_at=app.clock() + delay, last_error=problem)
    tally.failed += 1
    app.metrics.alerts_failed.labels(channel.name).inc()
    if state.last_error != problem:
        log.warning("channel failed channel=%s attempt=%d error=%s (its alerts wait, in order; retry in %.0fs)",
                    channel.name, failures, problem, delay)
    else:
        log.debug("channel still failing channel=%s attempt=%d (retry in %.0fs)", channel.name, failures, delay)


def _succeeded(app: App, channel: alert.Channel, state: ChannelState) -> ChannelState:
    if state.failures or state.retry_at:
        app.store.set_channel_state(channel.name, failures=0, retry_at=None, last_error=None)
        log.info("channel recovered channel=%s after_failures=%d", channel.name, state.failures)
        return dataclasses.replace(state, failures=0, retry_at=None, last_error=None)
    return state


def _with_outlets(app: App, story: int, message: AlertMessage) -> AlertMessage:
    """The alert with the other outlets that have reported its story by now."""
    others = tuple((outlet, timing.iso(first) or "") for outlet, first, _url in app.store.story_outlets(story)
                   if outlet != message.outlet)
    return dataclasses.replace(message, also_reported_by=others) if others else message
