"""Watching feeds that should be busy: a feed with `expect_every` that brings nothing new (or
keeps failing) for longer raises one "Feed silent" notice on the admin channels, and one "Feed
recovered" when it brings news again. The notices go through the outbox like alerts.
(Not to be confused with silences, which mute alerts.)"""

from __future__ import annotations

import logging

from monitor import alert, shown, times
from monitor.app import App
from monitor.model import FeedSpec

log = logging.getLogger("newsmon.pipeline")


def watch(app: App, feed: FeedSpec) -> None:
    """Queue one "feed silent" notice when a feed has brought nothing new (or kept failing)
    for longer than its `expect_every`, and one "feed recovered" notice when it brings news again."""
    state = app.store.feed(feed.url)
    now = app.clock()
    last_new = app.store.last_new_entry(state.id) or state.created or now
    silent = now - last_new > feed.expect_every
    if silent == (state.silent_since is not None):
        return
    name = feed.name or state.title or shown.url(feed.url)
    hours = feed.expect_every / 3600
    if silent:
        failing = f" It is failing: {shown.urls_in(state.last_error)}." if state.last_error else ""
        title, text, rule = f"Feed silent: {name}", (
            f"No new entries from {name} since {times.iso(last_new)} (expected at least every {hours:g} h).{failing}"
        ), "newsmon:feed-silent"
    else:
        title, text, rule = f"Feed recovered: {name}", (
            f"{name} brought new entries again (silent since {times.iso(state.silent_since)})."), "newsmon:feed-recovered"
    message = alert.notice(rule, title, text, url=shown.url(feed.url), source=name, now=now)
    app.store.queue_notice(rule, app.router.admin, message, now)
    app.store.set_silent(state.id, now if silent else None)
    log.warning("%s feed=%s last_new=%s expect_every=%gh", "feed silent" if silent else "feed recovered",
                shown.url(feed.url), times.iso(last_new), hours)
