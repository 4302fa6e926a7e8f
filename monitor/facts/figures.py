"""Killed and injured figures of a text's incident, read from its sentences: a count before its
words ("46 people were killed") or after them ("killing 13"), parts summed, attackers left out,
"dozens" no figure; a victim named alone counts one; the title's figure wins, then the latest toll
update ("rose to"), then the highest."""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.facts.lexicon import (
    AFTER_VERB, ATTACKERS, COMBINED, CONTEXT, GATE, ITEM_RE, LIST_RE, NEGATED, NOT_PEOPLE, NUMBER_WORDS, NUM_RE,
    PATTERNS, PRECEDING, QUAL_END, QUAL_START, SINGLE, SINGLE_OBJECT, VAGUE_RE, VERBS, YET,
)
from monitor.facts.sentences import Figure, Sentence, TITLE

MAX_COUNTS = 40  # counts read per sentence: a run-on table of numbers costs no more than a sentence
# the order in which a count is read (see `_candidates`), with the gate's key of the words before it
ORDER = tuple((direction, kind, f"{direction}:{kind}") for direction in ("update", "after", "before") for kind in PATTERNS)


@dataclass
class Candidate:
    kind: str  # "killed" or "injured"
    value: int | None
    sentence: Sentence
    start: int  # folded offsets in the sentence
    end: int
    rank: str  # "title", "update", "normal" or "earlier"
    attackers: bool = False
    others: bool = False  # "six others died": others than a victim named alone
    bare: bool = False  # no noun says who ("ten were injured", "10 others")


def value_of(count: str, qualified: bool = False) -> int | None:
    """The number a count says ("at least 46" is 46, "25-30" is 25, "twenty-three" 23, "a dozen"
    12), or None for "dozens", "several", "over a dozen"."""
    if qualified or QUAL_START.match(count):
        if "dozen" in count:
            return None
        count = QUAL_START.sub("", count)
    if not (found := NUM_RE.search(count)) or (VAGUE_RE.fullmatch(first := found.group()) and first != "a dozen"):
        return None
    if first[0].isdigit():
        return int(first.replace(",", ""))
    if first in NUMBER_WORDS or first == "a dozen":
        return NUMBER_WORDS.get(first, 12)
    parts = re.split(r"[- ]", first)  # "twenty-three", "two hundred"
    return NUMBER_WORDS.get(parts[0], 1) * 100 if parts[-1] == "hundred" else NUMBER_WORDS[parts[0]] + NUMBER_WORDS[parts[1]]


def _candidates(s: Sentence) -> list[Candidate]:
    """The killed and injured figures a sentence gives, attackers marked. Each count is read once,
    by the first pattern that takes it: a toll update, a count after its words, before them."""
    folded, found, taken, near, spots = s.folded, [], set(), GATE.near, s.spots
    # whether the sentence has any of a kind's verbs: without one, no count of it stands before them
    verbs = {kind: near(spots, f"verbs:{kind}", 0, len(folded)) and bool(VERBS[kind].search(folded))
             for kind in PATTERNS} if s.counts else {}
    for p in s.counts[:MAX_COUNTS]:
        if p in taken or near(spots, "preceding", max(0, p - 40), p) and PRECEDING.search(folded, max(0, p - 40), p):
            continue  # a day of a month ("on July 15 were killed"), inside an aside ("including five")
        for direction, kind, key in ORDER:
            before, after, update = PATTERNS[kind]
            if direction == "before":
                if not verbs[kind] or not (m := before.match(folded, start := p)) or (
                        kind == "killed" and COMBINED.match(folded, m.end())):
                    continue
            elif not near(spots, key, max(0, p - 220), p) or not (
                    lead := (update if direction == "update" else after).search(folded, max(0, p - 220), p)) or not (
                    m := (ITEM_RE if direction == "update" else LIST_RE).match(folded, start := p)):
                continue  # (the words before a count searched only where one of their strings stands)
            else:
                start = lead.start()
            items = [item for item in ITEM_RE.finditer(folded, *m.span("list" if direction != "update" else 0))
                     if item.start() == p or not PRECEDING.search(folded, max(0, item.start() - 40), item.start())]
            if direction == "after":
                if AFTER_VERB.match(folded, items[0].end()):
                    continue  # "five killed 29 injured": 29 is the subject of "injured"
                cut = next((k for k in range(1, len(items)) if AFTER_VERB.match(folded, items[k].end())), len(items))
                items = items[:cut]  # "killed 46 people and 140 were injured": 140 were not killed
            end = m.end() if direction == "before" else items[-1].end()
            taken.update(q for q in s.counts if start <= q < end)
            one, qualified = direction != "update" and bool(m["one"]), bool(QUAL_END.search(folded, max(0, p - 25), p))
            found.append(_candidate(kind, direction, s, start, end, items, one, qualified))
            break
    attackers = False
    for c in found:  # "six attackers were killed and 10 others injured": the others are attackers too
        attackers = attackers or c.attackers
        c.attackers = c.attackers or (attackers and c.bare)
    return found


def _candidate(kind: str, direction: str, s: Sentence, start: int, end: int, items: list[re.Match],
               one: bool, qualified: bool) -> Candidate:
    """A figure from its counts: victims summed, attackers left out."""
    while items and NOT_PEOPLE.fullmatch(items[0]["noun"].strip().split(" ", 1)[0] or "-"):
        items = items[1:]  # "35 bodies and more than 50 wounded": the bodies are not the wounded
    total, attackers, victims = 0, False, False
    for item in items:
        noun = item["noun"].strip()
        first_noun = noun.split(" ", 1)[0]
        if first_noun and NOT_PEOPLE.fullmatch(first_noun):
            break
        if (value := value_of(item["count"], qualified and item is items[0])) is None:
            total = None if item is items[0] else total  # "dozens": no figure; "and many others": so far
            break
        if ATTACKERS.search(noun) or (attackers and first_noun in ("", "others", "more")):
            attackers = True
        else:
            victims, total = True, total + value
    noun = items[0]["noun"].strip() if items else ""
    rank = "title" if s.weight == TITLE else "update" if direction == "update" else "earlier" if s.earlier else "normal"
    return Candidate(kind, total + (one and victims) if total is not None and victims else None, s, start, end, rank,
                      attackers and not victims, noun.startswith("others"), noun.split(" ", 1)[0] in ("", "others", "more"))


def _best(candidates: list[Candidate]) -> Candidate | None:
    """The title's figure, else the latest toll update, else the highest figure, else an earlier one."""
    for rank in ("title", "update", "normal", "earlier"):
        if pool := [c for c in candidates if c.rank == rank]:
            return max(pool, key=lambda c: c.value)
    return None


def _single(s: Sentence) -> Candidate | None:
    """One victim named alone ("the governor was killed", "gunmen shot dead a cleric"; "killing
    him and two others": three), not an attacker and not "no one"."""
    if s.folded.isascii() and "kill" not in s.folded and " dead" not in s.folded and "martyr" not in s.folded \
            and "gunned" not in s.folded and "assassinat" not in s.folded:
        return None
    matches = sorted([*((m, False) for m in SINGLE.finditer(s.folded)), *((m, True) for m in SINGLE_OBJECT.finditer(s.folded))],
                     key=lambda found: found[0].start())
    for m, victim_after in matches:
        if m.start() >= min(s.other_from, s.claim_from):
            break
        near = s.folded[m.end():m.end() + 30] if victim_after else s.folded[max(0, m.start() - 30):m.start()]
        if NEGATED.search(near[-12:]) or ATTACKERS.search(near) or NUM_RE.search(near[-20:]):
            continue
        value, end = 1, m.end()
        if m.group().endswith(("and", "with")) and (item := ITEM_RE.match(s.folded, end + 1)):
            if (more := value_of(item["count"])) is None:
                continue
            value, end = 1 + more, item.end()
        return Candidate("killed", value, s, m.start(), end, "title" if s.weight == TITLE else "normal")
    return None


def casualties(full: str, sentences: list[Sentence]) -> tuple[Figure | None, Figure | None]:
    """The killed and injured figures of the text's incident."""
    usable = [c for s in sentences if not s.other and s.counts for c in _candidates(s) if c.value is not None
              and not c.attackers and c.start < min(s.other_from, s.claim_from)]  # (no figure without a count)
    singles = [c for s in sentences if not s.other and (c := _single(s))]
    killed = _best([c for c in usable if c.kind == "killed"] + singles)
    injured_pool = [c for c in usable if c.kind == "injured"]
    injured = _best([c for c in injured_pool if c.rank == "title"])
    if injured is None and killed is not None and killed.rank == "update":  # "rose to 15, with 32 injured"
        injured = _best([c for c in injured_pool if c.sentence is killed.sentence])
    injured = injured or _best(injured_pool)
    figures = [None if c is None else Figure(c.value + (c is killed and c.others and bool(singles)),
                                             c.sentence.evidence(full, c.start, c.end)) for c in (killed, injured)]
    for s in sentences if None in figures else ():  # "no casualties or injuries were reported"
        if not s.other and "no_casualties" in s.keys and (m := CONTEXT["no_casualties"].search(s.folded)) \
                and not YET.search(s.folded):
            zero, both = Figure(0, s.evidence(full, *m.span())), "casualties" in m.group() or "injur" in m.group()
            figures = [figures[0] or zero, figures[1] or (zero if both else None)]
            break
    return figures[0], figures[1]
