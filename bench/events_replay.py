"""Event joining on the development sets: stories per event, BCubed precision and recall,
hard pairs joined, and the time it takes (measure k of `python -m bench`).

    python -m bench.events_replay                 # both sets, 3 shuffles, medians
    python -m bench.events_replay --set events --worst 10

Replay: every text of a set arrives at the same moment (as when newsmon first polls many
outlets), in 3 fixed shuffles, the window never expiring. Each text goes through newsmon's own
two levels, as the pipeline runs them: its copy signature (`monitor.stories`), then its event
features (`monitor.incidents`) against the open events (`monitor.events`). Dates stated inside
the texts are features; arrival time is not.

Sets, read in place from the shared corpus (NEWSMON_CORPUS): `events/` (142 texts: 124 reports
of 24 militant attacks in Pakistan and Afghanistan and 18 singletons; hard pairs listed) and
`ecbplus/` (982 English reports of 86 events, two of the same kind per topic).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from monitor import incidents, stories, story_index

SHUFFLES = (1, 2, 3)
# A full " date YYYY-MM-DD" mark at the start of an events/ excerpt: its publication day, taken
# out of the text. (Four excerpts carry a year and month only; they stay in the text, as when
# the published figures were measured: monitor.facts reads such a mark as the year.)
DATE_MARK = re.compile(r"^\s*date (\d{4})-(\d\d)-(\d\d)\b")
NOW = 1_000_000.0
WINDOW = 1e12


@dataclass(frozen=True)
class Doc:
    id: str
    event: str | None  # gold event, None for a singleton
    title: str
    text: str
    published: date | None
    followup: bool = False
    outlet: str = ""


def _split_title(text: str) -> tuple[str, str]:
    body = DATE_MARK.sub("", text, count=1).lstrip()
    first, _, rest = body.partition("\n")
    return first.strip(), rest


def load_events(root: Path) -> tuple[list[Doc], list[tuple[str, str]]]:
    docs = []
    for path in sorted((root / "events").glob("e*.json")):
        data = json.loads(path.read_text())
        text = data["text"]
        marked = DATE_MARK.match(text)
        published = date.fromisoformat(data["published"]) if data.get("published") else (
            date(int(marked[1]), int(marked[2]), int(marked[3])) if marked else None)
        if data.get("title"):
            title, body = data["title"], DATE_MARK.sub("", text, count=1).lstrip()
            if body.startswith(title):
                body = body[len(title):].lstrip()
        else:
            title, body = _split_title(text)
        docs.append(Doc(data["id"], data.get("event"), title, body, published, bool(data.get("followup")),
                        data.get("outlet") or ""))
    hard = set()
    for line in (root / "events" / "events.jsonl").read_text().splitlines():
        if line.strip():
            event = json.loads(line)
            for other in event.get("hard_negatives", ()):
                hard.add(tuple(sorted((event["slug"], other))))
    return docs, sorted(hard)


def load_ecbplus(root: Path) -> list[Doc]:
    docs = []
    for line in (root / "ecbplus" / "docs.jsonl").read_text().splitlines():
        if line.strip():
            data = json.loads(line)
            title, body = _split_title(data["text"])
            outlet = urlsplit(data["url"]).hostname or "" if data.get("url") else ""
            docs.append(Doc(data["id"], data["event"], data.get("title") or title, body, None, outlet=outlet.removeprefix("www.")))
    return docs


def replay(docs: list[Doc], seed: int, *, features: dict | None = None) -> tuple[dict[str, int], dict]:
    """Each doc's story after one replay in the shuffle `seed`; and timings (seconds per doc
    of reading features, and of finding and joining the event)."""
    order = list(docs)
    random.Random(seed).shuffle(order)
    copies = story_index.StoryIndex(WINDOW)
    events = incidents.index(WINDOW)
    story_of: dict[str, int] = {}
    read_times, assign_times = [], []
    next_story = 0
    merged: dict[int, int] = {}  # absorbed story -> the story it merged into
    for doc in order:
        started = time.perf_counter()
        found = features.get(doc.id) if features is not None else None
        if found is None:
            found = incidents.read(doc.title, doc.text, published=doc.published, outlet=doc.outlet)
            if features is not None:
                features[doc.id] = found
        read_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        signature = stories.signature(doc.title, doc.text)
        story = copies.find(signature, NOW)
        story = merged.get(story, story)
        if story is None:
            story, absorbed = events.assign(found, NOW)
            for verdict in absorbed:  # the report shows two open events to be one
                _merge(events, story, verdict.story, story_of, merged)
        if story is None:
            next_story += 1
            story = next_story
        copies.add(story, signature, NOW, doc.title)
        told = events.add(story, found, NOW)
        for verdict in events.settle(story, NOW) if told else ():  # the event, grown, shows another open one to be it
            survivor = min(story, verdict.story)
            _merge(events, survivor, max(story, verdict.story), story_of, merged)
            story = survivor
        assign_times.append(time.perf_counter() - started)
        story_of[doc.id] = story
    return story_of, {"read": read_times, "assign": assign_times, "index": events}


def _merge(events, survivor: int, gone: int, story_of: dict[str, int], merged: dict[int, int]) -> None:
    """Story `gone` merges into `survivor`: in the index, in the texts' stories so far, and for
    copies still found under the absorbed story's id."""
    events.merge(survivor, gone)
    merged[gone] = survivor
    for held in (story_of, merged):
        for key, story in held.items():
            if story == gone:
                held[key] = survivor


def crowded(docs: list[Doc], open_events: int, seed: int = 7) -> dict:
    """Assignment time (finding the event, with its merges; adding the report; settling the
    grown event) with `open_events` events already open (the issue's budget: 50,000):
    the index is filled with events made of the set's own features, their words shuffled among
    a 30,000-word vocabulary and their dates moved, then every text of the set is looked up."""
    rng = random.Random(seed)
    found = [incidents.read(doc.title, doc.text, published=doc.published, outlet=doc.outlet) for doc in docs]
    vocabulary = [f"w{number}" for number in range(30_000)]
    index = incidents.index(WINDOW)
    started = time.perf_counter()
    for number in range(open_events):
        model = rng.choice(found)
        shift = rng.randint(-3000, 3000)
        terms = tuple((rng.choice(vocabulary) if rng.random() < 0.7 else word, weight) for word, weight in model.terms)
        index.add(10_000_000 + number, dataclasses.replace(
            model, terms=terms, dates=tuple(day + shift for day in model.dates),
            published=model.published + shift if model.published else None), NOW)
    filled = time.perf_counter() - started
    times = []
    for number, item in enumerate(found):  # what the event loop does per article: find (with merges), add, settle
        started = time.perf_counter()
        story, _absorbed = index.assign(item, NOW)
        story = story or 20_000_000 + number
        index.add(story, item, NOW)
        index.settle(story, NOW)
        times.append(time.perf_counter() - started)
    times.sort()
    return {"open_events": len(index), "fill_seconds": round(filled, 1),
            "find_ms_median": round(statistics.median(times) * 1000, 2),
            "find_ms_p99": round(times[int(len(times) * 0.99)] * 1000, 2)}


def scores(docs: list[Doc], story_of: dict[str, int], hard: list[tuple[str, str]] = ()) -> dict:
    """Stories per event (distinct stories among an event's texts, averaged over events),
    BCubed precision and recall over all texts (a singleton is its own gold cluster), and the
    hard pairs (different incidents that look alike) that were joined."""
    gold = {doc.id: doc.event or f"single:{doc.id}" for doc in docs}
    by_gold, by_story = defaultdict(set), defaultdict(set)
    for doc in docs:
        by_gold[gold[doc.id]].add(doc.id)
        by_story[story_of[doc.id]].add(doc.id)
    precision = recall = 0.0
    for doc in docs:
        mine, theirs = by_story[story_of[doc.id]], by_gold[gold[doc.id]]
        both = len(mine & theirs)
        precision += both / len(mine)
        recall += both / len(theirs)
    events = [name for name in by_gold if not name.startswith("single:")]
    per_event = statistics.fmean(len({story_of[i] for i in by_gold[name]}) for name in events)
    joined = [pair for pair in hard
              if {story_of[i] for i in by_gold[pair[0]]} & {story_of[i] for i in by_gold[pair[1]]}]
    return {"stories_per_event": round(per_event, 3), "bcubed_precision": round(precision / len(docs), 4),
            "bcubed_recall": round(recall / len(docs), 4), "hard_pairs_joined": [list(pair) for pair in joined],
            "stories": len(by_story)}


def mistakes(docs: list[Doc], story_of: dict[str, int], limit: int = 10, index=None, features: dict | None = None) -> list[str]:
    """The worst mistakes of a replay: texts joined to another event's story, then events split
    into the most stories; given the replay's final `index` and the texts' `features`, each text
    kept out of its event's main story with its verdict against that story (why it is out)."""
    gold = {doc.id: doc.event for doc in docs}
    by_story = defaultdict(list)
    for doc in docs:
        by_story[story_of[doc.id]].append(doc)
    out = []
    for story, members in sorted(by_story.items()):
        majority = Counter(gold[doc.id] or doc.id for doc in members).most_common(1)[0][0]
        for doc in members:
            if (gold[doc.id] or doc.id) != majority:
                out.append(f"joined wrongly: {doc.id} ({gold[doc.id] or 'singleton'}) into story {story} of {majority}: "
                           f"{doc.title[:70]!r}")
    splits = Counter()
    for doc in docs:
        if doc.event:
            splits[doc.event] = len({story_of[d.id] for d in docs if d.event == doc.event})
    for event, count in splits.most_common():
        if count > 1:
            out.append(f"split: {event} into {count} stories")
            if index is not None and features is not None:
                members = [doc for doc in docs if doc.event == event]
                main = Counter(story_of[doc.id] for doc in members).most_common(1)[0][0]
                for doc in members:
                    if story_of[doc.id] != main and main in index.events:
                        verdict = index.judge(features[doc.id], index.events[main])
                        needed = index.needed(features[doc.id], verdict)
                        out[-1] += (f"; {doc.id} out (score {verdict.score:.2f} of {needed:.2f} needed, {verdict.parts}, "
                                    f"guard {verdict.guard or 'none'})")
    return out[:limit]


def measure(root: Path, sets: tuple[str, ...] = ("events", "ecbplus"), worst: int = 0, crowd: int = 0) -> dict:
    results = {}
    for name in sets:
        if name == "events":
            docs, hard = load_events(root)
        else:
            docs, hard = load_ecbplus(root), []
        cache: dict = {}
        runs, reads, assigns = [], [], []
        for seed in SHUFFLES:
            story_of, timing = replay(docs, seed, features=cache)
            if seed == SHUFFLES[0]:
                reads = timing["read"]
            assigns.extend(timing["assign"])
            runs.append((scores(docs, story_of, hard), story_of, timing["index"]))
        runs.sort(key=lambda run: run[0]["stories_per_event"])
        median, story_of, index = runs[len(runs) // 2]
        median = dict(median)  # the runs are listed in it: not itself among them
        assigns.sort()
        median["runs"] = [run[0] for run in runs]
        median["texts"] = len(docs)
        median["features_ms_median"] = round(statistics.median(reads) * 1000, 2)
        median["assign_ms_median"] = round(statistics.median(assigns) * 1000, 2)
        median["assign_ms_p99"] = round(assigns[int(len(assigns) * 0.99)] * 1000, 2)
        if worst:
            median["worst"] = mistakes(docs, story_of, worst, index, cache)
        if name == "events" and crowd:
            median["crowded"] = crowded(docs, crowd)
        results[name] = median
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.events_replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("events", "ecbplus", "both"), default="both")
    parser.add_argument("--worst", type=int, default=0, help="list this many of the worst mistakes")
    parser.add_argument("--open", type=int, default=0, metavar="N",
                        help="also time assignment with N events open (the budget is for 50,000)")
    args = parser.parse_args(argv)
    corpus = os.environ.get("NEWSMON_CORPUS")
    if not corpus or not Path(corpus).is_dir():
        print("set NEWSMON_CORPUS to the shared corpus directory", file=sys.stderr)
        return 2
    sets = ("events", "ecbplus") if args.set == "both" else (args.set,)
    for name, result in measure(Path(corpus), sets, args.worst, args.open).items():
        worst = result.pop("worst", [])
        result.pop("runs")
        print(name, json.dumps(result))
        for line in worst:
            print("   ", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
