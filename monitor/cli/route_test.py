"""`newsmon route-test`: where an alert of a rule would go, per channel, and what would happen to
it there and why, judged against the configuration and the state database as they stand (its
silences, acknowledgements, flood counts, failing channels), at a time of your choice. It
touches no state and sends nothing (`monitor.alert.explain` judges)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

from monitor import times
from monitor.cli.common import EXIT_OK, EXIT_USAGE, moment, read_config
from monitor.model import SEVERITIES


def add_parser(commands) -> None:
    test = commands.add_parser(
        "route-test", help="show where a rule's alert would go and what would happen to it, and why",
        description="For an alert of RULE (at its severity, or --severity; a rule with severity \"auto\" is graded "
                    "from --story's facts, else as an event with no figures), print per channel what would happen "
                    "and why: sent now; not routed (the channel's filters); silenced by a silence; waiting for a "
                    "second outlet (min_outlets); held for quiet hours until when; held back while the channel "
                    "fails; after the rule's group_wait; folded by flood control; into the next digest; and "
                    "whether it would escalate. Judged at --at (default: now) against the state as it stands; "
                    "with --story, as a new report of that story. Sends nothing, changes nothing.")
    test.add_argument("--rule", required=True, metavar="R", help="the rule whose alert to follow")
    test.add_argument("--severity", choices=SEVERITIES, help="as if the rule had this severity")
    test.add_argument("--at", metavar="TIME", help="judge at this time, e.g. 2026-12-05T03:00+05:00 (ISO 8601; "
                                                   "without an offset: UTC; default: now)")
    test.add_argument("--story", type=int, metavar="N", help="as a new report of this story (see 'newsmon stories')")
    test.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    test.set_defaults(handler=cmd_route_test)


@contextlib.contextmanager
def _state(directory: Path):
    """The state database, read as it stands; an empty one when newsmon has never run."""
    from monitor import store

    if (directory / "newsmon.db").exists():
        with store.open_existing(directory) as opened:
            yield opened
        return
    with tempfile.TemporaryDirectory(prefix="newsmon-route-test-") as empty, store.open_store(Path(empty)) as opened:
        yield opened


def cmd_route_test(args: argparse.Namespace) -> int:
    from monitor.alert import explain

    loaded = read_config(args)
    rule = next((rule for rule in loaded.rules if rule.name == args.rule), None)
    if rule is None:
        from monitor.config.schema import suggest

        print(f"newsmon: no rule named {args.rule!r}{suggest(args.rule, [r.name for r in loaded.rules])}", file=sys.stderr)
        return EXIT_USAGE
    at = time.time() if args.at is None else moment(args.at)
    if at is None:
        print(f"newsmon: --at {args.at!r} is not a time such as 2026-12-05T03:00+05:00", file=sys.stderr)
        return EXIT_USAGE
    if args.severity:
        rule = dataclasses.replace(rule, severity=args.severity)
    with _state(loaded.settings.state_dir) as state:
        if args.story is not None and not state.story_exists(args.story):
            print(f"newsmon: no story {args.story} in {state.path} ('newsmon stories' lists them)", file=sys.stderr)
            return EXIT_USAGE
        graded = ""
        if rule.severity == "auto":  # graded from the story's facts as they stand (none: a new story's first report)
            from monitor import event_facts
            from monitor.alert import routing

            facts = event_facts.EventFacts.load(state.story_facts(args.story)) if args.story is not None else None
            rule = dataclasses.replace(rule, severity=routing.grade(facts.said() if facts else None, False,
                                                                    loaded.settings.severity))
            graded = (f"graded from story {args.story}'s facts" if facts else
                      "graded with no figures known; --severity tries another level")
        verdicts = explain.explain(rule, loaded.channels, loaded.settings.default_channels, state, at, args.story)
    if args.json:
        print(json.dumps({"rule": rule.name, "severity": rule.severity, "graded": graded or None, "at": times.iso(at),
                          "story": args.story,
                          "channels": [{"channel": v.channel, "outcome": v.outcome, "why": v.why,
                                        "until": times.iso(v.until), "escalates": v.escalates or None}
                                       for v in verdicts]}, indent=2, ensure_ascii=False))
        return EXIT_OK
    about = f"story {args.story}" if args.story is not None else "a new story"
    severity = f"severity auto: {rule.severity}, {graded}" if graded else f"severity {rule.severity}"
    print(f"route-test: an alert of rule {rule.name} ({severity}) about {about}, at {times.shown(at)}")
    for verdict in verdicts:
        print(f"  {verdict.line()}")
    if not verdicts:
        print("  no channels are configured: alerts go nowhere")
    return EXIT_OK
