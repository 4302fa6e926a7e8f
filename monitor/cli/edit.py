"""How a command that edits the configuration does it: the change is a set of drop-in files to
write or remove (`monitor.config.dropins`); the whole configuration with the change is checked
as `newsmon check` would before anything is written (an invalid result is refused with check's
messages, and nothing is written); then the files are written atomically, and a running daemon
is told to reload and its answer reported (without one, the change applies at the next run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor import config
from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, config_path
from monitor.config import dropins


def loaded_config(args: argparse.Namespace) -> config.Config:
    """The configuration to edit, as it stands (read as far as it goes)."""
    loaded, _problems = config.read(config_path(args))
    return loaded


def drop_in_folder(loaded: config.Config) -> Path | None:
    """Where newsmon's drop-ins go; None (said on stderr) when the configuration has no include
    directory to put them in."""
    folder = dropins.directory(loaded.path, loaded.settings.include)
    if folder is None:
        print(f"newsmon: {loaded.path} has no include directory for newsmon to write to: add "
              "include = [\"watchlist.d/*.toml\"] to its [newsmon] table (or put a plain directory first in "
              "'include')", file=sys.stderr)
    return folder


def refuse_theirs(place: dropins.Place, what: str) -> int:
    """An item defined in a user's own file: newsmon does not rewrite it."""
    print(f"newsmon: {what} is defined in your file {place.file} (line {place.line}), which newsmon never "
          "rewrites: edit it there", file=sys.stderr)
    return EXIT_FAILED


def apply(args: argparse.Namespace, changes: dict[Path, str | None], done: str) -> int:
    """Check the configuration as it would be with `changes` (file -> new text, or None to
    remove it), then write them and tell a running daemon. `done`: what to say it did."""
    from monitor import app
    from monitor.cli.run import unset_variable

    path = config_path(args)
    _loaded, problems = app.read(path, overlay=changes)
    # a secret this shell cannot see is the daemon's to judge (systemd may hand it one), as for `reload`
    problems = [problem for problem in problems if not unset_variable(problem)]
    if problems:
        print("newsmon: not written: the configuration would not be valid:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    for file, text in changes.items():
        dropins.write(file, text, mode_of=path)
    print(done)
    return tell_daemon(path)


def tell_daemon(path: Path) -> int:
    """Ask a running daemon to reload and report its answer; without one, say when the change
    applies."""
    from monitor import statelock
    from monitor.cli.run import ask_reload

    loaded = config.read(path)[0]
    pid = statelock.running_pid(loaded.settings.state_dir)
    if pid is None:
        print("newsmon is not running on this state: the change applies when it next starts (or at the next "
              "'run --once')")
        return EXIT_OK
    if not loaded.settings.database.exists():  # it has just started: it reads the configuration as it is now
        print(f"newsmon (pid {pid}) is starting: it runs with the change, or 'newsmon reload' in a moment makes sure")
        return EXIT_OK
    code, lines = ask_reload(loaded, pid)
    for line in lines:
        print(line, file=sys.stderr if code != EXIT_OK else sys.stdout)
    return code
