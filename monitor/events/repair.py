"""Repair: the open events that a grown event shows to be one incident with it, reported in
strands that no single report bridged (`EventIndex.settle`, called once an event has gained a
report; the merge itself is `EventIndex.merge`).

Two kinds of strand are taken in. An event of one report (or of undated reports only) that the
grown event now draws, as the join would decide if that report came now (`late`): single-pass
assignment decides with what it has seen, and the event a report belongs to may have been
smaller than it when the report came. And a grown event like this one (`compare`): placed and
dated as one incident, or, with neither, whose words alone are much alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.events.event import Event, apart, dates_apart, local_areas
from monitor.events.verdict import LATE, MIN_TERMS, SETTLE, SETTLE_WORDS, Verdict, foreign, score

if TYPE_CHECKING:
    from monitor.events.index import EventIndex


def settle(index: EventIndex, story: int, now: float) -> list[Verdict]:
    """The open events that the event of `story`, having gained a report, shows to be the
    same incident: to be merged into the oldest of them."""
    event = index.events.get(story)
    if event is None:
        return []
    index.prune(now)
    found, late_ones = [], []
    grown = None  # the event's weighted words, made once for every report it may draw
    districts = {area[0] for area in event.areas if area[0]} | {where[0] for where in event.wheres}
    if event.reports == 1 and not (event.dates and districts):
        return []  # an event of one report settles only anchored (dated and placed, below): none to look for
    for other in index.candidates(event):
        if other.story == story:
            continue
        if (other.reports == 1 or not other.dates) and event.reports > 1:  # the event, grown, may draw them
            grown = grown or index.vector(event)
            verdict = late(index, other, event, grown)
            if verdict is not None:
                late_ones.append((verdict, other))
            continue
        if set(event.outlets) & set(other.outlets):
            continue  # an outlet's two stories stay two: its second on a subject is a new development
        # what rules an anchored merge out cheaply first: no dates, no place in common, days apart
        if (event.dates and other.dates
                and districts & ({area[0] for area in other.areas} | {where[0] for where in other.wheres})
                and min(abs(mine - theirs) for mine in event.dates for theirs in other.dates) <= 1):
            verdict = compare(index, event, other)
            if verdict.guard is None and verdict.score >= SETTLE:
                found.append(verdict)
        elif event.reports > 1 and other.reports > 1:  # two grown events whose words alone say they are one
            verdict = compare(index, event, other)
            if verdict.guard == "no anchor" and verdict.parts.get("terms", 0.0) >= SETTLE_WORDS:
                found.append(Verdict(verdict.story, verdict.score, verdict.parts, None))
    # the reports it may draw, best first, each if `event` is where the join would put it now (at
    # most LATE of them are looked at in full: each is judged against its own candidates)
    for verdict, other in sorted(late_ones, key=lambda item: -item[0].score)[:LATE]:
        allowed = index.joinable(other.lone(), now, other)
        if event.story in {held.story for held in allowed} and (
                allowed[0].story == event.story or not apart(index.events[allowed[0].story], event, index.compatible)):
            found.append(verdict)
    return found


def late(index: EventIndex, lone: Event, event: Event, grown: tuple) -> Verdict | None:
    """The verdict on the report of `lone` (`Event.lone`) against `event`, grown since it came,
    when it may join it now (named for `lone`), else None. `grown`: `index.vector(event)`, made
    once per settle; the report's words are weighted as the cosine reads them."""
    if dates_apart(lone.dated(), event):
        return None  # the dates guard refuses it (most candidates of a long window): no words weighed
    script = lone.scripts[0] if lone.scripts else ""  # as `Event.lone` gives it
    comparable = not script or script in event.scripts
    cosine = index.cosine(*grown, lone) if comparable else None
    if cosine is not None and cosine < MIN_TERMS and not foreign(script, event, cosine):
        return None  # most of them: their words are unlike (the report is not made for them)
    found = lone.lone()
    verdict = index.judge(found, event, cosine, dated=True)  # its dates are `lone.dated()`, checked above
    if verdict.guard or verdict.score < index.needed(found, verdict):
        return None
    return Verdict(lone.story, verdict.score, verdict.parts, None)


def compare(index: EventIndex, a: Event, b: Event) -> Verdict:
    """The verdict on two open events as one incident: the event guards (`apart`); then, as for
    an article, words, entities, place, date and type, anchored by the same district or place
    *and* incident dates at most a day apart (else the guard "no anchor")."""
    guard = apart(a, b, index.compatible)
    (mine, norm_mine, _), (theirs, norm_theirs, _) = index.vector(a), index.vector(b)
    dot = sum(value * theirs.get(key, 0.0) for key, value in mine.items())
    parts = {}
    if set(a.scripts) & set(b.scripts):
        parts["terms"] = dot / (norm_mine * norm_theirs) if dot else 0.0
    if a.entities and b.entities:
        parts["entities"] = len(a.entities & b.entities) / min(len(a.entities), len(b.entities))
    if a.wheres and b.wheres:
        leads = {where[0] for where in a.wheres} & {where[0] for where in b.wheres}
        districts = local_areas(a) & local_areas(b)
        provinces = {area[1] for area in a.areas if area[1]} & {area[1] for area in b.areas if area[1]}
        parts["place"] = 1.0 if leads else 0.7 if districts else 0.3 if provinces else 0.0
    if a.dates and b.dates:
        days = min(abs(mine - theirs) for mine in a.dates for theirs in b.dates)
        parts["date"] = 1.0 if days == 0 else 0.5 if days == 1 else 0.0
    types = (a.event_type(), b.event_type())
    if types != ("other", "other"):
        parts["type"] = 1.0 if types[0] == types[1] else 0.0 if "other" in types else 0.5
    if not guard and not (parts.get("place", 0.0) >= 0.7 and parts.get("date", 0.0) >= 0.5):
        guard = "no anchor"
    if not guard and parts.get("terms", 1.0) < MIN_TERMS:
        guard = "words"
    parts = {name: round(value, 3) for name, value in parts.items()}
    return Verdict(b.story, round(score(parts), 4), parts, guard)
