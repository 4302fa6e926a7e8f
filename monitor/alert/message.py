"""What an alert says: the `AlertMessage` built from a rule's match (snippet, highlighted words,
severity, outlet, update flag), the outlets added at delivery ("also reported by"), newsmon's
own notices, and the sample alert that `newsmon notify-test` sends. Pure functions; rendering
a message for a channel is `formats`' job."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable

from monitor import shown, text, times
from monitor.model import Ack, AlertMessage, Article, Hit, IncidentFacts, Match, Rule


def for_match(found: Match, article: Article, rule: Rule, feed_name: str, *, update: bool = False,
              tags: tuple[str, ...] = (), near=None, facts: IncidentFacts | None = None, severity: str | None = None,
              changed: tuple[str, ...] = ()) -> AlertMessage:
    """What an alert for this match shows: the sentence around the first hit in the text (else
    the headline), hits marked; the rule's name and severity (`severity`: as graded for an "auto"
    rule); the event's facts; for a follow-up, what `changed`. `feed_name` is the feed's name,
    else its title, else its URL: shown without credentials."""
    facts = facts or IncidentFacts()
    text_hits = [hit for hit in found.hits if hit.field == "text"]
    title_hits = [hit for hit in found.hits if hit.field == "title"]
    if text_hits:
        first = text_hits[0]
        snippet, offset = text.sentence_around(article.text, first.start, first.end)
        highlights = _spans(text_hits, offset, len(snippet))
    else:
        snippet = article.title
        highlights = _spans(title_hits, 0, len(snippet))
    matched = tuple(dict.fromkeys(
        (article.text if hit.field == "text" else article.title)[hit.start:hit.end] for hit in found.hits))
    return AlertMessage(
        rule=found.rule,
        title=article.title,
        url=article.url,
        outlet=article.outlet,
        published=article.published.isoformat() if article.published else None,
        snippet=snippet,
        highlights=highlights,
        matched=matched,
        feed=shown.urls_in(feed_name),
        update=update,
        severity=severity or rule.severity,
        entities=tuple(dict.fromkeys(hit.entity for hit in found.hits if hit.entity)),
        tags=tuple(tags),
        # how close the event is to a watched site (`monitor.sites.Proximity`), when within its radius
        near_km=round(near.km, 1) if near is not None else None, near_site=near.site if near is not None else "",
        near_precision=near.precision if near is not None else "", near_place=near.place if near is not None else "",
        event_type=facts.event_type, killed=facts.killed, injured=facts.injured, killed_low=facts.killed_low,
        injured_low=facts.injured_low, claimed_by=facts.claimed_by,
        place=facts.place, place_precision=facts.precision, changed=tuple(changed),
    )


def _spans(hits: list[Hit], offset: int, length: int) -> tuple[tuple[int, int], ...]:
    spans = []
    for hit in hits:
        start, end = hit.start - offset, hit.end - offset
        if 0 <= start and end <= length:
            spans.append((start, end))
    return tuple(sorted(set(spans)))


def with_outlets(message: AlertMessage, outlets: Iterable[tuple[str, float, str | None]],
                 independent: Iterable[str] = ()) -> AlertMessage:
    """The alert with the other outlets that have reported its story by now: `outlets` is
    (outlet, when it published it, url) of every outlet of the story, first seen first; `independent`,
    those that reported it in their own words (copies of one text count once)."""
    others = tuple((outlet, times.iso(at) or "") for outlet, at, _url in outlets if outlet != message.outlet)
    return dataclasses.replace(message, also_reported_by=others, independent_outlets=len(tuple(independent)))


def acknowledged(message: AlertMessage, ack: Ack) -> AlertMessage:
    """The alert marked as acknowledged: someone is handling its story."""
    who = f"by {ack.by} " if ack.by else ""
    note = f": {ack.note}" if ack.note else ""
    return dataclasses.replace(message, acknowledged=f"{who}at {times.shown(ack.at)}{note}")


def notice(rule: str, title: str, body: str, *, url: str | None, source: str, now: float) -> AlertMessage:
    """One of newsmon's own notices (rule "newsmon:..."), e.g. a feed gone silent: not about an
    article, so no highlights; it goes through the outbox like an alert."""
    return AlertMessage(rule=rule, title=title, url=url, outlet=source, published=times.iso(now), snippet=body,
                        highlights=(), matched=(), feed=source)


def sample(now: float | None = None) -> AlertMessage:
    """The alert `newsmon notify-test` sends: every part a real alert has, marked as a sample."""
    at = times.iso(time.time() if now is None else now)
    snippet = "Militants of the Tehreek-e-Taliban Pakistan (TTP) attacked a checkpoint in Khyber Pakhtunkhwa."
    return AlertMessage(
        rule="notify-test", title="newsmon test alert: TTP attack reported in Khyber Pakhtunkhwa (sample)",
        url="https://example.org/newsmon-test-alert", outlet="newsmon", published=at, snippet=snippet,
        highlights=((snippet.index("Tehreek"), snippet.index(" (TTP)")), (snippet.index("Khyber"), len(snippet) - 1)),
        matched=("Tehreek-e-Taliban Pakistan", "Khyber Pakhtunkhwa"), feed="newsmon",
        also_reported_by=(("Example Wire", at or ""),), independent_outlets=2, severity="medium")
