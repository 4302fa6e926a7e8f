"""The read-only commands of `newsmon` (status, stories, alerts, match) and the formatting of
what they show. Used by `cli` only, which parses the arguments and turns errors into messages.

Like `cli`, this module imports the stages inside the commands that need them, so that
`newsmon --help` does not pay for them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from monitor import config

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2  # every command's exit codes; `cli` says what they mean


def config_path(args: argparse.Namespace) -> Path:
    """The configuration file the command line points at (see `config.find_config`)."""
    return config.find_config(args.config, os.environ)


def open_existing(args: argparse.Namespace):
    """The existing store of the configuration's state directory (never creates one)."""
    from monitor import store

    loaded, _problems = config.read(config_path(args))  # reading state needs only state_dir
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
    loaded, _problems = config.read(config_path(args))
    names = {feed.url: feed.name for feed in loaded.feeds}
    intervals = {feed.url: feed.interval or loaded.settings.poll_interval for feed in loaded.feeds}
    with open_existing(args) as opened:
        rows = opened.feeds()
        counts = opened.alert_counts()
        per_channel = opened.channel_counts()
        states = {channel.name: opened.channel_state(channel.name) for channel in loaded.channels}
        oldest = {channel.name: opened.oldest_pending(channel.name) for channel in loaded.channels if channel.digest}
        state = str(opened.path)
    channels = [_channel_status(channel, states[channel.name], per_channel.get(channel.name, {}),
                                oldest.get(channel.name)) for channel in loaded.channels]
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
        print(json.dumps({"state": state, "feeds": feeds, "alerts": counts, "channels": channels}, indent=2,
                         ensure_ascii=False))
        return EXIT_OK
    print(f"state: {state}")
    for feed in feeds:
        moved = f"\n  moved to {feed['fetch_url']}" if feed["fetch_url"] else ""
        gone = "" if feed["configured"] else " (no longer in the configuration)"
        print(f"{feed['name'] or feed['url']}{gone}\n  {feed['url']}{moved}\n"
              f"  {feed['health']} · {feed['entries']} entries · last success {_ago_iso(feed['last_success'])}"
              f" · next poll {_ago_iso(feed['next_poll']) if feed['next_poll'] else ('-' if feed['status'] == 'disabled' else 'on schedule')}")
    print("alerts: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"))
    for channel in channels:
        line = ", ".join(f"{n} {s}" for s, n in sorted(channel["alerts"].items())) or "no alerts"
        if channel["failing"]:
            line += (f" · FAILING: {channel['consecutive_failures']} attempt(s), next try "
                     f"{_ago_iso(channel['retry_at'])}; last error: {channel['last_error']}")
        if channel["folding_until"]:
            line += f" · flood control: alerts fold into a summary at {_ago_iso(channel['folding_until'])}"
        if channel["next_digest"]:
            line += f" · next digest {_ago_iso(channel['next_digest'])}"
        print(f"  channel {channel['name']}: {line}")
    return EXIT_OK


def _channel_status(channel, state, counts: dict[str, int], oldest: float | None) -> dict:
    """A channel's delivery health for `status`."""
    next_digest = None
    if oldest is not None:  # a digest channel with alerts waiting
        from monitor import delivery

        next_digest = delivery.digest_due(channel, state, oldest)
    return {"name": channel.name, "alerts": counts, "failing": bool(state.failures),
            "consecutive_failures": state.failures, "retry_at": _iso(state.retry_at), "last_error": state.last_error,
            "folding_until": _iso(state.fold_until), "next_digest": _iso(next_digest)}


def _iso(timestamp: float | None) -> str | None:
    if not timestamp:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")


def _ago_iso(text: str | None) -> str:
    if not text:
        return "never"
    return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M UTC")



def cmd_stories(args: argparse.Namespace) -> int:
    import time as clock

    with open_existing(args) as opened:
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


def cmd_alerts(args: argparse.Namespace) -> int:
    import time

    with open_existing(args) as opened:
        if args.retry_dead:
            count = opened.retry_dead(time.time())
            print(f"{count} dead alert{'s' * (count != 1)} queued again (state: {opened.path})" if count
                  else f"no dead alerts (state: {opened.path})")
            return EXIT_OK
        status = "pending" if args.pending else "dead" if args.dead else None
        since = time.time() - args.since if args.since else None
        rows = opened.alerts(limit=args.limit or None, status=status, since=since)
        state = str(opened.path)
    if args.json:
        print(json.dumps({"state": state, "alerts": [{
            "id": row.id, "status": row.status, "channel": row.channel, "rule": row.rule, "severity": row.severity,
            "story": row.story_id, "title": row.title, "url": row.url, "outlet": row.outlet,
            "published": row.published, "queued": _iso(row.created), "sent": _iso(row.sent), "via": row.via,
            "attempts": row.attempts, "last_error": row.last_error,
        } for row in rows]}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        which = {"pending": "pending ", "dead": "dead "}.get(status or "", "")
        print(f"no {which}alerts{f' in the last {args.since / 3600:g} h' if args.since else ''} (state: {state})")
    for row in rows:
        when = _ago(row.sent or row.created)
        how = f" ({row.via})" if row.via and row.via != "alert" else ""
        error = f" · last error: {row.last_error}" if row.last_error and row.status != "sent" else ""
        print(f"#{row.id} {row.status:<8}{how} {when} [{row.rule}] → {row.channel} · {row.title}"
              f"{' · ' + row.url if row.url else ''} · attempts {row.attempts}{error}")
    return EXIT_OK


def channel_summary(channel) -> str:
    """One line about a channel for `newsmon check`: its URLs as apprise shows them with
    secrets hidden, and what it takes and how."""
    from monitor import alert

    urls = ", ".join(alert.privacy_url(url) for url in channel.urls)
    notes = []
    if channel.min_severity != "low":
        notes.append(f"min_severity {channel.min_severity}")
    if channel.rules is not None:
        notes.append(f"rules {', '.join(channel.rules)}")
    if channel.digest_every:
        notes.append(f"digest every {channel.digest_every / 3600:g} h ({channel.timezone})")
    if channel.digest_cron:
        notes.append(f"digest at '{channel.digest_cron}' ({channel.timezone})")
    if channel.max_per_hour:
        notes.append(f"max {channel.max_per_hour} per hour")
    templates = [name for name in ("title", "body") if getattr(channel, name)]
    if templates:
        notes.append(f"own {' and '.join(templates)} template")
    return urls + (f"; {'; '.join(notes)}" if notes else "")


def sample_alert():
    """The alert `newsmon notify-test` sends."""
    import time

    from monitor.model import AlertMessage
    from monitor.timing import iso

    snippet = "Militants of the Tehreek-e-Taliban Pakistan (TTP) attacked a checkpoint in Khyber Pakhtunkhwa."
    return AlertMessage(
        rule="notify-test", title="newsmon test alert: TTP attack reported in Khyber Pakhtunkhwa (sample)",
        url="https://example.org/newsmon-test-alert", outlet="newsmon", published=iso(time.time()), snippet=snippet,
        highlights=((snippet.index("Tehreek"), snippet.index(" (TTP)")), (snippet.index("Khyber"), len(snippet) - 1)),
        matched=("Tehreek-e-Taliban Pakistan", "Khyber Pakhtunkhwa"), feed="newsmon",
        also_reported_by=(("Example Wire", iso(time.time())),), severity="medium")


def cmd_match(args: argparse.Namespace) -> int:
    import difflib

    from monitor import match

    loaded = config.load(config_path(args))
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
