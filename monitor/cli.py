"""The `newsmon` command. The only module that writes messages for a person.

Exit codes: 0 done; 1 could not do it (e.g. the store cannot be opened); 2 bad usage or an
invalid configuration. Logs go to stderr, command output to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from monitor import __version__, config
from monitor.errors import ConfigError, NewsmonError

# The stages (apprise, aiohttp, feedparser, trafilatura) are imported inside the commands that
# need them: `newsmon --help` should not pay half a second to import the whole stack.

log = logging.getLogger("newsmon")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


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
    parser.add_argument("--config", metavar="PATH", help="configuration file (TOML)")
    parser.add_argument("--log-level", default=None, type=str.lower, choices=["debug", "info", "warning", "error"],
                        help="log detail on stderr (default: info; warning for 'demo')")
    parser.add_argument("--log-format", default="text", choices=["text", "json"],
                        help="text: one line per event with key=value fields (default); json: one JSON object per line")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    run = commands.add_parser("run", help="run the monitor (a daemon, or one cycle with --once)",
                              description="Poll every feed on its schedule and send alerts, until SIGTERM or "
                                          "Ctrl-C. With --once: poll every feed once, try every pending alert "
                                          "once, and exit 0 even if some feeds or channels failed (for cron).")
    run.add_argument("--once", action="store_true", help="one cycle, then exit")
    run.set_defaults(handler=cmd_run)

    check = commands.add_parser("check", help="check the configuration and report every problem",
                                description="Read the configuration and its includes, check every key, "
                                            "reference and apprise URL, and print one line per problem "
                                            "(exit 2), or a one-line summary (exit 0). Touches no state.")
    check.set_defaults(handler=cmd_check)

    demo_ = commands.add_parser("demo", help="a self-contained demonstration (no internet, no accounts)",
                                description="Serve bundled sample feeds and article pages from a loopback web "
                                            "server, run one cycle with a bundled watchlist in a temporary state "
                                            "directory, and print the alerts to standard output.")
    demo_.add_argument("--keep", metavar="DIR", help="keep the demo's state and config in DIR instead of a temporary directory")
    demo_.set_defaults(handler=cmd_demo)

    status = commands.add_parser("status", help="show each feed's health and the outbox",
                                 description="Read the state database (never creates one) and show every "
                                             "feed: health, last success, last error, next poll, entries "
                                             "seen; and the outbox's alert counts.")
    status.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    status.set_defaults(handler=cmd_status)

    reload = commands.add_parser("reload", help="make the running daemon re-read its configuration",
                                 description="Send SIGHUP to the newsmon running on this configuration's state "
                                             "directory. An invalid configuration is refused (the daemon logs "
                                             "every problem and keeps the old one); run 'newsmon check' first.")
    reload.set_defaults(handler=cmd_reload)

    stories_ = commands.add_parser("stories", help="recent stories: their articles, outlets and rules",
                                   description="List stories first seen within --since, newest first: every "
                                               "outlet that reported each one, when, and the rules it matched.")
    stories_.add_argument("--since", default="24h", type=_duration, help="how far back (default 24h)")
    stories_.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    stories_.set_defaults(handler=cmd_stories)

    for verb, text in (("enable", "poll a disabled feed again (e.g. after '410 Gone')"),
                       ("disable", "stop polling a feed, keeping its history")):
        toggle = commands.add_parser(verb, help=text, description=text[0].upper() + text[1:] + ".")
        toggle.add_argument("url", help="the feed's url, as in the configuration")
        toggle.add_argument("--reason", default=None, help="a note shown by 'newsmon status'")
        toggle.set_defaults(handler=cmd_toggle, verb=verb)

    alerts = commands.add_parser("alerts", help="list recent alerts and their delivery status",
                                 description="List the most recent alerts in the outbox, newest first.")
    alerts.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    alerts.add_argument("--pending", action="store_true", help="only alerts not yet delivered")
    alerts.set_defaults(handler=cmd_alerts)

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
    match_.set_defaults(handler=cmd_match)
    return parser


FIELD = re.compile(r"(\w+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\S+)")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the message's key=value fields."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        data = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "message": message}
        for key, value in FIELD.findall(message):
            if key not in data:
                data[key] = value[1:-1] if value[:1] in "'\"" else value
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
    for noisy in ("apprise", "trafilatura", "htmldate", "apscheduler", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level or ("warning" if args.command == "demo" else "info"), args.log_format)
    try:
        return args.handler(args)
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


def _config_path(args: argparse.Namespace) -> Path:
    return config.find_config(args.config, os.environ)


def cmd_check(args: argparse.Namespace) -> int:
    from monitor import app

    try:
        loaded = app.check(_config_path(args))
    except ConfigError as error:
        for problem in error.problems:
            print(problem)
        return EXIT_USAGE
    extra = f" (+{len(loaded.files) - 1} included file(s))" if len(loaded.files) > 1 else ""
    counts = ", ".join(_plural(len(items), noun) for items, noun in (
        (loaded.feeds, "feed"), (loaded.entities, "entity"), (loaded.rules, "rule"), (loaded.channels, "channel")))
    print(f"{loaded.path}{extra}: OK: {counts}; state in {loaded.settings.state_dir}")
    return EXIT_OK


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


def cmd_run(args: argparse.Namespace) -> int:
    from monitor import app, daemon

    path = _config_path(args)
    loaded = app.check(path)
    with daemon.StateLock(loaded.settings.state_dir):  # one newsmon per state directory
        if args.once:
            return asyncio.run(_once(loaded))
        running = app.open_app(loaded)
        asyncio.run(daemon.Daemon(running, loader=lambda: app.check(path)).run())
    return EXIT_OK


def cmd_reload(args: argparse.Namespace) -> int:
    import signal

    from monitor import daemon

    loaded, _problems = config.read(_config_path(args))
    pid = daemon.running_pid(loaded.settings.state_dir)
    if pid is None:
        print(f"newsmon: no running newsmon on {loaded.settings.state_dir} (no lock held on newsmon.pid)", file=sys.stderr)
        return EXIT_FAILED
    os.kill(pid, signal.SIGHUP)
    print(f"asked newsmon (pid {pid}) to reload; it logs what changed, or every problem and keeps the old configuration")
    return EXIT_OK


async def _once(loaded: config.Config) -> int:
    from monitor import app, pipeline

    running = app.open_app(loaded)
    try:
        running.store.recover()
        started = time.monotonic()
        results = await pipeline.cycle(running)
        counts = running.store.alert_counts()
    finally:
        await running.close()
    failed = [r for r in results if r.status == "failed"]
    new = sum(r.new for r in results)
    log.info("cycle done feeds=%d failed=%d new_entries=%d alerts_sent=%d alerts_pending=%d seconds=%.1f",
             len(results), len(failed), new, counts.get("sent", 0), counts.get("pending", 0),
             time.monotonic() - started)
    return EXIT_OK


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
        asyncio.run(_once(loaded))
        with store.open_existing(loaded.settings.state_dir) as opened:
            counts = opened.alert_counts()
            entries = opened.counts()["entries"]
    print(f"newsmon demo: {entries} articles read, {counts.get('sent', 0)} alerts printed above. "
          f"Next: copy config.example.toml, add your feeds and watchlist, run 'newsmon check'.")
    return EXIT_OK


def _open_existing(args: argparse.Namespace):
    from monitor import store

    loaded, _problems = config.read(_config_path(args))  # reading state needs only state_dir
    return store.open_existing(loaded.settings.state_dir)


def _ago(timestamp: float | None) -> str:
    if not timestamp:
        return "never"
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _health(row) -> str:
    if row.status == "disabled":
        return f"disabled: {row.status_reason or 'by the user'}"
    if row.last_error:
        return f"failing ({row.error_kind}, {row.error_count} in a row): {row.last_error}"
    if row.last_success is None:
        return "not polled yet"
    return "ok"


def cmd_status(args: argparse.Namespace) -> int:
    loaded, _problems = config.read(_config_path(args))
    names = {feed.url: feed.name for feed in loaded.feeds}
    intervals = {feed.url: feed.interval or loaded.settings.poll_interval for feed in loaded.feeds}
    with _open_existing(args) as opened:
        rows = opened.feeds()
        counts = opened.alert_counts()
        state = str(opened.path)
    feeds = []
    for row in rows:
        regular = row.last_attempt + intervals[row.url] if row.last_attempt and row.url in intervals else None
        next_poll = max(filter(None, (row.next_poll, regular)), default=None)
        feeds.append({
            "url": row.url, "name": names.get(row.url) or row.title, "configured": row.url in names,
            "status": row.status, "health": _health(row), "last_success": _iso(row.last_success),
            "last_attempt": _iso(row.last_attempt), "error_kind": row.error_kind, "last_error": row.last_error,
            "consecutive_failures": row.error_count, "next_poll": _iso(next_poll) if row.status != "disabled" else None,
            "entries": row.entries, "fetch_url": row.fetch_url if row.fetch_url != row.url else None,
        })
    if args.json:
        print(json.dumps({"state": state, "feeds": feeds, "alerts": counts}, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"state: {state}")
    for feed in feeds:
        moved = f"\n  moved to {feed['fetch_url']}" if feed["fetch_url"] else ""
        gone = "" if feed["configured"] else " (no longer in the configuration)"
        print(f"{feed['name'] or feed['url']}{gone}\n  {feed['url']}{moved}\n"
              f"  {feed['health']} · {feed['entries']} entries · last success {_ago_iso(feed['last_success'])}"
              f" · next poll {_ago_iso(feed['next_poll']) if feed['next_poll'] else ('-' if feed['status'] == 'disabled' else 'on schedule')}")
    print("alerts: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"))
    return EXIT_OK


def _iso(timestamp: float | None) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def _ago_iso(text: str | None) -> str:
    if not text:
        return "never"
    return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M UTC")


def _duration(text: str) -> float:
    try:
        return config.parse_duration(text)
    except config.Invalid as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_stories(args: argparse.Namespace) -> int:
    import time as clock

    with _open_existing(args) as opened:
        rows = opened.stories(clock.time() - args.since)
        state = str(opened.path)
    stories = [{
        "id": row.id, "first_seen": _iso(row.first_seen), "title": row.title, "rules": list(row.rules),
        "articles": [{"outlet": outlet, "title": title, "url": url, "seen": _iso(seen)}
                     for outlet, title, url, seen in row.articles],
    } for row in rows]
    if args.json:
        print(json.dumps({"state": state, "stories": stories}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not stories:
        print(f"no stories in the last {args.since / 3600:g} h (state: {state})")
    for story in stories:
        outlets = sorted({article["outlet"] for article in story["articles"]})
        rules = f" · rules: {', '.join(story['rules'])}" if story["rules"] else ""
        print(f"#{story['id']} {_ago_iso(story['first_seen'])} · {len(outlets)} outlet(s){rules}\n  {story['title']}")
        for article in story["articles"]:
            print(f"    {_ago_iso(article['seen'])}  {article['outlet']}: {article['title']}  {article['url'] or ''}")
    return EXIT_OK


def cmd_toggle(args: argparse.Namespace) -> int:
    with _open_existing(args) as opened:
        status = "active" if args.verb == "enable" else "disabled"
        reason = None if args.verb == "enable" else (args.reason or "disabled by the user")
        if not opened.set_feed_status(args.url, status, reason):
            known = [row.url for row in opened.feeds()]
            print(f"newsmon: no feed {args.url!r} in {opened.path}" +
                  (f"; known feeds: {', '.join(known)}" if known else ""), file=sys.stderr)
            return EXIT_FAILED
    print(f"{args.url}: {'enabled' if args.verb == 'enable' else 'disabled'}")
    return EXIT_OK


def cmd_alerts(args: argparse.Namespace) -> int:
    with _open_existing(args) as opened:
        rows = opened.alerts(limit=args.limit, status="pending" if args.pending else None)
        if not rows:
            print(f"no alerts (state: {opened.path})")
        for row in rows:
            when = _ago(row.sent or row.created)
            error = f" · last error: {row.last_error}" if row.last_error and row.status != "sent" else ""
            print(f"#{row.id} {row.status:<8} {when} [{row.rule}] → {row.channel} · {row.title}"
                  f"{' · ' + row.url if row.url else ''} · attempts {row.attempts}{error}")
    return EXIT_OK


def cmd_match(args: argparse.Namespace) -> int:
    import difflib

    from monitor import match

    loaded = config.load(_config_path(args))
    rules = loaded.rules
    if args.rule:
        known = [rule.name for rule in rules]
        for name in args.rule:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; rules: {', '.join(known) or 'none'}"
                print(f"newsmon: no rule {name!r} in {loaded.path}{hint}", file=sys.stderr)
                return EXIT_USAGE
        rules = tuple(rule for rule in rules if rule.name in args.rule)
    try:
        title, text = asyncio.run(_read_article(args.source, loaded.settings))
    except OSError as error:
        print(f"newsmon: cannot read {args.source}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    if args.title is not None:
        title = args.title
    verdicts = match.Matcher(loaded.entities, rules).explain(title, text, feed_tags=args.feed_tag)
    limited = {rule.name: rule.feed_tags for rule in rules if rule.feed_tags and args.feed_tag is None}
    if args.json:
        print(json.dumps(_match_json(title, text, verdicts), ensure_ascii=False, indent=2))
        return EXIT_OK
    fields = {"title": title, "text": text}
    print(f"{title or '(no title)'}\n{len(text)} characters of text from {args.source}\n")
    for verdict in verdicts:
        if verdict.matched:
            note = (f" (limited to feeds tagged {', '.join(limited[verdict.rule])}: not checked without --feed-tag)"
                    if verdict.rule in limited else "")
            print(f"MATCH {verdict.rule}{note}")
            for line in _marked_sentences(fields, verdict.hits):
                print(f"    {line}")
            for hit in verdict.hits:
                named = f", name {hit.alias!r}" if hit.entity else ""
                print(f"    {hit.field} {hit.start}-{hit.end}: {fields[hit.field][hit.start:hit.end]!r} ({hit.term}{named})")
        else:
            print(f"no match {verdict.rule}: {_reason(verdict, fields)}")
    if not verdicts:
        print("no rules to judge")
    return EXIT_OK


async def _read_article(source: str, settings: config.Settings) -> tuple[str, str]:
    """(title, text) of a file, an http(s) URL or standard input ("-"). HTML is extracted in a
    worker process, like the daemon does; other bytes are decoded as UTF-8. Raises OSError when
    a file cannot be read and NewsmonError when a page cannot be fetched or has no text."""
    from monitor import extract, fetch, sandbox

    url: str | None = None
    content_type: str | None = None
    if source == "-":
        body = sys.stdin.buffer.read()
    elif source.lower().startswith(("http://", "https://")):
        fetcher = fetch.Fetcher(user_agent=settings.user_agent, allowed_networks=settings.allow_private_networks,
                                timeout=settings.request_timeout)
        try:  # a URL typed here is the user's own, like a feed URL: trusted as written
            response = await fetcher.get(source, max_bytes=settings.max_page_size, accept=fetch.PAGE_ACCEPT)
        finally:
            await fetcher.close()
        body, content_type, url = response.body, response.content_type, response.url
    else:
        body = Path(source).read_bytes()
    if not _looks_like_html(body, content_type, source):
        return "", body.decode("utf-8-sig", errors="replace")
    box = sandbox.Sandbox(1, timeout=settings.parse_timeout, memory_limit=settings.worker_memory)
    try:
        page = await box.run(extract.extract, body, url)
    finally:
        box.close()
    return page.title or "", page.text


def _looks_like_html(body: bytes, content_type: str | None, source: str) -> bool:
    if content_type:
        return "html" in content_type.lower()
    if source.lower().endswith((".html", ".htm", ".xhtml")):
        return True
    head = body[:4096].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head or b"<p>" in head


def _hit_json(hit, fields: dict[str, str]) -> dict:
    return {"term": hit.term, "entity": hit.entity, "alias": hit.alias, "field": hit.field, "start": hit.start,
            "end": hit.end, "match": fields[hit.field][hit.start:hit.end]}


def _match_json(title: str, text: str, verdicts) -> dict:
    fields = {"title": title, "text": text}
    return {
        "title": title,
        "text": text,
        "matches": [{"rule": v.rule, "hits": [_hit_json(hit, fields) for hit in v.hits]} for v in verdicts if v.matched],
        "non_matches": [{"rule": v.rule, "reason": _reason(v, fields),
                         "cancelled": [{**_hit_json(c.hit, fields), "reason": c.reason} for c in v.cancelled]}
                        for v in verdicts if not v.matched],
    }


def _reason(verdict, fields: dict[str, str]) -> str:
    """Why a rule did not match, with the hits that did not count ("'TTP' at text 112 cancelled: ...")."""
    notes = [f"{fields[c.hit.field][c.hit.start:c.hit.end]!r} at {c.hit.field} {c.hit.start} cancelled: {c.reason}"
             for c in verdict.cancelled]
    return "; ".join([verdict.reason, *notes])


def _marked_sentences(fields: dict[str, str], hits, limit: int = 3) -> list[str]:
    """The sentences around the hits (at most `limit`), hit words in «guillemets»."""
    from monitor import text as textmod

    out: list[str] = []
    seen: set[tuple[str, int]] = set()
    for hit in hits:
        value = fields[hit.field]
        sentence, offset = textmod.sentence_around(value, hit.start, hit.end)
        if (hit.field, offset) in seen:
            continue
        seen.add((hit.field, offset))
        spans = sorted({(h.start - offset, h.end - offset) for h in hits if h.field == hit.field
                        and offset <= h.start and h.end <= offset + len(sentence)})
        marked, done = [], 0
        for start, end in spans:
            if start < done:
                continue
            marked.append(sentence[done:start] + "«" + sentence[start:end] + "»")
            done = end
        marked.append(sentence[done:])
        out.append(("title: " if hit.field == "title" else "") + "".join(marked))
        if len(out) == limit:
            break
    return out
