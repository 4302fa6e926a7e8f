"""What every `newsmon` command shares: exit codes, finding the configuration, opening the
existing state, counting nouns."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from monitor import config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2  # every command's exit codes; see `monitor.cli`


def config_path(args: argparse.Namespace) -> Path:
    """The configuration file the command line points at (see `config.find_config`)."""
    return config.find_config(args.config, os.environ)



def open_existing(args: argparse.Namespace):
    """The existing store of the configuration's state directory (never creates one)."""
    from monitor import store

    loaded, _problems = config.read(config_path(args))  # reading state needs only state_dir
    return store.open_existing(loaded.settings.state_dir)


def plural(count: int, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"
