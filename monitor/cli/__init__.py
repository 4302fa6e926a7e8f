"""The `newsmon` command: the argument parser, logging, and turning errors into messages and
exit codes. Each command lives in a module of this package (`run`, `check`, `status`,
`match`); with them, this is the only code that writes for a person.

Exit codes: 0 done; 1 could not do it (e.g. the store cannot be opened); 2 bad usage or an
invalid configuration. Logs go to stderr, command output to stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timezone

from monitor import __version__
from monitor.cli import backtest as backtest_commands, init as init_command, route_test, silences as silence_commands
from monitor.cli import watchlist as watchlist_commands
from monitor.cli.common import EXIT_FAILED, EXIT_USAGE
from monitor.errors import ConfigError, NewsmonError

# The stages (apprise, aiohttp, feedparser, trafilatura) are imported inside the commands that
# need them, and the modules of the commands defined here when one of them runs: `newsmon --help`
# should not pay for importing the whole stack.


def _command(module: str, name: str):
    """The function `name` of the command module `monitor.cli.<module>`, imported when it runs."""
    def handler(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(f"monitor.cli.{module}"), name)(args)

    handler.__qualname__ = handler.__name__ = name
    return handler


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with usage, as argparse does, but our words
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"newsmon: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="newsmon",
        description="Self-hosted news monitoring: polls your outlets' feeds, reads the articles, "
                    "matches your watch rules and sends one alert per story.",
        epilog="Configuration: --config PATH, else $NEWSMON_CONFIG, else ~/.config/newsmon/config.toml, "
               "else /etc/newsmon/config.toml. Try 'newsmon demo' first.",
    )
    parser.add_argument("--version", action="version", version=f"newsmon {__version__}")
    _global_options(parser, {"config": None, "log_level": None, "log_format": "text"})
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    run = commands.add_parser("run", help="run the monitor (a daemon, or one cycle with --once)",
                              description="Poll every feed on its schedule and send alerts, until SIGTERM or "
                                          "Ctrl-C. With --once: poll every feed that is due once (a feed held "
                                          "back by its backoff, a Retry-After or its TTL waits for a later run), "
                                          "try every pending alert once, and exit: 0 even if some feeds or "
                                          "channels failed (they are logged and retried), 1 when every feed is "
                                          "failing. On a terminal it ends with a summary.")
    run.add_argument("--once", action="store_true", help="one cycle, then exit")
    run.set_defaults(handler=_command("run", "cmd_run"))

    check = commands.add_parser("check", help="check the configuration and report every problem",
                                description="Read the configuration and its includes, check every key, "
                                            "reference and apprise URL, and that the state directory can be "
                                            "created and written, and print one line per problem (exit 2), or a "
                                            "one-line summary (exit 0). Touches no state. With --online, then "
                                            "fetch each feed once as the daemon would and print what it is "
                                            "(RSS, Atom or JSON feed, title, entries, newest entry), why it "
                                            "failed, or, for a web page, the feeds it links to; exit 1 when any "
                                            "feed failed.")
    check.add_argument("--online", action="store_true",
                       help="also fetch each feed once and report what it is (exit 1 if any failed)")
    check.set_defaults(handler=_command("check", "cmd_check"))

    demo_ = commands.add_parser("demo", help="a self-contained demonstration (no internet, no accounts)",
                                description="Serve bundled sample feeds and article pages from a loopback web "
                                            "server, run one cycle with a bundled watchlist in a temporary state "
                                            "directory, and print the alerts to standard output.")
    demo_.add_argument("--keep", metavar="DIR", help="keep the demo's state and config in DIR instead of a temporary directory")
    demo_.set_defaults(handler=_command("run", "cmd_demo"))

    status = commands.add_parser("status", help="show each feed's health and the outbox",
                                 description="Read the state database (never creates one) and show every "
                                             "feed: health, last success, last error, next poll, entries "
                                             "seen; the outbox's alert counts; and each channel's health (pending, "
                                             "failing since when and why, next try, next digest).")
    status.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    status.set_defaults(handler=_command("status", "cmd_status"))

    reload = commands.add_parser("reload", help="make the running daemon re-read its configuration",
                                 description="Check the configuration, send SIGHUP to the newsmon running on its "
                                             "state directory, and wait up to 10 s for its answer: print what "
                                             "changed, by name (feeds, rules, entities, channels, settings). Exit 0 "
                                             "when the daemon runs the new configuration; 2 when the configuration "
                                             "has problems (the daemon is not asked) or the daemon refused it (it "
                                             "keeps the previous one; its problems are printed); 1 when no daemon "
                                             "runs or it did not answer.")
    reload.set_defaults(handler=_command("run", "cmd_reload"))

    stories_ = commands.add_parser("stories", help="recent stories: their articles, outlets and rules; --why",
                                   description="List stories (events: one real-world incident, however many "
                                               "outlets reported it) first seen within --since, newest first: "
                                               "each outlet's reports (article ids a:N) with copies of another's "
                                               "text folded under it, when each was seen and published, the rules "
                                               "it matched and the stories merged into it. --why a:N s:M shows "
                                               "why two articles or stories were joined or kept apart.")
    stories_.add_argument("--since", default="24h", type=_duration, help="how far back (default 24h)")
    stories_.add_argument("--rule", metavar="NAME", help="only stories this rule matched")
    stories_.add_argument("--limit", type=int, default=50, help="how many stories at most (default 50; 0: all)")
    stories_.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    stories_.add_argument("--why", nargs=2, metavar=("A", "B"),
                          help="explain two articles (a:N) or stories (s:N), e.g. --why a:123 s:45: their "
                               "features, the score and the guard that joined or separated them")
    stories_.set_defaults(handler=_command("stories", "cmd_stories"))

    for verb, text in (("enable", "poll a disabled feed again (e.g. after '410 Gone')"),
                       ("disable", "stop polling a feed, keeping its history")):
        toggle = commands.add_parser(verb, help=text, description=text[0].upper() + text[1:] + ".")
        toggle.add_argument("feed", metavar="FEED", help="the feed's URL, or its name, as in the configuration")
        toggle.add_argument("--reason", default=None, help="a note shown by 'newsmon status'")
        toggle.set_defaults(handler=_command("run", "cmd_toggle"), verb=verb)

    alerts = commands.add_parser("alerts", help="alert history: what was sent where, what waits, what died",
                                 description="List alerts from the outbox, newest first: status (pending, "
                                             "held, sent, failed, dead, merged, uncorroborated, silenced), channel, "
                                             "rule, how it went (alone, in a digest, in a flood summary), attempts "
                                             "and the last error. Held alerts wait for a second outlet (a channel's "
                                             "min_outlets) or for the end of its quiet hours; uncorroborated ones "
                                             "never got a second outlet within the story window; merged ones "
                                             "belonged to a story found to be another; silenced ones matched a "
                                             "silence, or were follow-ups of an acknowledged story. Failed alerts are those "
                                             "a service refused for good 3 times (the channel's other alerts went "
                                             "on); dead ones were not delivered within 48 h while their channel kept "
                                             "failing; --retry-dead queues both again.")
    alerts.add_argument("--since", type=_duration, default=None, metavar="DURATION", help="only alerts queued or sent within this long, e.g. 24h")
    alerts.add_argument("--limit", type=int, default=50, help="how many at most (default 50; 0: all)")
    shown = alerts.add_mutually_exclusive_group()
    shown.add_argument("--pending", action="store_true", help="only alerts not yet delivered")
    shown.add_argument("--held", action="store_true",
                       help="only alerts held (for corroboration or quiet hours), and those never corroborated")
    shown.add_argument("--dead", action="store_true", help="only dead alerts (not delivered within 48 h)")
    shown.add_argument("--failed", action="store_true",
                       help="only failed alerts (a service refused them for good, e.g. SMTP 5xx or HTTP 400, 3 times)")
    shown.add_argument("--retry-dead", action="store_true",
                       help="queue every dead and failed alert again (a fresh 48 h); a running daemon sends them "
                            "within a minute")
    alerts.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    alerts.set_defaults(handler=_command("status", "cmd_alerts"))

    silence_commands.add_parsers(commands, _duration)
    route_test.add_parser(commands)
    init_command.add_parser(commands)
    watchlist_commands.add_parsers(commands, _duration)
    backtest_commands.add_parsers(commands, _duration)

    notify = commands.add_parser("notify-test", help="send a sample alert through a channel and say how it went",
                                 description="Render a sample alert with the channel's templates and send it to "
                                             "each of the channel's URLs; print, per URL (secrets hidden), whether "
                                             "the service accepted it or apprise's reason why not. Exit 0 when "
                                             "every URL accepted it, 1 otherwise. Touches no state.")
    notify.add_argument("channel", metavar="CHANNEL", help="a channel name from [channels.NAME]")
    notify.set_defaults(handler=_command("check", "cmd_notify_test"))

    match_ = commands.add_parser("match", help="show which rules match an article, and why the others do not",
                                 description="Match one article against the configured rules: print the rules "
                                             "that match with the hits that made them match, and why each other "
                                             "rule did not (including hits that did not count, e.g. an ambiguous "
                                             "name with no context nearby). SOURCE is a file (HTML is extracted, "
                                             "other text is taken as is), an http(s) URL (fetched and extracted "
                                             "like an article page) or - for standard input. Exit 0 whether or not "
                                             "anything matched.")
    match_.add_argument("source", metavar="SOURCE", help="a file, an http:// or https:// URL, or - for standard input")
    match_.add_argument("--json", action="store_true",
                        help="print JSON: title, text, matches (rule, hits with field and code-point offsets) and "
                             "non_matches (rule, reason)")
    match_.add_argument("--rule", metavar="NAME", action="append", help="only this rule (may be repeated)")
    match_.add_argument("--feed-tag", metavar="TAG", action="append",
                        help="judge rules' feed_tags as if the article came from a feed with this tag (may be "
                             "repeated); without it, feed_tags are not checked")
    match_.add_argument("--title", help="the article's title (default: the page's title; none for plain text)")
    match_.set_defaults(handler=_command("match", "cmd_match"))
    for command in commands.choices.values():
        _global_options(command, None)
        for action in command._actions:  # a command's own verbs (silence add, list, expire) take them too
            if isinstance(action, argparse._SubParsersAction):
                for verb in action.choices.values():
                    _global_options(verb, None)
    return parser


def _global_options(parser: argparse.ArgumentParser, defaults: dict[str, object] | None) -> None:
    """--config, --log-level and --log-format, on the main parser (with their `defaults`) and on
    every command's (defaults None: nothing set unless given), so that they work before or after
    the command. Given twice (`newsmon --config A check --config B`), the later one counts: a
    command's parser sets only what it was given, over what the main parser set."""
    def default(name: str) -> object:
        return argparse.SUPPRESS if defaults is None else defaults[name]

    group = parser.add_argument_group("global options (before or after the command)")
    # `backtest --config OTHER` names the configuration to test: there the running one is --main-config
    own = any("--config" in action.option_strings for action in parser._actions)
    group.add_argument("--main-config" if own else "--config", dest="config", metavar="PATH", default=default("config"),
                       help="configuration file (TOML; default: $NEWSMON_CONFIG, else ~/.config/newsmon/config.toml, "
                            "else /etc/newsmon/config.toml)")
    group.add_argument("--log-level", default=default("log_level"), type=str.lower,
                       choices=["debug", "info", "warning", "error"],
                       help="log detail on stderr (default: info; warning for 'demo')")
    group.add_argument("--log-format", default=default("log_format"), choices=["text", "json"],
                       help="text: one line per event with key=value fields (default); json: one JSON object per "
                            "line, the fields as keys (numbers as numbers)")


FIELD = re.compile(r"(\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")
INTEGER = re.compile(r"0|-?[1-9][0-9]*")
DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")


def field_value(text: str) -> str | int | float:
    """A key=value field's value for JSON: a plain decimal integer (`3`, `-2`) or decimal
    fraction (`1.5`) as a number; anything else as the string it is: a quoted value without its
    quotes, and words, URLs, `007`, `1.2.3`, `1e5`, `500.`, `nan`, `true` as they are."""
    if text[:1] in "'\"":
        return text[1:-1]
    if INTEGER.fullmatch(text):
        return int(text)
    if DECIMAL.fullmatch(text):
        return float(text)
    return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the message's key=value
    fields (numbers as JSON numbers, see `field_value`; a field named like a fixed key is left
    in the message only)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        data = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "message": message}
        for key, value in FIELD.findall(message):
            if key not in data:
                data[key] = field_value(value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str, style: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if style == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("trafilatura", "htmldate", "apscheduler", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # apprise's records never reach these handlers, whatever the level asked, its import's DEBUG
    # lines (locale) included: its warnings are a failed send's reason, said in newsmon's own line,
    # and its DEBUG ones carry an SMTP server's reply code; both are read back from apprise's own
    # per-send capture (monitor.alert.channel, which sets the same)
    apprise_log = logging.getLogger("apprise")
    apprise_log.propagate = False
    apprise_log.setLevel(logging.DEBUG)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level or ("warning" if args.command == "demo" else "info"), args.log_format)
    try:
        code = args.handler(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return code
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"newsmon: the configuration has {len(error.problems)} problem(s); nothing was done", file=sys.stderr)
        return EXIT_USAGE
    except NewsmonError as error:
        print(f"newsmon: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `newsmon alerts | head`: the reader has had enough; no traceback
        _quiet_stdout()
        return EXIT_BROKEN_PIPE


EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell shows for a writer whose reader went away


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (a test's capture): nothing to flush
        pass


def _duration(text: str) -> float:
    from monitor import config

    try:
        return config.parse_duration(text)
    except config.Invalid as error:
        raise argparse.ArgumentTypeError(str(error)) from None
