"""`newsmon run --once`: one cycle (every feed polled once, every pending alert tried once),
progress on a terminal while it lasts, and what it did: a log line always, and on a terminal a
summary that names what went wrong and why nothing alerted."""

from __future__ import annotations

import gc
import logging
import sys
import time

from monitor import config, shown, times
from monitor.cli.common import EXIT_FAILED, EXIT_OK, plural

log = logging.getLogger("newsmon")
PROGRESS_EVERY = 5.0  # seconds between progress lines on a terminal


class Progress:
    """A line on stderr every few seconds while a long cycle runs, on a terminal only: the
    first run on real outlets can take minutes, and silence looks like a hang."""

    def __init__(self, total: int, clock=time.monotonic):
        self.total, self.done, self.clock = total, 0, clock
        self.started = self.last = clock()

    def __call__(self) -> None:
        self.done += 1
        now = self.clock()
        if now - self.last >= PROGRESS_EVERY and self.done < self.total:
            self.last = now
            print(f"newsmon: {self.done} of {self.total} feeds polled ({now - self.started:.0f} s)", file=sys.stderr,
                  flush=True)


async def run(loaded: config.Config, *, summary: bool = False) -> int:
    """One cycle; exit 1 when every enabled feed is failing (0 otherwise, whatever else failed:
    it is logged and retried next time). With `summary`, say on stdout what the cycle did."""
    from monitor import app, pipeline

    running = app.open_app(loaded, start_workers="if-new-feeds")
    gc.freeze()  # what start-up built stays: out of the cyclic collector's full passes (see daemon.run)
    progress = Progress(len(loaded.feeds)) if sys.stderr.isatty() else lambda: None
    try:
        running.store.recover()
        started, since = time.monotonic(), running.clock()
        results = await pipeline.cycle(running, progress=progress)
        sent, pending = running.store.sent_since(since), running.store.alert_counts().get("pending", 0)
        rows = {row.url: row for row in running.store.feeds(counts=False)}  # health, not counts
        channels_failing = [channel.name for channel in loaded.channels if running.store.channel_state(channel.name).failures]
    finally:
        await running.close()
    enabled = [feed for feed in loaded.feeds if feed.url in rows and rows[feed.url].status != "disabled"]
    failing = [feed for feed in enabled if rows[feed.url].last_error]
    held = [result for result in results if result.status == "not-due"]
    polled = [result for result in results if result.status in ("new", "unchanged", "failed")]
    new, silent, too_old = (sum(getattr(r, name) for r in results) for name in ("new", "silent", "too_old"))
    log.info("cycle done feeds=%d polled=%d held_back=%d failing=%d new_entries=%d silent=%d too_old=%d "
             "alerts_sent=%d alerts_pending=%d seconds=%.1f", len(results), len(polled), len(held), len(failing), new,
             silent, too_old, sent, pending, time.monotonic() - started)
    if summary:
        for line in summary_lines(loaded, polled, held, failing, rows, new, silent, too_old, sent, pending):
            print(line)
    code = EXIT_FAILED if enabled and len(failing) == len(enabled) else EXIT_OK
    if loaded.settings.heartbeat_url:  # proof of a good cycle: no channel failing, not every feed failing
        if code == EXIT_OK and not channels_failing:
            from monitor import service

            await service.HeartbeatURL(loaded.settings.user_agent).ping(loaded.settings.heartbeat_url, time.monotonic())
        else:
            log.warning("heartbeat_url not pinged: %s", f"channel {', '.join(channels_failing)} failing"
                        if channels_failing else "every feed is failing")
    return code


def summary_lines(loaded: config.Config, polled, held, failing, rows, new: int, silent: int, too_old: int,
                  sent: int, pending: int) -> list[str]:
    """What a cycle did, for a person: feeds polled and held back (until when), new entries,
    alerts, why entries did not alert, and the failing feeds by name."""
    waiting = f", {pending} waiting for their channel" if pending else ""
    lines = [f"newsmon: polled {len(polled)} of {plural(len(loaded.feeds), 'feed')}: "
             f"{plural(new, 'new entry')}, {plural(sent, 'alert')} sent{waiting}"]
    if held:
        until = min(result.next_poll for result in held if result.next_poll)
        lines.append(f"  {plural(len(held), 'feed')} held back until {times.shown(until)} or later "
                     "(backoff after failures, the server's Retry-After, or the feed's TTL)")
    if silent:
        lines.append(f"  {plural(silent, 'entry')} recorded without alerting: the first poll of a new feed "
                     "(or one re-enabled or moved) records what it already holds")
    if too_old:
        days = loaded.settings.alert_max_age / 86400
        lines.append(f"  {plural(too_old, 'entry')} recorded without alerting: published more than {days:g} days "
                     "ago (alert_max_age)")
    if failing:
        named = "; ".join(f"{shown.url(feed.url)} ({rows[feed.url].error_kind}: {shown.urls_in(rows[feed.url].last_error)})"
                          for feed in failing)
        lines.append(f"  {plural(len(failing), 'feed')} failing: {named}")
    return lines
