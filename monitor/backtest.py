"""Backtesting rules on history: run rules over stored articles without alerting, and say which
stories they would have alerted, and how that differs from what was actually alerted.

A rule alerts once per story, so what a backtest finds is a set of (rule, story) pairs, each
with the first article of the story the rule matched and its hits. Only articles that could
have alerted count: one whose every entry was recorded without alerting (a feed's first poll,
an entry older than `alert_max_age`) is read but never alerts, as live. An article's feed tags
are its feeds' tags in the configuration being tested (rules' `feed_tags`).

"Actually alerted" is every rule's first alert on a story, queued for any channel whatever
became of it (sent, held, silenced, dead), from the outbox; follow-ups (`on_update`) are
counted apart. Stories merged into another count as the survivor. The comparison covers the
stories that have an article in the period."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import itertools
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from monitor.model import Hit


@dataclass(frozen=True)
class Found:
    """A story a rule would alert: its first matching article, and how many matched."""

    rule: str
    story: int
    article: int
    title: str
    outlet: str
    url: str | None
    fetched: float
    hits: tuple[Hit, ...]
    articles: int = 1


@dataclass
class Outcome:
    """What a backtest found, per rule, and how it compares with what was alerted."""

    articles: int = 0  # read
    eligible: int = 0  # could have alerted (not recorded silently)
    found: dict[tuple[str, int], Found] = field(default_factory=dict)
    alerted: dict[tuple[str, int], tuple[float, int]] = field(default_factory=dict)  # in the period's stories
    followups: dict[tuple[str, int], int] = field(default_factory=dict)
    stories: set[int] = field(default_factory=set)  # stories with an article in the period

    def rules(self) -> list[str]:
        return sorted({rule for rule, _story in self.found} | {rule for rule, _story in self.alerted})

    def added(self, rule: str) -> list[Found]:
        """Stories the rule finds that were not alerted."""
        return sorted((found for key, found in self.found.items() if key[0] == rule and key not in self.alerted),
                      key=lambda found: found.fetched)

    def dropped(self, rule: str) -> list[tuple[int, float, int]]:
        """(story, when alerted, its alert's article) of stories alerted that the rule does not find."""
        return sorted(((story, created, article) for (name, story), (created, article) in self.alerted.items()
                       if name == rule and (name, story) not in self.found), key=lambda item: item[1])

    def per_day(self, rule: str) -> dict[str, int]:
        """Stories the rule finds, by the UTC day of their first matching article."""
        return per_day(found for (name, _story), found in self.found.items() if name == rule)

    def by_rule(self) -> dict[str, list[Found]]:
        """What each rule finds, oldest first (one pass, for reporting every rule)."""
        out: dict[str, list[Found]] = {}
        for found in sorted(self.found.values(), key=lambda found: found.fetched):
            out.setdefault(found.rule, []).append(found)
        return out


def per_day(founds: Iterable[Found]) -> dict[str, int]:
    """How many of `founds` there are by the UTC day of their first matching article."""
    days: dict[str, int] = {}
    for found in founds:
        day = datetime.datetime.fromtimestamp(found.fetched, datetime.timezone.utc).strftime("%Y-%m-%d")
        days[day] = days.get(day, 0) + 1
    return dict(sorted(days.items()))


def run(matcher, articles: Iterable, tags: Mapping[str, tuple[str, ...]], *, rules: set[str] | None = None,
        progress: Callable[[int], None] = lambda count: None, workers: int = 1,
        own_places: tuple[tuple[str, dict], ...] = (), sites: tuple = ()) -> Outcome:
    """Match every article (`monitor.store.replay.StoredArticle`) with `matcher` (a
    `monitor.match.Matcher`); `tags`: feed URL -> its tags; `rules`: only these rules;
    `workers`: match in that many worker processes (each with its own copy of the matcher),
    the articles still taken in order, so the outcome is the same; `own_places`: the
    configuration's [places.ID]; `sites`: its [[sites]] (rules with `near` keep a match only
    when the article's stored place is near one, as live)."""
    from monitor import events, incidents

    by_name = {rule.name: rule for rule in matcher.rules}
    near_rules = any(rule.near for rule in matcher.rules)
    outcome = Outcome()

    def eligible() -> Iterator[tuple]:
        for article in articles:
            outcome.articles += 1
            outcome.stories.add(article.story_id)
            if outcome.articles % 1000 == 0:
                progress(outcome.articles)
            if article.quiet:
                continue
            outcome.eligible += 1
            yield article, sorted({tag for url in article.feeds for tag in tags.get(url, ())})

    for article, matches in _matched(matcher, eligible(), workers, own_places):
        if near_rules and matches:
            found = events.Features.unpack(article.features) if article.features else None
            matches, _near = incidents.near_sites(matches, by_name, found, sites, own_places)
        for match in matches:
            if rules is not None and match.rule not in rules:
                continue
            key = (match.rule, article.story_id)
            known = outcome.found.get(key)
            if known is None:
                outcome.found[key] = Found(match.rule, article.story_id, article.id, article.title, article.outlet,
                                           article.url, article.fetched, match.hits)
            else:
                outcome.found[key] = dataclasses.replace(known, articles=known.articles + 1)
    progress(outcome.articles)
    return outcome


BATCH = 64  # articles per worker task
AHEAD = 3  # tasks in flight per worker: enough to keep each busy, few enough to hold little text


def _matched(matcher, items: Iterator[tuple], workers: int, own_places: tuple = ()) -> Iterator[tuple]:
    """(article, its matches) for each (article, feed tags) of `items`, in order. With workers,
    batches go to a pool and at most `AHEAD` per worker are in flight (the articles are read, in
    this thread, only as fast as the workers match them)."""
    if workers <= 1:
        for article, feed_tags in items:
            yield article, matcher.match(article.title, article.text, feed_tags=feed_tags)
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with context.Pool(workers, initializer=_start_worker,
                      initargs=(list(matcher.entities.values()), matcher.rules, own_places)) as pool:
        pending: collections.deque = collections.deque()
        while True:
            batch = list(itertools.islice(items, BATCH))
            if batch:
                task = [(article.title, article.text, feed_tags) for article, feed_tags in batch]
                pending.append((batch, pool.apply_async(_match_batch, (task,))))
            while pending and (not batch or len(pending) >= AHEAD * workers):
                done, result = pending.popleft()
                yield from zip((article for article, _tags in done), result.get())
            if not batch:
                return


_worker_matcher = None


def _start_worker(entities, rules, own_places) -> None:
    from monitor import incidents

    global _worker_matcher
    _worker_matcher = incidents.matcher(entities, rules, own_places)


def _match_batch(task: list[tuple[str, str, list[str]]]) -> list:
    return [_worker_matcher.match(title, text, feed_tags=feed_tags) for title, text, feed_tags in task]


def compare(outcome: Outcome, alerted: Mapping[tuple[str, int], tuple[float, int]],
            followups: Mapping[tuple[str, int], int], rules: set[str] | None = None) -> None:
    """Keep, of what was actually alerted, the pairs of the period's stories (and of `rules`)."""
    wanted = (lambda rule: True) if rules is None else (lambda rule: rule in rules)
    outcome.alerted = {key: value for key, value in alerted.items() if key[1] in outcome.stories and wanted(key[0])}
    outcome.followups = {key: count for key, count in followups.items()
                         if key[1] in outcome.stories and wanted(key[0])}
