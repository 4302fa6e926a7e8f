"""Stories on real data and against hand labels (issue 5, "real data" and "labelled check").

1. Corpus replay (needs NEWSMON_CORPUS): each outlet's five cloudphone-rss-reader snapshots are
   served in time order from the loopback web server and polled by the real pipeline
   (`newsmon run --once` per snapshot). Asserts: no duplicate entries, one article per canonical
   link, one alert per (rule, story), and no connection leaves the loopback interface.
2. Labelled clustering: articles are signed with `stories.signature` and clustered in arrival
   order with `story_index.StoryIndex` (window large), then compared pair by pair with hand labels:
   (a) tests/data/story_sets.toml, written for this project (always runs);
   (b) corpus pages and (c) corpus feed items, labelled in tests/data/corpus_story_labels.toml
       (need NEWSMON_CORPUS).

The measured numbers are in docs/stories.md. To see the tables:
    NEWSMON_CORPUS=/work/shared/corpus .venv/bin/pytest tests/test_stories_corpus.py -q -s -p no:logging
"""

from __future__ import annotations

import gzip
import ipaddress
import itertools
import json
import re
import socket
import sqlite3
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fixtures import page, write_config

from monitor import cli, feeds, stories, story_index, urls
from monitor.errors import ExtractError
from monitor.extract import extract
from conftest import corpus_dir

DATA = Path(__file__).resolve().parent / "data"
STORY_SETS = DATA / "story_sets.toml"
CORPUS_LABELS = DATA / "corpus_story_labels.toml"
SNAPSHOTS = "feeds/cloudphone-rss-reader"
OUTLETS = ("aljazeera", "bbc_world", "nyt", "nyt_home", "indiatoday", "mehr")
RSS = "application/rss+xml"
FAR_FUTURE = 10.0 ** 12  # a story window that never expires inside a test


def needs_corpus(*parts: str) -> Path:
    root = corpus_dir()
    if root is None or not root.joinpath(*parts).exists():
        pytest.skip(f"NEWSMON_CORPUS is unset or has no {'/'.join(parts)}")
    return root


# ------------------------------------------------------------------ clustering and scoring


@dataclass
class Item:
    """One article to cluster: its hand label and what the signature reads."""

    name: str
    event: str
    title: str
    text: str
    kind: str = ""  # "wire", "rewritten", "distinct" for the hand-written sets
    near: str | None = None
    at: float = 0.0  # arrival time, seconds


def cluster(items: list[Item]) -> list[int]:
    """Story numbers for `items`, clustered in arrival order as the pipeline does: each article
    joins the story StoryIndex finds for it, or starts a new one."""
    index = story_index.StoryIndex(window=FAR_FUTURE)
    assigned, next_story = [], 0
    for item in items:
        signature = stories.signature(item.title, item.text)
        story = index.find(signature, item.at)
        if story is None:
            next_story += 1
            story = next_story
        index.add(story, signature, item.at)
        assigned.append(story)
    return assigned


@dataclass
class Score:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:  # no predicted pair: no false join
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def row(self, name: str, articles: int | str = "") -> str:
        return (f"| {name} | {articles} | {self.tp + self.fn} | {self.tp + self.fp} | {self.tp} | {self.fp} | "
                f"{self.precision:.2f} | {self.recall:.2f} |")


HEADER = ("| set | articles | true pairs | predicted pairs | correct | false joins | precision | recall |\n"
          "|---|---|---|---|---|---|---|---|")


def score(items: list[Item], assigned: list[int], true_pairs_of=lambda item: True) -> Score:
    """Pairwise precision/recall. Predicted pairs are counted over all items; true pairs only
    where `true_pairs_of(item)` holds (a subset's recall)."""
    tp = fp = fn = 0
    for (a, sa), (b, sb) in itertools.combinations(zip(items, assigned), 2):
        same_event, same_story = a.event == b.event, sa == sb
        if same_event and not true_pairs_of(a):
            continue
        if same_story and same_event:
            tp += 1
        elif same_story:
            fp += 1
        elif same_event:
            fn += 1
    return Score(tp, fp, fn)


def false_joins(items: list[Item], assigned: list[int]) -> list[str]:
    return [f"{a.name} ({a.event}) + {b.name} ({b.event})"
            for (a, sa), (b, sb) in itertools.combinations(zip(items, assigned), 2)
            if sa == sb and a.event != b.event]


def direct_pairs(items: list[Item], kind: str) -> tuple[int, int]:
    """(true pairs of `kind` that same_story joins directly, all true pairs of `kind`): recall
    without the help of a third article that links the two."""
    signatures = [stories.signature(item.title, item.text) for item in items]
    joined = total = 0
    for (a, sa), (b, sb) in itertools.combinations(zip(items, signatures), 2):
        if a.event == b.event and a.kind == kind:
            total += 1
            joined += stories.same_story(sa, sb)[0]
    return joined, total


# ------------------------------------------------------------------ (a) the hand-written story sets


def story_set_items(*, lead_only: bool = False) -> list[Item]:
    """The hand-written sets as the pipeline would see them: each article rendered as a page with
    site furniture and extracted with monitor.extract (or, `lead_only`, the title and first
    sentence, as a feed's summary would carry it). In arrival order."""
    data = tomllib.loads(STORY_SETS.read_text(encoding="utf-8"))
    items = []
    for event in data["events"]:
        for number, article in enumerate(event["articles"]):
            paragraphs = [p.strip() for p in article["text"].strip().split("\n\n") if p.strip()]
            slug = re.sub(r"\W+", "", article["outlet"].lower())
            if lead_only:
                lead = re.sub(r"^[A-Z][A-Z ,.]*(\([A-Za-z ]+\))?\s*[-:]\s*", "", paragraphs[0])  # no dateline
                text = re.split(r"(?<=[.!?])\s", lead)[0]
            else:
                path = f"/{slug}/{event['id']}-{number}.html"
                html = page(path, article["title"], article["outlet"], *paragraphs)
                base = f"https://{slug}.example"
                text = extract(html.replace("{BASE}", base).encode(), base + path).text
            items.append(Item(f"{article['outlet']}: {article['title']}", event["id"], article["title"], text,
                              kind=event["kind"], near=event.get("near"), at=article["hour"] * 3600))
    items.sort(key=lambda item: item.at)
    return items


def story_set_rows(items: list[Item], assigned: list[int], label: str) -> tuple[dict[str, Score], list[str]]:
    scores = {
        "all": score(items, assigned),
        "wire": score(items, assigned, lambda item: item.kind == "wire"),
        "rewritten": score(items, assigned, lambda item: item.kind == "rewritten"),
        "distinct (a day-2 pair)": score(items, assigned, lambda item: item.kind == "distinct"),
    }
    rows = [scores[name].row(f"{label}: {name}", len(items) if name == "all" else "") for name in scores]
    return scores, rows


def test_hand_written_story_sets_join_wire_copy_and_keep_similar_events_apart():
    items = story_set_items()
    assert len(items) >= 25 and len({item.event for item in items}) >= 14
    assigned = cluster(items)
    scores, rows = story_set_rows(items, assigned, "story sets, page text")
    joined, total = direct_pairs(items, "wire")
    print("\n" + HEADER + "\n" + "\n".join(rows))
    print(f"wire pairs joined directly (without a linking third copy): {joined}/{total}")
    assert not false_joins(items, assigned)
    assert scores["all"].precision >= 0.95
    assert scores["wire"].recall >= 0.8
    story_of = defaultdict(set)
    for item, story in zip(items, assigned):
        story_of[item.event].add(story)
    for item in items:  # spelled out: the look-alike never lands in the story it resembles
        if item.near:
            assert not story_of[item.event] & story_of[item.near], (item.event, item.near)


def test_hand_written_story_sets_as_feed_summaries_make_no_false_joins():
    """Title and lead sentence only (what a feed without full text gives): shorter texts, so
    fewer joins, but still no false ones."""
    items = story_set_items(lead_only=True)
    assigned = cluster(items)
    scores, rows = story_set_rows(items, assigned, "story sets, title + lead")
    print("\n" + HEADER + "\n" + "\n".join(rows))
    assert not false_joins(items, assigned)
    assert scores["all"].precision >= 0.95


# ------------------------------------------------------------------ (b) corpus pages, (c) corpus feed items


def corpus_labels() -> dict:
    return tomllib.loads(CORPUS_LABELS.read_text(encoding="utf-8"))


def page_items(root: Path) -> tuple[list[Item], list[str]]:
    """Every corpus page with article text, in manifest order, labelled; and the ids skipped."""
    event_of = {page_id: group["event"] for group in corpus_labels()["articles"] for page_id in group["ids"]}
    items, skipped, seen = [], [], set()
    for line in (root / "articles" / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        seen.add(record["id"])
        html = gzip.decompress((root / "articles" / record["html"]).read_bytes())
        try:
            extracted = extract(html, record.get("url"))
        except ExtractError:
            skipped.append(record["id"])
            continue
        items.append(Item(record["id"], event_of.get(record["id"], "single:" + record["id"]),
                          extracted.title or "", extracted.text, at=len(items)))
    missing = set(event_of) - seen
    assert not missing, f"labelled pages not in the corpus manifest: {sorted(missing)}"
    return items, skipped


def link_key(link: str) -> str:
    """How the labels name a feed item: host without "www." and path (no scheme, query, fragment)."""
    parts = urlsplit(link.strip())
    host = (parts.hostname or "").removeprefix("www.")
    return host + parts.path


def snapshot_files(root: Path, outlet: str) -> list[Path]:
    """An outlet's snapshots in time order (the names carry the commit time)."""
    return sorted((root / SNAPSHOTS).glob(f"{outlet}__*.xml"))


def feed_items(root: Path) -> list[Item]:
    """Every distinct item of the six outlets' snapshots in the order a poller would first see it
    (snapshot by snapshot, outlet by outlet, as listed), with the text the pipeline uses when it
    does not fetch pages: the feed's content, else its summary."""
    event_of = {key: group["event"] for group in corpus_labels()["feeds"] for key in group["links"]}
    items, seen = [], set()
    for snapshot in range(5):
        for outlet in OUTLETS:
            path = snapshot_files(root, outlet)[snapshot]
            for entry in feeds.parse(path.read_bytes(), f"http://127.0.0.1/{outlet}.xml", RSS).entries:
                key = link_key(entry.link or entry.key)
                if key in seen:
                    continue
                seen.add(key)
                items.append(Item(f"{outlet}: {entry.title}", event_of.get(key, "single:" + key), entry.title,
                                  entry.content or entry.summary, at=len(items)))
    missing = set(event_of) - seen
    assert not missing, f"labelled feed items not in the snapshots: {sorted(missing)}"
    return items


def test_corpus_pages_make_no_false_joins():
    root = needs_corpus("articles", "manifest.jsonl")
    items, skipped = page_items(root)
    assigned = cluster(items)
    result = score(items, assigned)
    print(f"\n{HEADER}\n{result.row('corpus pages', len(items))}\n(no article text, left out: {skipped})")
    assert not false_joins(items, assigned)
    assert result.precision >= 0.95


def test_corpus_feed_items_make_no_false_joins():
    root = needs_corpus(SNAPSHOTS)
    items = feed_items(root)
    assigned = cluster(items)
    result = score(items, assigned)
    joined = [f"{a.name} + {b.name}"
              for (a, sa), (b, sb) in itertools.combinations(zip(items, assigned), 2) if sa == sb]
    print(f"\n{HEADER}\n{result.row('corpus feed items, title + summary', len(items))}\njoined: {joined}")
    assert not false_joins(items, assigned)
    assert result.precision >= 0.95


# ------------------------------------------------------------------ thresholds: the evidence for the constants


SWEEP = {
    "TEXT_JOIN": (0.3, 0.4, 0.5, 0.6, 0.7),
    "TEXT_WITH_TITLE": (0.1, 0.2, 0.3),
    "TITLE_JOIN": (0.2, 0.3, 0.4, 0.5),
    "SHORT": (20, 40, 60, 100),
}


def test_threshold_sweep_keeps_the_chosen_constants_inside_the_safe_region(monkeypatch):
    """Vary one constant at a time around its value and report precision (all labelled sets)
    and recall (wire copy, pages, feed items); the chosen value must make no false join."""
    sets = {"story sets": story_set_items(), "story sets (lead)": story_set_items(lead_only=True)}
    root = corpus_dir()
    if root is not None and (root / "articles" / "manifest.jsonl").exists() and (root / SNAPSHOTS).exists():
        sets["corpus pages"] = page_items(root)[0]
        sets["corpus feed items"] = feed_items(root)
    chosen = {name: getattr(stories, name) for name in SWEEP}
    lines = ["| constant | value | false joins (all sets) | wire recall (pages) | wire recall (lead) | "
             "recall pages | recall feed items |", "|---|---|---|---|---|---|---|"]
    for name, values in SWEEP.items():
        for value in sorted({*values, chosen[name]}):
            monkeypatch.setattr(stories, name, value)
            results = {label: (items, cluster(items)) for label, items in sets.items()}
            bad = sum(len(false_joins(items, assigned)) for items, assigned in results.values())
            wire = {label: score(*results[label], lambda item: item.kind == "wire").recall
                    for label in ("story sets", "story sets (lead)")}
            other = [f"{score(*results[label]).recall:.2f}" if label in results else "-"
                     for label in ("corpus pages", "corpus feed items")]
            mark = " (chosen)" if value == chosen[name] else ""
            lines.append(f"| {name} | {value}{mark} | {bad} | {wire['story sets']:.2f} | "
                         f"{wire['story sets (lead)']:.2f} | {' | '.join(other)} |")
            if value == chosen[name]:
                assert bad == 0, f"{name} = {value} makes false joins"
        monkeypatch.setattr(stories, name, chosen[name])
    print("\n" + "\n".join(lines))


# ------------------------------------------------------------------ 1. the corpus replay through the pipeline


@pytest.fixture
def loopback_only(monkeypatch):
    """Every outgoing IP connection and name lookup of this process must stay on loopback:
    anything else is refused and recorded in "refused" (which must stay empty); "loopback"
    counts the connections allowed, to show the guard sits in the path the pipeline uses."""
    seen: dict = {"refused": [], "loopback": 0}
    attempts = seen["refused"]
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def allowed(sock: socket.socket, address) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True  # the sandbox's forkserver talks over a Unix socket
        try:
            loopback = ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            return False
        seen["loopback"] += loopback
        return loopback

    def connect(self, address):
        if not allowed(self, address):
            attempts.append(f"connect {address}")
            raise ConnectionRefusedError(f"test: only loopback connections are allowed, not {address}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not allowed(self, address):
            attempts.append(f"connect_ex {address}")
            return 111
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in (None, "localhost", "127.0.0.1", "::1"):
            attempts.append(f"getaddrinfo {name}")
            raise socket.gaierror(f"test: no name lookups outside loopback ({name})")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


BROAD = {"entities": {}, "rules": [{"name": "broad", "any": ["the", "a", "of", "in", "to", "and", "for", "on"]}]}


def test_replaying_each_outlets_snapshots_makes_no_duplicate_entries_or_alerts(tmp_path, web, loopback_only):
    root = needs_corpus(SNAPSHOTS)
    files = {outlet: snapshot_files(root, outlet) for outlet in OUTLETS}
    assert all(len(paths) == 5 for paths in files.values()), {o: len(p) for o, p in files.items()}
    hook = web.base.replace("http://", "json://") + "/hook"
    # full_text = false: no article page is fetched (the links point at the real sites);
    # alert_max_age: the snapshots are from August, replayed as if polled live.
    feed_specs = [{"url": f"{web.base}/{outlet}.xml", "name": outlet, "full_text": False, "alert_on_first_poll": True}
                  for outlet in OUTLETS]
    path = write_config(tmp_path, feed_specs, {"hook": [hook]}, watchlist=BROAD, alert_max_age="3650d")
    database = tmp_path / "state" / "newsmon.db"

    expected_keys: dict[str, set[str]] = {outlet: set() for outlet in OUTLETS}
    links: dict[str, set[str]] = {outlet: set() for outlet in OUTLETS}
    served, edited, hashes = Counter(), defaultdict(set), {}
    per_cycle = []
    for snapshot in range(5):
        new_keys = 0
        for outlet in OUTLETS:
            body = files[outlet][snapshot].read_bytes()
            web.add(f"/{outlet}.xml", body, RSS)  # the next poll sees the next snapshot
            document = feeds.parse(body, f"{web.base}/{outlet}.xml", RSS)
            served[outlet] += len(document.entries)
            keys = {entry.key for entry in document.entries}
            for entry in document.entries:  # an entry seen before whose title or summary changed
                if hashes.setdefault((outlet, entry.key), entry.content_hash) != entry.content_hash:
                    edited[outlet].add(entry.key)
                    hashes[(outlet, entry.key)] = entry.content_hash
            new_keys += len(keys - expected_keys[outlet])
            expected_keys[outlet] |= keys
            links[outlet] |= {urls.canonical(entry.link) for entry in document.entries if entry.link}
        assert cli.main(["--config", str(path), "run", "--once"]) == 0
        with sqlite3.connect(database) as db:
            rows = db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        per_cycle.append((new_keys, rows))
        assert rows == sum(len(keys) for keys in expected_keys.values()), f"snapshot {snapshot}: entries != entry keys"

    posts_before = len(web.json_posts("/hook"))
    assert cli.main(["--config", str(path), "run", "--once"]) == 0  # the last snapshots again: nothing new
    assert len(web.json_posts("/hook")) == posts_before

    with sqlite3.connect(database) as db:
        feed_id = {url.rsplit("/", 1)[1].removesuffix(".xml"): fid
                   for fid, url in db.execute("SELECT id, url FROM feeds")}
        # one entries row per distinct entry key and feed; never two rows for one key
        for outlet in OUTLETS:
            keys = [k for (k,) in db.execute("SELECT entry_key FROM entries WHERE feed_id = ?", (feed_id[outlet],))]
            assert len(keys) == len(set(keys)) == len(expected_keys[outlet]), outlet
            assert set(keys) == expected_keys[outlet], outlet
        # one article per canonical link, whichever feed or guid brought it
        assert not db.execute("""SELECT canonical_link FROM entries WHERE canonical_link IS NOT NULL
                                 GROUP BY canonical_link HAVING COUNT(DISTINCT article_id) > 1""").fetchall()
        all_links = set().union(*links.values())
        assert db.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == len(all_links)
        # one alert per (rule, story), all first alerts, each delivered once
        alerts = db.execute("SELECT rule, story_id, seq, status FROM alerts").fetchall()
        assert Counter((rule, story) for rule, story, _seq, _status in alerts).most_common(1)[0][1] == 1
        assert {seq for _rule, _story, seq, _status in alerts} == {0}
        assert {status for *_rest, status in alerts} == {"sent"}
        assert len(web.json_posts("/hook")) == len(alerts)

        table = ["| feed | items served (5 snapshots) | distinct entries | edited later | entries rows | "
                 "new articles | linked to an article already known | stories | alerts |",
                 "|---|---|---|---|---|---|---|---|---|"]
        for outlet in OUTLETS:
            fid = feed_id[outlet]
            entries = db.execute("SELECT COUNT(*) FROM entries WHERE feed_id = ?", (fid,)).fetchone()[0]
            owned = db.execute("""SELECT COUNT(*) FROM articles a WHERE (SELECT feed_id FROM entries e
                                  WHERE e.article_id = a.id ORDER BY e.id LIMIT 1) = ?""", (fid,)).fetchone()[0]
            story_count = db.execute("""SELECT COUNT(DISTINCT a.story_id) FROM entries e JOIN articles a
                                        ON a.id = e.article_id WHERE e.feed_id = ?""", (fid,)).fetchone()[0]
            alerted = db.execute("""SELECT COUNT(*) FROM alerts l WHERE (SELECT feed_id FROM entries e
                                    WHERE e.article_id = l.article_id ORDER BY e.id LIMIT 1) = ?""",
                                 (fid,)).fetchone()[0]
            table.append(f"| {outlet} | {served[outlet]} | {len(expected_keys[outlet])} | {len(edited[outlet])} | "
                         f"{entries} | {owned} | {entries - owned} | {story_count} | {alerted} |")
        totals = [db.execute(sql).fetchone()[0] for sql in (
            "SELECT COUNT(*) FROM entries", "SELECT COUNT(*) FROM articles", "SELECT COUNT(*) FROM stories",
            "SELECT COUNT(*) FROM alerts")]
        table.append(f"| all six | {sum(served.values())} | {sum(len(k) for k in expected_keys.values())} | "
                     f"{sum(len(k) for k in edited.values())} | {totals[0]} | "
                     f"{totals[1]} | {totals[0] - totals[1]} | {totals[2]} | {totals[3]} |")
        multi = db.execute("""SELECT story_id, GROUP_CONCAT(outlet || ': ' || title, ' + ') FROM articles
                              GROUP BY story_id HAVING COUNT(*) > 1""").fetchall()
        recorded = db.execute("SELECT outlet, title, url, story_id FROM articles ORDER BY id").fetchall()
    event_of = {key: group["event"] for group in corpus_labels()["feeds"] for key in group["links"]}
    replay_items = [Item(f"{outlet}: {title}", event_of.get(link_key(url), "single:" + link_key(url)), title, "")
                    for outlet, title, url, _story in recorded]
    against_labels = score(replay_items, [story for *_rest, story in recorded])
    print("\n" + "\n".join(table))
    print(f"new entries per snapshot / entries rows after it: {per_cycle}")
    print(f"stories with more than one article: {multi}")
    print(f"replay's stories against the feed labels: {HEADER}\n{against_labels.row('replay', len(replay_items))}")
    assert against_labels.precision >= 0.95
    assert loopback_only["refused"] == []
    assert loopback_only["loopback"] >= 6  # at least one connection per run went through the guard
    paths = {path for _method, path, _headers in web.requests}
    assert paths == {f"/{outlet}.xml" for outlet in OUTLETS} | {"/hook"}, paths
