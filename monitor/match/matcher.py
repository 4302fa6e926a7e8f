"""The Matcher: entities and rules compiled into one automaton, read against an article, judged
rule by rule (see the package's docstring for the order of the checks)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

import ahocorasick

from monitor import packs
from monitor import query as querymod
from monitor import text as textmod
from monitor.match.names import ambiguous_names, is_arabic_script, is_case_sensitive, is_word, proclitic_before, search_key
from monitor.match.scan import Cancelled, Field, Found, Scan, Variant, Verdict, dedupe, distance, nearest, where, within
from monitor.model import Entity, Hit, Match, Rule


REGION_CHARS = 5000  # of an article's text, the part read for places inside the regions rules name


class Places(Protocol):
    """What region entities need of the gazetteer (`monitor.places.Gazetteer` is one)."""

    def find(self, text: str, limit: int | None = None) -> tuple: ...  # mentions: .place (.id, .name), .start, .end, .name

    def ancestors(self, place_id: str) -> tuple[str, ...]: ...

    def place(self, place_id: str): ...


class Matcher:
    """Rules compiled against their entities; `match()` is pure and may be called from anywhere.

    `entities` are the user's (with any `extends` already merged); `@pack.NAME` references are
    resolved from the bundled pack. Raises ValueError for an unknown entity or a bad query (the
    configuration check reports those first). With `gazetteer` (a function that gives one,
    called only when a rule needs it), a region entity that is a gazetteer place (`place`)
    counts every place found inside it: `@pack.kp` hits "Bannu", as the gazetteer reads it."""

    def __init__(self, entities: Iterable[Entity], rules: Iterable[Rule],
                 gazetteer: Callable[[], Places] | None = None):
        self.rules = tuple(rules)
        self.entities: dict[str, Entity] = {entity.name: entity for entity in entities}
        self.queries = {rule.name: querymod.parse_query(rule.query) for rule in self.rules if rule.query}
        self._near_terms: dict[int, tuple[list[querymod.QueryTerm], list[querymod.QueryTerm]]] = {}
        rule_terms = {rule.name: self._terms_of(rule) for rule in self.rules}
        wanted = {term[1:] for terms in rule_terms.values() for term in terms if term.startswith("@")}
        if any(name.startswith(packs.PREFIX) and name not in self.entities for name in wanted):
            for name, entity in packs.entities().items():
                self.entities.setdefault(name, entity)
        for rule in self.rules:
            for term in rule_terms[rule.name]:
                if term.startswith("@") and term[1:] not in self.entities:
                    raise ValueError(f"rule {rule.name!r}: unknown entity {term[1:]!r}")
        self.ambiguous = {name: ambiguous_names(entity) for name, entity in self.entities.items()}
        # regions the rules name that are gazetteer places: every place inside one counts as it
        self.regions = {name: frozenset(self.entities[name].contains) for name in sorted(wanted)
                        if gazetteer is not None and self.entities[name].contains}
        self.places = gazetteer() if self.regions else None
        self._inside: dict[tuple[str, str], str] = {}  # (region, place as written) -> the region's place it is in
        phrases = {term for terms in rule_terms.values() for term in terms if not term.startswith("@")}
        for entity in self.entities.values():
            if self.ambiguous[entity.name] or entity.broad:
                phrases.update(entity.context)
                phrases.update(entity.exclude)
            phrases.update(entity.broad_context)
        self._compile(phrases)
        # Which rules (by index) a found source can make match; rules that could match without any hit.
        self.rules_by_source: dict[str, list[int]] = {}
        self.always: list[int] = []
        for index, rule in enumerate(self.rules):
            positive = [term for term in rule_terms[rule.name] if term not in rule.none]
            if not positive:
                continue
            query = self.queries.get(rule.name)
            if query is not None and not (rule.all or rule.any) and querymod.query_holds_without_terms(query):
                self.always.append(index)
            for term in dict.fromkeys(positive):
                self.rules_by_source.setdefault(term, []).append(index)

    def _terms_of(self, rule: Rule) -> list[str]:
        query = self.queries.get(rule.name)
        query_terms = [term.text for term in querymod.query_terms(query)] if query is not None else []
        return [*rule.all, *rule.any, *rule.none, *query_terms]

    def _compile(self, phrases: set[str]) -> None:
        variants: dict[tuple[str, str | None, bool], Variant] = {}

        def add(source: str, alias: str, case: str) -> None:
            written = alias.strip()
            prefix = written.endswith("*")
            if prefix:
                written = written[:-1].rstrip()
            normal = textmod.normalize(written)
            key = search_key(normal.folded)
            if not key.strip(" '"):
                return
            cased = search_key(normal.cased) if is_case_sensitive(alias.strip(), case) else None
            variant = variants.get((key, cased, prefix))
            if variant is None:
                variant = variants[(key, cased, prefix)] = Variant(
                    key, cased, prefix, is_arabic_script(key[0]), [], is_word(key[0]), is_word(key[-1]))
            if (source, alias) not in variant.owners:
                variant.owners.append((source, alias))

        for entity in self.entities.values():
            for alias in entity.names:
                add("@" + entity.name, alias, entity.case)
        for phrase in phrases:
            add(phrase, phrase, "auto")
        # One automaton over the folded text finds every name; a case-sensitive one (an acronym
        # such as "AB") then counts only where the text as written has it so (`_find`), not at
        # every "ab" inside a word. (Two automata, one per case, read each text twice.)
        by_key: dict[str, list[Variant]] = {}
        for variant in variants.values():
            by_key.setdefault(variant.key, []).append(variant)
        self.automaton: ahocorasick.Automaton | None = None
        if by_key:
            self.automaton = ahocorasick.Automaton()
            for key, found in by_key.items():
                self.automaton.add_word(key, tuple(found))
            self.automaton.make_automaton()
        self.alias_count = sum(len(variant.owners) for variant in variants.values())

    # ------------------------------------------------------------ finding

    def _find(self, fields: dict[str, Field]) -> Scan:
        scan = Scan(fields)
        raw = scan.raw
        if self.automaton is None:
            return scan
        for field in fields.values():
            key, normal = field.key, field.normal
            size = len(key)
            written = None  # the text as written, dashes as spaces: where case-sensitive names are checked
            for last, variants in self.automaton.iter(key):
                end = last + 1
                for variant in variants:
                    start = end - len(variant.key)
                    if variant.cased is not None:
                        if written is None:
                            written = search_key(normal.cased)
                        if written[start:end] != variant.cased:
                            continue
                    stop = end
                    if variant.prefix:
                        while stop < size and is_word(key[stop]):
                            stop += 1
                    elif variant.word_end and stop < size and is_word(key[stop]):
                        continue
                    if variant.word_start and start > 0 and is_word(key[start - 1]):
                        if not variant.proclitics or not proclitic_before(key, start):
                            continue
                    begin, finish = normal.span(start, stop)
                    for source, alias in variant.owners:
                        raw.setdefault(source, []).append(
                            Found(source, alias, field.name, start, stop, begin, finish))
        return scan

    def _judge_entities(self, scan: Scan) -> None:
        """Apply context, exclusions and containment to entity hits; fill `scan.counted`."""
        raw, fields = scan.raw, scan.fields
        kept: list[Found] = []
        for source, found in raw.items():
            if not source.startswith("@"):
                scan.counted[source] = found
                continue
            entity = self.entities[source[1:]]
            ambiguous = self.ambiguous[entity.name]
            window = entity.context_window
            for hit in found:
                broad = hit.alias in entity.broad
                if hit.alias not in ambiguous and not broad:
                    kept.append(hit)
                    continue
                reason = None
                if broad and not any(within(fields, hit, raw.get(term, ()), window) for term in entity.broad_context):
                    reason = f"a name of the wider whole, with none of its broad_context terms within {window} words"
                for phrase in entity.exclude:
                    near = nearest(fields, hit, raw.get(phrase, ()))
                    if near is not None and near < window:
                        reason = f"excluded: {phrase!r} within {window} words"
                        break
                if reason is None and entity.context and hit.alias in ambiguous:
                    if not any(within(fields, hit, raw.get(term, ()), window) for term in entity.context):
                        reason = f"no context term within {window} words"
                if reason is None:
                    kept.append(hit)
                else:
                    scan.cancelled.setdefault(source, []).append((hit, reason))
        # A hit inside a longer hit of another entity, in the same field, does not count.
        kept.sort(key=lambda hit: (hit.field, hit.nstart, -hit.nend))
        for index, hit in enumerate(kept):
            outer = None
            for other in kept[max(0, index - 64):index]:
                if (other.field == hit.field and other.source != hit.source and other.nstart <= hit.nstart
                        and hit.nend <= other.nend and (other.nend - other.nstart) > (hit.nend - hit.nstart)):
                    outer = other
                    break
            if outer is None:
                scan.counted.setdefault(hit.source, []).append(hit)
            else:
                scan.cancelled.setdefault(hit.source, []).append(
                    (hit, f"inside {fields[hit.field].normal.original[outer.start:outer.end]!r} ({outer.source})"))

    def _scan(self, title: str, text: str) -> Scan:
        fields = {name: Field(name, value) for name, value in (("title", title), ("text", text)) if value}
        scan = self._find(fields)
        if self.regions:
            self._find_places(scan, {"title": title, "text": text})
        self._judge_entities(scan)
        return scan

    def _find_places(self, scan: Scan, values: dict[str, str]) -> None:
        """The places the gazetteer finds inside a region a rule names, as hits of the region
        (the gazetteer has judged their ambiguity: they count as they are)."""
        for name, field in scan.fields.items():
            # where an event happened, a report says in its title and first paragraphs: reading
            # the rest for places would cost more than matching the whole article
            mentions = self.places.find(values[name], limit=None if name == "title" else REGION_CHARS)
            if not mentions:
                continue
            normal = field.normal  # the gazetteer's offsets are the original text's: found back in the normal form
            for mention in mentions:
                chain = (mention.place.id, *self.places.ancestors(mention.place.id))
                for entity, places in self.regions.items():
                    if places.intersection(chain):
                        place = next(place for place in chain if place in places)
                        if place != mention.place.id and len(self._inside) < 10_000:
                            self._inside[(entity, mention.name)] = self.places.place(place).name
                        start = normal.index(mention.start)
                        stop = max(start + 1, normal.index(mention.end))
                        hit = Found("@" + entity, mention.name, name, start, stop, mention.start, mention.end)
                        scan.raw.setdefault("@" + entity, []).append(hit)
                        scan.placed.add(id(hit))

    def inside(self, entity: str, alias: str) -> str | None:
        """The name of the region's place that a hit of `entity` written `alias` is inside, when
        it is a place inside the region rather than one of the entity's own names."""
        if alias in self.entities[entity].names:
            return None
        return self._inside.get((entity, alias))

    # ------------------------------------------------------------ judging

    def match(self, title: str, text: str, feed_tags: Iterable[str] | None = None) -> list[Match]:
        """The rules that match an article, each with the hits of its positive terms.
        `feed_tags` are the tags of the article's feed; None: rules' `feed_tags` are not checked."""
        return self._matches(self._scan(title, text), feed_tags)

    def read(self, title: str, text: str, feed_tags: Iterable[str] | None = None) -> tuple[list[Match], list[Hit]]:
        """`match()` and `hits()` of one article from a single pass over its text."""
        scan = self._scan(title, text)
        return self._matches(scan, feed_tags), self._mentions(scan)

    def _matches(self, scan: Scan, feed_tags: Iterable[str] | None) -> list[Match]:
        tags = None if feed_tags is None else frozenset(feed_tags)
        candidates = set(self.always)
        for source in scan.counted:
            candidates.update(self.rules_by_source.get(source, ()))
        matches = []
        for index in sorted(candidates):
            rule = self.rules[index]
            matched, hits, _reason = self._judge(rule, scan, tags, explain=False)
            if matched:
                matches.append(Match(rule.name, hits))
        return matches

    def explain(self, title: str, text: str, feed_tags: Iterable[str] | None = None) -> list[Verdict]:
        """Every rule's verdict on an article, with hits, reasons and cancelled hits."""
        scan = self._scan(title, text)
        tags = None if feed_tags is None else frozenset(feed_tags)
        verdicts = []
        for rule in self.rules:
            matched, hits, reason = self._judge(rule, scan, tags, explain=True)
            cancelled = []
            for term in dict.fromkeys(self._terms_of(rule)):
                for found, why in scan.cancelled.get(term, ()) if term.startswith("@") else ():
                    cancelled.append(Cancelled(found.hit(term, term[1:]), why))
            verdicts.append(Verdict(rule.name, matched, hits, reason, tuple(cancelled)))
        return verdicts

    def hits(self, title: str, text: str) -> list[Hit]:
        """Every counted hit of every entity the matcher knows (for storing, replay and trends)."""
        return self._mentions(self._scan(title, text))

    @staticmethod
    def _mentions(scan: Scan) -> list[Hit]:
        """The entities named, by their own names (a place inside a region is the gazetteer's to
        read as a place, not a mention of the region: event features count it so)."""
        out = [found.hit(source, source[1:]) for source, founds in scan.counted.items()
               if source.startswith("@") for found in founds if id(found) not in scan.placed]
        return list(dedupe(tuple(out)))

    def _hits_of(self, term: str, scan: Scan) -> list[Found]:
        return scan.counted.get(term, [])

    def _judge(self, rule: Rule, scan: Scan, tags: frozenset[str] | None,
               explain: bool) -> tuple[bool, tuple[Hit, ...], str]:
        """(matched, hits, reason it did not match); reasons are spelt out only to `explain`."""
        if rule.feed_tags and tags is not None and not tags.intersection(rule.feed_tags):
            shown = ", ".join(sorted(tags)) or "none"
            return False, (), f"limited to feeds tagged {', '.join(rule.feed_tags)} (this feed's tags: {shown})"
        query = self.queries.get(rule.name)
        if not rule.all and not rule.any and query is None:
            return False, (), "the rule has no positive term"
        for term in rule.none:
            found = self._hits_of(term, scan)
            if found:
                return False, (), f"'none' term {term} found: {where(scan, found[0])}"
        collected: list[Hit] = []
        for term in rule.all:
            found = self._hits_of(term, scan)
            if not found:
                return False, (), f"'all' term {term} not found"
            collected.extend(self._as_hits(term, found))
        if rule.any:
            any_found = [(term, self._hits_of(term, scan)) for term in rule.any]
            if not any(found for _term, found in any_found):
                return False, (), f"no 'any' term found ({', '.join(rule.any)})"
            for term, found in any_found:
                collected.extend(self._as_hits(term, found))
        if query is not None:
            holds, pairs = self._evaluate(query, scan)
            if not holds:
                return False, (), f"query not satisfied: {self._query_summary(query, scan)}" if explain else "query"
            for term, found in pairs:
                collected.extend(self._as_hits(term, [found]))
        return True, dedupe(tuple(collected)), ""

    def _as_hits(self, term: str, found: Iterable[Found]) -> list[Hit]:
        entity = term[1:] if term.startswith("@") else None
        return [hit.hit(term, entity) for hit in found]

    def _evaluate(self, node: object, scan: Scan) -> tuple[bool, list[tuple[str, Found]]]:
        """Whether a query (sub)tree holds, and the (term, hit) pairs that make it hold."""
        if isinstance(node, querymod.QueryTerm):
            found = self._term_hits(node, scan)
            return bool(found), [(node.text, hit) for hit in found]
        if isinstance(node, querymod.QueryNot):
            holds, _pairs = self._evaluate(node.item, scan)
            return not holds, []
        if isinstance(node, querymod.QueryAnd):
            pairs: list[tuple[str, Found]] = []
            for item in node.items:
                holds, found = self._evaluate(item, scan)
                if not holds:
                    return False, []
                pairs.extend(found)
            return True, pairs
        if isinstance(node, querymod.QueryOr):
            pairs = []
            any_holds = False
            for item in node.items:
                holds, found = self._evaluate(item, scan)
                if holds:
                    any_holds = True
                    pairs.extend(found)
            return any_holds, pairs
        assert isinstance(node, querymod.QueryNear)
        terms = self._near_terms.get(id(node))
        if terms is None:
            terms = self._near_terms[id(node)] = (querymod.query_terms(node.left), querymod.query_terms(node.right))
        left = [(term.text, hit) for term in terms[0] for hit in self._term_hits(term, scan)]
        right = [(term.text, hit) for term in terms[1] for hit in self._term_hits(term, scan)]
        pairs = []
        for left_pair in left:
            for right_pair in right:
                a, b = left_pair[1], right_pair[1]
                if a is b or a.field != b.field or (a.nstart == b.nstart and a.nend == b.nend):
                    continue
                if distance(scan.fields, a, b) <= node.distance:
                    pairs.extend((left_pair, right_pair))
        unique = list({(term, id(hit)): (term, hit) for term, hit in pairs}.values())
        return bool(unique), unique

    def _term_hits(self, term: querymod.QueryTerm, scan: Scan) -> list[Found]:
        found = self._hits_of(term.text, scan)
        if term.title:
            return [hit for hit in found if hit.field == "title"]
        return found

    def _query_summary(self, query: object, scan: Scan) -> str:
        found, missing = [], []
        for term in querymod.query_terms(query):
            shown = f"title:{term.text}" if term.title else term.text
            (found if self._term_hits(term, scan) else missing).append(shown)
        parts = []
        if found:
            parts.append("found " + ", ".join(dict.fromkeys(found)))
        if missing:
            parts.append("not found " + ", ".join(dict.fromkeys(missing)))
        return "; ".join(parts)

