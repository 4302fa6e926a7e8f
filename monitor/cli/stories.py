"""`newsmon stories`: the events newsmon has seen, each with its reports grouped by outlet and
copies folded under the text they copy, who acknowledged it, what merged into it and why.
`stories --why` is `monitor.cli.why`. Read-only."""

from __future__ import annotations

import argparse
import json
import time

from typing import TYPE_CHECKING

from monitor import event_facts, shown, times
from monitor.cli.common import EXIT_OK, open_existing

if TYPE_CHECKING:
    from monitor.store import StoryArticle, StoryRow

def cmd_stories(args: argparse.Namespace) -> int:
    if args.why:
        from monitor.cli import why  # imported when used: it loads the event join

        return why.cmd_why(args)
    with open_existing(args) as opened:
        rows = opened.stories(time.time() - args.since, limit=args.limit or -1, rule=args.rule)
        acks = {row.id: opened.ack(row.id) for row in rows}
        state = str(opened.path)
    if args.json:
        print(json.dumps({"state": state, "stories": [{**_story_json(row), "acknowledged": _ack_json(acks[row.id])}
                                                      for row in rows]}, indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print(f"no stories in the last {args.since / 3600:g} h (state: {state})")
    for row in rows:
        lines = _story_lines(row)
        if acks[row.id] is not None:
            lines.insert(2, f"  acknowledged {_ack_text(acks[row.id])}")
        print("\n".join(lines))
    return EXIT_OK


def _ack_json(ack) -> dict | None:
    return {"at": times.iso(ack.at), "by": ack.by, "note": ack.note} if ack is not None else None


def _ack_text(ack) -> str:
    return (f"by {ack.by} " if ack.by else "") + f"at {times.shown(ack.at)}" + (f": {ack.note}" if ack.note else "")


def _article_json(article: StoryArticle) -> dict:
    return {"id": article.id, "outlet": article.outlet, "title": article.title, "url": shown.url(article.url),
            "seen": times.iso(article.fetched), "published": times.iso(article.published), "copy_of": article.copy_of}


def _story_json(row: StoryRow) -> dict:
    return {"id": row.id, "first_seen": times.iso(row.first_seen), "title": row.title, "rules": list(row.rules),
            "outlets": len({article.outlet for article in row.articles}), "independent_outlets": list(row.independent),
            "facts": _facts_json(row.facts),
            "articles": [_article_json(article) for article in row.articles],
            "merged": [{"story": story, "title": title, "at": times.iso(at), "why": why}
                       for story, title, at, why in row.merged]}


def _facts_json(text: str | None) -> dict | None:
    """An event's facts, each with the sentence, outlet and link it came from."""
    facts = event_facts.EventFacts.load(text)
    if facts is None:
        return None
    out = facts.as_dict()
    for fact in out.values():
        if isinstance(fact, dict):
            fact.pop("at", None)
            if fact.get("url"):
                fact["url"] = shown.url(fact["url"])
    return out


FACT_LABELS = (("event_type", "what"), ("killed", "killed"), ("injured", "injured"), ("claimed_by", "claimed by"),
               ("place", "where"))


def _facts_lines(text: str | None, title: str | None) -> list[str]:
    """"  killed: 59 · “At least 59 people were killed …” (pakobserver.example)", one line a fact
    (a fact read from the story's headline says so rather than repeat it)."""
    facts = event_facts.EventFacts.load(text)
    if facts is None:
        return []
    lines = []
    for name, label in FACT_LABELS:
        stated = getattr(facts, name)
        if stated is None:
            continue
        value = stated.shown
        low = getattr(facts, f"{name}_low", None)
        if low is not None and low != stated.value:
            value += f" (reports: {low}–{stated.value})"
        if name == "place" and facts.located is not None:
            value += f" ({facts.located.precision} precision)"
        evidence = "the headline" if stated.evidence == title else f"“{stated.evidence}”" if stated.evidence else ""
        lines.append(f"  {label}: {value} · {evidence} ({stated.outlet})" if evidence else f"  {label}: {value} ({stated.outlet})")
    if facts.date:
        lines.append(f"  when: {facts.date}")
    return lines


def _story_lines(row: StoryRow) -> list[str]:
    """A story for people: its reports grouped by outlet (first reported first), each copy
    under the text it copies, then what merged into it."""
    outlets = {article.outlet for article in row.articles}
    rules = f" · rules: {', '.join(row.rules)}" if row.rules else ""
    independently = f", {len(row.independent)} independently" if len(row.independent) != len(outlets) else ""
    lines = [f"#{row.id} {times.shown(row.first_seen)} · {len(outlets)} outlet(s){independently}{rules}", f"  {row.title}",
             *_facts_lines(row.facts, row.title)]
    ids = {article.id for article in row.articles}
    copies: dict[int, list[StoryArticle]] = {}
    for article in row.articles:
        if article.copy_of in ids:
            copies.setdefault(article.copy_of, []).append(article)
    by_outlet: dict[str, list[StoryArticle]] = {}
    for article in row.articles:
        if article.copy_of not in ids:
            by_outlet.setdefault(article.outlet, []).append(article)
    for outlet, originals in by_outlet.items():
        lines.append(f"  {outlet}")
        for article in originals:
            lines.append(f"    {_article_line(article, row.title)}")
            lines.extend(f"      copy {_article_line(copy, row.title, outlet=True)}" for copy in copies.get(article.id, ()))
    for story, title, at, why in row.merged:
        lines.append(f"  merged #{story} into it {times.shown(at)}: {title}; {why}")
    return lines


def _article_line(article: StoryArticle, story_title: str | None, outlet: bool = False) -> str:
    title = "" if article.title == story_title else f" {article.title}"  # each title once
    published = f" (published {times.shown(article.published)})" if article.published else ""
    where = f" {article.outlet}:" if outlet else ""
    return f"a:{article.id} {times.shown(article.fetched)}{where}{title}{published}  {shown.url(article.url) or ''}".rstrip()
