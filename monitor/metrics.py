"""Prometheus metrics of one running newsmon, in a registry of its own (served by the daemon at
`/metrics` when `[newsmon.http] listen` is set)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """Counters and histograms the pipeline updates; `render()` is the exposition text."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.polls = Counter("newsmon_polls", "Feed polls by result", ["result"], registry=registry)
        self.fetch_errors = Counter("newsmon_fetch_errors", "Failed feed polls by kind of failure", ["kind"],
                                    registry=registry)
        self.pages_unread = Counter("newsmon_article_pages_unread", "Article pages whose text could not be read "
                                    "(the feed's own text was matched instead), by why", ["kind"], registry=registry)
        self.entries = Counter("newsmon_entries", "New or changed feed entries recorded", registry=registry)
        self.matches = Counter("newsmon_matches", "Rule matches", ["rule"], registry=registry)
        self.alerts_sent = Counter("newsmon_alerts_sent", "Alerts a channel accepted", ["channel"], registry=registry)
        self.alerts_failed = Counter("newsmon_alerts_failed", "Delivery attempts a channel refused", ["channel"],
                                     registry=registry)
        self.alerts_dead = Counter("newsmon_alerts_dead", "Alerts not delivered within 48 h", ["channel"],
                                   registry=registry)
        self.pages_in_flight = Gauge("newsmon_pages_in_flight", "Article pages being fetched or extracted now "
                                     "(at most max_connections + 2 x workers)", registry=registry)
        self.pages_in_flight_peak = Gauge("newsmon_pages_in_flight_peak", "The most article pages in flight at once "
                                          "since start", registry=registry)
        self.store_faults = Counter("newsmon_store_faults", "Statements the state database refused, by fault "
                                    "(locked, read-only, full, corrupt, deleted, io)", ["kind"], registry=registry)
        self.channel_failing = Gauge("newsmon_channel_failing_seconds", "How long a channel has been failing "
                                     "(0: it delivers)", ["channel"], registry=registry)
        self.alerts_held = Gauge("newsmon_alerts_held", "Alerts held, by why (quiet_hours, min_outlets)", ["reason"],
                                 registry=registry)
        self.silences_active = Gauge("newsmon_silences_active", "Silences in force", registry=registry)
        self.unacknowledged_critical = Gauge("newsmon_unacknowledged_critical", "Stories with a critical alert sent "
                                             "within the story window that nobody has acknowledged", registry=registry)
        self.alerts_pending = Gauge("newsmon_alerts_pending", "Alerts waiting in the outbox", registry=registry)
        self.poll_seconds = Histogram("newsmon_poll_duration_seconds", "Wall time of one feed poll",
                                      buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=registry)
        self.latency = Histogram("newsmon_alert_latency_seconds", "From an alert's detection to its delivery",
                                 buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600), registry=registry)
        self.last_cycle = Gauge("newsmon_last_scheduler_tick_timestamp_seconds", "When the scheduler last ticked",
                                registry=registry)

    def render(self, sample: Callable[[Metrics], None] | None = None) -> bytes:
        """The exposition text; `sample` first sets the gauges read from the state database."""
        if sample is not None:
            sample(self)
        return generate_latest(self.registry)
