"""`newsmon init [DIR]`: a commented starter configuration and a first watchlist, from templates
shipped in the package; `newsmon init --example` prints the full example configuration. On a
terminal it asks what the flags did not say; otherwise it never asks. It never overwrites."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from pathlib import Path

from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from monitor.config import dropins

DEFAULT_WATCH = ("pack.ttp", "pack.iskp")


def add_parser(commands) -> None:
    init = commands.add_parser(
        "init", help="write a starter configuration (or print the full example with --example)",
        description="Write DIR/config.toml, a commented starter configuration, and DIR/watchlist.d/ with a first "
                    "rule watching entities of the bundled pack. DIR defaults to $XDG_CONFIG_HOME/newsmon when "
                    "that is set, else /etc/newsmon as root, else ~/.config/newsmon: where newsmon looks for it. On a terminal it asks for what the "
                    "flags did not give; otherwise it uses the defaults. It never overwrites a file.")
    init.add_argument("directory", nargs="?", metavar="DIR", help="where to write config.toml")
    init.add_argument("--state-dir", metavar="PATH", help="where newsmon keeps its state (default: the usual place)")
    init.add_argument("--channel", action="append", metavar="URL",
                      help="an apprise URL alerts go to, e.g. console:// or mailtos://... (repeatable; default "
                           "console://)")
    init.add_argument("--watch", action="append", metavar="pack.NAME",
                      help=f"a bundled pack entity the first rule watches (repeatable; default "
                           f"{' and '.join(DEFAULT_WATCH)})")
    init.add_argument("--example", action="store_true", help="print the full example configuration and exit")
    init.set_defaults(handler=cmd_init)


def example() -> str:
    """The full example configuration (config.example.toml), as shipped in the package."""
    return resources.files("monitor.config").joinpath("templates/example.toml").read_text(encoding="utf-8")


def default_directory(environ=os.environ) -> Path:
    """$XDG_CONFIG_HOME/newsmon when that is set; else /etc/newsmon as root (a system
    service's); else ~/.config/newsmon. Each is where `newsmon` looks for its configuration."""
    if environ.get("XDG_CONFIG_HOME"):
        return Path(environ["XDG_CONFIG_HOME"]) / "newsmon"
    if os.geteuid() == 0:
        return Path("/etc/newsmon")
    return Path(environ.get("HOME", str(Path.home()))) / ".config" / "newsmon"


def cmd_init(args: argparse.Namespace) -> int:
    import tomli_w

    if args.example:
        print(example(), end="")
        return EXIT_OK
    directory = Path(os.path.expanduser(args.directory)) if args.directory else default_directory()
    target = directory / "config.toml"
    if target.exists():
        print(f"newsmon: {target} already exists: not overwritten (edit it, or give another directory)",
              file=sys.stderr)
        return EXIT_FAILED
    asking = sys.stdin.isatty() and sys.stdout.isatty()
    channels = args.channel or _ask("Where should alerts go? An apprise URL", "console://", asking).split()
    watch = args.watch or _ask("Which bundled entities should the first rule watch?", " ".join(DEFAULT_WATCH),
                               asking).split()
    watch = [name if name.startswith("pack.") else f"pack.{name}" for name in watch]
    state = f"state_dir = {tomli_w.dumps({'x': args.state_dir})[4:].strip()}" if args.state_dir else \
        "#state_dir = \"/var/lib/newsmon\"   # default: $STATE_DIRECTORY, else ~/.local/state/newsmon"
    names = [_channel_name(url, index) for index, url in enumerate(channels)]
    tables = "".join(f"{tomli_w.dumps({'channels': {name: {'urls': [url]}}})}\n" for name, url in zip(names, channels))
    text = _template().replace("{state_dir}", state).replace("{channels}", tables)
    rule = dropins.render("newsmon init: a first rule; add your own with 'newsmon rule add' or in a file of your own.",
                          {"rules": [{"name": "watch", "any": [f"@{name}" for name in watch], "severity": "medium"}]})
    candidate = {target: text, directory / "watchlist.d" / "newsmon-rule-watch.toml": rule}
    problems = _problems(target, candidate)
    if problems:
        print("newsmon: not written: the configuration would not be valid:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    directory.mkdir(parents=True, exist_ok=True)
    for path, content in candidate.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as out:  # never overwrite, even in a race
            out.write(content)
        os.chmod(path, 0o600)  # channel URLs may carry secrets
    print(f"wrote {target} and {directory / 'watchlist.d'}/ (a rule watching {', '.join(watch)}; "
          f"alerts to {', '.join(names)})")
    print("next: add outlets with 'newsmon feed add URL' (or 'newsmon feed import FILE.opml'), check with "
          f"'newsmon --config {target} check', then 'newsmon --config {target} run'")
    return EXIT_OK


def _template() -> str:
    return resources.files("monitor.config").joinpath("templates/starter.toml").read_text(encoding="utf-8")


def _channel_name(url: str, index: int) -> str:
    scheme = url.partition("://")[0].lower()
    name = {"console": "console", "mailto": "email", "mailtos": "email", "slack": "slack", "tgram": "telegram",
            "ntfy": "ntfy", "ntfys": "ntfy"}.get(scheme, "alerts")
    return name if index == 0 else f"{name}{index + 1}"


def _ask(question: str, default: str, asking: bool) -> str:
    if not asking:
        return default
    answer = input(f"{question} [{default}]: ").strip()
    return answer or default


def _problems(target: Path, candidate: dict[Path, str]) -> list:
    """What `check` would say of the files about to be written (a secret this shell cannot see
    is not one: the service may have it)."""
    from monitor import app
    from monitor.cli.run import unset_variable

    _loaded, problems = app.read(target, overlay=candidate)
    return [problem for problem in problems if not unset_variable(problem)
            and not problem.path.startswith("newsmon.state_dir")]
