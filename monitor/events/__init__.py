"""Which event an article reports: independent reports of one real-world incident, joined.

Story identity has two levels. The first, `monitor.stories`, finds *copies*: the same text
under another headline. This module is the second: an *event* gathers copies and reports that
outlets wrote themselves, in other words and other languages, as the toll rises.

An article's `Features` are read once (`features`): the content words of its title and lead
with weights (names, written with a capital inside a sentence, count double), the entities it
names (the watchlist's and the whole bundled pack's, so an alias in any script is one entity),
the places it names (most specific first, each with what contains it: its district, province
and country), its incident type, its killed and injured figures, the dates it gives for the
incident and the names its lead gives. `EventIndex.find` compares them with the events open within the window: online and
single-pass, the shape of Miranda et al. (2018) and of the Europe Media Monitor's clustering.

A candidate event is refused outright by a guard, whatever else they share:
- *places*: the article's main place and the event's are in different districts (or, when a
  side names no district, different provinces or countries) and neither contains the other;
- *dates*: the incident dates they give are two or more days apart;
- *type*: their incident types cannot be one incident (`compatible`, from `monitor.facts`).
Otherwise a score (`verdict`) adds the cosine of their weighted words (tf-idf, document
frequencies counted over the articles seen; only within one script and language), shared
entities, the same place, the same incident date and the same type; the best candidate at or
above `JOIN` wins (more without a date to compare, less when they give the same toll). Something
must anchor them to one incident: a place, an incident date or rare names in common (`NAMES`),
else only words much alike join. Thresholds
and weights were chosen on the development sets described in docs/stories.md.

Repair: a report that may join two or more open events (each scoring `MERGE` or more, each
dated, and no event guard (`apart`) between them) shows them to be one incident reported in
two strands; `EventIndex.assign` names them, and they merge into the oldest. An event that has
grown takes in the events of one report that the join would now put in it, and other grown
events found to be the same incident (`repair`, through `EventIndex.settle`).
"""

from monitor.events.features import LEAD_WORDS, VERSION, Features, script, terms, words
from monitor.events.event import DATE_APART, FOLLOW_UP, Event, apart
from monitor.events.index import EventIndex, needed
from monitor.events.verdict import (CANDIDATES, JOIN, MERGE, MIN_TERMS, NAME_RARE, NAMED, NAMES, SAME_DAY, SAME_TOLL, SETTLE,
                                    SETTLE_WORDS, UNANCHORED, UNDATED, WEIGHTS, Verdict, described, score)

__all__ = ["CANDIDATES", "DATE_APART", "FOLLOW_UP", "JOIN", "LEAD_WORDS", "MERGE", "MIN_TERMS", "NAME_RARE", "NAMED", "NAMES",
           "SAME_DAY", "SAME_TOLL", "SETTLE", "SETTLE_WORDS", "UNANCHORED", "UNDATED", "VERSION", "WEIGHTS", "Event", "EventIndex",
           "Features", "Verdict", "apart", "described", "needed", "score", "script", "terms", "words"]
