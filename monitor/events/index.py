"""The open events and the join: which open event an article's features report, if any, and
which open events a report or a grown event shows to be one (repair).

The guards, the score and the thresholds are described in the package's docstring and in
docs/stories.md.
"""

from __future__ import annotations

import heapq
import math
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from hashlib import blake2b

from monitor.events import repair
from monitor.events.event import (KEY_WORDS, Event, apart, dates_apart, event_keys, incident_days, leads, local_area,
                                   lookup_keys, places_apart, same_toll)
from monitor.events.features import Features
from monitor.events.verdict import (CANDIDATES, COMMON_KEY, JOIN, MERGE, MIN_TERMS, NAME_RARE, NAMED, NAMES, SAME_DAY, SAME_TOLL,
                                    UNANCHORED, UNDATED, Verdict, foreign, score)

KEYS_KEPT = 50_000  # words whose keys are remembered (`EventIndex.key`): an article's are mostly words seen before


class EventIndex:
    """Events seen within `window` seconds, findable by their words, entities and places.

    Words are held by their keys (`key`): 64 bits of BLAKE2b keyed with the index's `salt`. Not
    Python's `hash`, which is salted anew in every process: the index is kept between runs
    (`monitor.window`), with its salt. Keyed, so that a hostile feed cannot choose words whose
    keys collide in its tables."""

    def __init__(self, window: float, compatible: Callable[[str, str], bool], salt: bytes | None = None):
        self.window = window
        self.compatible = compatible
        self.salt = salt or os.urandom(16)
        self._known: dict[str, int] = {}  # word -> key, the last KEYS_KEPT words' at most
        self.events: dict[int, Event] = {}
        self.by_key: dict[str, set[int]] = {}
        self.order: deque[tuple[float, int]] = deque()
        self.df: Counter[int] = Counter()  # articles whose terms hold a word (by its key)
        self.logdf: dict[int, float] = {}  # log(df + 1) of each word, for idf
        self.documents = 0

    def __len__(self) -> int:
        return len(self.events)

    def __getstate__(self) -> dict:
        """For `monitor.window`: all but the remembered word keys (found again as words come)."""
        return {**self.__dict__, "_known": {}}

    def key(self, word: str) -> int:
        """A word's key (see the class): a signed 64-bit int."""
        known = self._known
        found = known.get(word)
        if found is None:
            if len(known) >= KEYS_KEPT:
                known.clear()
            found = known[word] = int.from_bytes(blake2b(word.encode(), key=self.salt, digest_size=8).digest(),
                                                 "little", signed=True)
        return found

    def keys(self, found: Features) -> list[int]:
        """The keys of an article's words (`Features.terms`), in their order."""
        get, key = self._known.get, self.key
        return [get(word) or key(word) for word, _weight in found.terms]

    def _weighted(self, found: Features, keys: list[int] | None = None) -> tuple[dict[int, float], float, float]:
        """An article's words (by key; `keys` if the caller has them) weighted by idf, their
        norm, and log(documents + 1)."""
        return self._idf(zip(keys or self.keys(found), (weight for _word, weight in found.terms)))

    def vector(self, event: Event) -> tuple[dict[int, float], float, float]:
        """An event's words weighted by idf, their norm, and log(documents + 1) (see `_weighted`)."""
        return self._idf(zip(event.words, event.weights))

    def _idf(self, words: Iterable[tuple[int, float]]) -> tuple[dict[int, float], float, float]:
        """(word key, weight) pairs weighted by idf (see `cosine`), their norm, and log(documents + 1)."""
        logn, logdf = math.log(self.documents + 1), self.logdf.get
        mine = {key: weight * (logn - logdf(key, 0.0) + 1.0) for key, weight in words}
        return mine, math.sqrt(sum(value * value for value in mine.values())) or 1.0, logn

    def cosine(self, mine: dict[int, float], norm_mine: float, logn: float, event: Event) -> float:
        """The cosine of an article's words and an event's, both weighted by idf (idf = log((N + 1)
        / (df + 1)) + 1, with log(df + 1) kept per word, so that no logarithm is taken here)."""
        if not mine or not event.words:
            return 0.0
        get, logdf = mine.get, self.logdf.get
        dot = norm = 0.0
        for key, weight in zip(event.words, event.weights):
            value = weight * (logn - logdf(key, 0.0) + 1.0)
            norm += value * value
            other = get(key)
            if other is not None:
                dot += value * other
        return dot / (norm_mine * math.sqrt(norm)) if dot and norm else 0.0

    def rare_names(self, mine: Iterable[str], theirs: frozenset[str]) -> int:
        """How many rare names `mine` and `theirs` share: names that fewer than NAME_RARE of the
        reports seen give (a person's, a firm's, a street's; not a country's)."""
        limit, logdf = math.log(max(NAME_RARE * self.documents, 1.0) + 1), self.logdf.get
        return sum(1 for name in mine if name in theirs and logdf(self.key(name), 0.0) <= limit)

    def judge(self, found: Features, event: Event, cosine: float | None = None, dated: bool = False) -> Verdict:
        """The score of `found` against `event`, and the guard that refuses it, if any
        (`cosine`: of their words, when the caller has it already; `dated`: the caller has found
        that the dates guard does not refuse them)."""
        guard = None
        if found.where and event.wheres and "cross_border_clash" not in (found.event_type, *event.types):
            if all(places_apart(found.where, found.district, *lead) for lead in leads(event)):
                guard = "places"
        if not guard and not dated and dates_apart(found, event):
            guard = "dates"
        event_type = event.event_type()
        if not self.compatible(found.event_type, event_type):
            guard = guard or "type"
        # Each part is scored only where both sides say something about it: a report that names
        # no place is neither near nor far from one that does.
        comparable = not found.script or found.script in event.scripts
        if cosine is None and comparable:
            cosine = self.cosine(*self._weighted(found), event)
        if comparable and foreign(found.script, event, cosine):
            comparable = False  # its words are another language's of the script: as if in another script
        parts = {"terms": cosine} if comparable else {}
        if found.entities and event.entities:
            parts["entities"] = len(found.entities & event.entities) / min(len(found.entities), len(event.entities))
        if found.names and event.names:
            parts["names"] = self.rare_names(found.names, event.names)  # counted, not scored: an anchor
        if found.where and event.wheres:
            # a country or a province in common says little: a district or a place inside one does
            local = local_area(found.where, found.district, found.province, found.country)
            parts["place"] = (1.0 if local and found.where[0] in event.places
                              else 0.7 if local and local in event.places
                              else 0.3 if found.province and found.province in event.places else 0.0)
        days = incident_days(found, event)
        if days is not None:
            parts["date"] = 1.0 if days == 0 else 0.5 if days == 1 else 0.0
        elif found.published is not None and event.published:  # only when they were published
            apart = min(abs(found.published - day) for day in event.published)
            parts["date"] = 0.7 if apart == 0 else 0.5 if apart <= 2 else 0.2
        if found.event_type != "other" or event_type != "other":  # a report of an incident and one of none differ
            parts["type"] = (1.0 if found.event_type == event_type else 0.0 if "other" in (found.event_type, event_type)
                             else 0.5)  # two types the guard found compatible
        # What else they share must anchor them to one incident: the same place (or district), the
        # same incident date for two reports of an incident, or rare names. Without an anchor only
        # words much alike join; across scripts (no words to compare) only the same place, type and day.
        placed = parts.get("place", 0.0) >= 0.7 or (parts.get("date", 0.0) >= 1.0 and bool(found.dates)
                                                    and parts.get("type", 0.0) >= 0.5)
        # rare names say who, not when: they anchor reports of one day, or that cannot be dated
        anchored = placed or parts.get("names", 0) >= NAMES and parts.get("date", 1.0) >= 0.7
        if "terms" in parts:
            if parts["terms"] < MIN_TERMS:  # the same place and day, but another story
                guard = guard or "words"
            elif not anchored and parts["terms"] < (SAME_DAY if parts.get("date", 0.0) >= 1.0 and found.dates else UNANCHORED):
                guard = guard or "no anchor"
            elif found.outlet in event.outlets and found.outlet and (not placed or "date" not in parts):
                # an outlet's second story on a subject is a new development (and names its people again)
                guard = guard or "same outlet"
        elif not (parts.get("place", 0.0) >= 0.7 and (
                parts.get("type", 0.0) >= 1.0 and parts.get("date", 0.0) >= 0.5
                # undated: the same actors named too (and it must fit no other incident: `joinable`)
                or not (found.dates or found.month_days or found.published is not None) and "date" not in parts
                and parts.get("type", 0.0) >= 0.5 and parts.get("entities", 0.0) > 0.0)):
            guard = guard or "other script"
        if ("cross_border_clash" in (found.event_type, event_type) and found.dates and event.dates
                and parts.get("date", 1.0) < 1.0):
            # Border clashes come in series, a day or two apart along one border: with the places
            # guard waived for them (two countries' places), only the same day joins.
            guard = guard or "dates"
        parts = {name: round(value, 3) for name, value in parts.items()}
        return Verdict(event.story, round(score(parts), 4), parts, guard)

    def find(self, found: Features, now: float) -> int | None:
        """The story of the open event `found` reports, or None (`assign` without merges)."""
        chosen = self.joinable(found, now)
        return chosen[0].story if chosen else None

    def joinable(self, found: Features, now: float, lone: Event | None = None) -> list[Verdict]:
        """The open events `found` may join, best first: no guard refuses them and they score
        JOIN (JOIN + UNDATED when no date can be compared: without dates a different incident at
        the same place cannot be ruled out). `lone`: the event of one report that `found` is
        (`Event.lone`), judged again against the others."""
        verdicts = [verdict for verdict in self._verdicts(found, now, joining=True, lone=lone) if verdict.guard is None]
        allowed = sorted((verdict for verdict in verdicts
                          if verdict.score >= self.needed(found, verdict)),
                         key=lambda verdict: -verdict.score)
        if allowed and not (found.dates or found.month_days or found.published is not None):
            # A report that says nothing of when, and fits two open events that cannot be one
            # incident (the same group, place and kind of attack, months apart), joins neither.
            near = [verdict for verdict in verdicts if verdict.score >= JOIN + UNDATED / 2 and verdict.story != allowed[0].story]
            chosen = self.events[allowed[0].story]
            if any(apart(chosen, self.events[verdict.story], self.compatible) for verdict in near):
                return []
        return allowed

    def needed(self, found: Features, verdict: Verdict) -> float:
        """The score `found` needs to join the open event of `verdict` (`needed`)."""
        return needed(found, self.events[verdict.story], verdict)

    def assign(self, found: Features, now: float) -> tuple[int | None, list[Verdict]]:
        """The story `found` joins (None: a new event), and the other open events it shows to be
        the same incident: those it may join too, that no event guard (`apart`) keeps from the
        best one or from each other. They merge into the oldest of them (the lowest story id,
        the likeliest to have alerted already), which is the story returned; the verdicts of the
        absorbed ones are returned for the record (see `merge`)."""
        allowed = self.joinable(found, now)
        if not allowed:
            return None, []
        together = [allowed[0]]
        for verdict in allowed[1:] if self.events[allowed[0].story].dates else ():
            event = self.events[verdict.story]
            if verdict.score >= MERGE and event.dates and not any(apart(self.events[kept.story], event, self.compatible)
                                                  for kept in together):
                together.append(verdict)
        survivor = min(verdict.story for verdict in together)
        return survivor, [verdict for verdict in together if verdict.story != survivor]

    def compare(self, a: Event, b: Event) -> Verdict:
        """The verdict on two open events as one incident (`repair.compare`)."""
        return repair.compare(self, a, b)

    def settle(self, story: int, now: float) -> list[Verdict]:
        """The open events that the event of `story`, having gained a report, shows to be the
        same incident, to be merged into the oldest (`repair.settle`)."""
        return repair.settle(self, story, now)

    def merge(self, survivor: int, absorbed: int) -> None:
        """Fold the open event of `absorbed` into that of `survivor`."""
        gone, kept = self.events.pop(absorbed, None), self.events.get(survivor)
        if gone is None or kept is None:
            return
        old = lookup_keys(kept) | lookup_keys(gone)
        for key in lookup_keys(gone):
            self.by_key.get(key, set()).discard(absorbed)
        kept.absorb(gone)
        new = lookup_keys(kept)
        for key in old - new:
            self.by_key.get(key, set()).discard(survivor)
        for key in new:
            self.by_key.setdefault(key, set()).add(survivor)
        self.order.append((kept.seen, survivor))

    def _verdicts(self, found: Features, now: float, *, joining: bool, lone: Event | None = None) -> Iterator[Verdict]:
        """The verdicts on `found` of the candidate events; `joining`: only of those that may join
        (neither the dates guard nor the words guard refuses them: the others are not judged in
        full, and their verdicts would carry a guard). `lone`: the
        event of one report that `found` is (its words are the event's; it is no candidate)."""
        self.prune(now)
        keys = self.keys(found) if lone is None else None
        weighted = self._weighted(found, keys) if lone is None else self.vector(lone)
        for event in self.candidates(found if lone is None else lone, keys):
            if event is lone:
                continue
            if joining and dates_apart(found, event):
                continue  # the dates guard refuses it, whatever their words (most candidates of a long window)
            comparable = not found.script or found.script in event.scripts
            cosine = self.cosine(*weighted, event) if comparable else None
            if not (joining and cosine is not None and cosine < MIN_TERMS and not foreign(found.script, event, cosine)):
                yield self.judge(found, event, cosine, dated=joining)

    def candidates(self, found: Features | Event, keys: list[int] | None = None) -> list[Event]:
        """The open events that share the most keys with `found` (its heaviest words, entities
        and places; an article's word keys given in `keys` if the caller has them); keys that
        many events hold find none."""
        shared: Counter[int] = Counter()
        count, by_key = shared.update, self.by_key
        words = () if isinstance(found, Event) else keys or self.keys(found)
        for key in lookup_keys(found, words):
            holders = by_key.get(key)
            if holders and len(holders) <= COMMON_KEY:
                count(holders)  # in C, in the same order as one by one
        # ties go to the older event (the lower story id): never to the order of a set, which
        # changes with the process's string hashing, so that a replay gives the same stories
        if len(shared) > CANDIDATES:  # as (count, -story) tuples: no key function called for each event
            best = heapq.nlargest(CANDIDATES, [(held, -story) for story, held in shared.items()])
            return [self.events[-story] for _held, story in best]
        return [self.events[story] for story, _count in sorted(shared.items(), key=lambda item: (-item[1], item[0]))]

    def best(self, found: Features, now: float) -> Verdict | None:
        """The best-scoring open event that no guard refuses (or the best refused one, if none
        is allowed), or None when no event shares anything with `found`: why it joined or not."""
        allowed = refused = None
        for verdict in self._verdicts(found, now, joining=False):
            if verdict.guard is None:
                if allowed is None or verdict.score > allowed.score:
                    allowed = verdict
            elif refused is None or verdict.score > refused.score:
                refused = verdict
        return allowed or refused

    def add(self, story: int, found: Features, seen: float) -> bool:
        """Count `found` as a report of the event of `story` (opening it if new). Whether `settle`
        may find anything now: the report told the event something new (`Event.add`), or is its
        second (with which it begins to draw lone events). A report that told it nothing (a copy
        of one of its reports) leaves every verdict on it as it was; settling again would judge
        its candidates again for nothing: on a first poll of many feeds carrying one wire text,
        most of the cycle."""
        self.documents += 1
        df, keys = self.df, self.keys(found)
        df.update(keys)  # each word's count, then its log(df + 1): in C, as one at a time would
        self.logdf.update(zip(keys, map(math.log, map((1).__add__, map(df.__getitem__, keys)))))
        event = self.events.get(story)
        if event is None:
            event = self.events[story] = Event(story)
        before = (event.words[:KEY_WORDS], event.entities, event.wheres)
        told = event.add(found, seen, keys)
        # its keys as they were, and are: a report that told it nothing new (no word, entity or
        # place: a copy) changes them only if its heaviest words changed places
        if told or event.reports == 1 or event.words[:KEY_WORDS] != before[0]:
            old, new = event_keys(*before) if event.reports > 1 else set(), lookup_keys(event)
            for key in old - new:
                self.by_key.get(key, set()).discard(story)
            for key in new - old:
                self.by_key.setdefault(key, set()).add(story)
        self.order.append((seen, story))
        return told or event.reports == 2

    def load(self, reports: Iterable[tuple[int, Features, float]]) -> None:
        """Add stored reports, (story, features, seen), into an empty index (start-up): as `add`
        one by one, but each word's document frequency and each event's keys counted once, at
        the end, rather than at every report (the same index, in a third of the time)."""
        if self.events:
            raise ValueError("EventIndex.load fills an empty index; add reports to a used one")
        events, order, counted = self.events, self.order, []
        extend, keys = counted.extend, self.keys
        for story, found, seen in reports:
            self.documents += 1
            words = keys(found)
            extend(words)
            event = events.get(story)
            if event is None:
                event = events[story] = Event(story)
            event.add(found, seen, words)
            order.append((seen, story))
        df, log = self.df, math.log
        df.update(counted)
        self.logdf.update((key, log(count + 1)) for key, count in df.items())
        by_key = self.by_key
        for story, event in events.items():
            for key in lookup_keys(event):
                holders = by_key.get(key)
                if holders is None:
                    by_key[key] = {story}
                else:
                    holders.add(story)

    def prune(self, now: float) -> None:
        """Close the events no report has reached within the window."""
        while self.order and self.order[0][0] < now - self.window:
            seen, story = self.order.popleft()
            event = self.events.get(story)
            if event is not None and event.seen < now - self.window:
                for key in lookup_keys(event):
                    holders = self.by_key.get(key)
                    if holders is not None:
                        holders.discard(story)
                        if not holders:
                            del self.by_key[key]
                del self.events[story]


def needed(found: Features, event: Event, verdict: Verdict) -> float:
    """The score `found` needs to join `event`, judged in `verdict`: JOIN; JOIN + UNDATED when
    no date can be compared, JOIN + SAME_TOLL when they give the same toll (`same_toll`); JOIN
    again when they share NAMED rare names."""
    if "date" in verdict.parts or verdict.parts.get("names", 0) >= NAMED:
        return JOIN
    return JOIN + (SAME_TOLL if same_toll(found, event) else UNDATED)
