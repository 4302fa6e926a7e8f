"""`newsmon check` and `newsmon notify-test`: is the configuration right (with `--online`: do
its feeds answer with feeds), and do its channels take a message? Neither touches the state."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from monitor import config, shown
from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, config_path, plural
from monitor.errors import ConfigError, Problem


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
    from monitor.cli import feed_probe

    outcomes = asyncio.run(feed_probe.probe_all(loaded.settings, list(loaded.feeds)))
    for feed, probe in zip(loaded.feeds, outcomes):
        print(f"  feed {shown.url(feed.url)}: {probe.text}")
    failed = sum(1 for probe in outcomes if not probe.ok)
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
