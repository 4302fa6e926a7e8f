"""`newsmon check` and `newsmon notify-test`: is the configuration right, and do its channels
take a message? Neither touches the state."""

from __future__ import annotations

import argparse
import sys

from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, config_path, plural
from monitor.errors import ConfigError


def cmd_check(args: argparse.Namespace) -> int:
    from monitor import app

    try:
        loaded = app.check(config_path(args))
    except ConfigError as error:
        for problem in error.problems:
            print(problem)
        return EXIT_USAGE
    extra = f" (+{len(loaded.files) - 1} included file(s))" if len(loaded.files) > 1 else ""
    counts = ", ".join(plural(len(items), noun) for items, noun in (
        (loaded.feeds, "feed"), (loaded.entities, "entity"), (loaded.rules, "rule"), (loaded.channels, "channel")))
    print(f"{loaded.path}{extra}: OK: {counts}; state in {loaded.settings.state_dir}")
    for channel in loaded.channels:
        print(f"  channel {channel.name}: {channel_summary(channel)}")
    return EXIT_OK


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
