"""The long-running service: one APScheduler interval job per feed, an outbox task, signals,
reload, systemd notification and watchdog, and a clean stop.

Jobs run on the asyncio loop (AsyncIOScheduler). Each feed's job has `max_instances=1` and
`coalesce=True`, so a slow feed never piles up runs. Every feed is polled at start (within a
few seconds), then at a place of its own in its interval (`schedule.phase`): polls, and the
work their new entries bring, come spread over the interval rather than all at once.

SIGTERM or SIGINT stops the scheduler, lets in-flight polls finish within the grace period,
then cancels what is left: every entry is recorded in its own transaction, so a cancelled
poll leaves nothing half-written and is simply repeated next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import pipeline, schedule, service, shown
from monitor.service import sd_notify
from monitor.app import App
from monitor.config import Config, changes as config_changes
from monitor.errors import ConfigError, StoreFault
from monitor.model import FeedSpec
from monitor.statelock import StateLock
from monitor.store import faults as store_faults

log = logging.getLogger("newsmon.daemon")
DRAIN_EVERY = 30.0
CLEANUP = 4.5  # seconds of the stop grace kept for cancelling and closing
TICK = 5.0  # seconds between the scheduler's `tick` jobs; the watchdog pings only while they run
HEARTBEAT = 30.0  # seconds between the heartbeat's writes: a store that cannot write is found within this
CLOCK_STEP = 10.0  # a wall-clock change this much larger than the time elapsed is a step


class Daemon:
    """Runs an App until stopped."""

    def __init__(self, app: App, *, grace: float | None = None, loader: Callable[[], Config] | None = None,
                 environ: Mapping[str, str] = os.environ, lock: StateLock | None = None):
        self.app = app
        self.lock = lock  # the state directory's, taken again if the directory is deleted and put back
        self.grace = app.config.settings.stop_grace if grace is None else grace
        self.loader = loader  # re-reads the configuration at reload
        self.environ = environ
        self.stopping = asyncio.Event()
        self.running: set[asyncio.Task] = set()
        self.kick = asyncio.Event()
        self.scheduler: AsyncIOScheduler | None = None
        self.last_tick = time.monotonic()
        self.anchor = time.time()  # phases count from here
        self.phases: dict[str, float] = {}  # feed URL -> its place in its interval, given after its first poll

    def interval(self, feed: FeedSpec) -> float:
        return feed.interval or self.app.config.settings.poll_interval

    async def _tracked(self, coroutine_function, *args) -> None:
        task = asyncio.current_task()
        if task is not None:
            self.running.add(task)
        try:
            await coroutine_function(*args)
        except asyncio.CancelledError:
            if not self.stopping.is_set():
                raise
            # abandoned at stop: nothing half-recorded (each entry is its own transaction)
        except Exception:  # a bug in one poll must not stop the daemon
            log.exception("job failed job=%s", getattr(coroutine_function, "__name__", coroutine_function))
        finally:
            if task is not None:
                self.running.discard(task)

    async def _poll(self, feed: FeedSpec) -> None:
        await self._tracked(self._poll_and_reschedule, feed)

    async def _poll_and_reschedule(self, feed: FeedSpec) -> None:
        # each entry's alerts kick the outbox as soon as they are queued: delivered while the poll goes on
        result = await pipeline.poll(self.app, feed, on_queued=self.kick.set)
        job = self.scheduler.get_job(f"feed:{feed.url}") if self.scheduler is not None else None
        if job is None or job.next_run_time is None:
            return
        wanted = job.next_run_time.timestamp()
        if feed.url not in self.phases:  # its first poll: the next one comes at its phase, 0.5-1.5 intervals on
            place = self.phases[feed.url] = schedule.phase(len(self.phases))
            every = self.interval(feed)
            wanted = schedule.phase_slot(self.anchor, place, every, time.time() + every / 2)
        # backoff, Retry-After or TTL: the next run waits at least until then
        wanted = max(wanted, result.next_poll or 0.0)
        if wanted != job.next_run_time.timestamp():
            job.modify(next_run_time=datetime.fromtimestamp(wanted, timezone.utc))

    async def _outbox(self) -> None:
        """The one task that delivers alerts: when a poll queued some, and every DRAIN_EVERY
        seconds for retries. Polls never wait for deliveries."""
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.kick.wait(), DRAIN_EVERY)
            self.kick.clear()
            if self.stopping.is_set():
                break
            try:
                await pipeline.deliver(self.app, stop=self.stopping)
            except Exception:  # a bug in one round must not stop deliveries for good
                log.exception("outbox round failed")

    def _add_feed_job(self, scheduler: AsyncIOScheduler, feed: FeedSpec, first: datetime) -> None:
        every = self.interval(feed)
        scheduler.add_job(self._poll, "interval", args=(feed,), id=f"feed:{feed.url}", name=shown.url(feed.url),
                          seconds=every, jitter=every * schedule.RUN_JITTER, next_run_time=first,
                          max_instances=1, coalesce=True, misfire_grace_time=int(max(60, every / 2)),
                          replace_existing=True)

    def schedule(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone=timezone.utc)
        now = datetime.now(timezone.utc)
        feeds = self.app.config.feeds
        for index, feed in enumerate(feeds):
            # first polls spread over a few seconds; each feed's next one comes at its phase
            first = now + timedelta(seconds=min(5.0, self.interval(feed) / 10) * index / max(1, len(feeds)))
            self._add_feed_job(scheduler, feed, first)
        scheduler.add_job(self._prune, "interval", id="prune", hours=24, jitter=600,
                          coalesce=True, max_instances=1)
        scheduler.add_job(self._tick, "interval", id="tick", seconds=TICK, coalesce=True, max_instances=1)
        return scheduler

    async def _prune(self) -> None:
        """Daily: forget what is older than `retention`. A coroutine, so that it runs on the
        event loop with the store's connection (a plain function would run in a thread)."""
        try:
            await pipeline.stored(lambda: pipeline.prune(self.app))
        except StoreFault as fault:
            self.app.store_failed(fault)

    async def _tick(self) -> None:
        """Every TICK seconds, run by the scheduler: the proof of life /healthz and the watchdog
        look at."""
        self.last_tick = time.monotonic()
        self.app.metrics.last_cycle.set(time.time())

    async def _heartbeat(self) -> None:
        """Every TICK seconds of real (monotonic) time, whatever the wall clock does: notice a
        wall-clock step and move the schedules with it; write the store's deferred commits
        (unchanged feeds' timestamps and entries that queued no alert: see `Store.later`) and,
        every HEARTBEAT seconds, a heartbeat row, so that a store that cannot write is noticed
        even when nothing else writes; put back a database deleted while open."""
        checked = time.monotonic()
        offset = time.time() - checked
        beat = 0.0
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), TICK)
            now_offset = time.time() - time.monotonic()
            if abs(now_offset - offset) > CLOCK_STEP:
                # the step came after the last check: on the new clock, a time from the last check
                # on was set after the step (or is a wait longer than the jump)
                await self._clock_stepped(now_offset - offset, since=checked + now_offset)
            offset, checked = now_offset, time.monotonic()
            store = self.app.store
            try:
                if store.replaced():
                    self._restore()
                await pipeline.stored(store.flush)  # another process's lock is waited for, off SQLite
                if time.monotonic() - beat >= HEARTBEAT or self.app.store_fault is not None:
                    await pipeline.stored(lambda: store.heartbeat(time.time(), os.getpid()))
                    beat = time.monotonic()
                self.app.store_works()
            except StoreFault as fault:
                self.app.store_failed(fault)
                continue
            if self.app.unrecorded:  # outcomes the store could not take: record them now
                self.kick.set()

    def _restore(self) -> None:
        """The state database was deleted while open: put it back (said once, however many
        tries it takes), and lock the state directory again if it was deleted too."""
        store = self.app.store
        if self.app.store_fault is None or self.app.store_fault.kind != "deleted":
            self.app.store_failed(store_faults.fault("deleted", store.path, "while newsmon had it open; putting it "
                                                     "back (to start afresh, stop newsmon first, then remove it)"))
        store.restore()
        if self.lock is not None and self.lock.renew():
            log.warning("the state directory %s was deleted too: locked it again", self.lock.directory)
        log.warning("the state database is back at %s, nothing lost", store.path)

    async def _clock_stepped(self, delta: float, since: float) -> None:
        """The wall clock jumped by `delta` seconds (set by hand, an NTP step, a VM resumed)
        at some moment after `since` (a time on the new clock): every scheduled run and every
        alert's wait moves with it, so that nothing waits an extra `delta` (a step back) and
        nothing is late or expired all at once (a jump ahead). After a jump ahead, what was
        set at `since` or later (the scheduler and the outbox went on before the step was
        noticed) is already on the new clock and stays."""
        log.warning("wall clock stepped by %+.0fs: schedules and waits moved with it", delta)
        if self.scheduler is not None:
            now = datetime.now(timezone.utc)
            for job in self.scheduler.get_jobs():
                if job.next_run_time is not None and (delta < 0 or job.next_run_time.timestamp() < since):
                    # a run moved into the past is due now, not missed (APScheduler skips a run
                    # later than its misfire grace)
                    job.modify(next_run_time=max(now, job.next_run_time + timedelta(seconds=delta)))
            self.scheduler.wakeup()
        try:
            await pipeline.stored(lambda: self.app.store.clock_stepped(delta, since=None if delta < 0 else since))
        except StoreFault as fault:
            self.app.store_failed(fault)

    async def _serve_http(self, listen: str):
        """/metrics (Prometheus) and /healthz (200 while healthy, else 503 with why) on `listen`."""
        return await service.serve_http(listen, lambda: self.app.metrics.render(self._sample), self.problem)

    def _sample(self, metrics) -> None:
        """The gauges read from the state database at each scrape: alerts waiting and held,
        silences in force, critical alerts nobody has acknowledged."""
        store, now = self.app.store, time.time()
        try:
            self._gauges(store, metrics, now)
        except StoreFault as fault:  # the scrape shows the counters; the fault is the heartbeat's to say
            log.debug("metrics: cannot read the state database: %s", fault)

    def _gauges(self, store, metrics, now: float) -> None:
        metrics.alerts_pending.set(store.alert_counts().get("pending", 0))
        held = {"quiet_hours": 0, "min_outlets": 0}
        for _channel, why, count, _until, _oldest in store.held_summary():
            held["quiet_hours" if (why or "").startswith("quiet hours") else "min_outlets"] += count
        for reason, count in held.items():
            metrics.alerts_held.labels(reason).set(count)
        metrics.silences_active.set(len(store.silences(active_at=now)))
        metrics.unacknowledged_critical.set(len(store.unacknowledged(now - self.app.config.settings.story_window)))

    def healthy(self) -> bool:
        """The scheduler ticked recently and the store takes writes (its last write, the
        heartbeat's at the latest, succeeded)."""
        return self.problem() is None

    def problem(self) -> str | None:
        """Why newsmon is not healthy, or None."""
        if time.monotonic() - self.last_tick > max(3 * TICK, 30):
            return "the scheduler has not run for a while"
        if self.app.store_fault is not None:
            return str(self.app.store_fault)
        return None

    async def _watchdog(self, every: float, systemd: bool) -> None:
        """Ping systemd's watchdog (when it asked for one) and the `heartbeat_url` (if set, at
        most once a minute) while healthy; when not, stay silent so that they act."""
        beat = service.HeartbeatURL(self.app.config.settings.user_agent)
        while not self.stopping.is_set():
            problem = self.problem()
            if problem is None:
                if systemd:
                    sd_notify("WATCHDOG=1", self.environ)
                url = self.app.config.settings.heartbeat_url  # a reload may change it
                if url and beat.due(time.monotonic()):  # its own task: a slow server never delays systemd's ping
                    ping = asyncio.create_task(beat.ping(url, time.monotonic()), name="newsmon-heartbeat-url")
                    self.running.add(ping)
                    ping.add_done_callback(self.running.discard)
            elif systemd:  # without systemd, the fault itself was said once (see App.store_failed)
                log.error("unhealthy: not pinging the watchdog%s (%s)",
                          " or heartbeat_url" if self.app.config.settings.heartbeat_url else "", problem)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), every)

    def reload(self) -> bool:
        """Re-read the configuration. If it is invalid, log every problem and keep running on
        the old one. Feeds added or removed gain or lose their job at once. The outcome (what
        changed by name, or every problem) is logged and recorded in the store, where `newsmon
        reload` waits for it."""
        if self.loader is None:
            return False
        sd_notify("RELOADING=1", self.environ)
        try:
            try:
                fresh = self.loader()
            except ConfigError as error:
                for problem in error.problems:
                    log.error("reload refused: %s", problem)
                log.error("reload refused problems=%d (still running on the previous configuration)", len(error.problems))
                self._record_reload(False, [str(problem) for problem in error.problems])
                return False
            previous = self.app.config
            needs_restart = self.app.reconfigure(fresh)
            changes = config_changes.between(previous, fresh, needs_restart)
            old = {job.id for job in self.scheduler.get_jobs() if job.id.startswith("feed:")} if self.scheduler else set()
            new = {f"feed:{feed.url}": feed for feed in fresh.feeds}
            if self.scheduler is not None:
                for job_id in old - set(new):
                    self.scheduler.remove_job(job_id)
                now = datetime.now(timezone.utc)
                for job_id, feed in new.items():
                    job = self.scheduler.get_job(job_id)
                    if job is None or job.args[0] != feed:
                        self._add_feed_job(self.scheduler, feed, now if job is None else job.next_run_time or now)
            log.info("reloaded feeds=%d added=%d removed=%d rules=%d channels=%d%s", len(new), len(set(new) - old),
                     len(old - set(new)), len(fresh.rules), len(fresh.channels),
                     f" (restart to apply: {', '.join(needs_restart)})" if needs_restart else "")
            for line in changes:
                log.info("reload: %s", line)
            self._record_reload(True, changes)
            self._status()
            return True
        finally:
            sd_notify("READY=1", self.environ)

    def _record_reload(self, applied: bool, lines: list[str]) -> None:
        try:
            self.app.store.record_reload(at=time.time(), pid=os.getpid(), applied=applied, lines=lines)
        except Exception as error:  # the reload itself stands; only its answer to `newsmon reload` is lost
            log.error("cannot record the reload's outcome error=%s ('newsmon reload' will not see it)", error)

    def _status(self) -> None:
        config = self.app.config
        sd_notify(f"STATUS=watching {len(config.feeds)} feeds with {len(config.rules)} rules", self.environ)

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT (or `stop()`), then stop cleanly."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop, signum)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        await pipeline.stored(lambda: pipeline.prune(self.app))
        recovered = await pipeline.stored(self.app.store.recover)
        if recovered:
            log.info("alerts in flight at the last stop returned to the outbox count=%d", recovered)
        self.scheduler = self.schedule()
        # What start-up built (modules, the compiled rules, the story index) lives as long as the
        # daemon: frozen, it is left out of the cyclic collector's full passes, which would walk it
        # in the middle of a poll.
        gc.freeze()
        self.scheduler.start()
        outbox = asyncio.create_task(self._outbox(), name="newsmon-outbox")
        self.running.add(outbox)
        heart = asyncio.create_task(self._heartbeat(), name="newsmon-heartbeat")
        self.running.add(heart)
        self.kick.set()  # alerts left from the last run go out first
        watchdog_usec = self.environ.get("WATCHDOG_USEC", "")
        systemd = watchdog_usec.isdigit() and self.environ.get("WATCHDOG_PID", str(os.getpid())) == str(os.getpid())
        # the heartbeat_url is pinged on the watchdog's beat; with none, every TICK (at most once a minute)
        pinger = asyncio.create_task(self._watchdog(int(watchdog_usec) / 2e6 if systemd else TICK, bool(systemd)),
                                     name="newsmon-watchdog")
        self.running.add(pinger)
        http = None
        if self.app.config.settings.http_listen:
            try:
                http = await self._serve_http(self.app.config.settings.http_listen)
            except OSError as error:
                log.error("cannot serve /metrics listen=%s error=%s (carrying on without it)",
                          self.app.config.settings.http_listen, error.strerror)
        log.info("newsmon running feeds=%d rules=%d channels=%d state=%s", len(self.app.config.feeds),
                 len(self.app.config.rules), len(self.app.channels), self.app.store.path)
        sd_notify("READY=1", self.environ)
        self._status()
        await self.stopping.wait()
        sd_notify("STOPPING=1", self.environ)
        if http is not None:
            await http.cleanup()
        await self.shutdown()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)

    def stop(self, signum: int | None = None) -> None:
        """Begin a clean stop (signal handler)."""
        if not self.stopping.is_set():
            log.info("stopping signal=%s", signal.Signals(signum).name if signum else "request")
        self.stopping.set()
        self.kick.set()

    async def shutdown(self) -> None:
        """Stop within the grace: in-flight work may finish until CLEANUP seconds before its end,
        then what is left is cancelled (each entry is its own transaction: nothing half-written)
        and the stages are closed in the time that remains."""
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.running:
            done, pending = await asyncio.wait(set(self.running), timeout=max(0.5, self.grace - CLEANUP))
            for task in pending:
                task.cancel()
            if pending:
                log.info("abandoned in-flight work at stop tasks=%d (it will be redone)", len(pending))
                await asyncio.wait(pending, timeout=1)
        try:
            await self.app.close()
        except StoreFault as fault:  # a stop is a stop: what could not be written is redone next time
            log.warning("stopped with the state database still failing: %s", fault)
        log.info("stopped")
