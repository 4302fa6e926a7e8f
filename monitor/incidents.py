"""An article's event features (`monitor.events.Features`): the stages that read them, wired.

The words of its title and lead (`events.terms`), the entities it names (the watchlist's, as
the rule matcher found them, and the whole bundled pack's, found by a matcher of its own so
that a user's entity never loses a name to a pack entity's longer one), the places it names
(`places`), and its incident type, casualties and dates (`facts`). Read for each new article
by the sandbox worker that extracts its page (`read_page`), or on the event loop for a feed's
own text; and by `bench` to replay the development sets through the same code.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from operator import itemgetter

from typing import TYPE_CHECKING

from monitor import event_facts, events, packs, times
from monitor import text as text_tools
from monitor.match import Matcher
from monitor.model import Entity, Hit, Page, Rule

if TYPE_CHECKING:  # imported when first used: compiling their patterns is a quarter of a second
    from monitor import facts, places  # noqa: F401
    from monitor import extract  # noqa: F401 - in the workers only (trafilatura)

READ_CHARS = 2_500  # of an article's text, after its title, that its event features are read from


def matcher(entities: Iterable[Entity], rules: Iterable[Rule], own_places: tuple[tuple[str, dict], ...] = ()) -> Matcher:
    """The rule matcher for a configuration: a region entity counts every place of the gazetteer
    (the bundled one and the configuration's own `own_places`) inside the places it contains
    (`@pack.kp` finds "Bannu"); the gazetteer is loaded only if a rule names such a region."""
    from monitor import places

    return Matcher(entities, rules, gazetteer=lambda: places.with_places(own_places))


def near_sites(matches: list, rules: dict[str, Rule], found: events.Features | None, watched: tuple,
               own_places: tuple[tuple[str, dict], ...] = ()) -> tuple[list, dict]:
    """The matches to alert on, and per rule the nearest watched site the event is near: a rule
    with `near` keeps its match only when the event's place (`found.where`) is within the
    radius of one of its sites, at town or district precision (`monitor.sites`)."""
    from monitor import places, sites

    where = found.where if found is not None else ()
    gazetteer = places.with_places(own_places) if where else None
    kept, near = [], {}
    for match in matches:
        rule = rules.get(match.rule)
        proximity = sites.nearest(where, watched, gazetteer, only=rule.near or None) if where and rule else None
        if rule is not None and rule.near and proximity is None:
            continue
        kept.append(match)
        if proximity is not None:
            near[match.rule] = proximity
    return kept, near


def namer(entities: Mapping[str, Entity], own_places: tuple[tuple[str, dict], ...] = ()) -> event_facts.Namer:
    """How an event's facts are said for a configuration: a place as its name and its province's
    ("Bannu, Khyber Pakhtunkhwa"), at the precision of the first place of its chain with
    coordinates (`monitor.sites.locate`); an entity by its first name ("TTP"), the pack's or the
    watchlist's `entities`."""
    from monitor import places, sites

    gazetteer = places.with_places(own_places)
    known = {**packs.entities(), **entities}  # the pack's as loaded: no matcher is compiled for names

    def place(where: tuple[str, ...]) -> tuple[str, str, float | None, float | None] | None:
        try:
            first = gazetteer.place(where[0])
        except KeyError:
            return None
        province = gazetteer.province_of(first.id)
        shown = first.name if province in (None, first.id) else f"{first.name}, {gazetteer.place(province).name}"
        located = sites.locate(where, gazetteer)
        if located is None:
            return shown, sites.PRECISION.get(first.kind, "town"), None, None
        lat, lon, precision, _name = located
        return shown, precision, lat, lon

    def entity(name: str) -> str:
        found = known.get(name)
        return found.names[0] if found is not None and found.names else name.removeprefix("pack.")

    return event_facts.Namer(place, entity)


@functools.cache
def _pack_matcher() -> Matcher:
    return Matcher(packs.entities().values(), ())


def prepare() -> None:
    """Load what reading features needs (facts' patterns, the gazetteer, the pack matcher: about
    0.2 CPU-s here) now: a sandbox worker that extracts pages runs this before its first task
    (see app.open_app), so that its first page does not wait for it."""
    from monitor import facts, places  # noqa: F401 - facts compiles its patterns as it is imported

    places.bundled()
    _pack_matcher()


def read(title: str, text: str, *, published: date | datetime | None = None,
         mentions: Iterable[Hit] = (), outlet: str = "") -> events.Features:
    """The event features of an article. `published` is the feed's date for it (relative
    dates in the text, "on Friday", are read against it); `mentions` are the watchlist
    entities the rule matcher found in it."""
    from monitor import facts, places
    from monitor.facts.normal import joined

    if isinstance(published, datetime):
        published = published.date()
    gazetteer = places.bundled()
    matcher = _pack_matcher()
    text = text[:READ_CHARS]  # what a report says of its incident, it says first
    # actors, not places: the gazetteer reads places (a pack region would count the same name twice)
    pack = [hit for hit in matcher.hits(title, text) if hit.entity and matcher.entities[hit.entity].kind != "region"]
    entities = {hit.entity for hit in (*pack, *mentions) if hit.entity}
    full = f"{title}\n{text}"
    # the lead place first (datelines and captions aside); the text's normal form made from
    # the title's and the text's, which the matcher has just made (`normalize` keeps them)
    named, mentions_found = gazetteer.named_found(full, joined(title, text))
    around: set[str] = set()
    for place in named:
        around.add(place.id)
        around.update(gazetteer.ancestors(place.id))
    where: tuple[str, ...] = ()
    district = province = country = None
    if named:
        first = named[0].id
        where = (first, *gazetteer.ancestors(first))
        district, province = gazetteer.district_of(first), gazetteer.province_of(first)
        country = where[-1] if gazetteer.place(where[-1]).kind == "country" else None
        if district is None and country == "afghanistan" and gazetteer.place(first).kind == "province":
            # Afghan reports name a province by its capital ("Kabul", "Kunduz"): it is where it happened
            district = first
    read_facts = facts.read(title, text, published=published, normal=text_tools.normalize(text))  # the matcher's
    claim = claimant(title, text, _actors(pack, mentions, len(text)))
    said = [("type", read_facts.type_evidence), ("killed", read_facts.killed and read_facts.killed.evidence),
            ("injured", read_facts.injured and read_facts.injured.evidence)]
    evidence = [(name, _sentence(found.sentence)) for name, found in said if found]
    if claim:
        evidence.append(("claimed_by", _sentence(claim[1])))
    if named:
        first_mention = next((m for m in mentions_found if m.place.id == named[0].id), None)
        if first_mention is not None:
            evidence.append(("place", _sentence(text_tools.sentence_around(full, first_mention.start,
                                                                           first_mention.end)[0])))
    weighted, names = events.words(title, text)
    return events.Features(
        terms=weighted,
        entities=frozenset(entities),
        where=where,
        places=frozenset(around),
        district=district,
        province=province,
        country=country,
        event_type=read_facts.event_type,
        killed=read_facts.killed.value if read_facts.killed else None,
        injured=read_facts.injured.value if read_facts.injured else None,
        dates=tuple(day.toordinal() for day in read_facts.dates),
        published=published.toordinal() if published else None,
        month_days=read_facts.month_days,
        script=events.script(map(itemgetter(0), weighted)),
        outlet=outlet,
        claimed_by=claim[0] if claim else None,
        names=names,
        evidence=tuple(evidence),
    )


EVIDENCE_CHARS = 400  # of a fact's sentence, kept as its evidence


def _sentence(sentence: str) -> str:
    sentence = " ".join(sentence.split())
    return sentence if len(sentence) <= EVIDENCE_CHARS else sentence[:EVIDENCE_CHARS - 1] + "…"


def _actors(pack: list[Hit], mentions: Iterable[Hit], length: int) -> list[Hit]:
    """The actors named in the title and the text's first `length` characters (claims are read there)."""
    named = [hit for hit in (*pack, *mentions) if hit.entity]
    return [hit for hit in named if hit.field == "title" or (hit.field == "text" and hit.start < length)]


# "X claimed responsibility", "responsibility was claimed by X", "X claimed the attack", "took /
# accepted responsibility"; Urdu, Pashto, Dari and Arabic, Hindi. A sentence that says nobody
# claimed it, or that someone denied or was blamed, names no claimant (an official's blame is
# not a claim).
CLAIMED = re.compile(
    r"\bclaim(?:s|ed|ing)?\s+(?:the\s+)?(?:responsibility|credit)\b|\bresponsibility\b[^.;]{0,80}?\b(?:was|has been|had been)"
    r"\s+claimed\b|\bclaimed\s+(?:by\b|(?:the|this|Monday's|Friday's)?\s*(?:deadly\s+|suicide\s+|twin\s+)?"
    r"(?:attack|bombing|blast|assault|raid|ambush|killings?|massacre|strike)s?\b)|\b(?:took|accepted|claims?|claimed|"
    r"owned)\s+(?:full\s+)?responsibility\b|ذمہ\s*داری\s+قبول|ذمے\s*داری\s+قبول|مسؤولیت|مسئولیت|مسوولیت|مسؤوليته|"
    r"مسؤولية|تبن[ّ]?[ىي]|(?:ज|ज़)िम्मेदारी[^।]{0,80}?ली(?:\s|$|।)|(?:ज|ज़)िम्मेदारी\s+लेने|\breivindic\w*|"
    r"\bclaimed\s+(?:that\s+)?(?:its|their)\s+(?:fighters|men|members|militants|cadres|suicide)|"
    r"\bclaimed\s+(?:that\s+)?the\s+(?:explosion|blast|attack|bombing)\s+was\b", re.IGNORECASE)
# words every match of CLAIMED holds one of: a search for these is several times faster than for
# CLAIMED (led by a class of their first letters); in ASCII text, a few str searches faster still
CLAIM_STEMS = ("claim", "responsib", "reivindic", "داری", "مسؤول", "مسئول", "مسوول", "تبن", "िम्मेदारी")
CLAIM_WORDS = re.compile(f"(?=[{''.join(dict.fromkeys(stem[0] for stem in CLAIM_STEMS))}])(?:{'|'.join(CLAIM_STEMS)})",
                         re.IGNORECASE)
ASCII_CLAIM_WORDS = tuple(stem for stem in CLAIM_STEMS if stem.isascii())  # lower-case: for a lower-cased text


def _claim_words(lowered: str) -> bool:
    """CLAIM_WORDS.search of an ASCII text, from the text lower-cased (a few str searches are
    several times faster than the case-blind regular expression's)."""
    return any(word in lowered for word in ASCII_CLAIM_WORDS)


NOT_CLAIMED = re.compile(
    r"\b(?:no\s+(?:group|one|organi[sz]ation|militant\s+group)|nobody|none)\b[^.;]{0,40}\bclaim|\bnot\s+(?:yet\s+)?"
    r"(?:been\s+)?claimed\b|\byet\s+to\s+(?:be\s+)?claim|\bden(?:y|ied|ies|ial)\b|\bblam(?:e|ed|es|ing)\b|"
    r"\baccus(?:e|ed|es|ing)\b|\bsuspect(?:ed|s)?\b|\bunclaimed\b|کسی\s+گروه|هیچ\s+گروه|لم\s+تتبن|نفى|تردید|"
    r"انکار|تردد", re.IGNORECASE)
# a sentence about another incident ("five days after an attack in Kabul claimed by IS"): its
# claim is that incident's
OTHER_INCIDENT = re.compile(
    r"\b(?:days?|weeks?|months?|years?)\s+(?:after|before|earlier|ago)\b|\b(?:after|since|following)\s+(?:an?|the|another)"
    r"\s+(?:\w+\s+){0,3}(?:attacks?|bombings?|blasts?|explosions?)\b|\b(?:last|previous|earlier)\s+(?:year|month|week)"
    r"|\bsimilar\b|\bseparate\b|\bin\s+(?:19|20)\d\d\b|بعد\s+(?:انفجار|انفجارات|هجوم|هجمات|تفجير)|पिछले", re.IGNORECASE)
SENTENCE = re.compile(r"[^.!?\n\u06d4\u061f\u0964]+[.!?\n\u06d4\u061f\u0964]?")


def claimant(title: str, text: str, actors: list[Hit]) -> tuple[str, str] | None:
    """The watched actor a report says claimed the attack, and the sentence that says so: in the
    first sentence (of the title, then the text) that says someone claimed it and does not deny
    it, the actor named nearest to the words that say so; None when no sentence does."""
    for field, body in (("title", title), ("text", text)):
        if not (_claim_words(body.lower()) if body.isascii() else CLAIM_WORDS.search(body)):
            continue  # most reports: no sentence of it can say so
        for sentence in SENTENCE.finditer(body):
            said = CLAIMED.search(sentence.group())
            if said is None or NOT_CLAIMED.search(sentence.group()) or OTHER_INCIDENT.search(sentence.group()):
                continue
            at = sentence.start() + said.start()
            named = [hit for hit in actors if hit.field == field and sentence.start() <= hit.start < sentence.end()]
            if named:
                return min(named, key=lambda hit: abs(hit.start - at)).entity, sentence.group()
    return None


def read_page(html: bytes, url: str | None, date: bool, title: bool,
              about: tuple[str | None, datetime | None, str] | None) -> tuple[Page, events.Features | None]:
    """What a sandbox worker runs for an article page (monitor.article.EXTRACT): its text and
    metadata (`extract.extract`, whose errors it raises), and, given `about` (the entry's
    title, the feed's date for it, the outlet), the event features of the article they make,
    read from the page's text while the worker has it (a second task would send the text to a
    worker again and wait for one a second time). The features are None without `about`, and
    when reading them failed: the event loop then reads them itself (and meets the failure)."""
    from monitor import extract

    page = extract.extract(html, url, date, title)
    if about is None or _given_before(page):
        return page, None
    entry_title, published, outlet = about
    published = published if published is not None else times.page_date(page.published)
    try:  # the article's title and date as monitor.article makes them; its text capped far past READ_CHARS
        return page, read(entry_title or page.title or "(untitled)", page.text, published=published, outlet=outlet)
    except Exception:
        return page, None


GIVEN_KEPT = 4096  # pages (canonical URL and text) whose features a worker remembers having given
_given: OrderedDict[bytes, None] = OrderedDict()  # this worker's, by a digest of the two


def _given_before(page: Page) -> bool:
    """Whether this worker has read the features of the same page before: the same canonical
    URL with the same text, reached by another link (a feed's tracking or mobile link, another
    feed of the outlet). The event loop then finds the article it already has and links the
    entry to it, reading no features; were that article not there (not recorded yet, or the
    site gives every page one canonical URL), it reads them itself, as after a failure."""
    if not page.canonical_url:
        return False
    key = hashlib.blake2b(f"{page.canonical_url}\0{page.text}".encode(), digest_size=16).digest()
    given = _given
    if key in given:
        given.move_to_end(key)
        return True
    given[key] = None
    if len(given) > GIVEN_KEPT:
        given.popitem(last=False)
    return False


def with_mentions(found: events.Features, mentions: Iterable[Hit]) -> events.Features:
    """`found` with the watchlist entities of `mentions` among its entities."""
    named = {hit.entity for hit in mentions if hit.entity} - found.entities
    return dataclasses.replace(found, entities=found.entities | named) if named else found


def day(timestamp: float | None) -> date | None:
    """The UTC day of a stored publication time."""
    return datetime.fromtimestamp(timestamp, timezone.utc).date() if timestamp is not None else None


def index(window: float, salt: bytes | None = None) -> events.EventIndex:
    """An empty event index that judges incident types as `monitor.facts` does (`salt`: of its
    word keys, `EventIndex.key`; a new one if not given)."""
    from monitor import facts

    return events.EventIndex(window, facts.compatible, salt)
