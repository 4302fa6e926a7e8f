"""Entries, articles, stories and hits: recording what a poll found, and reading it back."""

from __future__ import annotations

import sqlite3
import time
from collections import OrderedDict
from collections.abc import Iterator

from monitor.model import AlertMessage, Article, Entry, Hit, IncidentFacts, Match
from monitor.store.base import StoreBase
from monitor.store.rows import KnownEntry, QueuedAlert, dump_message
from monitor.store.stories import refresh_waiting

LINKS_KEPT = 8192  # links (two an entry at most) of the entries this process recorded last (`recorded_since`)


class Entries(StoreBase):
    """The `entries`, `articles`, `stories` and `hits` tables (and the outbox rows queued with
    a new or changed entry)."""

    recorded = 0  # entries this process recorded or linked: a lookup made since none was need not be made again
    articles_added = 0  # articles this process recorded (`monitor.window` checks what its indexes took in)
    _links: OrderedDict[str, int] | None = None  # canonical link -> `recorded` once its entry was (LINKS_KEPT)

    def recorded_since(self, canonical_link: str, since: int) -> bool:
        """Whether this process may have recorded an entry under `canonical_link` since it had
        recorded `since` entries (`recorded`): a lookup of the link made then is out of date.
        False when it recorded none since, or none under that link; True when it cannot tell
        (more than LINKS_KEPT / 2 since). In a first poll of many feeds an entry's lookup was made
        again after its article was read for nearly every entry: two of the nine queries an entry cost."""
        if self.recorded == since:
            return False
        if self.recorded - since > LINKS_KEPT // 2 or self._links is None:
            return True
        at = self._links.get(canonical_link)
        return at is not None and at > since

    def _count(self, *links: str | None) -> None:
        """Count a recorded or linked entry (`recorded`), and remember the links it is found by."""
        self.recorded += 1
        kept = self._links
        if kept is None:
            kept = self._links = OrderedDict()
        for link in links:
            if link:
                kept[link] = self.recorded
                kept.move_to_end(link)
        while len(kept) > LINKS_KEPT:
            kept.popitem(last=False)

    def known_entries(self, feed_id: int) -> dict[str, KnownEntry]:
        """Every entry recorded for a feed, by entry key."""
        rows = self.db.execute(
            """SELECT e.entry_key, e.content_hash, e.article_id, a.story_id FROM entries e
               LEFT JOIN articles a ON a.id = e.article_id WHERE e.feed_id = ?""", (feed_id,))
        return {row[0]: KnownEntry(row[1], row[2], row[3]) for row in rows}

    def article_by_link(self, canonical_link: str) -> KnownEntry | None:
        """An article already recorded under this canonical link (from any feed), or None."""
        row = self.db.execute(
            """SELECT e.content_hash, e.article_id, a.story_id FROM entries e JOIN articles a ON a.id = e.article_id
               WHERE e.canonical_link = ? ORDER BY e.id LIMIT 1""", (canonical_link,)).fetchone()
        if row is None:
            row = self.db.execute("SELECT '', id, story_id FROM articles WHERE canonical_url = ? LIMIT 1",
                                  (canonical_link,)).fetchone()
        return KnownEntry(row[0], row[1], row[2]) if row else None

    def article_signature(self, article_id: int) -> tuple[bytes | None, str]:
        """An article's stored near-duplicate signature and title."""
        row = self.db.execute("SELECT signature, title FROM articles WHERE id = ?", (article_id,)).fetchone()
        return (row[0], row[1]) if row else (None, "")

    def record_entry(self, feed_id: int, entry: Entry, article: Article, matches: list[Match],
                     alerts: list[QueuedAlert], *, story_id: int | None = None, canonical_link: str | None = None,
                     signature: bytes | None = None, features: bytes | None = None, now: float | None = None,
                     mentions: list[Hit] = (), quiet: str | None = None, copy_of: int | None = None,
                     facts: str | None = None, said: IncidentFacts | None = None,
                     severities: dict[str, str] | None = None,
                     leads: dict[str, AlertMessage] | None = None) -> tuple[int, int]:
        """Record a new entry with its article, hits and outbox rows, in one transaction. The
        article joins `story_id`, or starts a new story; `copy_of`: the article whose text it copies. Returns (article id, story id). With
        no alerts it is committed with the next transaction (see `later`): lost in a crash, it
        is read again, as new, from its feed. `quiet`: why it was recorded without alerting
        ("first poll", "catching up", "too old"), for `newsmon status`. `facts`: the story's event
        facts with this article's counted (JSON), `said` what alerts state of them and `severities`
        "auto" rules' severity for the story now: its waiting alerts are brought up to date
        (`refresh_waiting`), and headed by this article where `leads` has a message for their rule
        and the report at their head was published later."""
        now = time.time() if now is None else now
        published = article.published.timestamp() if article.published else None
        with self.transaction() if alerts else self.later() as db:
            story = story_id
            if story is None:
                story = db.execute("INSERT INTO stories (first_seen, title, outlets) VALUES (?, ?, '[]')",
                                   (now, article.title)).lastrowid
            article_id = db.execute(
                """INSERT INTO articles (url, canonical_url, title, text, source, outlet, language,
                   published, fetched, story_id, signature, features, copy_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (article.url, article.canonical_url, article.title, article.text, article.source,
                 article.outlet, article.language, published, now, story, signature, features, copy_of),
            ).lastrowid
            if story_id is None:
                db.execute("UPDATE stories SET representative_article = ? WHERE id = ?", (article_id, story))
            if facts is not None:
                db.execute("UPDATE stories SET facts = ? WHERE id = ?", (facts, story))
            if story_id is not None and (said is not None or severities or leads):
                refresh_waiting(db, story, said, severities, leads, article_id)
            if story_id is not None and published is not None:  # a story is shown by its earliest report
                db.execute("UPDATE stories SET title = ?, representative_article = ? WHERE id = ? AND "
                           "(SELECT a.published FROM articles a WHERE a.id = stories.representative_article) > ?",
                           (article.title, article_id, story, published))
            self._upsert_entry(db, feed_id, entry, canonical_link, article_id, now, quiet)
            self._hits_and_alerts(db, article_id, story, matches, alerts, now, mentions, feed_id)
        self._count(canonical_link, article.canonical_url)  # `article_by_link` finds it by either
        self.articles_added += 1
        return article_id, story

    def link_entry(self, feed_id: int, entry: Entry, canonical_link: str | None, article_id: int,
                   now: float | None = None) -> None:
        """Record an entry that is an article we already have (a guid flip, a URL variant, the
        same page in another feed): no new article, no alert. Committed with the next
        transaction (see `later`): lost in a crash, it is read and linked again."""
        with self.later() as db:
            self._upsert_entry(db, feed_id, entry, canonical_link, article_id, time.time() if now is None else now)
        self._count(canonical_link)

    def update_entry(self, feed_id: int, entry: Entry, article_id: int, article: Article, matches: list[Match],
                     alerts: list[QueuedAlert], *, canonical_link: str | None = None, now: float | None = None,
                     mentions: list[Hit] = (), quiet: str | None = None, severities: dict[str, str] | None = None) -> None:
        """A known entry whose content changed: new text, the article's hits replaced, new outbox
        rows (rows already queued for the same rule, story, channel and seq are kept as they are)."""
        now = time.time() if now is None else now
        with self.transaction() if alerts else self.later() as db:
            story = db.execute("SELECT story_id FROM articles WHERE id = ?", (article_id,)).fetchone()[0]
            db.execute("UPDATE articles SET title = ?, text = ?, source = ? WHERE id = ?",
                       (article.title, article.text, article.source, article_id))
            db.execute("DELETE FROM hits WHERE article_id = ?", (article_id,))
            self._upsert_entry(db, feed_id, entry, canonical_link, article_id, now, quiet)
            self._hits_and_alerts(db, article_id, story, matches, alerts, now, mentions, feed_id)
            if severities:
                refresh_waiting(db, story, None, severities)

    @staticmethod
    def _upsert_entry(db: sqlite3.Connection, feed_id: int, entry: Entry, canonical_link: str | None,
                      article_id: int, now: float, quiet: str | None = None) -> None:
        db.execute(
            """INSERT INTO entries (feed_id, entry_key, content_hash, title, link, first_seen, last_seen,
               article_id, canonical_link, quiet) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (feed_id, entry_key) DO UPDATE SET content_hash = excluded.content_hash,
               title = excluded.title, link = excluded.link, last_seen = excluded.last_seen,
               article_id = excluded.article_id, canonical_link = excluded.canonical_link,
               quiet = COALESCE(entries.quiet, excluded.quiet)""",
            (feed_id, entry.key, entry.content_hash, entry.title, entry.link, now, now, article_id, canonical_link,
             quiet),
        )

    @staticmethod
    def _hits_and_alerts(db: sqlite3.Connection, article_id: int, story: int, matches: list[Match],
                         alerts: list[QueuedAlert], now: float, mentions: list[Hit] = (), feed_id: int | None = None) -> None:
        """Store the hits of each matching rule, and every entity mention (rule '') for replay."""
        hits = ([(article_id, m.rule, h.term, h.entity, h.alias, h.field, h.start, h.end) for m in matches for h in m.hits]
                + [(article_id, "", h.term, h.entity, h.alias, h.field, h.start, h.end) for h in mentions])
        if hits:
            db.executemany('INSERT INTO hits (article_id, rule, term, entity, alias, field, start, "end") '
                           'VALUES (?, ?, ?, ?, ?, ?, ?, ?)', hits)
        if not alerts:
            return
        db.executemany(  # an alert that waits for corroboration is 'held', with why
            """INSERT OR IGNORE INTO alerts (rule, story_id, channel, seq, article_id, next_attempt, created, message,
               feed_id, status, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(a.rule, story, a.channel, a.seq, article_id, now + a.delay, now, dump_message(a.message), feed_id,
              "held" if a.hold else "pending", a.hold or None) for a in alerts],
        )

    def recent_signatures(self, since: float) -> Iterator[tuple[int, int, bytes, str, float, int]]:
        """(article, story, signature, title, fetched, original) of articles fetched since
        `since`, oldest first, read as they are used (tens of thousands of signatures are never
        all in memory); `original`: the article whose text it copies, else itself."""
        yield from self.db.execute(
            """SELECT id, story_id, signature, title, fetched, COALESCE(copy_of, id) FROM articles
               WHERE fetched >= ? AND signature IS NOT NULL ORDER BY fetched""", (since,))

    def window_stamp(self, since: float, first: int | None = None) -> tuple[int, int, int, int]:
        """(first, count, last, stories): the lowest id of the articles fetched since `since`
        (or `first`, given), and of the articles from it on, how many, the highest id and the sum
        of their story ids. A recorded, removed or merged article changes it (a merge moves
        articles to an older story: a lower id). `monitor.window` keeps it with an index."""
        if first is None:
            first = self.db.execute("SELECT MIN(id) FROM articles WHERE fetched >= ?", (since,)).fetchone()[0]
            if first is None:
                first = (self.db.execute("SELECT MAX(id) FROM articles").fetchone()[0] or 0) + 1
        count, last, stories = self.db.execute(
            "SELECT COUNT(*), COALESCE(MAX(id), 0), COALESCE(SUM(story_id), 0) FROM articles WHERE id >= ?",
            (first,)).fetchone()
        return first, count, last, stories

    def last_article(self) -> int:
        """The highest article id (0 when there is none)."""
        return self.db.execute("SELECT COALESCE(MAX(id), 0) FROM articles").fetchone()[0]

    def articles_after(self, article_id: int) -> int:
        """How many articles have a higher id than `article_id`."""
        return self.db.execute("SELECT COUNT(*) FROM articles WHERE id > ?", (article_id,)).fetchone()[0]

    def count_recent_signatures(self, since: float) -> int:
        """How many articles fetched since `since` have a signature."""
        return self.db.execute("SELECT COUNT(*) FROM articles WHERE fetched >= ? AND signature IS NOT NULL",
                               (since,)).fetchone()[0]

    def recent_features(self, since: float) -> Iterator[tuple[int, int, bytes | None, float]]:
        """(article, story, event features or None, fetched) of articles fetched since `since`,
        oldest first, read as they are used."""
        yield from self.db.execute(
            "SELECT id, story_id, features, fetched FROM articles WHERE fetched >= ? ORDER BY fetched", (since,))

    def article_for_features(self, article_id: int) -> tuple[str, str, float | None, str]:
        """An article's title, text, publication time and outlet, to read its event features again."""
        row = self.db.execute("SELECT title, text, published, outlet FROM articles WHERE id = ?", (article_id,)).fetchone()
        return (row[0], row[1], row[2], row[3]) if row else ("", "", None, "")

    def set_features(self, features: list[tuple[int, bytes]]) -> None:
        """Store articles' event features: (article id, packed features) pairs."""
        with self.transaction() as db:
            db.executemany("UPDATE articles SET features = ? WHERE id = ?",
                           [(blob, article_id) for article_id, blob in features])

    def article_text(self, article_id: int) -> str:
        """An article's stored text ("" if there is no such article)."""
        row = self.db.execute("SELECT text FROM articles WHERE id = ?", (article_id,)).fetchone()
        return row[0] if row else ""

    def set_signatures(self, signatures: list[tuple[int, bytes]]) -> None:
        """Replace the near-duplicate signatures of articles: (article id, signature) pairs."""
        with self.transaction() as db:
            db.executemany("UPDATE articles SET signature = ? WHERE id = ?",
                           [(blob, article_id) for article_id, blob in signatures])

    def prune(self, before: float) -> int:
        """Forget entries first seen before `before` and what only they referred to (articles,
        hits, stories without pending alerts, delivered alerts). Returns entries removed."""
        with self.transaction() as db:
            removed = db.execute("DELETE FROM entries WHERE first_seen < ?", (before,)).rowcount
            old = "SELECT id FROM articles WHERE fetched < ? AND id NOT IN (SELECT article_id FROM entries WHERE article_id IS NOT NULL)"
            db.execute(f"DELETE FROM hits WHERE article_id IN ({old})", (before,))
            db.execute("DELETE FROM alerts WHERE created < ? AND status IN ('sent', 'dead')", (before,))
            db.execute(f"UPDATE alerts SET article_id = NULL WHERE article_id IN ({old})", (before,))
            db.execute(f"DELETE FROM articles WHERE id IN ({old})", (before,))
            db.execute("""DELETE FROM stories WHERE first_seen < ? AND id NOT IN (SELECT story_id FROM articles
                          WHERE story_id IS NOT NULL) AND id NOT IN (SELECT story_id FROM alerts)""", (before,))
        return removed

    def counts(self) -> dict[str, int]:
        return {table: self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("feeds", "entries", "articles", "stories")}
