"""`newsmon run` (the daemon, or one cycle with --once), `reload`, `enable` / `disable` and
`demo`: the commands that make newsmon work."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from monitor import shown
from monitor.cli import once
from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, config_path, open_existing, read_config
from monitor.config.schema import suggest
from monitor.errors import ConfigError

log = logging.getLogger("newsmon")


def cmd_run(args: argparse.Namespace) -> int:
    from monitor import app, statelock

    path = config_path(args)
    loaded = app.check(path, remembered=True)
    with statelock.StateLock(loaded.settings.state_dir) as lock:  # one newsmon per state directory
        if args.once:
            return asyncio.run(once.run(loaded, summary=sys.stdout.isatty()))
        from monitor import daemon  # the scheduler: a daemon's, not a single cycle's

        running = app.open_app(loaded, start_workers="now")
        asyncio.run(daemon.Daemon(running, loader=lambda: app.check(path, remembered=True), lock=lock).run())
    return EXIT_OK


def cmd_reload(args: argparse.Namespace) -> int:
    """Check the configuration, signal the daemon, and wait for its answer: what changed, or
    why it kept the previous configuration."""
    from monitor import app, statelock

    path = config_path(args)
    loaded, problems = app.read(path)
    # A secret this shell cannot see is the daemon's to judge (systemd may hand it one); every
    # other problem stops the reload here.
    own = [problem for problem in problems if not unset_variable(problem)]
    if own:
        raise ConfigError(own)
    state_dir = loaded.settings.state_dir
    pid = statelock.running_pid(state_dir)
    if pid is None:
        print(f"newsmon: no running newsmon on {state_dir} (nothing holds its lock)", file=sys.stderr)
        return EXIT_FAILED
    code, lines = ask_reload(loaded, pid)
    for line in lines:
        print(line, file=sys.stdout if code == EXIT_OK else sys.stderr)
    return code


def ask_reload(loaded, pid: int) -> tuple[int, list[str]]:
    """Signal the running newsmon `pid` to reload and wait for its answer: (exit code, the
    lines that say what happened: what changed, or why it kept the previous configuration)."""
    import signal

    from monitor import store

    with store.open_existing(loaded.settings.state_dir) as opened:
        before = opened.last_reload()
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_WAIT
        answer = None
        while time.monotonic() < deadline:
            answer = opened.last_reload()
            if answer is not None and (before is None or answer.id > before.id):
                break
            answer = None
            time.sleep(0.1)
    if answer is None:
        return EXIT_FAILED, [f"newsmon: asked newsmon (pid {pid}) to reload, but it did not answer within "
                             f"{RELOAD_WAIT:g} s; its log says what happened"]
    if not answer.applied:
        return EXIT_USAGE, [f"newsmon (pid {pid}) refused the new configuration and keeps running on the previous "
                            "one:", *(f"  {line}" for line in answer.lines)]
    return EXIT_OK, [f"newsmon (pid {pid}) reloaded {loaded.path}: " + ("nothing changed" if not answer.lines else ""),
                     *(f"  {line}" for line in answer.lines)]


RELOAD_WAIT = 10.0  # seconds `newsmon reload` waits for the daemon's answer


def unset_variable(problem) -> bool:
    return problem.message.startswith("environment variable ") and " is not set" in problem.message


def cmd_toggle(args: argparse.Namespace) -> int:
    """`enable` / `disable` a feed given by its URL, its shown form (credentials as `***`, as
    logs and `status` show it) or its configured name."""
    loaded = read_config(args)
    with open_existing(args, loaded) as opened:
        stored = [row.url for row in opened.feeds()]
        url = _feed_url(args.feed, loaded, stored)
        if url is None:
            known = [feed.name or shown.url(feed.url) for feed in loaded.feeds] or [shown.url(url) for url in stored]
            hint = suggest(args.feed, known) or (f"; feeds: {', '.join(known)}" if known else "")
            print(f"newsmon: no feed {shown.url(args.feed)!r} in {loaded.path} or {opened.path}{hint}", file=sys.stderr)
            return EXIT_FAILED
        status = "active" if args.verb == "enable" else "disabled"
        reason = None if args.verb == "enable" else (args.reason or "disabled by the user")
        if not opened.set_feed_status(url, status, reason):
            print(f"newsmon: {shown.url(url)} has not been polled yet: nothing to {args.verb} (state: {opened.path})",
                  file=sys.stderr)
            return EXIT_FAILED
    caught_up = " (its next poll catches up without alerting)" if args.verb == "enable" else ""
    print(f"{shown.url(url)}: {'enabled' if args.verb == 'enable' else 'disabled'}{caught_up}")
    return EXIT_OK


def _feed_url(given: str, loaded, stored: list[str]) -> str | None:
    """The URL of the feed `given` names: its URL, its shown form (when only one feed has it),
    or its configured `name` (case-insensitive)."""
    if given in stored or any(feed.url == given for feed in loaded.feeds):
        return given
    same = {url for url in [*stored, *(feed.url for feed in loaded.feeds)] if shown.url(url) == given}
    if len(same) == 1:
        return same.pop()
    named = [feed.url for feed in loaded.feeds if feed.name and feed.name.casefold() == given.casefold()]
    return named[0] if len(named) == 1 else None


def cmd_demo(args: argparse.Namespace) -> int:
    if args.keep:
        return _demo(Path(args.keep))
    with tempfile.TemporaryDirectory(prefix="newsmon-demo-") as directory:
        return _demo(Path(directory))


def _demo(directory: Path) -> int:
    from monitor import app, demo, store

    directory.mkdir(parents=True, exist_ok=True)
    with demo.serve() as base:
        path = demo.write_config(directory, base)
        print(f"newsmon demo: sample feeds served at {base}; config and state in {directory}\n", flush=True)
        loaded = app.check(path)
        asyncio.run(once.run(loaded))
        with store.open_existing(loaded.settings.state_dir) as opened:
            counts = opened.alert_counts()
            entries = opened.counts()["entries"]
    print(f"newsmon demo: {entries} articles read, {counts.get('sent', 0)} alerts printed above. "
          f"Next: 'newsmon init' writes a starter configuration; add feeds with 'newsmon feed add URL', then "
          f"'newsmon check'.")
    return EXIT_OK
