"""`newsmon status` and `alerts`: what the state database says, for people and
(with --json) for scripts. Read-only, except `alerts --retry-dead`. URLs are shown without
their credentials (`monitor.shown`), in errors too; `enable` takes that form."""

from __future__ import annotations

import argparse
import json
import time

from monitor import shown, times
from monitor.cli.common import EXIT_OK, open_existing, read_config
from monitor.statelock import running_pid
from monitor.store import faults as store_faults

STALE_HEARTBEAT = 120.0  # seconds: a running daemon writes its heartbeat every 30 s while it can


def _store_problems(opened, daemon: int | None) -> list[str]:
    """What keeps the state database from recording, seen from here: its file and filesystem
    (gone, read-only, too little free space), and a running daemon's heartbeat gone stale
    (it writes one every half minute while it can; feed lines below may be out of date then)."""
    problems = [str(fault) for fault in store_faults.health(opened.path)]
    beat = opened.last_heartbeat()
    if daemon is not None and beat is not None and beat[1] == daemon and time.time() - beat[0] > STALE_HEARTBEAT:
        problems.append(f"the running newsmon (pid {daemon}) has not recorded anything since {times.shown(beat[0])}: "
                        "it cannot write its state (see its log); what follows may be out of date")
    return problems


def _health(row) -> str:
    if row.status == "disabled":
        return f"disabled: {shown.urls_in(row.status_reason) or 'by the user'}"
    if row.last_error:
        return f"failing ({row.error_kind}, {row.error_count} in a row): {shown.urls_in(row.last_error)}"
    if row.last_success is None:
        return "not polled yet"
    return "ok"


QUIET = {"first poll": "first poll of a new feed", "catching up": "catching up after a re-enable or a move",
         "too old": "published before alert_max_age"}


def _quiet(counts: dict[str, int]) -> str:
    """" · 24 entries recorded without alerting (first poll of a new feed)" for `status`."""
    if not counts:
        return ""
    total = sum(counts.values())
    why = "; ".join(f"{QUIET.get(reason, reason)}: {count}" if len(counts) > 1 else QUIET.get(reason, reason)
                    for reason, count in sorted(counts.items()))
    return f" · {total} {'entry' if total == 1 else 'entries'} recorded without alerting ({why})"


def cmd_status(args: argparse.Namespace) -> int:
    loaded = read_config(args)
    names = {feed.url: feed.name for feed in loaded.feeds}
    intervals = {feed.url: feed.interval or loaded.settings.poll_interval for feed in loaded.feeds}
    with open_existing(args, loaded) as opened:
        rows = opened.feeds()
        counts = opened.alert_counts()
        per_channel = opened.channel_counts()
        states = {channel.name: opened.channel_state(channel.name) for channel in loaded.channels}
        oldest = {channel.name: opened.oldest_pending(channel.name) for channel in loaded.channels if channel.digest}
        state = str(opened.path)
        problems = _store_problems(opened, running_pid(loaded.settings.state_dir))
        held = [{"channel": channel, "why": why, "alerts": count, "oldest": times.iso(oldest),
                 "until": times.iso(until) if (why or "").startswith("quiet hours")
                 else None, "given_up": times.iso(oldest + loaded.settings.story_window)
                 if (why or "").startswith("min_outlets") else None}
                for channel, why, count, until, oldest in opened.held_summary()]
        unacked = [{"story": story, "title": title, "sent": times.iso(sent), "channels": channels}
                   for story, title, sent, channels in opened.unacknowledged(time.time() - loaded.settings.story_window)]
        silences = [{"id": item.id, "matchers": item.matchers, "ends": times.iso(item.ends), "reason": item.reason,
                     "by": item.by, "held": item.held} for item in opened.silences(active_at=time.time())]
    channels = [_channel_status(channel, states[channel.name], per_channel.get(channel.name, {}),
                                oldest.get(channel.name)) for channel in loaded.channels]
    feeds = []
    for row in rows:
        regular = row.last_attempt + intervals[row.url] if row.last_attempt and row.url in intervals else None
        next_poll = max(filter(None, (row.next_poll, regular)), default=None)
        feeds.append({
            "url": shown.url(row.url), "name": names.get(row.url) or row.title, "configured": row.url in names,
            "status": row.status, "health": _health(row), "last_success": times.iso(row.last_success),
            "last_attempt": times.iso(row.last_attempt), "error_kind": row.error_kind,
            "last_error": shown.urls_in(row.last_error),
            "consecutive_failures": row.error_count, "next_poll": times.iso(next_poll) if row.status != "disabled" else None,
            "entries": row.entries, "fetch_url": shown.url(row.fetch_url) if row.fetch_url != row.url else None,
            "last_alert": times.iso(row.last_alert), "recorded_without_alerting": dict(row.quiet),
        })
    if args.json:
        print(json.dumps({"state": state, "state_problems": problems, "feeds": feeds, "alerts": counts,
                          "channels": channels, "silences": silences, "held": held,
                          "unacknowledged_critical": unacked}, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"state: {state}")
    for problem in problems:
        print(f"  PROBLEM: {problem}")
    for feed in feeds:
        moved = f"\n  moved to {feed['fetch_url']}" if feed["fetch_url"] else ""
        gone = "" if feed["configured"] else " (no longer in the configuration)"
        print(f"{feed['name'] or feed['url']}{gone}\n  {feed['url']}{moved}\n"
              f"  {feed['health']} · {feed['entries']} entries · last success {times.shown(feed['last_success'])}"
              f" · next poll {times.shown(feed['next_poll']) if feed['next_poll'] else ('-' if feed['status'] == 'disabled' else 'on schedule')}")
        print(f"  last alert {times.shown(feed['last_alert'])}{_quiet(feed['recorded_without_alerting'])}")
    print("alerts: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"))
    if silences:
        from monitor.alert.silences import describe
    for item in silences:
        print(f"  silence {item['id']} until {times.shown(item['ends'])}: {describe(item['matchers'])} · "
              f"{item['reason']} · held {item['held']} so far")
    for item in held:
        until = (f"until {times.shown(item['until'])}" if item["until"] else
                 f"until another outlet reports (given up {times.shown(item['given_up'])})" if item["given_up"] else "")
        print(f"  held on {item['channel']}: {item['alerts']} ({item['why']}) {until}".rstrip())
    if unacked:
        print(f"  unacknowledged critical: {len(unacked)} ('newsmon ack STORY' when handled)")
    for item in unacked:
        print(f"    story {item['story']}: {item['title']} · sent {times.shown(item['sent'])} to {', '.join(item['channels'])}")
    for channel in channels:
        line = ", ".join(f"{n} {s}" for s, n in sorted(channel["alerts"].items())) or "no alerts"
        if channel["failing"]:
            line += (f" · FAILING since {times.shown(channel['failing_since'])}: {channel['consecutive_failures']} "
                     f"attempt(s), next try {times.shown(channel['retry_at'])}; last error: {channel['last_error']}")
        if channel["next_heartbeat"]:
            line += f" · next heartbeat {times.shown(channel['next_heartbeat'])}"
        if channel["folding_until"]:
            line += f" · flood control: alerts fold into a summary at {times.shown(channel['folding_until'])}"
        if channel["next_digest"]:
            line += f" · next digest {times.shown(channel['next_digest'])}"
        print(f"  channel {channel['name']}: {line}")
    return EXIT_OK


def _channel_status(channel, state, counts: dict[str, int], oldest: float | None) -> dict:
    """A channel's delivery health for `status`."""
    next_digest = None
    if oldest is not None:  # a digest channel with alerts waiting
        from monitor import alert

        next_digest = alert.digest_due(channel, state, oldest)
    return {"name": channel.name, "alerts": counts, "failing": bool(state.failures),
            "consecutive_failures": state.failures, "retry_at": times.iso(state.retry_at), "last_error": state.last_error,
            "folding_until": times.iso(state.fold_until), "next_digest": times.iso(next_digest),
            "failing_since": times.iso(state.failing_since) if state.failures else None,
            "next_heartbeat": times.iso(state.heartbeat_at + channel.heartbeat)
            if channel.heartbeat and state.heartbeat_at else None}


def cmd_alerts(args: argparse.Namespace) -> int:
    with open_existing(args) as opened:
        if args.retry_dead:
            count = opened.retry_dead(time.time())
            print(f"{count} dead or failed alert{'s' * (count != 1)} queued again (state: {opened.path})" if count
                  else f"no dead or failed alerts (state: {opened.path})")
            return EXIT_OK
        status = ("pending" if args.pending else "dead" if args.dead else "failed" if args.failed
                  else ("held", "uncorroborated") if args.held else None)
        since = time.time() - args.since if args.since else None
        rows = opened.alerts(limit=args.limit or None, status=status, since=since)
        acks = {story: opened.ack(story) for story in {row.story_id for row in rows}}
        state = str(opened.path)
    if args.json:
        print(json.dumps({"state": state, "alerts": [{
            "id": row.id, "status": row.status, "channel": row.channel, "rule": row.rule, "severity": row.severity,
            "story": row.story_id, "title": row.title, "url": shown.url(row.url),
            "outlet": shown.urls_in(row.outlet),
            "published": row.published, "queued": times.iso(row.created), "sent": times.iso(row.sent), "via": row.via,
            "attempts": row.attempts, "last_error": row.last_error, "held": row.held, "note": row.note,
            "acknowledged": ({"at": times.iso(acks[row.story_id].at), "by": acks[row.story_id].by,
                              "note": acks[row.story_id].note} if acks[row.story_id] else None),
        } for row in rows]}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        which = {"pending": "pending ", "dead": "dead ", "failed": "failed "}.get(status, "held ") if status else ""
        print(f"no {which}alerts{f' in the last {args.since / 3600:g} h' if args.since else ''} (state: {state})")
    for row in rows:
        when = times.shown(row.sent or row.created)
        how = f" ({row.via})" if row.via and row.via != "alert" else ""
        error = f" · last error: {row.last_error}" if row.last_error and row.status != "sent" else ""
        error += f" · {row.note}" if row.note else f" · waits for {row.held}" if row.status == "held" else ""
        ack = acks[row.story_id]
        error += (f" · acknowledged{' by ' + ack.by if ack.by else ''} {times.shown(ack.at)}"
                  f"{': ' + ack.note if ack.note else ''}") if ack else ""
        print(f"#{row.id} {row.status:<8}{how} {when} [{row.rule}] → {row.channel} · {row.title}"
              f"{' · ' + shown.url(row.url) if row.url else ''} · attempts {row.attempts}{error}")
    return EXIT_OK
