"""`newsmon silence add|list|expire`, `newsmon ack` and `newsmon unack`: muting alerts for a
while, with a reason, and saying who is handling a story. They write the state database; a
running daemon applies them at its next delivery round (within half a minute)."""

from __future__ import annotations

import argparse
import json
import time

from monitor import shown, times
from monitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, moment, open_existing, read_config
from monitor.model import SEVERITIES

MATCHERS = ("rule", "entity", "story", "outlet", "tag", "channel")


def add_parsers(commands, duration) -> None:
    """The `silence`, `ack` and `unack` commands (`duration`: the CLI's duration type)."""
    silence = commands.add_parser("silence", help="mute alerts for a while, with a reason",
                                  description="Silences hold alerts that match them, from every channel (or those "
                                              "named), until they end: recorded as silenced, never lost. Matchers "
                                              "AND together; a repeated matcher ORs. A silenced (rule, story, "
                                              "channel) counts as alerted: later reports of that story do not "
                                              "alert it again. When a silence ends, the admin channels hear how "
                                              "many alerts it held.")
    verbs = silence.add_subparsers(dest="verb", metavar="VERB", required=True)
    add = verbs.add_parser("add", help="add a silence", description="Add a silence: at least one matcher, a "
                                                                    "duration (--for or --until) and a --reason.")
    add.add_argument("--rule", action="append", metavar="R", help="only this rule's alerts (repeatable)")
    add.add_argument("--entity", action="append", metavar="E", help="alerts whose rule hit this entity: a watchlist "
                                                                    "name, or pack.NAME (repeatable)")
    add.add_argument("--story", action="append", type=int, metavar="N",
                     help="alerts of this story, and of stories merged into it (repeatable)")
    add.add_argument("--outlet", action="append", metavar="SITE", help="alerts of this outlet, e.g. dawn.com (repeatable)")
    add.add_argument("--tag", action="append", metavar="T", help="alerts of feeds with this tag (repeatable)")
    add.add_argument("--channel", action="append", metavar="C", help="only on this channel (repeatable)")
    add.add_argument("--severity", choices=SEVERITIES, help="alerts of this severity or lower")
    until = add.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="for_", type=duration, metavar="DURATION", help="for this long, e.g. 6h")
    until.add_argument("--until", metavar="TIME", help="until then, e.g. 2026-12-05T07:00+05:00 (ISO 8601; "
                                                       "without an offset: UTC)")
    add.add_argument("--reason", required=True, help="why: shown wherever the silence is")
    add.add_argument("--by", help="who (default: nobody named)")
    add.add_argument("--resend-on-expiry", action="store_true", help="send what it held when it ends")
    add.add_argument("--json", action="store_true", help="print the new silence as JSON")
    add.set_defaults(handler=cmd_silence_add)
    listing = verbs.add_parser("list", help="silences in force (--all: every one)",
                               description="List silences, newest first: what each matches, until when, why, "
                                           "by whom and how many alerts it has held.")
    listing.add_argument("--all", action="store_true", help="also those that have ended")
    listing.add_argument("--json", action="store_true", help="one JSON document, for scripts")
    listing.set_defaults(handler=cmd_silence_list)
    expire = verbs.add_parser("expire", help="end a silence now", description="End a silence now; what it held is "
                                                                              "sent if it was made with "
                                                                              "--resend-on-expiry.")
    expire.add_argument("id", type=int, metavar="ID")
    expire.set_defaults(handler=cmd_silence_expire)

    ack = commands.add_parser("ack", help="say you are handling a story",
                              description="Acknowledge a story: 'stories' and 'alerts' show who and when; channels "
                                          "with quiet_after_ack get no follow-ups of it; alerts still to go say it "
                                          "was acknowledged.")
    ack.add_argument("story", type=int, metavar="STORY")
    ack.add_argument("--by", help="who")
    ack.add_argument("--note", help="a note, e.g. 'called the Peshawar office'")
    ack.set_defaults(handler=cmd_ack)
    unack = commands.add_parser("unack", help="withdraw an acknowledgement", description="Withdraw a story's "
                                                                                         "acknowledgement.")
    unack.add_argument("story", type=int, metavar="STORY")
    unack.set_defaults(handler=cmd_unack)


def _until(args: argparse.Namespace, now: float) -> float | None:
    if args.for_ is not None:
        return now + args.for_
    return moment(args.until)


def cmd_silence_add(args: argparse.Namespace) -> int:
    now = time.time()
    matchers: dict = {key: list(dict.fromkeys(getattr(args, key))) for key in MATCHERS if getattr(args, key)}
    if args.severity:
        matchers["severity"] = args.severity
    if not matchers:
        print("newsmon silence add: give at least one matcher (--rule, --entity, --story, --outlet, --tag, --channel "
              "or --severity): a silence of everything would hide what you need to see")
        return EXIT_USAGE
    ends = _until(args, now)
    if ends is None:
        print(f"newsmon silence add: --until {args.until!r} is not a time such as 2026-12-05T07:00+05:00")
        return EXIT_USAGE
    if ends <= now:
        print(f"newsmon silence add: it would end before it starts ({times.shown(ends)})")
        return EXIT_USAGE
    loaded = read_config(args)
    unknown = [f"--channel {name}" for name in matchers.get("channel", ()) if name not in
               {channel.name for channel in loaded.channels}]
    unknown += [f"--rule {name}" for name in matchers.get("rule", ()) if name not in {rule.name for rule in loaded.rules}]
    if unknown:
        print(f"newsmon silence add: no such {', '.join(unknown)} in {loaded.path}")
        return EXIT_USAGE
    with open_existing(args, loaded) as opened:
        silence_id = opened.add_silence(matchers, ends, args.reason, now, by=args.by, resend=args.resend_on_expiry)
    from monitor.alert import silences as silence_rules  # imported when used: the CLI starts faster

    if args.json:
        print(json.dumps({"id": silence_id, "matchers": matchers, "ends": times.iso(ends), "reason": args.reason}))
    else:
        print(f"silence {silence_id}: {silence_rules.describe(matchers)} until {times.shown(ends)} · {args.reason}"
              + (" · what it holds is sent when it ends" if args.resend_on_expiry else ""))
    return EXIT_OK


def cmd_silence_list(args: argparse.Namespace) -> int:
    now = time.time()
    with open_existing(args) as opened:
        found = opened.silences(active_at=None if args.all else now)
        state = str(opened.path)
    if args.json:
        print(json.dumps({"state": state, "silences": [{
            "id": item.id, "matchers": item.matchers, "created": times.iso(item.created), "ends": times.iso(item.ends),
            "reason": item.reason, "by": item.by, "resend": item.resend, "expired": times.iso(item.expired),
            "active": item.active(now), "held": item.held} for item in found]}, indent=2, ensure_ascii=False))
        return EXIT_OK
    from monitor.alert import silences as silence_rules

    if not found:
        print(f"no {'' if args.all else 'active '}silences (state: {state})")
    for item in found:
        state_word = "active" if item.active(now) else "ended"
        end = item.expired if item.expired is not None and item.expired < item.ends else item.ends
        by = f" by {item.by}" if item.by else ""
        print(f"#{item.id} {state_word} until {times.shown(end)}: {silence_rules.describe(item.matchers)} · "
              f"{shown.urls_in(item.reason)}{by} · held {item.held} alert(s)" + (" · resends" if item.resend else ""))
    return EXIT_OK


def cmd_silence_expire(args: argparse.Namespace) -> int:
    with open_existing(args) as opened:
        ended = opened.expire_silence(args.id, time.time())
    if not ended:
        print(f"no silence {args.id} in force")
        return EXIT_FAILED
    print(f"silence {args.id} ended; a running newsmon handles its end within half a minute (run --once: at its next run)")
    return EXIT_OK


def _story(opened, number: int) -> int | None:
    """The story as it stands (a merged one's survivor), or None if there is none."""
    if not opened.story_exists(number):
        return None
    return opened.merged_into(number) or number


def cmd_ack(args: argparse.Namespace) -> int:
    with open_existing(args) as opened:
        story = _story(opened, args.story)
        if story is None:
            print(f"no story {args.story} (see 'newsmon stories')")
            return EXIT_FAILED
        opened.acknowledge(story, time.time(), args.by, args.note)
    merged = f" (story {args.story} was merged into it)" if story != args.story else ""
    print(f"story {story} acknowledged{merged}" + (f" by {args.by}" if args.by else ""))
    return EXIT_OK


def cmd_unack(args: argparse.Namespace) -> int:
    with open_existing(args) as opened:
        story = _story(opened, args.story)
        done = story is not None and opened.unacknowledge(story)
    print(f"story {story} is no longer acknowledged" if done else f"story {args.story} was not acknowledged")
    return EXIT_OK if done else EXIT_FAILED
