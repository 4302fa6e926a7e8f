"""Event facts against the event corpus's own labels: the measures of issue #20's Targets, Part B.

    python -m bench.facts_quality                 # prints the results
    python -m bench.facts_quality --markdown      # ... as the "## Facts" section of docs/benchmarks.md

Every text of `events/e*.json` in the shared corpus (--corpus, $NEWSMON_CORPUS or
../shared/corpus) goes through `monitor.incidents.read(title, text, published=...)`, the code
the pipeline runs, with the text's `published` date when the corpus's MANIFEST gives one. What it
finds is scored against the text's `facts`, as events/MANIFEST.md defines them:

- event type: right on how many of the texts (newsmon's type names mapped to the MANIFEST's
  vocabulary by TYPE_MAP; a type with no mapping is counted wrong and listed);
- killed, injured: exactly the MANIFEST's figure, on the texts that state one (0 included);
- claimed by: precision and recall on the texts whose claimant is a pack entity (CLAIMANTS), and
  how many of the texts that state no claim get none;
- place: `Features.district` is the district labelled by hand for the text's event in
  tests/data/event_districts.toml (an Afghan event is labelled with its province, as
  monitor.incidents reads a province named alone; a district inside it also counts);
- incident date (not a #20 target): `Features.dates[0]` is the event's date in events.jsonl;
- time: `incidents.read` per text, warm, median over texts of each text's median of 5 calls.

Event level: for each event of events.jsonl, its texts are folded into one `EventFacts` by
`monitor.event_facts.add` (what alerts state) in the order a user would receive them: the texts
that are not follow-ups first, by `published` date (texts without one after those with one), then
by id; the follow-ups (`followup_ids`) after them in the same order. Scored per event:

- event type: TYPE_MAP of the gathered type is the event's `type` in events.jsonl;
- killed, injured: the gathered figure is the highest any of the event's texts states (tolls rise;
  events whose texts state none are left out);
- claimed by: the gathered claimant is the pack entity (CLAIMANTS) the event's texts name (recall),
  a gathered claimant is right (precision), and none is gathered when no text names one;
- place: the event's label of tests/data/event_districts.toml is in the gathered place's chain
  (`located.where`), or, for a province label, contains the gathered place;
- evidence: of the facts gathered, how many carry the sentence they were read from.

`measure(corpus)` runs both, for `python -m bench --only l`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bench.corpus import find_corpus
from monitor import event_facts, facts, incidents, places

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "tests" / "data" / "event_districts.toml"
TIMING_CALLS = 5
WORST = 10

# The Targets (#20, Part B).
TARGETS = {"type": 0.9, "killed": 0.85, "injured": 0.85, "claim_precision": 0.9, "claim_recall": 0.8,
           "no_claim": 0.95, "place": 0.9}

# newsmon's event types (monitor.facts.EVENT_TYPES) -> the MANIFEST's `event_type` vocabulary.
# The MANIFEST has no kidnapping or military-operation type: those stay unmapped (counted wrong).
TYPE_MAP = {
    "suicide_bombing": "suicide_bombing",
    "bombing_ied": "bombing_ied",
    "armed_assault": "armed_assault",
    "targeted_killing": "targeted_killing",
    "airstrike_drone": "airstrike_drone",
    "cross_border_clash": "cross_border_clash",
    "other": "other",
}

# The MANIFEST's `claimed_by`, as written, -> the bundled pack's entity (None: not a pack
# entity). Decided by hand; the claims of Islamic State outside the region the pack watches
# (Kerman e008, Moscow e065) are in CLAIM_OUTSIDE instead.
CLAIMANTS = {
    "Islamic State Khorasan (IS-K)": "pack.iskp",
    "Islamic State Khorasan Province (ISKP)": "pack.iskp",
    "Islamic State (IS-K)": "pack.iskp",
    "Islamic State": "pack.iskp",
    "Islamic State (ISIS)": "pack.iskp",
    "Islamic State (IS)": "pack.iskp",
    "Islamic State group": "pack.iskp",
    "Islamic State group (IS)": "pack.iskp",
    "داعش": "pack.iskp",
    "الدولة الإسلامية – ولاية خراسان": "pack.iskp",
    "Majeed Brigade, Balochistan Liberation Army (BLA)": "pack.bla",
    "Balochistan Liberation Army (BLA)": "pack.bla",
    "Balochistan Liberation Army (BLA), Majeed Brigade": "pack.bla",
    "Baloch Liberation Army (BLA)": "pack.bla",
    "बलूच लिबरेशन आर्मी": "pack.bla",
    "बलूच लिबरेशन आर्मी (BLA), मजीद ब्रिगेड": "pack.bla",
    "बलूचिस्तान लिबरेशन आर्मी (BLA) की माजिद ब्रिगेड": "pack.bla",
    "Ejército de Liberación de Baluchistán (BLA)": "pack.bla",
    "Exército de Libertação Baloch (BLA)": "pack.bla",
    # Jaish al-Fursan is the Hafiz Gul Bahadur group's faction (the pack has no name for it yet)
    "Jaish Al Fursan": "pack.hafiz-gul-bahadur",
    "Jaish Al Fursan (Hafiz Gul Bahadur-affiliated)": "pack.hafiz-gul-bahadur",
    "Jaish Al-Fursan (TTP splinter group)": "pack.hafiz-gul-bahadur",
    "Jaish-i-Fursan Muhammad (faction of Hafiz Gul Bahadur group)": "pack.hafiz-gul-bahadur",
    "Pakistani Taliban (TTP)": "pack.ttp",
    "Tehreek-i-Taliban Pakistan (TTP)": "pack.ttp",
    "Afghan Taliban government": "pack.afghan-taliban",
    "Afghan Taliban government (Ministry of Defense)": "pack.afghan-taliban",
    # the government's label, which the text calls a claim (MANIFEST: doubtful points, e093)
    "Fitnat al-Hind": "pack.fitna-al-hindustan",
    "Jaish al-Adl": None,  # Iran (e088): not in the pack
}
CLAIM_OUTSIDE = {"e008", "e065"}  # Islamic State claims in Iran and Russia: not the pack's iskp


@dataclass(frozen=True)
class Text:
    id: str
    event: str | None
    title: str
    text: str
    published: date | None
    facts: dict
    outlet: str = ""
    url: str | None = None


@dataclass(frozen=True)
class Found:
    type: str
    killed: int | None
    injured: int | None
    claim: str | None
    district: str | None
    lead: str | None  # the most specific place it read, for the misses
    date: date | None  # the first incident date it read
    ms: float  # incidents.read, the whole of an article's features
    facts_ms: float  # facts.read alone, the part of it that reads type, figures and dates
    features: object = field(default=None, compare=False, repr=False)  # what incidents.read returned


def load_texts(corpus: Path) -> list[Text]:
    """Every text of events/, with its title apart when the MANIFEST gives one (and taken out of
    the text where the excerpt repeats it); else the title is empty and the text whole."""
    texts = []
    for path in sorted((corpus / "events").glob("e*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        title, body = data.get("title") or "", data["text"]
        if title and title in body:  # as a feed entry's title and its page's text, without the headline
            body = body.replace(title, "", 1)
        published = date.fromisoformat(data["published"]) if data.get("published") else None
        texts.append(Text(data["id"], data.get("event"), title, body, published, data["facts"],
                          data.get("outlet") or "", data.get("source_url")))
    return texts


def load_events(corpus: Path) -> dict[str, dict]:
    lines = (corpus / "events" / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return {event["slug"]: event for event in map(json.loads, filter(str.strip, lines))}


def load_labels(path: Path = LABELS) -> dict[str, str | None]:
    """Event slug -> the gazetteer id of its district (None: left out, see its note)."""
    gazetteer = places.bundled()
    labels = {}
    for slug, table in tomllib.loads(path.read_text(encoding="utf-8")).items():
        if "district" in table:
            gazetteer.place(table["district"])  # raises KeyError on an id the gazetteer lacks
        labels[slug] = table.get("district")
    return labels


def run(text: Text) -> Found:
    """What newsmon reads from one text, and how long `incidents.read` takes on it (ms)."""
    samples = []
    for _ in range(TIMING_CALLS):
        started = time.perf_counter()
        features = incidents.read(text.title, text.text, published=text.published)
        samples.append(time.perf_counter() - started)
    alone = []
    for _ in range(TIMING_CALLS):
        started = time.perf_counter()
        facts.read(text.title, text.text[:incidents.READ_CHARS], published=text.published)
        alone.append(time.perf_counter() - started)
    claim = getattr(features, "claimed_by", None)  # newsmon reads no claims yet
    return Found(features.event_type, features.killed, features.injured, claim, features.district,
                 features.where[0] if features.where else None,
                 date.fromordinal(features.dates[0]) if features.dates else None,
                 statistics.median(samples) * 1000, statistics.median(alone) * 1000, features)


def _right_place(label: str, district: str | None) -> bool:
    if district == label:
        return True
    gazetteer = places.bundled()
    return (district is not None and gazetteer.place(label).kind == "province"
            and gazetteer.contains(label, district))


def _figure_miss(expected: int, found: int | None) -> float:
    """How bad a wrong figure is: its relative error; a missing figure counts as 100% off."""
    return 1.0 if found is None else abs(found - expected) / max(expected, 1)


def score(texts: list[Text], found: dict[str, Found], events: dict[str, dict], labels: dict[str, str | None]) -> dict:
    """Per measure: right, out of, and the worst misses as (id, expected, found) strings."""
    result = {}
    # event type
    unmapped = sorted({f.type for f in found.values() if f.type not in TYPE_MAP})
    misses = [(t.id, t.facts["event_type"], found[t.id].type) for t in texts
              if TYPE_MAP.get(found[t.id].type) != t.facts["event_type"]]
    result["type"] = dict(right=len(texts) - len(misses), of=len(texts), unmapped=unmapped,
                          worst=[f"{i}: expected {e}, found {f}" for i, e, f in misses[:WORST]])
    # killed, injured
    for kind in ("killed", "injured"):
        stated = [t for t in texts if t.facts[kind] is not None]
        misses = sorted(((_figure_miss(t.facts[kind], getattr(found[t.id], kind)), t.id, t.facts[kind],
                          getattr(found[t.id], kind)) for t in stated if getattr(found[t.id], kind) != t.facts[kind]),
                        key=lambda m: -m[0])
        extra = [t.id for t in texts if t.facts[kind] is None and getattr(found[t.id], kind) is not None]
        result[kind] = dict(right=len(stated) - len(misses), of=len(stated), unstated_given=extra,
                            worst=[f"{i}: expected {e}, found {f if f is not None else 'none'}" for _b, i, e, f in misses[:WORST]])
    # claimed by
    claimed = [t for t in texts if t.facts["claimed_by"] and t.id not in CLAIM_OUTSIDE and CLAIMANTS.get(t.facts["claimed_by"])]
    unknown = sorted({t.facts["claimed_by"] for t in texts if t.facts["claimed_by"] and t.id not in CLAIM_OUTSIDE
                      and t.facts["claimed_by"] not in CLAIMANTS})
    given = [t for t in texts if found[t.id].claim]
    right = [t for t in claimed if found[t.id].claim == CLAIMANTS[t.facts["claimed_by"]]]
    unclaimed = [t for t in texts if not t.facts["claimed_by"]]
    result["claim"] = dict(right=len(right), of=len(claimed), given=len(given),
                           given_right=sum(1 for t in given if t in right), unknown_claimants=unknown,
                           none_right=sum(1 for t in unclaimed if not found[t.id].claim), none_of=len(unclaimed),
                           worst=[f"{t.id}: expected {CLAIMANTS[t.facts['claimed_by']]}, found {found[t.id].claim or 'none'}"
                                  for t in claimed if t not in right][:WORST])
    # place at district level
    placed = [t for t in texts if t.event and labels.get(t.event)]
    misses = [t for t in placed if not _right_place(labels[t.event], found[t.id].district)]
    result["place"] = dict(right=len(placed) - len(misses), of=len(placed),
                           left_out=sorted({t.event for t in texts if t.event and not labels.get(t.event)}),
                           unlabelled=sorted({t.event for t in texts if t.event and t.event not in labels}),
                           worst=[f"{t.id}: expected {labels[t.event]}, found {found[t.id].district or 'none'}"
                                  f" (read {found[t.id].lead or 'no place'}; text says: {t.facts['place']})"
                                  for t in misses[:WORST]])
    # incident date (informational): the first date read, else the text's publication date
    dated = [t for t in texts if t.event]
    misses = sorted((t for t in dated if (found[t.id].date or t.published) != date.fromisoformat(events[t.event]["date"])),
                    key=lambda t: found[t.id].date is None)  # a wrong date before a missing one
    result["date"] = dict(right=len(dated) - len(misses), of=len(dated),
                          read=sum(1 for t in dated if found[t.id].date == date.fromisoformat(events[t.event]["date"])),
                          none=sum(1 for t in dated if found[t.id].date is None),
                          worst=[f"{t.id}: expected {events[t.event]['date']}, found "
                                 f"{found[t.id].date or (f'none, published {t.published}' if t.published else 'none')}"
                                 f"{' (follow-up)' if t.id in events[t.event]['followup_ids'] else ''}" for t in misses[:WORST]])
    for key, values in (("time", [f.ms for f in found.values()]), ("facts_time", [f.facts_ms for f in found.values()])):
        result[key] = dict(median=statistics.median(values), p95=sorted(values)[int(0.95 * len(values))], max=max(values))
    return result


def arrival(event: dict, texts: list[Text]) -> list[Text]:
    """An event's texts in the order a user would receive them: the texts that are not follow-ups
    first, by `published` date (those without one after those with one), then by id; the
    follow-ups after them, in the same order."""
    followups = set(event.get("followup_ids") or ())
    return sorted(texts, key=lambda t: (t.id in followups, t.published is None, t.published or date.min, t.id))


def gather(texts: list[Text], found: dict[str, Found], events: dict[str, dict]) -> dict[str, event_facts.EventFacts]:
    """Event slug -> its facts, its texts folded by `event_facts.add` in the order of `arrival`
    (`at` = the position; `article` = the text's number, so that a fact tells which text it is from)."""
    namer = incidents.namer({})
    by_event: dict[str, list[Text]] = {}
    for text in texts:
        if text.event:
            by_event.setdefault(text.event, []).append(text)
    gathered = {}
    for slug, event in events.items():
        current = None
        for at, text in enumerate(arrival(event, by_event.get(slug, []))):
            report = event_facts.Report(found[text.id].features, text.outlet, text.url, int(text.id[1:]), float(at))
            current = event_facts.add(current, report, namer)
        if current is not None:
            gathered[slug] = current
    return gathered


def _from(stated: event_facts.Stated | None) -> str:
    """A gathered fact as found, with the text it came from."""
    if stated is None:
        return "none"
    return f"{stated.value} (e{stated.article:03d})" if stated.article is not None else str(stated.value)


def score_events(texts: list[Text], gathered: dict[str, event_facts.EventFacts], events: dict[str, dict],
                 labels: dict[str, str | None]) -> dict:
    """Per measure of the event level: right, out of, and the worst misses as "slug: expected, found"."""
    by_event: dict[str, list[Text]] = {}
    for text in texts:
        if text.event in gathered:
            by_event.setdefault(text.event, []).append(text)
    slugs = [slug for slug in events if slug in gathered]  # events.jsonl's order
    result: dict = {"events": len(slugs), "without_texts": sorted(set(events) - set(gathered))}
    # event type
    vocabulary = sorted({events[slug]["type"] for slug in slugs})
    kinds = {slug: gathered[slug].event_type.value if gathered[slug].event_type else None for slug in slugs}
    misses = [(slug, events[slug]["type"], _from(gathered[slug].event_type)) for slug in slugs
              if TYPE_MAP.get(kinds[slug] or "") != events[slug]["type"]]
    result["type"] = dict(right=len(slugs) - len(misses), of=len(slugs), vocabulary=vocabulary,
                          unmapped=sorted({k for k in kinds.values() if k and k not in TYPE_MAP}),
                          unknown_types=[kind for kind in vocabulary if kind not in TYPE_MAP.values()],
                          worst=[f"{slug}: expected {e}, found {f}" for slug, e, f in misses[:WORST]])
    # killed, injured: the highest figure any of its texts states
    for kind in ("killed", "injured"):
        stated, extra, misses = 0, [], []
        for slug in slugs:
            figures = [(t.facts[kind], t.id) for t in by_event[slug] if t.facts[kind] is not None]
            got = getattr(gathered[slug], kind)
            value = int(got.value) if got is not None else None
            if not figures:
                if value is not None:
                    extra.append(slug)
                continue
            stated += 1
            expected, source = max(figures, key=lambda pair: (pair[0], pair[1]))
            if value != expected:
                misses.append((_figure_miss(expected, value), slug, f"{expected} ({source})", _from(got)))
        misses.sort(key=lambda m: -m[0])
        result[kind] = dict(right=stated - len(misses), of=stated, unstated_given=extra,
                            worst=[f"{slug}: expected {e}, found {f}" for _b, slug, e, f in misses[:WORST]])
    # claimed by: the pack entity its texts name (most often, if they named several)
    claim = dict(right=0, of=0, given=0, given_right=0, none_right=0, none_of=0, worst=[])
    for slug in slugs:
        named = [t.facts["claimed_by"] for t in by_event[slug] if t.facts["claimed_by"] and t.id not in CLAIM_OUTSIDE]
        entities = [CLAIMANTS[name] for name in named if CLAIMANTS.get(name)]
        expected = max(entities, key=entities.count) if entities else None
        got = gathered[slug].claimed_by
        value = got.value if got is not None else None
        if value:
            claim["given"] += 1
            claim["given_right"] += value == expected
        if expected:
            claim["of"] += 1
            claim["right"] += value == expected
        elif not named:
            claim["none_of"] += 1
            claim["none_right"] += not value
        if (expected or not named) and value != expected:
            claim["worst"].append(f"{slug}: expected {expected or 'none'}, found {_from(got)}")
    claim["worst"] = claim["worst"][:WORST]
    result["claim"] = claim
    # place: the labelled district in the gathered place's chain
    placed = [slug for slug in slugs if labels.get(slug)]
    misses = []
    for slug in placed:
        located = gathered[slug].located
        if located is None or not (labels[slug] in located.where or _right_place(labels[slug], located.where[0])):
            misses.append(f"{slug}: expected {labels[slug]}, found "
                          + (f"{' < '.join(located.where)} ({gathered[slug].place.shown}; e{gathered[slug].place.article:03d})"
                             if located is not None and gathered[slug].place is not None else "none"))
    result["place"] = dict(right=len(placed) - len(misses), of=len(placed),
                           left_out=[slug for slug in slugs if not labels.get(slug)], worst=misses[:WORST])
    # evidence: every gathered fact should carry the sentence it was read from
    given, missing = 0, []
    for slug in slugs:
        for name in ("event_type", "killed", "injured", "claimed_by", "place"):
            stated = getattr(gathered[slug], name)
            if stated is not None:
                given += 1
                if not stated.evidence.strip():
                    missing.append(f"{slug}: {name} {_from(stated)}")
    result["evidence"] = dict(right=given - len(missing), of=given, worst=missing[:WORST], missing=len(missing))
    return result


def _rate(right: int, of: int) -> str:
    return f"{right / of:.2f} ({right}/{of})" if of else "n/a (0/0)"


def _mark(value: float | None, target: float) -> str:
    return "" if value is None else " ✓" if value >= target else " ✗"


def render(result: dict, texts: int, markdown: bool) -> str:
    r, c = result, result["claim"]
    ratio = {k: r[k]["right"] / r[k]["of"] if r[k]["of"] else None for k in ("type", "killed", "injured", "place", "date")}
    recall = c["right"] / c["of"] if c["of"] else None
    precision = c["given_right"] / c["given"] if c["given"] else None
    no_claim = c["none_right"] / c["none_of"] if c["none_of"] else None
    rows = [
        ("event type accuracy (all texts)", _rate(r["type"]["right"], r["type"]["of"])
         + (f"; unmapped: {', '.join(r['type']['unmapped'])}" if r["type"]["unmapped"] else "; no unmapped type"),
         f"≥ {TARGETS['type']}{_mark(ratio['type'], TARGETS['type'])}"),
        ("killed exactly right (texts that state it)", _rate(r["killed"]["right"], r["killed"]["of"])
         + f"; a figure on {len(r['killed']['unstated_given'])} of the texts that state none ({', '.join(r['killed']['unstated_given']) or '-'})",
         f"≥ {TARGETS['killed']}{_mark(ratio['killed'], TARGETS['killed'])}"),
        ("injured exactly right (texts that state it)", _rate(r["injured"]["right"], r["injured"]["of"])
         + f"; a figure on {len(r['injured']['unstated_given'])} of the texts that state none ({', '.join(r['injured']['unstated_given']) or '-'})",
         f"≥ {TARGETS['injured']}{_mark(ratio['injured'], TARGETS['injured'])}"),
        ("claimed-by recall (claimant a pack entity)", _rate(c["right"], c["of"]),
         f"≥ {TARGETS['claim_recall']}{_mark(recall if c['of'] else None, TARGETS['claim_recall'])}"),
        ("claimed-by precision", _rate(c["given_right"], c["given"]) + (" (no claims read: newsmon has no claim extraction)"
                                                                          if not c["given"] else ""),
         f"≥ {TARGETS['claim_precision']}{_mark(precision, TARGETS['claim_precision']) if c['given'] else ' ✗ (unmeasurable)'}"),
        ("no claim on texts that state none", _rate(c["none_right"], c["none_of"]),
         f"≥ {TARGETS['no_claim']}{_mark(no_claim, TARGETS['no_claim'])}"),
        ("place right at district level (labelled events' texts)", _rate(r["place"]["right"], r["place"]["of"]),
         f"≥ {TARGETS['place']}{_mark(ratio['place'], TARGETS['place'])}"),
        ("incident date = the event's date (cluster texts): the first date read, else the publication date",
         _rate(r["date"]["right"], r["date"]["of"]) + f"; the first date read alone {_rate(r['date']['read'], r['date']['of'])}, "
         f"none read on {r['date']['none']}", "— (not a #20 target)"),
        (f"features per text, warm: `incidents.read` (median of {TIMING_CALLS} calls each), median / p95 / max",
         f"{r['time']['median']:.2f} / {r['time']['p95']:.2f} / {r['time']['max']:.2f} ms", "—"),
        ("... of which `facts.read` alone (its first 2,500 characters), median / p95 / max",
         f"{r['facts_time']['median']:.2f} / {r['facts_time']['p95']:.2f} / {r['facts_time']['max']:.2f} ms", "—"),
    ]
    notes = []
    if r["place"]["left_out"]:
        notes.append(f"Place: left out (no single district, see tests/data/event_districts.toml): "
                     f"{', '.join(r['place']['left_out'])}; the 18 singletons have no label.")
    if r["place"]["unlabelled"]:
        notes.append(f"Place: events without a label: {', '.join(r['place']['unlabelled'])}.")
    if c["unknown_claimants"]:
        notes.append(f"Claims: claimants missing from CLAIMANTS: {'; '.join(c['unknown_claimants'])}.")
    sections = [("event type", r["type"]["worst"]), ("killed", r["killed"]["worst"]), ("injured", r["injured"]["worst"]),
                ("claimed by", c["worst"]), ("place", r["place"]["worst"]), ("incident date", r["date"]["worst"])]
    if markdown:
        lines = ["| measure | result | target |", "|---|---|---|", *(f"| {a} | {b} | {t} |" for a, b, t in rows), ""]
        lines += notes + ([""] if notes else [])
        lines.append(f"Worst misses (up to {WORST} per measure; text id: expected, found):")
        lines.append("")
        for name, worst in sections:
            lines.append(f"- {name}: " + ("; ".join(worst) if worst else "none"))
        return "\n".join(lines)
    lines = [f"{texts} texts", *(f"{a}: {b}   [target {t}]" for a, b, t in rows), *notes]
    for name, worst in sections:
        lines += ["", f"worst misses, {name}:", *(f"  {w}" for w in worst or ["none"])]
    return "\n".join(lines)


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _commit() -> str:
    """The commit measured ("`abc1234`"), and whether monitor/ or bench/ had uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        dirty = [f"`{folder}/`" for folder in ("monitor", "bench") if git("status", "--porcelain", "--", folder)]
        return f"`{git('rev-parse', '--short', 'HEAD')}`" + (f" plus uncommitted changes in {' and '.join(dirty)}"
                                                             if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "an unknown commit"


def ratios(result: dict) -> dict[str, float | None]:
    """The measures of `score` or `score_events` as ratios (None: nothing to measure), keyed as TARGETS."""
    c = result["claim"]
    out = {k: result[k]["right"] / result[k]["of"] if result[k]["of"] else None for k in ("type", "killed", "injured", "place")}
    out.update(claim_recall=c["right"] / c["of"] if c["of"] else None,
               claim_precision=c["given_right"] / c["given"] if c["given"] else None,
               no_claim=c["none_right"] / c["none_of"] if c["none_of"] else None)
    if "evidence" in result:
        out["evidence"] = result["evidence"]["right"] / result["evidence"]["of"] if result["evidence"]["of"] else None
    return out


def render_events(result: dict, markdown: bool) -> str:
    """The event level: one row per measure, then the worst misses."""
    r, c = result, result["claim"]
    ratio = ratios(result)

    def target(key: str) -> str:
        return f"≥ {TARGETS[key]}{_mark(ratio[key], TARGETS[key])}"

    vocabulary = (f"; events.jsonl's types: {', '.join(r['type']['vocabulary'])}"
                  + (f" (not in TYPE_MAP: {', '.join(r['type']['unknown_types'])})" if r["type"]["unknown_types"] else
                     ", all in TYPE_MAP")
                  + (f"; unmapped: {', '.join(r['type']['unmapped'])}" if r["type"]["unmapped"] else "; no unmapped type"))
    rows = [
        ("event type = the event's type in events.jsonl", _rate(r["type"]["right"], r["type"]["of"]) + vocabulary,
         target("type")),
        *((f"{kind} = the highest figure its texts state (events whose texts state one)",
           _rate(r[kind]["right"], r[kind]["of"]) + f"; a figure on {len(r[kind]['unstated_given'])} of the events "
           f"whose texts state none ({', '.join(r[kind]['unstated_given']) or '-'})", target(kind))
          for kind in ("killed", "injured")),
        ("claimed-by recall (events whose texts name a pack entity)", _rate(c["right"], c["of"]), target("claim_recall")),
        ("claimed-by precision", _rate(c["given_right"], c["given"]), target("claim_precision")),
        ("no claim on events whose texts name none", _rate(c["none_right"], c["none_of"]), target("no_claim")),
        ("place: the labelled district in the gathered place's chain (labelled events)",
         _rate(r["place"]["right"], r["place"]["of"]), target("place")),
        ("facts gathered that carry their evidence sentence", _rate(r["evidence"]["right"], r["evidence"]["of"]),
         "all" + _mark(ratio["evidence"], 1.0)),
    ]
    sections = [("event type", r["type"]["worst"]), ("killed", r["killed"]["worst"]), ("injured", r["injured"]["worst"]),
                ("claimed by", c["worst"]), ("place", r["place"]["worst"]), ("evidence", r["evidence"]["worst"])]
    notes = []
    if r["place"]["left_out"]:
        notes.append(f"Place: left out (no single district): {', '.join(r['place']['left_out'])}.")
    if r["without_texts"]:
        notes.append(f"Events of events.jsonl without texts: {', '.join(r['without_texts'])}.")
    if markdown:
        lines = ["| measure (per event) | result | target |", "|---|---|---|",
                 *(f"| {a} | {b} | {t} |" for a, b, t in rows), ""]
        lines += notes + ([""] if notes else [])
        lines += [f"Worst misses per event (up to {WORST} per measure; event: expected, found (the text it came from)):", ""]
        lines += [f"- {name}: " + ("; ".join(worst) if worst else "none") for name, worst in sections]
        return "\n".join(lines)
    lines = [f"event level: {r['events']} events, their texts gathered by monitor.event_facts.add in order of arrival",
             *(f"{a}: {b}   [target {t}]" for a, b, t in rows), *notes]
    for name, worst in sections:
        lines += ["", f"worst misses per event, {name}:", *(f"  {w}" for w in worst or ["none"])]
    return "\n".join(lines)


def evaluate(corpus: Path) -> dict:
    """Both levels scored: {"texts", "events", "per_text", "event_level"} (JSON-able)."""
    texts, events, labels = load_texts(corpus), load_events(corpus), load_labels()
    incidents.prepare()
    for text in texts:  # warm: first-use caches
        incidents.read(text.title, text.text, published=text.published)
    found = {text.id: run(text) for text in texts}
    per_text = score(texts, found, events, labels)
    event_level = score_events(texts, gather(texts, found, events), events, labels)
    return {"texts": len(texts), "events": event_level["events"], "per_text": per_text, "event_level": event_level}


def section(result: dict) -> str:
    """The "## Facts (#20 Part B)" section of docs/benchmarks.md, from `evaluate`'s result."""
    return "\n".join([
        "## Facts (#20 Part B)", "",
        f"`python -m bench.facts_quality --markdown`, also `python -m bench --only l` ({_machine()}; "
        f"{date.today().isoformat()}, at {_commit()}): each of the {result['texts']} texts of the shared corpus's "
        "`events/` read by `monitor.incidents.read` with its MANIFEST `published` date, scored against its MANIFEST "
        "`facts`; districts labelled by hand per event in `tests/data/event_districts.toml`. A baseline: newsmon's "
        "facts were written with these texts in view, so this is not a held-out score.", "",
        "### Per text", "",
        render(result["per_text"], result["texts"], True), "",
        "### Per event", "",
        f"Each of the {result['events']} events' texts folded into one event's facts by `monitor.event_facts.add` "
        "(what alerts state), in the order a user would receive them: the texts that are not follow-ups first, by "
        "`published` date (undated ones after the dated), then id; the follow-ups after them. Scored against "
        "events.jsonl's `type`, the highest `killed` and `injured` any of the event's texts states, the pack entity "
        "its texts name as claimant, and the district label.", "",
        render_events(result["event_level"], True),
    ])


def measure(corpus_dir: Path) -> dict:
    """(l) of `python -m bench`: `evaluate`'s result with the ratios and the rendered section."""
    result = evaluate(Path(corpus_dir))
    result["ratios"] = {"per_text": ratios(result["per_text"]), "event_level": ratios(result["event_level"])}
    result["targets"] = TARGETS
    result["markdown"] = section(result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.facts_quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", help="the shared corpus directory (default: $NEWSMON_CORPUS, ../shared/corpus)")
    parser.add_argument("--markdown", action="store_true", help="print the results as the docs/benchmarks.md section")
    args = parser.parse_args(argv)
    result = evaluate(find_corpus(args.corpus, ROOT))
    if args.markdown:
        print(section(result))
    else:
        print(render(result["per_text"], result["texts"], False))
        print()
        print(render_events(result["event_level"], False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
