"""`newsmon backtest`: rules run over stored articles without alerting (`monitor.backtest`),
and `newsmon prune`: the daily pruning, on demand. Both read the state database while a daemon
runs without blocking it."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from monitor import shown, times
from monitor.cli.common import EXIT_OK, EXIT_USAGE, open_existing, plural, read_config

SHOWN = 20  # stories listed per rule and kind; --json has them all
WORKERS = 4  # at most this many matching processes
PARALLEL_FROM = 5000  # articles from which matching runs in worker processes


def add_parsers(commands, duration) -> None:
    test = commands.add_parser(
        "backtest", help="run rules over stored articles: what they would have alerted, and what changed",
        description="Run the rules over the articles stored in the period, without alerting, and print per rule "
                    "the stories they would have alerted (by day), then how that differs from what was actually "
                    "alerted: the stories a rule adds and drops, each with the hits that decided it. With --config "
                    "OTHER.toml, the rules of an edited copy of the configuration are tested against what the "
                    "running one alerted. Articles recorded without alerting (a feed's first poll, entries older "
                    "than alert_max_age) never alert here either. Safe while the daemon runs.")
    test.add_argument("--rule", action="append", metavar="NAME", help="only this rule (repeatable)")
    test.add_argument("--config", dest="other", metavar="OTHER.toml",
                      help="test the rules of this configuration (an edited copy) against what the running one "
                           "alerted; the running one is the global --config given before the command ('newsmon "
                           "--config MAIN backtest --config OTHER'), or --main-config after it")
    test.add_argument("--since", type=duration, default=30 * 86400.0, metavar="DURATION",
                      help="articles stored within this long (default 30d)")
    test.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    test.set_defaults(handler=cmd_backtest)
    prune = commands.add_parser("prune", help="forget what is older than 'retention' now (the daily pruning)",
                                description="Forget entries first seen longer ago than [newsmon] retention, and "
                                            "what only they referred to (articles, hits, delivered alerts, stories), "
                                            "as the daemon does daily. Safe while it runs.")
    prune.add_argument("--dry-run", action="store_true", help="only count what would be forgotten")
    prune.add_argument("--vacuum", action="store_true", help="then give the freed space back to the filesystem")
    prune.set_defaults(handler=cmd_prune)


def cmd_backtest(args: argparse.Namespace) -> int:
    from monitor import app, backtest, incidents

    current = read_config(args)
    tested = current
    if args.other:
        tested, problems = app.read(args.other)
        problems = [problem for problem in problems if "is not set" not in problem.message]
        if problems:
            print(f"newsmon: {args.other} is not a valid configuration:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            return EXIT_USAGE
    names = {rule.name for rule in tested.rules}
    wanted = set(args.rule) if args.rule else None
    if wanted and wanted - names:
        print(f"newsmon: no rule {', '.join(sorted(wanted - names))} in {tested.path}", file=sys.stderr)
        return EXIT_USAGE
    matcher = incidents.matcher(tested.entities, tested.rules, tested.places)  # regions contain their places, as live
    near = any(rule.near for rule in tested.rules)
    tags = {feed.url: feed.tags for feed in tested.feeds}
    since = time.time() - args.since
    started = time.monotonic()
    with open_existing(args, current) as opened:
        total = opened.replay_count(since)
        progress = _Progress(total) if sys.stderr.isatty() and not args.json else (lambda count: None)
        outcome = backtest.run(matcher, opened.replay_articles(since, features=near), tags, rules=wanted or names,
                               progress=progress, workers=_workers(total), own_places=tested.places,
                               sites=app.sites(tested) if near else ())
        backtest.compare(outcome, opened.alerted_stories(0.0), opened.followups(0.0), wanted or names)
        recorded = {key: opened.recorded_hits(article, key[0]) for key, (_created, article) in outcome.alerted.items()
                    if key not in outcome.found}
        state = str(opened.path)
    if isinstance(progress, _Progress):
        progress.done()
    seconds = time.monotonic() - started
    if args.json:
        # one line: a long history's document runs to tens of MB, and indenting it (which only
        # json's pure-Python encoder does) took longer than reading the articles; `jq .` lays it out
        print(json.dumps(_document(outcome, recorded, tested, since, seconds, state), ensure_ascii=False,
                         separators=(",", ":")))
        return EXIT_OK
    print(f"backtest: {plural(len(wanted or names), 'rule')} of {tested.path} over {plural(outcome.articles, 'article')} "
          f"stored since {times.shown(since)} ({outcome.eligible} could alert) in {seconds:.1f} s; state {state}")
    for rule in sorted(wanted or names):
        _print_rule(outcome, rule, recorded)
    return EXIT_OK


def _workers(articles: int) -> int:
    """Worker processes to match `articles` in: one per usable core (at most 4) for a large
    backtest; none (matching in this process) for a small one, where starting them costs more."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, WORKERS) if articles >= PARALLEL_FROM and cores > 1 else 1


def _print_rule(outcome, rule: str, recorded) -> None:
    found = [item for key, item in outcome.found.items() if key[0] == rule]
    alerted = [key for key in outcome.alerted if key[0] == rule]
    added, dropped = outcome.added(rule), outcome.dropped(rule)
    follow = sum(count for key, count in outcome.followups.items() if key[0] == rule)
    change = "same stories as alerted" if not added and not dropped else f"+{len(added)} −{len(dropped)} against what was alerted"
    print(f"\nrule {rule}: {plural(len(found), 'story')} would alert ({len(alerted)} alerted; {change})"
          + (f"; {plural(follow, 'follow-up')} were sent apart" if follow else ""))
    days = outcome.per_day(rule)
    if days:
        print("  by day: " + ", ".join(f"{day} {count}" for day, count in days.items()))
    for item in sorted(found, key=lambda item: item.fetched)[:SHOWN]:
        mark = "+" if item in added else " "
        print(f"  {mark} story {item.story} · {times.shown(item.fetched)} · {item.title} · {item.outlet}"
              f"{f' (+{item.articles - 1} more)' if item.articles > 1 else ''} · hits: {_hits(item.hits)}")
    if len(found) > SHOWN:
        print(f"  … and {len(found) - SHOWN} more (--json lists all)")
    for story, created, _article in dropped[:SHOWN]:
        hits = recorded.get((rule, story), [])
        print(f"  − story {story} · alerted {times.shown(created)} · would not alert now"
              + (f" · it was alerted on: {_hits(hits)}" if hits else ""))


def _hits(hits) -> str:
    seen = []
    for hit in hits:
        label = f"{hit.alias} ({hit.field})"
        if label not in seen:
            seen.append(label)
    return ", ".join(seen[:6]) + (" …" if len(seen) > 6 else "")


def _document(outcome, recorded, tested, since: float, seconds: float, state: str) -> dict:
    def hits(items):
        return [{"term": hit.term, "entity": hit.entity, "alias": hit.alias, "field": hit.field, "start": hit.start,
                 "end": hit.end} for hit in items]

    from monitor import backtest

    rules = {}
    by_rule = outcome.by_rule()
    for rule in outcome.rules():
        found = by_rule.get(rule, [])
        rules[rule] = {
            "would_alert": [{"story": item.story, "article": item.article, "title": item.title, "outlet": item.outlet,
                             "url": shown.url(item.url), "fetched": times.iso(item.fetched), "articles": item.articles,
                             "hits": hits(item.hits)} for item in found],
            "alerted": sorted(story for name, story in outcome.alerted if name == rule),
            "added": [item.story for item in found if (rule, item.story) not in outcome.alerted],
            "dropped": [{"story": story, "alerted": times.iso(created), "hits": hits(recorded.get((rule, story), []))}
                        for story, created, _article in outcome.dropped(rule)],
            "followups": sum(count for key, count in outcome.followups.items() if key[0] == rule),
            "per_day": backtest.per_day(found),
        }
    return {"config": str(tested.path), "state": state, "since": times.iso(since), "articles": outcome.articles,
            "could_alert": outcome.eligible, "seconds": round(seconds, 2), "rules": rules}


class _Progress:
    """A progress line on a terminal, redrawn in place."""

    def __init__(self, total: int):
        self.total, self.last = total, 0.0

    def __call__(self, count: int) -> None:
        now = time.monotonic()
        if now - self.last >= 0.2:
            self.last = now
            width = 30
            filled = int(width * count / self.total) if self.total else width
            print(f"\rbacktest [{'#' * filled}{'.' * (width - filled)}] {count}/{self.total} articles", end="",
                  file=sys.stderr, flush=True)

    def done(self) -> None:
        print("\r" + " " * 70 + "\r", end="", file=sys.stderr, flush=True)


def cmd_prune(args: argparse.Namespace) -> int:
    loaded = read_config(args)
    before = time.time() - loaded.settings.retention
    with open_existing(args, loaded) as opened:
        plan = opened.prune_plan(before)
        what = ", ".join(f"{count} {name}" for name, count in plan.items())
        days = loaded.settings.retention / 86400
        if args.dry_run:
            print(f"would forget {what} (older than {days:g} days: first seen before {times.shown(before)}); "
                  f"state {opened.path}")
            return EXIT_OK
        removed = opened.prune(before)
        print(f"forgot {what} (older than {days:g} days); state {opened.path}" if removed or any(plan.values())
              else f"nothing older than {days:g} days to forget; state {opened.path}")
        if args.vacuum:
            size = opened.path.stat().st_size
            opened.vacuum()
            print(f"vacuumed: {size / 1e6:.1f} MB -> {opened.path.stat().st_size / 1e6:.1f} MB")
    return EXIT_OK
