"""Draining the outbox: delivering pending alerts per channel, oldest first.

Each channel is one of three kinds, by its configuration:
- immediate: every alert alone, as soon as it is due;
- flood-controlled (`max_per_hour`): alone while the channel has sent fewer than that many in
  the sliding hour; past it, the rest fold into a summary sent when that hour ends (then the
  count starts again) — never dropped, split into several messages when long;
- digest (`digest`): one message per period listing every story, grouped by rule.

A channel with `min_outlets` gets its alerts held until that many outlets have reported the
story in their own words (copies of one text count once); an alert no second outlet
corroborates within the story window is recorded as not corroborated and never sent.

A channel whose target fails backs off as a whole (30 s doubling to 1 h, with jitter), so its
alerts keep their order; a retry goes only to the targets that have not accepted the alert. An
alert still unsent 48 h after it was queued (or released) becomes dead (one ERROR line; `newsmon alerts --dead`).

The drain works against `Outbox`, the narrow interface it needs from the state database (the
store satisfies it; `alert` and `store` are stages that never import each other).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from monitor import schedule, times
from monitor.alert import batches, escalation, health, holds, message as messages, silences
from monitor.alert.channel import Channel, thread_id
from monitor.alert.outbox import Outbox
from monitor.errors import StoreError
from monitor.metrics import Metrics
from monitor.model import REFUSALS_TO_FAIL, ChannelState, PendingAlert

log = logging.getLogger("newsmon.delivery")
RETRY_BASE = 30.0
RETRY_CAP = 3600.0
HOUR = 3600.0


def retry_delay(attempts: int) -> float:
    """Seconds before retrying a channel after `attempts` failed tries: 30 s doubling to 1 h, with jitter."""
    delay = min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.2)


@dataclasses.dataclass(frozen=True)
class Mark:
    """An attempt's outcome to record: `targets` accepted alerts `ids`; `refused` refused them
    for good; `error` says why the others did not. Kept in memory while the store cannot take
    it, and recorded first at the next drain: the alerts are not sent again meanwhile."""

    ids: tuple[int, ...]
    targets: frozenset[str]
    now: float
    via: str
    required: tuple[str, ...]
    error: str | None = None
    refused: frozenset[str] = frozenset()
    channel: str = ""

    def record(self, outbox: Outbox) -> int:
        """Write it; returns how many alerts became sent."""
        return outbox.mark_delivered(self.ids, self.targets, self.now, self.via, self.required, self.error,
                                     self.refused)


@dataclasses.dataclass
class _Round:
    """One drain: what it works with, and what it did."""

    outbox: Outbox
    clock: Callable[[], float]
    metrics: Metrics
    unrecorded: list[Mark]
    every_attempt: bool = False  # backoff ignored (run --once): the next try is the next run
    sent: int = 0
    failed: int = 0
    failing: set[str] = dataclasses.field(default_factory=set)  # channels that failed in this round

    def record(self, mark: Mark) -> int:
        """Record an outcome (see `Mark`); returns how many alerts became sent. A store fault
        keeps it in `unrecorded` and stops the drain (StoreError)."""
        try:
            return mark.record(self.outbox)
        except StoreError:
            self.unrecorded.append(mark)
            raise


async def drain(outbox: Outbox, channels: Mapping[str, Channel], *, clock: Callable[[], float], metrics: Metrics,
                lock: asyncio.Lock, warned: set[tuple[str, str]], ignore_backoff: bool = False,
                stop: asyncio.Event | None = None, unrecorded: list[Mark] | None = None,
                window: float = 72 * HOUR, admin: tuple[str, ...] = (), feeds: int = 0,
                failing_after: float = HOUR) -> tuple[int, int]:
    """Deliver what is due, per channel; returns (alerts sent, failed attempts). Drains never
    run at the same time (they take `lock`, one per running newsmon). `ignore_backoff` (run
    --once) tries every channel now, whatever its backoff. With `stop`, no new delivery starts
    once it is set. `warned` remembers what was said once (alerts for a channel that is gone).

    Every send is recorded in the store before it is made (`Outbox.begin_attempt`) and its
    outcome after: a store that cannot write stops the drain (StoreError, for the caller to
    say) instead of sending again what it could not mark. Outcomes it could not record wait in
    `unrecorded` (one list per running newsmon) and are recorded first next time. Alerts held
    for corroboration are released first (`window`: how long they may wait, the story window).
    A channel failing longer than `failing_after` is said on the `admin` channels, and when it
    recovers; heartbeats say how many `feeds` newsmon watches (`monitor.alert.health`)."""
    async with lock:
        run = _Round(outbox, clock, metrics, unrecorded if unrecorded is not None else [], every_attempt=ignore_backoff)
        while run.unrecorded:  # outcomes a store fault kept out: recorded first, never sent again
            mark = run.unrecorded[0]
            sent = mark.record(outbox)
            run.unrecorded.pop(0)
            run.sent += sent
            if sent:
                metrics.alerts_sent.labels(mark.channel).inc(sent)
                log.info("alert sent (recorded late: the store could not record it at the time) channel=%s alerts=%s",
                         mark.channel, ",".join(map(str, mark.ids)))
        silences.end(outbox, admin, clock())  # what ended silences held goes first, if they resend it
        silences.apply(outbox, {name: channel.spec.quiet_after_ack for name, channel in channels.items()}, clock())
        holds.release(outbox, {name: channel.spec.min_outlets for name, channel in channels.items()}, clock(), window)
        escalation.escalate(outbox, {name: channel.spec for name, channel in channels.items()}, clock())
        _expire(run, [name for name, channel in channels.items() if channel.configured])
        await _deliver(run, channels, outbox.pending_channels(), warned, stop)
        # judged after this round's attempts (a channel failing is one whose last attempt failed);
        # what that queues goes now, on the channels that did not fail in this round
        if again := _health(run, channels, admin, feeds, failing_after) - run.failing:
            await _deliver(run, channels, sorted(again), warned, stop)
        return run.sent, run.failed


def _health(run: _Round, channels: Mapping[str, Channel], admin: tuple[str, ...], feeds: int, after: float) -> set[str]:
    """Failing and recovered channels said, heartbeats queued; returns the channels that got a notice."""
    configured = {name: channel.spec for name, channel in channels.items() if channel.configured}
    states = {name: run.outbox.channel_state(name) for name in configured}
    return (health.failing(run.outbox, states, admin, after, run.clock(), run.metrics.channel_failing)
            | health.heartbeats(run.outbox, configured, states, feeds, run.clock()))


async def _deliver(run: _Round, channels: Mapping[str, Channel], names: list[str], warned: set[tuple[str, str]],
                   stop: asyncio.Event | None) -> None:
    """One pass over the channels with alerts waiting, each as its kind says."""
    outbox, clock, ignore_backoff = run.outbox, run.clock, run.every_attempt
    for name in names:
        if stop is not None and stop.is_set():
            break
        channel = channels.get(name)
        if channel is None or not channel.targets:
            if ("channel", name) not in warned:
                warned.add(("channel", name))
                log.warning("alerts waiting for a channel that is not configured channel=%s (kept; they become "
                            "dead 48 h after they were queued)", name)
            continue
        state = outbox.channel_state(name)
        if not ignore_backoff and state.retry_at and clock() < state.retry_at:
            continue
        if channel.spec.quiet_hours and await _quiet(run, channel, state):
            continue
        if channel.spec.digest:
            await _digest(run, channel, state)
        elif channel.spec.max_per_hour:
            await _flood_controlled(run, channel, state, stop)
        else:
            await _singles(run, channel, state, stop)


def _with_outlets(run: _Round, alert: PendingAlert):
    """The alert's message with its story's outlets as they stand at delivery, and who
    acknowledged the story, if someone did."""
    message = messages.with_outlets(alert.message, run.outbox.story_outlets(alert.story_id),
                                    run.outbox.independent_outlets(alert.story_id))
    ack = run.outbox.ack(alert.story_id)
    return messages.acknowledged(message, ack) if ack is not None else message


def _expire(run: _Round, configured: list[str]) -> None:
    for row in run.outbox.expire(run.clock(), configured):
        run.metrics.alerts_dead.labels(row.channel).inc()
        log.error("alert dead: not delivered within 48 h alert=%d channel=%s rule=%s story=%d title=%r last_error=%s "
                  "(listed by 'newsmon alerts --dead'; 'newsmon alerts --retry-dead' queues it again)",
                  row.id, row.channel, row.rule, row.story_id, row.title, row.last_error)


async def _singles(run: _Round, channel: Channel, state: ChannelState,
                   stop: asyncio.Event | None, budget: int | None = None) -> bool:
    """Send due alerts one by one, oldest first, until none is left, the channel fails, `stop`
    is set or `budget` alerts were sent. Returns True when alerts are left over because of the
    budget. An alert a target refuses for good waits a little and is tried again, then fails
    for that target; the channel goes on with its next alert meanwhile."""
    while True:
        batch = run.outbox.pending(channel.name, run.clock())
        if not batch:
            return False
        for pending in batch:
            if stop is not None and stop.is_set():
                return False
            if budget is not None and budget <= 0:
                return True
            message = _with_outlets(run, pending)
            thread = thread_id(pending.story_id, pending.rule, run.outbox.merged_from(pending.story_id))
            run.outbox.begin_attempt([pending.id], run.clock())  # nothing is sent that cannot be recorded
            accepted, refused, problems, passing = set(), set(), [], []
            for target in channel.targets:
                if target.id in pending.delivered or target.id in pending.refused:
                    continue
                title, body = channel.render(message, target)
                outcome = await channel.deliver(target, title, body, thread, reply=message.update)
                if outcome.ok:
                    accepted.add(target.id)
                else:
                    problems.append(f"{target.privacy}: {outcome.reason}")
                    if outcome.permanent:
                        refused.add(target.id)
                    else:
                        passing.append(problems[-1])
            now = run.clock()
            problem = "; ".join(problems) or None
            became_sent = run.record(Mark((pending.id,), frozenset(accepted), now, "alert", tuple(channel.target_ids),
                                          problem, frozenset(refused), channel.name))
            if refused:
                _refused(run, channel, pending, problem or "")
            if passing:
                _failed(run, channel, state, "; ".join(passing))
                return False
            if not became_sent:
                continue
            run.sent += 1
            if budget is not None:
                budget -= 1
            run.metrics.alerts_sent.labels(channel.name).inc()
            if pending.created:
                run.metrics.latency.observe(max(0.0, now - pending.created))
            log.info("alert sent channel=%s rule=%s story=%d", channel.name, pending.rule, pending.story_id)
            state = _succeeded(run, channel, state)


def _refused(run: _Round, channel: Channel, pending: PendingAlert, problem: str) -> None:
    """A target refused an alert for good: said at WARNING while it is tried again, at ERROR
    when it fails for that target."""
    refusals = pending.refusals + 1
    run.metrics.alerts_failed.labels(channel.name).inc()
    if refusals >= REFUSALS_TO_FAIL:
        log.error("alert failed: refused %d times alert=%d channel=%s rule=%s story=%d error=%s (not tried again; "
                  "listed by 'newsmon alerts --failed'; the channel's other alerts go on)", refusals, pending.id,
                  channel.name, pending.rule, pending.story_id, problem)
    else:
        log.warning("alert refused alert=%d channel=%s rule=%s story=%d attempt=%d error=%s (tried again later, %d "
                    "times at most; the channel's other alerts go on)", pending.id, channel.name, pending.rule,
                    pending.story_id, refusals, problem, REFUSALS_TO_FAIL)


async def _flood_controlled(run: _Round, channel: Channel, state: ChannelState,
                            stop: asyncio.Event | None) -> None:
    limit = channel.spec.max_per_hour or 0
    now = run.clock()
    if state.fold_until is not None:
        pending = run.outbox.pending(channel.name, now, limit=None)
        held = [row for row in pending if row.created < state.fold_until]
        if now < state.fold_until:
            run.outbox.hold(channel.name, state.fold_until)
            return
        if held:
            batch = batches.Batch(
                heading=f"newsmon · {channel.name}: {len(held)} more alert{'s' * (len(held) != 1)} (flood control)",
                intro=f"More than {limit} alerts within the hour from {times.iso(state.fold_until - HOUR)}: these were "
                      f"held back to keep this channel usable (max_per_hour = {limit}). Every one is listed.",
                messages=())
            if not await _batch(run, channel, state, held, batch, "summary"):
                return
            log.info("flood summary sent channel=%s alerts=%d", channel.name, len(held))
        now = run.clock()
        run.outbox.set_channel_state(channel.name, fold_until=None, window_start=now)
        state = dataclasses.replace(state, fold_until=None, window_start=now)
    count, _earliest = run.outbox.sends_since(channel.name, max(now - HOUR, state.window_start or 0.0))
    if not await _singles(run, channel, state, stop, budget=limit - count):
        return
    _count, earliest = run.outbox.sends_since(channel.name, max(now - HOUR, state.window_start or 0.0))
    fold_until = (earliest or now) + HOUR
    run.outbox.set_channel_state(channel.name, fold_until=fold_until)
    run.outbox.hold(channel.name, fold_until)
    log.warning("flood control channel=%s max_per_hour=%d: further alerts fold into one summary at %s",
                channel.name, limit, times.iso(fold_until))


async def _quiet(run: _Round, channel: Channel, state: ChannelState) -> bool:
    """Quiet hours: what was held for them goes first, in one summary, once they end; inside
    them, alerts below `quiet_min_severity` (and newsmon's notices; never escalations) are held
    until they end, and a digest waits for their end. True when the channel has nothing more
    to do this round."""
    spec, now = channel.spec, run.clock()
    due = run.outbox.quiet_due(channel.name, now)
    if due:
        run.outbox.release([alert.id for alert in due], now)
        batch = batches.Batch(
            heading=f"newsmon · {channel.name}: {len(due)} alert{'s' * (len(due) != 1)} held during quiet hours",
            intro=f"Held during this channel's quiet hours ({', '.join(spec.quiet_hours)}, {spec.timezone}); "
                  f"alerts of severity {spec.quiet_min_severity} or higher were sent at once.", messages=())
        if not await _batch(run, channel, state, due, batch, "summary"):
            return True
        log.info("quiet hours summary sent channel=%s alerts=%d", channel.name, len(due))
    until = schedule.quiet_until(spec.quiet_hours, spec.timezone, now)
    if until is None:
        return False
    quiet = [alert for alert in run.outbox.pending(channel.name, now, limit=None)
             if holds.quiet_hold(spec, alert.message, now)]
    if quiet:
        local = datetime.fromtimestamp(until, ZoneInfo(spec.timezone))
        run.outbox.hold_quiet([alert.id for alert in quiet], until, f"quiet hours until {local:%Y-%m-%d %H:%M %Z}")
        log.info("alerts held for quiet hours channel=%s alerts=%d until=%s", channel.name, len(quiet), times.iso(until))
    return spec.digest  # a digest due inside quiet hours goes at their end


async def _digest(run: _Round, channel: Channel, state: ChannelState) -> None:
    """One message per period with every pending alert: due at the first period boundary after
    the oldest of them was queued (and after the last digest)."""
    spec = channel.spec
    now = run.clock()
    rows = run.outbox.pending(channel.name, now, limit=None)
    if not rows:
        return
    due = holds.digest_due(spec, state, rows[0].created)
    if now < due:
        run.outbox.hold(channel.name, due)  # a weekly digest's alerts are not dead after 48 h
        return
    zone = ZoneInfo(spec.timezone)
    since = datetime.fromtimestamp(state.digest_since or rows[0].created, zone)
    until = datetime.fromtimestamp(due, zone)
    stories = len({row.story_id for row in rows})
    batch = batches.Batch(
        heading=f"newsmon digest · {channel.name}: {stories} stor{'ies' if stories != 1 else 'y'}, "
                f"{since:%Y-%m-%d %H:%M} to {until:%H:%M %Z}",
        intro=f"{len(rows)} alert{'s' * (len(rows) != 1)} since {since:%Y-%m-%d %H:%M %Z}, grouped by rule.",
        messages=())
    if await _batch(run, channel, state, rows, batch, "digest"):
        run.outbox.set_channel_state(channel.name, digest_since=now)
        log.info("digest sent channel=%s alerts=%d stories=%d", channel.name, len(rows), stories)


async def _batch(run: _Round, channel: Channel, state: ChannelState, rows: list[PendingAlert],
                 batch: batches.Batch, via: str) -> bool:
    """Send `rows` as one batch message (several parts when long) to every target that has not
    had them yet, recording each part as it is accepted. False when a target failed."""
    outgoing = [_with_outlets(run, row) for row in rows]
    required = tuple(channel.target_ids)
    for target in channel.targets:
        todo = [index for index, row in enumerate(rows) if target.id not in row.delivered and target.id not in row.refused]
        if not todo:
            continue
        run.outbox.begin_attempt([rows[i].id for i in todo], run.clock())
        listed = todo  # a part's members are positions in this list
        parts = channel.parts(dataclasses.replace(batch, messages=tuple(outgoing[i] for i in listed)), target)
        for part in parts:
            outcome = await channel.deliver(target, part.title, part.body)
            if not outcome.ok:
                problem = f"{target.privacy}: {outcome.reason}"
                # none accepted: an attempt, and why it failed
                run.record(Mark(tuple(rows[i].id for i in todo), frozenset(), run.clock(), via, required, problem,
                                frozenset({target.id}) if outcome.permanent else frozenset(), channel.name))
                if outcome.permanent:
                    for i in todo:
                        _refused(run, channel, rows[i], problem)
                    break
                _failed(run, channel, state, problem)
                return False
            done = [listed[member] for member in part.members]
            run.sent += run.record(Mark(tuple(rows[i].id for i in done), frozenset({target.id}), run.clock(), via,
                                        required, channel=channel.name))
            run.metrics.alerts_sent.labels(channel.name).inc(len(done))
            todo = [i for i in todo if i not in done]
    _succeeded(run, channel, state)
    return True


def _failed(run: _Round, channel: Channel, state: ChannelState, problem: str) -> None:
    """The channel backs off as a whole. Said once (WARNING) per new problem; repeats at DEBUG."""
    failures = state.failures + 1
    delay = retry_delay(failures)
    since = state.failing_since if state.failures and state.failing_since else run.clock()
    run.outbox.set_channel_state(channel.name, failures=failures, retry_at=run.clock() + delay, last_error=problem,
                                 failing_since=since)
    run.failed += 1
    run.failing.add(channel.name)
    run.metrics.alerts_failed.labels(channel.name).inc()
    retry = "retry at the next run" if run.every_attempt else f"retry in {delay:.0f}s"
    if state.last_error != problem:
        log.warning("channel failed channel=%s attempt=%d error=%s (its alerts wait, in order; %s)",
                    channel.name, failures, problem, retry)
    else:
        log.debug("channel still failing channel=%s attempt=%d (%s)", channel.name, failures, retry)


def _succeeded(run: _Round, channel: Channel, state: ChannelState) -> ChannelState:
    if state.failures or state.retry_at:
        run.outbox.set_channel_state(channel.name, failures=0, retry_at=None, last_error=None)
        log.info("channel recovered channel=%s after_failures=%d", channel.name, state.failures)
        return dataclasses.replace(state, failures=0, retry_at=None, last_error=None)
    return state

