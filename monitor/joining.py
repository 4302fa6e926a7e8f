"""Which story a new article joins, and the repairs that follow: a copy of an article within
the story window joins its story (`monitor.stories`); else the open event it reports
(`monitor.events`), merging the open events it shows to be one incident; and once recorded, the
event it grew may settle into another open one. A merge is recorded in the store first (the
absorbed story's alerts move or are cancelled: `Store.merge_stories`), then in memory, so that
a retry after a store fault finds nothing half done. Called by the pipeline between finding an
article's features and recording it."""

from __future__ import annotations

import logging

from monitor import event_facts, events, stories
from monitor.app import App
from monitor.model import Article

log = logging.getLogger("newsmon.pipeline")


def find(app: App, signature: stories.Signature, found: events.Features,
         now: float, words: bytes | None = None) -> tuple[int | None, int | None, str]:
    """(story, the article it copies, how it joined): a copy's story and original, "joined
    story"; else an open event's story, "joined event"; (None, None, "") for a new story.
    `words`: a digest of its title and text (`StoryIndex.add`)."""
    copy = app.story_index().find_copy(signature, now, words)  # a copy of an article we have
    if copy:
        return copy[0], copy[1], "joined story"
    story = _event(app, found, now)  # another outlet's own report of an open event
    return story, None, "joined event" if story is not None else ""


def _event(app: App, found: events.Features, now: float) -> int | None:
    """The story of the open event `found` reports, if any. When it reports two or more open
    events that are one incident (no guard keeps them apart), they are merged into the oldest
    first: in the store (the absorbed story's alerts move or are cancelled, see
    `Store.merge_stories`), then in memory, so a retried commit finds them merged."""
    story, absorbed = app.event_index().assign(found, now)
    for verdict in absorbed:
        _merge(app, story, verdict.story, f"a report joined both (score {verdict.score:.2f}; {events.described(verdict.parts)})",
               now)
    return story


def settle(app: App, story: int, now: float) -> None:
    """Merge the open events that the event of `story`, having gained a report, shows to be
    the same incident (`EventIndex.settle`) into the oldest of them."""
    for verdict in app.event_index().settle(story, now):
        survivor, absorbed = min(story, verdict.story), max(story, verdict.story)
        _merge(app, survivor, absorbed, f"their reports tell one incident (score {verdict.score:.2f}; "
                                        f"{events.described(verdict.parts)})", now)
        story = survivor


def gathered(app: App, story: int | None, found: events.Features, article: Article, now: float) -> event_facts.EventFacts:
    """The facts of the event an article joins (`story`; None: a new one) with its own counted."""
    current = facts_of(app, story) if story is not None else None
    report = event_facts.Report(found, article.outlet, article.url, None, now)
    return event_facts.add(current, report, app.namer())


def facts_of(app: App, story: int) -> event_facts.EventFacts | None:
    """A story's event facts as recorded; gathered from its articles' features when they were
    not (a story recorded before newsmon gathered facts), None when it has none."""
    recorded = event_facts.EventFacts.load(app.store.story_facts(story))
    if recorded is not None:
        return recorded
    facts = None
    for blob, outlet, url, article_id, fetched in app.store.story_reports(story):
        found = events.Features.unpack(blob) if blob else None
        if found is not None:
            facts = event_facts.add(facts, event_facts.Report(found, outlet, url, article_id, fetched), app.namer())
    return facts


def _merge(app: App, survivor: int, absorbed: int, why: str, now: float) -> None:
    """One story found to be another: in the store first (its alerts move or are cancelled, see
    `Store.merge_stories`; their facts are gathered into one), then in memory, so that a retry
    after a store fault finds it undone."""
    facts = event_facts.merge(facts_of(app, survivor), facts_of(app, absorbed))
    moved, cancelled = app.store.merge_stories(survivor, absorbed, why, now, facts.dump() if facts else None)
    app.event_index().merge(survivor, absorbed)
    app.story_index().rename(absorbed, survivor)
    log.info("stories merged story=%s into=%s alerts moved=%d cancelled=%d: %s", absorbed, survivor, moved, cancelled,
             why)

