"""Assembling a running configuration: the checked config, compiled rules, alert routing and
channels, the store, the fetcher and the sandbox. Every semantic problem (apprise URLs,
templates, routing) is collected into one ConfigError together with the config package's own."""

from __future__ import annotations

import asyncio
import dataclasses
import contextlib
import logging
import os
import pickle
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from monitor import alert, config, event_facts, events, fetch, incidents, match, sandbox, store, window
from monitor.metrics import Metrics
from monitor.story_index import StoryIndex
from monitor.errors import ConfigError, Problem, StoreFault
from monitor.model import FeedItems

log = logging.getLogger("newsmon.store")
BUSY_WAIT = 0.2  # seconds a statement blocks for another process's lock; then the caller waits on the event loop
RESTART_SETTINGS = ("state_dir", "user_agent", "allow_private_networks", "max_connections", "max_connections_per_host",
                    "request_timeout", "parse_timeout", "worker_memory", "story_window")


def read(path: Path | str, environ: Mapping[str, str] | None = None, *, remembered: bool = False,
         overlay: Mapping[Path, str | None] | None = None) -> tuple[config.Config, list[Problem]]:
    """A configuration read as far as it goes, with every problem: the config package's own,
    apprise URLs, templates and routing. `check` is this, refusing any problem. `remembered`:
    channel URLs apprise accepted before (`alert.accepted`) are not checked again. `overlay`:
    files as an edit would leave them (see `config.read`)."""
    loaded, problems = config.read(path, environ, overlay=overlay)
    file = str(loaded.path)
    accepted = alert.accepted.load(loaded.settings.state_dir) if remembered else None
    before = dict(accepted or {})
    for channel in loaded.channels:
        for index, url in enumerate(channel.urls):
            if not url:
                continue
            message = alert.check_url(url, accepted)
            if message:
                problems.append(Problem(file, f"channels.{channel.name}.urls[{index}]", message))
        for key in ("title", "body"):
            template = getattr(channel, key)
            message = alert.template_problem(template) if template else None
            if message:
                problems.append(Problem(file, f"channels.{channel.name}.{key}", message))
    if accepted is not None and accepted != before and not problems:
        alert.accepted.save(loaded.settings.state_dir, accepted)
    problems += _place_problems(loaded, file)
    problems += _site_problems(loaded, file)
    for rule_name, message in alert.routing_problems(loaded.channels, loaded.settings.default_channels, loaded.rules):
        if rule_name:
            problems.append(Problem(file, f"rules[name={rule_name!r}]", message))
        else:  # "channels.NAME.rules[i]: message"
            where, _, text = message.partition(": ")
            problems.append(Problem(file, where, text))
    return loaded, problems


def _place_problems(loaded: config.Config, file: str) -> list[Problem]:
    """The configuration's own [places.ID] as the gazetteer judges them, and the places its
    region entities contain (each must be a place of the gazetteer)."""
    if not loaded.places and not any(entity.contains for entity in loaded.entities):
        return []
    from monitor import places

    try:
        gazetteer = places.with_places(loaded.places)
    except ValueError as error:
        out = []
        for line in str(error).splitlines()[1:]:
            where, _, message = line.strip().partition(": ")
            out.append(Problem(file, where, message))
        return out
    out = []
    for entity in loaded.entities:
        for index, place in enumerate(entity.contains):
            try:
                gazetteer.place(place)
            except KeyError:
                out.append(Problem(file, f"entities.{entity.name}.contains[{index}]",
                                   f"unknown place {place!r}: a place id of the bundled gazetteer "
                                   "(monitor/packs/places.toml) or one of your [places.ID]"))
    return out


def _site_problems(loaded: config.Config, file: str) -> list[Problem]:
    """Each [[sites]] `place` must be a place of the gazetteer with coordinates."""
    out = []
    for index, site in enumerate(loaded.sites):
        if site.place is None:
            continue
        try:
            found = _gazetteer(loaded).place(site.place)
        except (KeyError, ValueError):
            out.append(Problem(file, f"sites[{index}].place", f"unknown place {site.place!r}: a place id of the bundled "
                                                              "gazetteer (monitor/packs/places.toml) or one of your [places.ID]"))
            continue
        if found.lat is None or found.lon is None:
            out.append(Problem(file, f"sites[{index}].place", f"place {site.place!r} has no coordinates: give the site "
                                                              "lat and lon"))
    return out


def _gazetteer(loaded: config.Config):
    from monitor import places

    return places.with_places(loaded.places)


def sites(loaded: config.Config) -> tuple:
    """The configuration's [[sites]] with the coordinates of those given by `place`."""
    out = []
    for site in loaded.sites:
        if site.place is not None:
            found = _gazetteer(loaded).place(site.place)
            site = dataclasses.replace(site, lat=found.lat, lon=found.lon)
        out.append(site)
    return tuple(out)


def check(path: Path | str, environ: Mapping[str, str] | None = None, *, remembered: bool = False) -> config.Config:
    """Load and fully check a configuration: apprise URLs, templates and routing included.
    Raises ConfigError listing every problem. `remembered`: see `read`."""
    loaded, problems = read(path, environ, remembered=remembered)
    if problems:
        raise ConfigError(problems)
    return loaded


@dataclass
class App:
    """Everything one running newsmon needs; `close()` releases it."""

    config: config.Config
    matcher: match.Matcher
    router: alert.Router
    channels: dict[str, alert.Channel]
    store: store.Store
    fetcher: fetch.Fetcher
    sandbox: sandbox.Sandbox
    outbox_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _stories: StoryIndex | None = None  # read from the store when first needed: story_index()
    _events: events.EventIndex | None = None  # likewise: event_index()
    _read_at: dict[str, window.Mark] = field(default_factory=dict)  # where the store stood when each was read
    _namer: event_facts.Namer | None = None  # how facts are said (namer()), made when first needed
    metrics: Metrics = field(default_factory=Metrics)
    sites: tuple = ()  # [[sites]] with their coordinates (app.sites)
    clock: Callable[[], float] = time.time  # tests pass a controllable clock
    warned: set[tuple[str, str]] = field(default_factory=set)  # (feed, kind) said once already
    # per feed id, what its last fully recorded body held: its next body's unchanged items are not parsed
    feed_items: dict[int, FeedItems] = field(default_factory=dict)
    # Article pages in flight (fetching, waiting for a worker, extracting) at most: a page is fetched
    # only when an extraction slot will take it soon, so bodies never pile up however many entries
    # a cycle brings. Set by open_app: max_connections + 2 x workers.
    pages_bound: int = 16
    pages_peak: int = 0  # the most in flight at once since start (newsmon_pages_in_flight_peak)
    _pages: asyncio.Semaphore | None = None
    _pages_now: int = 0
    # Feed polls in flight (fetching, parsing, their entries read) at most: a feed's body and its
    # parsed entries are held until its last entry is recorded, so a cold cycle of 500 feeds held
    # every feed's (47 MB of bodies and their entries) at once. Set by open_app: max_connections +
    # pages_bound, enough polls to keep every connection and page place busy.
    feeds_bound: int = 32
    feeds_peak: int = 0  # the most in flight at once since start
    _feeds: asyncio.Semaphore | None = None
    _feeds_now: int = 0
    # Polls running now: the last to end commits what the polls left for the next commit (their
    # validators and silent entries, `Store.later`): one commit for a cycle's many feeds, not one
    # a feed, and no write lock held once polling stops.
    polls_now: int = 0
    unrecorded: list[alert.Mark] = field(default_factory=list)  # delivery outcomes a store fault kept out
    store_fault: StoreFault | None = None  # what keeps the store from recording now, if anything
    store_fault_since: float | None = None
    faulted: bool = False  # a store fault happened in this process: its indexes may not be the store's

    @contextlib.asynccontextmanager
    async def page_slot(self) -> AsyncIterator[None]:
        """One of the `pages_bound` places for an article page, held from its fetch to the end
        of its extraction."""
        if self._pages is None:
            self._pages = asyncio.Semaphore(self.pages_bound)
        async with self._pages:
            self._pages_now += 1
            self.pages_peak = max(self.pages_peak, self._pages_now)
            self.metrics.pages_in_flight.set(self._pages_now)
            self.metrics.pages_in_flight_peak.set(self.pages_peak)
            try:
                yield
            finally:
                self._pages_now -= 1
                self.metrics.pages_in_flight.set(self._pages_now)

    @contextlib.asynccontextmanager
    async def feed_slot(self) -> AsyncIterator[None]:
        """One of the `feeds_bound` places for a feed's poll in a cycle (`run --once`), held from its fetch to its last
        entry recorded."""
        if self._feeds is None:
            self._feeds = asyncio.Semaphore(self.feeds_bound)
        async with self._feeds:
            self._feeds_now += 1
            self.feeds_peak = max(self.feeds_peak, self._feeds_now)
            try:
                yield
            finally:
                self._feeds_now -= 1

    def story_index(self) -> StoryIndex:
        """The near-duplicate signatures within the story window, read from the store the first
        time an article needs its story (a cycle that brings nothing new never reads them)."""
        if self._stories is None:
            self._read_windows()
        return self._stories

    def event_index(self) -> events.EventIndex:
        """The events open within the story window, read from the store the first time an
        article needs its event."""
        if self._events is None:
            self._read_windows()
        return self._events

    def _read_windows(self) -> None:
        """Both indexes of the story window, read together: before this process records an
        article, which they would otherwise take in twice (from the store, then as it is added)
        or, saved, no longer fit (`monitor.window`)."""
        if self._stories is None:
            self._stories = self._read("stories")
        if self._events is None:
            self._events = self._read("events")

    def _read(self, kind: str) -> object:
        """The index of `kind` as the last process saved it, or rebuilt (`window.read`)."""
        started = time.process_time()
        index, how = window.read(self.config.settings.state_dir, kind, self.store, self.config.settings.story_window)
        self._read_at[kind] = window.mark(self.store, index)
        log.debug("%s read (%s): %s in %.2fs", *window.described(kind, index, how), time.process_time() - started)
        return index

    def save_indexes(self) -> None:
        """Save the story window's indexes read in this process, for the next one (`monitor.window`),
        unless a store fault may have left memory and store apart. Failing, it says so: the next
        process rebuilds them."""
        if self.faulted:
            return
        for kind, index in (("stories", self._stories), ("events", self._events)):
            if index is None:
                continue
            try:
                started = time.process_time()
                if window.save(self.config.settings.state_dir, kind, index, self.store, self._read_at[kind]):
                    log.debug("%s saved: %s in %.2fs", *window.described(kind, index), time.process_time() - started)
            except (OSError, StoreFault, pickle.PicklingError) as error:
                log.warning("story window not saved (%s); the next start reads it from the state database", error)
                return

    def namer(self) -> event_facts.Namer:
        """How this configuration says an event's facts (places, entities: `incidents.namer`)."""
        if self._namer is None:
            self._namer = incidents.namer(self.matcher.entities, self.config.places)
        return self._namer

    def store_failed(self, fault: StoreFault) -> None:
        """The store cannot record: said once (ERROR) per kind of fault; sending stops until it can."""
        if self.store_fault is None or self.store_fault.kind != fault.kind:
            then = ("until this clears, then goes on by itself: nothing is lost" if fault.transient
                    else "until it is repaired and newsmon restarted")
            log.error("%s (newsmon stops sending and recording %s)", fault, then)
            self.store_fault_since = self.store_fault_since or time.time()
        self.store_fault = fault
        self.faulted = True
        self.metrics.store_faults.labels(fault.kind).inc()

    def store_works(self) -> None:
        """The store recorded something: a fault said before has cleared (not corruption:
        a write that missed the damaged pages proves nothing)."""
        if self.store_fault is not None and self.store_fault.kind != "corrupt":
            lasted = time.time() - (self.store_fault_since or time.time())
            log.warning("state database recording again after %.0fs (it was %s)", lasted, self.store_fault.kind)
            self.store_fault = self.store_fault_since = None

    def reconfigure(self, fresh: config.Config) -> list[str]:
        """Switch to a new, checked configuration: feeds, rules, entities and channels apply at
        once. Returns the settings that changed but apply only after a restart."""
        old = self.config.settings
        needs_restart = [name for name in RESTART_SETTINGS if getattr(old, name) != getattr(fresh.settings, name)]
        self.matcher = incidents.matcher(fresh.entities, fresh.rules, fresh.places)
        self._namer = None
        self.sites = sites(fresh)
        self.router = router(fresh)
        self.channels = alert.build_channels(fresh.channels)
        self.config = fresh
        return needs_restart

    async def close(self) -> None:
        await self.fetcher.close()
        self.sandbox.close()
        try:
            self.save_indexes()
        finally:
            self.store.close()


def open_app(loaded: config.Config, *, workers: int | None = None, start_workers: str = "lazily") -> App:
    """Open the store and start the stages for a checked configuration. Raises StoreError.

    `start_workers`: "lazily" starts the sandbox's workers when the first feed body comes;
    "now" starts them in the background at once, while the rules compile and the story index
    is read (the daemon: it will need them); "if-new-feeds" does that only when a configured
    feed has never been read (`run --once` on new feeds; a run whose feeds all answer 304
    should not pay half a second of CPU a worker for nothing)."""
    settings = loaded.settings
    opened = store.open_store(settings.state_dir)  # migrations wait for another process's lock
    # Workers import the extractor (trafilatura: a third of a second each) only if a feed reads
    # full text; a task that needs it later (a feed added by a reload) imports it then.
    # They also read extracted pages' event features (monitor.incidents), whose data they load
    # then too (about 0.2 CPU-s a worker, off the event loop, rather than on its first page).
    extracting = ("monitor.extract", "monitor.incidents:prepare") if any(feed.full_text for feed in loaded.feeds) else ()
    box = sandbox.Sandbox(workers or os.cpu_count(), timeout=settings.parse_timeout,
                          memory_limit=settings.worker_memory, preload=("monitor.feeds", *extracting))
    if start_workers == "now" or (start_workers == "if-new-feeds"
                                  and {feed.url for feed in loaded.feeds} - opened.parsed_feeds()):
        box.start_ahead()
    opened.set_busy(BUSY_WAIT)  # from here on, waiting is done on the event loop (pipeline.stored)
    pages_bound = settings.max_connections + 2 * box.workers
    return App(
        pages_bound=pages_bound,
        feeds_bound=settings.max_connections + pages_bound,
        config=loaded,
        matcher=incidents.matcher(loaded.entities, loaded.rules, loaded.places),
        sites=sites(loaded),
        router=router(loaded),
        channels=alert.build_channels(loaded.channels),
        store=opened,
        fetcher=fetch.for_settings(settings),
        sandbox=box,
    )


def router(loaded: config.Config) -> alert.Router:
    """Alert routing for a checked configuration."""
    settings = loaded.settings
    return alert.Router(loaded.rules, loaded.channels, default_channels=settings.default_channels,
                        admin_channels=settings.admin_channels, grades=settings.severity,
                        material=settings.material_toll_change)
