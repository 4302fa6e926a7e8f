"""Reading history back for `newsmon backtest` and `newsmon prune`: the stored articles of a
period with their feeds and whether they could alert, the stories each rule actually alerted,
and what pruning would forget. Read-only (but `prune` itself, in `entries`); the reads are
streamed, so a backtest over a large store holds little in memory and never blocks a running
daemon (SQLite's write-ahead log lets it write meanwhile)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from monitor.model import Hit
from monitor.store.base import StoreBase


@dataclass(frozen=True)
class StoredArticle:
    """An article as a backtest reads it."""

    id: int
    story_id: int  # the story it belongs to now (after merges)
    title: str
    text: str
    outlet: str
    url: str | None
    fetched: float
    feeds: tuple[str, ...]  # the URLs of the feeds that brought it
    quiet: bool  # every entry of it was recorded without alerting (a first poll, alert_max_age)
    features: bytes | None = None  # its packed event features (where it happened), if asked for


class Replay(StoreBase):
    """History for backtests and pruning."""

    def replay_count(self, since: float) -> int:
        return self.db.execute("SELECT COUNT(*) FROM articles WHERE fetched >= ?", (since,)).fetchone()[0]

    def replay_articles(self, since: float, batch: int = 2000, *, features: bool = False) -> Iterator[StoredArticle]:
        """The articles fetched since `since`, oldest first, in batches of `batch` (each its own
        short read), with their feeds and whether any of their entries could alert. Articles
        stored after the first read are left out (their entries may not all be read)."""
        survivor = self._survivors()
        top = self.db.execute("SELECT MAX(id) FROM articles").fetchone()[0] or 0
        origins = self._origins(since, top)
        unknown = ((), False)  # an article no entry refers to any more
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT id, story_id, title, text, outlet, url, fetched, {'features' if features else 'NULL'} FROM articles "
                "WHERE fetched >= ? AND id > ? AND id <= ? ORDER BY id LIMIT ?", (since, last, top, batch)).fetchall()
            if not rows:
                return
            for id_, story, title, text, outlet, url, fetched, packed in rows:
                story = story or 0
                feeds, quiet = origins.get(id_, unknown)
                yield StoredArticle(id_, survivor.get(story, story), title, text, outlet, url, fetched, feeds, quiet,
                                    packed)
            last = rows[-1][0]

    def _origins(self, since: float, top: int) -> dict[int, tuple[tuple[str, ...], bool]]:
        """Article -> (the URLs of its feeds, sorted; whether every entry of it was recorded
        without alerting) for the articles fetched since `since`, up to id `top`: read in one
        pass over the entries (which have no index by article), not once per batch."""
        feeds: dict[int, set[str]] = {}
        quiet: dict[int, bool] = {}
        for article, url, silent in self.db.execute(
                "SELECT e.article_id, f.url, e.quiet IS NOT NULL FROM entries e LEFT JOIN feeds f ON f.id = e.feed_id "
                "WHERE e.article_id IN (SELECT id FROM articles WHERE fetched >= ? AND id <= ?)", (since, top)):
            urls = feeds.setdefault(article, set())
            if url is not None:
                urls.add(url)
            quiet[article] = quiet.get(article, True) and bool(silent)
        shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per set of feeds, not per article
        out = {}
        for article, urls in feeds.items():
            names = tuple(sorted(urls))
            out[article] = (shared.setdefault(names, names), quiet[article])
        return out

    def alerted_stories(self, since: float) -> dict[tuple[str, int], tuple[float, int]]:
        """(rule, story) -> (when first queued, its first alert's article) of every rule's
        first alert on a story (on any channel, whatever became of it: sent, held, silenced,
        dead) queued since `since`; stories merged into another count as the survivor."""
        survivor = self._survivors()
        out: dict[tuple[str, int], tuple[float, int]] = {}
        for rule, story, created, article in self.db.execute(
                "SELECT rule, story_id, MIN(created), MIN(article_id) FROM alerts WHERE seq = 0 AND created >= ? "
                "AND rule NOT LIKE 'newsmon:%' GROUP BY rule, story_id", (since,)):
            key = (rule, survivor.get(story, story))
            if key not in out or created < out[key][0]:
                out[key] = (created, article or 0)
        return out

    def followups(self, since: float) -> dict[tuple[str, int], int]:
        """(rule, story) -> how many follow-ups (on_update) were queued since `since`."""
        survivor = self._survivors()
        out: dict[tuple[str, int], int] = {}
        for rule, story, count in self.db.execute(
                "SELECT rule, story_id, COUNT(DISTINCT seq) FROM alerts WHERE seq > 0 AND created >= ? "
                "AND rule NOT LIKE 'newsmon:%' GROUP BY rule, story_id", (since,)):
            key = (rule, survivor.get(story, story))
            out[key] = out.get(key, 0) + count
        return out

    def recorded_hits(self, article_id: int, rule: str) -> list[Hit]:
        """The hits a rule had in an article when it was recorded."""
        return [Hit(row["term"], row["entity"], row["alias"], row["field"], row["start"], row["end"])
                for row in self.db.execute('SELECT term, entity, alias, field, start, "end" FROM hits '
                                           "WHERE article_id = ? AND rule = ? ORDER BY id", (article_id, rule))]

    def _survivors(self) -> dict[int, int]:
        """Story -> the story it ended up in, for stories merged into others (chains followed)."""
        merged = dict(self.db.execute("SELECT id, merged_into FROM stories WHERE merged_into IS NOT NULL").fetchall())
        out = {}
        for story in merged:
            target, seen = merged[story], {story}
            while target in merged and target not in seen:
                seen.add(target)
                target = merged[target]
            out[story] = target
        return out

    def vacuum(self) -> None:
        """Give the space freed by pruning back to the filesystem (VACUUM: the database is locked
        while it runs; a running daemon's writes wait, and retry)."""
        self.flush()
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.execute("VACUUM")

    def prune_plan(self, before: float) -> dict[str, int]:
        """What `prune(before)` would forget, counted: entries, articles, hits, alerts, stories."""
        old = ("SELECT id FROM articles WHERE fetched < ?1 AND id NOT IN (SELECT article_id FROM entries "
               "WHERE article_id IS NOT NULL AND first_seen >= ?1)")
        count = lambda query: self.db.execute(query, (before,)).fetchone()[0]  # noqa: E731
        return {
            "entries": count("SELECT COUNT(*) FROM entries WHERE first_seen < ?1"),
            "articles": count(f"SELECT COUNT(*) FROM ({old})"),
            "hits": count(f"SELECT COUNT(*) FROM hits WHERE article_id IN ({old})"),
            "alerts": count("SELECT COUNT(*) FROM alerts WHERE created < ?1 AND status IN ('sent', 'dead')"),
            "stories": count(f"""SELECT COUNT(*) FROM stories WHERE first_seen < ?1 AND id NOT IN (SELECT story_id
                                FROM articles WHERE story_id IS NOT NULL AND id NOT IN ({old})) AND id NOT IN
                                (SELECT story_id FROM alerts WHERE NOT (created < ?1 AND status IN ('sent', 'dead')))"""),
        }
