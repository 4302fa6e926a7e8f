"""`newsmon check` and `newsmon notify-test`: is the configuration right (with `--online`: do
its feeds answer with feeds), and do its channels take a message? Neither touches the state."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path

from monitor import config, shown, times
from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, config_path, plural
from monitor.errors import ConfigError, FetchError, ParseError, Problem


def cmd_check(args: argparse.Namespace) -> int:
    from monitor import app

    try:
        path = config_path(args)
    except ConfigError as error:  # no configuration file found: nothing more to check
        for problem in error.problems:
            print(problem)
        return EXIT_USAGE
    loaded, problems = app.read(path)
    problems += _state_problems(loaded, problems)
    if problems:
        for problem in problems:
            print(problem)
        return EXIT_USAGE
    extra = f" (+{len(loaded.files) - 1} included file(s))" if len(loaded.files) > 1 else ""
    counts = ", ".join(plural(len(items), noun) for items, noun in (
        (loaded.feeds, "feed"), (loaded.entities, "entity"), (loaded.rules, "rule"), (loaded.channels, "channel")))
    print(f"{loaded.path}{extra}: OK: {counts}; state in {loaded.settings.state_dir}")
    for channel in loaded.channels:
        print(f"  channel {channel.name}: {channel_summary(channel)}")
    if not getattr(args, "online", False) or not loaded.feeds:
        return EXIT_OK
    outcomes = asyncio.run(check_feeds(loaded))
    for feed, (ok, text) in zip(loaded.feeds, outcomes):
        print(f"  feed {shown.url(feed.url)}: {text}")
    failed = sum(1 for ok, _text in outcomes if not ok)
    print(f"{plural(len(outcomes), 'feed')} fetched: {len(outcomes) - failed} OK, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


def _state_problems(loaded: config.Config, problems: list[Problem]) -> list[Problem]:
    """The state directory's problem, if any, for the report: with the configuration's other
    problems too, unless the main file could not be read at all (then where the state goes is
    not known) or its `state_dir` is itself wrong."""
    main = str(loaded.path)
    if any((problem.file == main and not problem.path) or problem.path.startswith("newsmon.state_dir")
           for problem in problems):
        return []
    message = state_dir_problem(loaded.settings.state_dir)
    return [Problem(main, "newsmon.state_dir", message)] if message else []


def state_dir_problem(state_dir: Path) -> str | None:
    """Why newsmon could not create or write its state directory (or its database there), or
    None. Creates and writes nothing: a directory that does not exist yet is judged by its
    nearest existing parent, which must be a directory newsmon can write to."""
    if os.path.exists(state_dir):
        if not os.path.isdir(state_dir):
            return f"cannot use {state_dir}: it is not a directory"
        denied = _not_writable(state_dir)
        if denied:
            return f"cannot write to {state_dir}: {denied}"
        database = Path(state_dir) / "newsmon.db"
        if os.path.exists(database) and not os.access(database, os.R_OK | os.W_OK, effective_ids=EFFECTIVE):
            return f"cannot write to {database}: {_not_writable(database) or 'permission denied'}"
        return None
    parent = Path(state_dir).parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if not os.path.exists(parent):
        return f"cannot create {state_dir}: {parent} is a broken symbolic link"
    if not os.path.isdir(parent):
        return f"cannot create {state_dir}: {parent} is not a directory"
    denied = _not_writable(parent)
    if denied:
        return f"cannot create {state_dir}: cannot write to {parent}: {denied}"
    return None


EFFECTIVE = os.access in os.supports_effective_ids


def _not_writable(path: Path) -> str | None:
    """Why this process cannot write to `path` (a directory: create files in it), or None."""
    mode = os.W_OK | os.X_OK if os.path.isdir(path) else os.W_OK
    if os.access(path, mode, effective_ids=EFFECTIVE):
        return None
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except (OSError, AttributeError):
        pass
    return "permission denied"


async def check_feeds(loaded: config.Config) -> list[tuple[bool, str]]:
    """Fetch every feed once, as the daemon does (same fetcher settings, limits and sandbox),
    concurrently within those limits; per feed, whether it is a working feed, and what it is
    or what went wrong."""
    from monitor import fetch, sandbox

    settings = loaded.settings
    fetcher = fetch.for_settings(settings)
    box = sandbox.Sandbox(min(len(loaded.feeds), os.cpu_count() or 1), timeout=settings.parse_timeout,
                          memory_limit=settings.worker_memory, preload=("monitor.feeds",))
    room = asyncio.Semaphore(settings.max_connections)  # bodies held at once: no more than connections

    async def one(feed) -> tuple[bool, str]:
        async with room:
            return await _check_feed(fetcher, box, settings, feed)

    try:
        return list(await asyncio.gather(*(one(feed) for feed in loaded.feeds)))
    finally:
        await fetcher.close()
        box.close()


async def _check_feed(fetcher, box, settings: config.Settings, feed) -> tuple[bool, str]:
    """(ok, what it is or why not) for one feed, fetched once (within the fetcher's deadline)
    and parsed in a sandbox worker (within the sandbox's)."""
    from monitor import pipeline

    try:
        response = await fetcher.get(feed.url, max_bytes=settings.max_feed_size, proxy=feed.proxy)
    except FetchError as error:
        kind = f"http-{error.status}" if error.kind == "http" and error.status else error.kind
        return False, f"FAILED ({kind}): {error}"
    moved = f"; moved permanently to {shown.url(response.moved_to)}: update the config" if response.moved_to else ""
    try:
        document, _items = await box.run(pipeline.PARSE, response.body, response.url, response.content_type, None)
    except Exception as error:  # the pipeline's kinds: not a feed, a worker past its deadline or memory, a bug
        found = getattr(error, "feeds", None) if isinstance(error, ParseError) else None
        if found is not None:
            return False, f"this is a web page; {_feed_links(found)}{moved}"
        kind, message = pipeline.parse_failure(error)
        return False, f"FAILED ({kind}): {message}{moved}"
    title = f"'{_one_line(document.title)}'" if document.title else "(untitled)"
    newest = max((entry.published for entry in document.entries if entry.published), default=None)
    dated = f", newest {times.shown(newest.timestamp())}" if newest else ", none dated" if document.entries else ""
    count = plural(len(document.entries), "entry")
    return True, f"{_format(response.body)} feed {title}, {count}{dated}{moved}"


SHOWN_FEEDS = 5
_ROOT = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,40}:)?(rss|feed|RDF)[\s/>]")


def _feed_links(found: tuple[tuple[str, str | None, str], ...]) -> str:
    """What a web page links to, from `feeds.discover`'s (url, title, type) tuples (links
    resolved against a feed URL with credentials inherit them: not shown)."""
    if not found:
        return "it links to no feed"
    listed = ", ".join(f"{shown.url(url)} ('{_one_line(title)}')" if title else shown.url(url)
                       for url, title, _kind in found[:SHOWN_FEEDS])
    more = f" and {len(found) - SHOWN_FEEDS} more" if len(found) > SHOWN_FEEDS else ""
    return f"it links to these feeds: {listed}{more}"


def _format(body: bytes) -> str:
    """RSS, Atom, RDF or JSON, from the first tag (or brace) of a body that parsed as a feed."""
    if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
        return "JSON"
    found = _ROOT.search(body, 0, 4096)
    return {b"rss": "RSS", b"feed": "Atom", b"RDF": "RDF"}[found.group(1)] if found else "XML"


def _one_line(text: str, limit: int = 120) -> str:
    """Third-party text for a terminal: one line, no control or formatting characters, capped."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def channel_summary(channel) -> str:
    """One line about a channel for `newsmon check`: its URLs as apprise shows them with
    secrets hidden, and what it takes and how."""
    from monitor import alert

    urls = ", ".join(alert.privacy_url(url) for url in channel.urls)
    notes = []
    if channel.min_severity != "low":
        notes.append(f"min_severity {channel.min_severity}")
    if channel.rules is not None:
        notes.append(f"rules {', '.join(channel.rules)}")
    if channel.digest_every:
        notes.append(f"digest every {channel.digest_every / 3600:g} h ({channel.timezone})")
    if channel.digest_cron:
        notes.append(f"digest at '{channel.digest_cron}' ({channel.timezone})")
    if channel.max_per_hour:
        notes.append(f"max {channel.max_per_hour} per hour")
    if channel.min_outlets > 1:
        notes.append(f"waits for {channel.min_outlets} outlets")
    if channel.quiet_hours:
        notes.append(f"quiet {', '.join(channel.quiet_hours)} ({channel.timezone}) below {channel.quiet_min_severity}")
    if channel.escalate_to:
        notes.append(f"escalates {channel.escalate_min_severity} alerts to {channel.escalate_to} after "
                     f"{channel.escalate_after / 60:g} min unacknowledged")
    if channel.quiet_after_ack:
        notes.append("no follow-ups once acknowledged")
    if channel.heartbeat:
        notes.append(f"heartbeat every {channel.heartbeat / 3600:g} h")
    templates = [name for name in ("title", "body") if getattr(channel, name)]
    if templates:
        notes.append(f"own {' and '.join(templates)} template")
    return urls + (f"; {'; '.join(notes)}" if notes else "")


def cmd_notify_test(args: argparse.Namespace) -> int:
    from monitor import alert, app

    loaded = app.check(config_path(args))
    spec = loaded.channel(args.channel)
    if spec is None:
        names = ", ".join(channel.name for channel in loaded.channels) or "none"
        print(f"newsmon: no channel {args.channel!r} in {loaded.path}; channels: {names}", file=sys.stderr)
        return EXIT_USAGE
    channel = alert.Channel(spec)
    message = alert.sample()
    failures = 0
    for target in channel.targets:
        outcome = target.send(*channel.render(message, target))
        if outcome.ok:
            print(f"ok      {target.privacy} ({target.kind}): accepted")
        else:
            failures += 1
            print(f"FAILED  {target.privacy} ({target.kind}): {outcome.reason}")
    return EXIT_OK if not failures else EXIT_FAILED
