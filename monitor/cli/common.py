"""What every `newsmon` command shares: exit codes, finding the configuration, opening the
existing state, counting nouns."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from monitor import config
from monitor.errors import ConfigError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2  # every command's exit codes; see `monitor.cli`


def config_path(args: argparse.Namespace) -> Path:
    """The configuration file the command line points at (see `config.find_config`)."""
    return config.find_config(args.config, os.environ)

def read_config(args: argparse.Namespace) -> config.Config:
    """The configuration, for a command that reads the state: problems that leave the state
    directory unknown (the file missing, unreadable or not TOML; a bad [newsmon] table or
    state_dir) raise ConfigError, rather than a guess at the default state directory. Other
    problems (a rule's typo, a secret this shell cannot see) are `check`'s and `run`'s business."""
    loaded, problems = config.read(config_path(args))
    main = str(loaded.path)
    blocking = [problem for problem in problems if problem.file == main
                and (problem.path in ("", "newsmon") or problem.path.startswith("newsmon.state_dir"))]
    if blocking:
        raise ConfigError(blocking)
    return loaded


def open_existing(args: argparse.Namespace, loaded: config.Config | None = None):
    """The existing store of the configuration's state directory (never creates one)."""
    from monitor import store

    loaded = loaded or read_config(args)
    return store.open_existing(loaded.settings.state_dir)


def moment(text: str) -> float | None:
    """The time an ISO 8601 argument names ("2026-12-05T07:00+05:00"; without an offset, UTC),
    or None when it is not one."""
    from datetime import datetime, timezone

    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()


def plural(count: int, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"
