"""`newsmon match`: which rules match one article (a file, a URL or standard input), with the
hits that made them match, and why each other rule did not."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from monitor import config
from monitor.cli.common import EXIT_OK, EXIT_USAGE, config_path
from monitor.config.schema import suggest


def cmd_match(args: argparse.Namespace) -> int:
    from monitor import match

    loaded = config.load(config_path(args))
    rules = loaded.rules
    if args.rule:
        known = [rule.name for rule in rules]
        for name in args.rule:
            if name not in known:
                hint = suggest(name, known) or f"; rules: {', '.join(known) or 'none'}"
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
    from monitor import incidents

    matcher = incidents.matcher(loaded.entities, rules, loaded.places)
    verdicts = matcher.explain(title, text, feed_tags=args.feed_tag)
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
                region = matcher.inside(hit.entity, hit.alias) if hit.entity else None
                if region:
                    named += f", inside {region}"  # a place the region contains
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
        fetcher = fetch.for_settings(settings)
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
