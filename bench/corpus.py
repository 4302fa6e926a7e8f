"""The shared corpus, read in place, and the feed farm's content built from it.

A farm feed is a real corpus feed, capped at a number of items, with every absolute URL in it
(item links, GUIDs that are URLs, images, links inside descriptions) rewritten to a loopback
URL on the farm. Any farm path that is not a feed is an article page: one of the corpus's real
article pages, chosen by a hash of the path. Every farm feed is parsed with newsmon's own feed
parser before it is served, and refused unless every entry link it yields is on loopback, so a
benchmark can never send newsmon to the internet.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import ipaddress
import json
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CORPUS_ENV = "NEWSMON_CORPUS"

# An absolute URL as it appears in XML text or attributes, or in JSON with escaped slashes. It
# stops at whitespace, quotes, angle brackets, a CDATA end, a backslash that does not escape a
# slash, and at the escaped quotes and brackets of HTML inside XML text.
URL = re.compile(rb"https?:(?:\\?/){2}(?:(?!&(?:quot|lt|gt|apos|#0*3[49]|#x0*2[27]);)[^\s\"'<>\]\\\x00]|\\/)+")
XML_ITEM = re.compile(rb"<(item|entry)\b[^>]*?(?:/>|>.*?</\1\s*>)", re.DOTALL)
FIRST_ITEM = re.compile(rb"<(item|entry)\b")
# RSS <ttl>: newsmon holds a feed back for that long, which would leave farm feeds unpolled in
# the warm cycle and the latency test. Removed from every farm feed.
TTL = re.compile(rb"<ttl\b[^>]*>[^<]*</ttl\s*>", re.IGNORECASE)
# URLs that name things rather than link to them: XML namespaces, DOCTYPE identifiers, the
# JSON Feed version. Rewriting them would change how the feed parses.
KEEP_BEFORE = re.compile(rb"""(?:xmlns(?::[\w.-]+)?\s*=\s*["']|<!DOCTYPE[^>]*["']|"version"\s*:\s*")$""")


def find_corpus(explicit: str | None, repo_root: Path) -> Path:
    """The corpus directory: --corpus, else $NEWSMON_CORPUS, else ../shared/corpus beside the repo."""
    candidates = [explicit, os.environ.get(CORPUS_ENV), str(repo_root.parent / "shared" / "corpus")]
    for candidate in candidates:
        if candidate:
            path = Path(candidate).expanduser().resolve()
            if (path / "articles" / "manifest.jsonl").is_file() and (path / "feeds" / "feeds_index.json").is_file():
                return path
            if candidate is explicit:
                raise SystemExit(f"bench: {path} is not the shared corpus "
                                 "(no articles/manifest.jsonl or feeds/feeds_index.json)")
    raise SystemExit("bench: corpus not found; pass --corpus PATH or set NEWSMON_CORPUS "
                     f"(looked in {repo_root.parent / 'shared' / 'corpus'})")


@dataclass(frozen=True)
class ArticlePage:
    id: str
    collection: str
    html: bytes
    url: str | None
    truth: Path | None


def load_pages(corpus: Path) -> list[ArticlePage]:
    """Every article page of the corpus, decompressed, in manifest order."""
    pages = []
    with open(corpus / "articles" / "manifest.jsonl", encoding="utf-8") as manifest:
        for line in manifest:
            if not line.strip():
                continue
            item = json.loads(line)
            html = gzip.decompress((corpus / "articles" / item["html"]).read_bytes())
            truth = item.get("truth") or []
            pages.append(ArticlePage(item["id"], item["collection"], html, item.get("url"),
                                     corpus / "articles" / truth[0] if truth else None))
    return pages


EVENT_PAGES = 64  # pages kept for published entries only (more than one latency run publishes)


@functools.lru_cache(maxsize=4)
def _split(count: int) -> tuple[list[int], list[int]]:
    """The page numbers farm paths use, and those kept for published entries: newsmon knows an
    article by its canonical URL and its text, so a published entry served a page that a feed
    entry already led to would be the same article (or story) again, not news."""
    order = list(range(count))
    random.Random(7).shuffle(order)
    kept = min(EVENT_PAGES, count // 4)
    return order[kept:], order[:kept]


def page_index(path: str, count: int) -> int:
    """Which article page a farm path serves: a stable hash of the path, over the pages not
    kept for published entries."""
    regular, _ = _split(count)
    return regular[int.from_bytes(hashlib.sha1(path.encode()).digest()[:8], "big") % len(regular)]


def event_page(number: int, count: int) -> int:
    """The article page of the `number`th published entry: a page no feed entry leads to, a
    different one for each of `EVENT_PAGES` entries in a row."""
    _, kept = _split(count)
    return kept[number % len(kept)]


def is_loopback_url(url: str) -> bool:
    try:
        host = urlsplit(url).hostname
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- feed templates


@dataclass
class Template:
    """A corpus feed, capped at `items` entries, before its URLs are rewritten."""

    file: str
    kind: str  # "xml" or "json"
    body: bytes
    content_type: str
    item_tag: bytes = b"item"  # for XML: the element new entries are written as


def _cap_xml(body: bytes, items: int) -> bytes:
    if items <= 0:
        return body
    spans = [match.span() for match in XML_ITEM.finditer(body)]
    for start, end in reversed(spans[items:]):
        body = body[:start] + body[end:]
    return body


def _cap_json(body: bytes, items: int) -> bytes:
    data = json.loads(body.decode("utf-8-sig"))
    if isinstance(data, dict) and isinstance(data.get("items"), list) and items > 0:
        data["items"] = data["items"][:items]
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


# The corpus feeds that parse as RSS, Atom or RDF with a strict XML parser (feeds_index.json:
# expat_parse_ok): the feeds rss2email and feed2exec are measured on.
STRICT_FORMATS = ("rss2.0", "atom1.0", "rss1.0-rdf")


def load_templates(corpus: Path, items: int, strict_xml: bool = False) -> list[Template]:
    """Every corpus feed that could be a farm feed, capped at `items` entries (0: every entry
    kept), in a fixed shuffled order (so that a small farm still mixes formats and sources).
    With `strict_xml`, only the RSS 2.0, Atom and RDF feeds that a strict XML parser accepts."""
    index = json.loads((corpus / "feeds" / "feeds_index.json").read_text(encoding="utf-8"))
    templates = []
    for record in index:
        fmt = record.get("format", "")
        if fmt.startswith("html") or fmt.startswith("json(invalid"):
            continue
        if strict_xml and not (fmt in STRICT_FORMATS and record.get("expat_parse_ok")):
            continue
        body = (corpus / "feeds" / record["file"]).read_bytes()
        if fmt.startswith("json"):
            try:
                templates.append(Template(record["file"], "json", _cap_json(body, items), "application/feed+json"))
            except ValueError:
                continue
            continue
        first = FIRST_ITEM.search(body)
        tag = first.group(1) if first else (b"entry" if fmt.startswith("atom") else b"item")
        content_type = {"atom1.0": "application/atom+xml",
                        "rss1.0-rdf": "application/rdf+xml"}.get(fmt, "application/rss+xml")
        body = TTL.sub(b"", _cap_xml(body, items))
        templates.append(Template(record["file"], "xml", body, content_type, tag))
    random.Random(20261124).shuffle(templates)
    return templates


# ---------------------------------------------------------------- farm feeds


@dataclass
class FarmFeed:
    """One feed of the farm: where it is served, its bytes, and what newsmon will see in it."""

    id: int
    base: str  # http://127.0.0.N:PORT
    template: int
    kind: str
    content_type: str
    item_tag: bytes
    body: bytes
    entries: list[tuple[str, str, str, str | None]] = field(default_factory=list)  # key, hash, title, link
    publishable: bool = False

    @property
    def path(self) -> str:
        return f"/f/{self.id}.{'json' if self.kind == 'json' else 'xml'}"

    @property
    def url(self) -> str:
        return self.base + self.path


def rewrite(body: bytes, base: str, feed_id: int) -> bytes:
    """Every absolute URL in `body` replaced by a farm article URL derived from it."""
    prefix = f"{base}/a/{feed_id}/".encode()

    def replace(match: re.Match) -> bytes:
        if KEEP_BEFORE.search(body, max(0, match.start() - 64), match.start()):
            return match.group(0)  # a namespace name or a format version, not a link
        return prefix + hashlib.sha1(match.group(0)).hexdigest()[:16].encode()

    return URL.sub(replace, body)


def new_item(kind: str, tag: bytes, link: str, guid: str, title: str, summary: str, when_rfc822: str,
             when_iso: str) -> bytes | dict:
    """A new entry in the feed's own format (a dict for JSON Feed)."""
    if kind == "json":
        return {"id": guid, "url": link, "title": title, "summary": summary, "date_published": when_iso}
    if tag == b"entry":
        return (f'<entry><id>urn:newsmon-bench:{guid}</id><title>{title}</title>'
                f'<link rel="alternate" href="{link}"/><updated>{when_iso}</updated>'
                f'<summary>{summary}</summary></entry>\n').encode()
    return (f'<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>'
            f'<pubDate>{when_rfc822}</pubDate><description>{summary}</description></item>\n').encode()


def with_items(feed: FarmFeed, items: list) -> bytes:
    """The feed's body with new items (from `new_item`) placed before its existing ones."""
    if not items:
        return feed.body
    if feed.kind == "json":
        data = json.loads(feed.body.decode("utf-8"))
        data["items"] = list(reversed(items)) + list(data.get("items") or [])
        return json.dumps(data, ensure_ascii=False).encode("utf-8")
    added = b"".join(reversed(items))
    first = FIRST_ITEM.search(feed.body)
    if first:
        return feed.body[:first.start()] + added + feed.body[first.start():]
    for closing in (b"</channel>", b"</feed>", b"</rdf:RDF>"):
        at = feed.body.rfind(closing)
        if at >= 0:
            return feed.body[:at] + added + feed.body[at:]
    return feed.body


def check_feed(feed: FarmFeed, probe: bool = True) -> str | None:
    """Parse the feed as newsmon will and fill in its entries; with `probe`, also find out
    whether a new entry can be published into it. Returns why it is refused, or None."""
    from monitor import feeds  # newsmon's own parser: what it yields is what newsmon will fetch

    try:
        document = feeds.parse(feed.body, feed.url, feed.content_type)
    except Exception as error:  # noqa: BLE001 (any failure refuses the feed)
        return f"does not parse: {error}"
    if not document.entries:
        return "no entries"
    if getattr(document, "ttl", None):
        return "has a TTL newsmon would honour"
    for entry in document.entries:
        if entry.link and not is_loopback_url(entry.link):
            return f"entry link not rewritten to loopback: {entry.link[:80]}"
    feed.entries = [(e.key, e.content_hash, e.title, e.link) for e in document.entries]
    if not probe:
        return None
    item = new_item(feed.kind, feed.item_tag, f"{feed.base}/n/{feed.id}/probe", "probe", "Probe title",
                    "Probe summary.", "Mon, 23 Nov 2026 08:00:00 +0000", "2026-11-23T08:00:00Z")
    try:
        grown = feeds.parse(with_items(feed, [item]), feed.url, feed.content_type)
        feed.publishable = any(e.link == f"{feed.base}/n/{feed.id}/probe" for e in grown.entries) and \
            all(not e.link or is_loopback_url(e.link) for e in grown.entries)
    except Exception:  # noqa: BLE001
        feed.publishable = False
    return None


def _probe_many(feeds: list[FarmFeed]) -> list[tuple[str | None, list, bool]]:
    return _check_many(feeds, probe=True)


def _parse_many(feeds: list[FarmFeed]) -> list[tuple[str | None, list, bool]]:
    return _check_many(feeds, probe=False)


def _check_many(feeds: list[FarmFeed], probe: bool) -> list[tuple[str | None, list, bool]]:
    out = []
    for feed in feeds:
        reason = check_feed(feed, probe)
        out.append((reason, feed.entries, feed.publishable))
    return out


def build_feeds(templates: list[Template], count: int, bases: list[str], workers: int = 2,
                check_each: bool = True) -> tuple[list[FarmFeed], list[str]]:
    """`count` checked farm feeds spread over `bases` (one per loopback host:port); returns
    the feeds and the refusals (one line per refused template). Without `check_each`, only
    one sample feed per template is parsed (a farm feed differs from its sample only by the
    loopback URLs written into it) and each feed's `entries` are its sample's, whose keys and
    links name the sample's address, not the feed's."""
    # Check each template once on a sample feed first: a refused template is never used.
    usable: list[int] = []
    publishable: set[int] = set()
    refused: list[str] = []
    samples = [FarmFeed(0, bases[0], number, t.kind, t.content_type, t.item_tag, rewrite(t.body, bases[0], 0))
               for number, t in enumerate(templates)]
    sampled: dict[int, list] = {}
    for number, (reason, entries, can_publish) in enumerate(_pool_map(_probe_many, samples, workers)):
        sampled[number] = entries
        if reason is None:
            usable.append(number)
            if can_publish:
                publishable.add(number)
        else:
            refused.append(f"{templates[number].file}: {reason}")
    if not usable:
        raise SystemExit("bench: no corpus feed could be made into a farm feed")
    feeds = []
    for feed_id in range(count):
        number = usable[feed_id % len(usable)]
        template = templates[number]
        base = bases[feed_id % len(bases)]
        feeds.append(FarmFeed(feed_id, base, number, template.kind, template.content_type, template.item_tag,
                              rewrite(template.body, base, feed_id)))
    if not check_each:
        for feed in feeds:
            feed.entries, feed.publishable = sampled[feed.template], feed.template in publishable
        return feeds, refused
    # Then every farm feed itself, as served: its entries are what the store prefill needs.
    results = _pool_map(_parse_many, feeds, workers)
    for feed, (reason, entries, _) in zip(feeds, results):
        if reason is not None:
            raise SystemExit(f"bench: farm feed {feed.id} ({templates[feed.template].file}) refused: {reason}")
        feed.entries, feed.publishable = entries, feed.template in publishable
    return feeds, refused


def _pool_map(function, items: list, workers: int) -> list:
    """`function` over chunks of `items` in `workers` processes; results in order, flattened."""
    import concurrent.futures
    import multiprocessing

    if workers <= 1 or len(items) < 8:
        return function(items)
    size = max(1, len(items) // (workers * 4))
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        return [result for chunk in pool.map(function, chunks) for result in chunk]
