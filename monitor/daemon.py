"""The long-running service: one APScheduler interval job per feed, an outbox job, signals,
and a clean stop.

Jobs run on the asyncio loop (AsyncIOScheduler). Each feed's job has `max_instances=1` and
`coalesce=True`, so a slow feed never piles up runs, and jitter, so feeds on one host do not
fire in lockstep. SIGTERM or SIGINT stops the scheduler, lets in-flight polls finish within
the grace period, then cancels what is left: every entry is recorded in its own transaction,
so a cancelled poll leaves nothing half-written and is simply repeated next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor import pipeline
from monitor.app import App
from monitor.model import FeedSpec

log = logging.getLogger("newsmon.daemon")
DRAIN_EVERY = 30.0
STOP_GRACE = 7.0  # in-flight work gets this long; the whole stop stays under 10 s


class Daemon:
    """Runs an App until stopped."""

    def __init__(self, app: App, *, grace: float = STOP_GRACE):
        self.app = app
        self.grace = grace
        self.stopping = asyncio.Event()
        self.running: set[asyncio.Task] = set()
        self.kick = asyncio.Event()
        self.scheduler: AsyncIOScheduler | None = None

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
        await self._tracked(self._poll_and_kick, feed)

    async def _poll_and_kick(self, feed: FeedSpec) -> None:
        result = await pipeline.poll(self.app, feed)
        if result.alerts:
            self.kick.set()  # deliver now, not at the next outbox round
        if result.next_poll and self.scheduler is not None:
            # backoff, Retry-After or TTL: the next run waits at least until then
            job = self.scheduler.get_job(f"feed:{feed.url}")
            if job is not None and job.next_run_time and job.next_run_time.timestamp() < result.next_poll:
                job.modify(next_run_time=datetime.fromtimestamp(result.next_poll, timezone.utc))

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
                await pipeline.drain(self.app, stop=self.stopping)
            except Exception:  # a bug in one round must not stop deliveries for good
                log.exception("outbox round failed")

    def schedule(self) -> AsyncIOScheduler:
        scheduler = AsyncIOScheduler(timezone=timezone.utc)
        now = datetime.now(timezone.utc)
        feeds = self.app.config.feeds
        for index, feed in enumerate(feeds):
            every = self.interval(feed)
            # spread first polls over a few seconds, then jitter every run by up to 10%
            first = now + timedelta(seconds=min(5.0, every / 10) * index / max(1, len(feeds)))
            scheduler.add_job(self._poll, "interval", args=(feed,), id=f"feed:{feed.url}", name=feed.url,
                              seconds=every, jitter=min(every * 0.1, 300), next_run_time=first,
                              max_instances=1, coalesce=True, misfire_grace_time=int(max(60, every / 2)))
        scheduler.add_job(pipeline.prune, "interval", args=(self.app,), id="prune", hours=24, jitter=600,
                          coalesce=True, max_instances=1)
        return scheduler

    async def run(self) -> None:
        """Run until SIGTERM/SIGINT (or `stop()`), then stop cleanly."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop, signum)
        pipeline.prune(self.app)
        recovered = self.app.store.recover()
        if recovered:
            log.info("alerts in flight at the last stop returned to the outbox count=%d", recovered)
        self.scheduler = self.schedule()
        self.scheduler.start()
        outbox = asyncio.create_task(self._outbox(), name="newsmon-outbox")
        self.running.add(outbox)
        self.kick.set()  # alerts left from the last run go out first
        log.info("newsmon running feeds=%d rules=%d channels=%d state=%s", len(self.app.config.feeds),
                 len(self.app.config.rules), len(self.app.channels), self.app.store.path)
        await self.stopping.wait()
        await self.shutdown()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)

    def stop(self, signum: int | None = None) -> None:
        if not self.stopping.is_set():
            log.info("stopping signal=%s", signal.Signals(signum).name if signum else "request")
        self.stopping.set()
        self.kick.set()

    async def shutdown(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.running:
            done, pending = await asyncio.wait(set(self.running), timeout=self.grace)
            for task in pending:
                task.cancel()
            if pending:
                log.info("abandoned in-flight work at stop tasks=%d (it will be redone)", len(pending))
                await asyncio.wait(pending, timeout=2)
        await self.app.close()
        log.info("stopped")
