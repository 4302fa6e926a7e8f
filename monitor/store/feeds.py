"""Feed rows: validators, poll outcomes and health (errors, backoff, moves, silence, status)."""

from __future__ import annotations

import dataclasses
import time

from monitor.store.base import StoreBase
from monitor.model import FeedItems
from monitor.store.rows import FeedRow, FeedState


class Feeds(StoreBase):
    """The `feeds` table."""

    def feed(self, url: str) -> FeedState:
        """The stored state of a configured feed, creating its row on first sight (committed
        with the next transaction, as its first poll's entries are: see `later`)."""
        row = self.db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        if row is None:
            with self.later() as db:
                db.execute("INSERT INTO feeds (url, fetch_url, created) VALUES (?, ?, ?)", (url, url, time.time()))
            row = self.db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        state = FeedState(
            id=row["id"], url=row["url"], fetch_url=row["fetch_url"] or row["url"], title=row["title"],
            site_url=row["site_url"], etag=row["etag"], last_modified=row["last_modified"],
            body_hash=row["body_hash"], last_success=row["last_success"], last_error=row["last_error"],
            error_count=row["error_count"], status=row["status"], next_poll=row["next_poll"],
            last_attempt=row["last_attempt"], created=row["created"], silent_since=row["silent_since"],
            catch_up=bool(row["catch_up"]), ttl=row["ttl"], warned_at=row["warned_at"],
            items=FeedItems.unpack(row["items"]),
        )
        unchanged = self._deferred.get(("unchanged", state.id))
        if unchanged is not None:  # a 304 recorded but not written yet
            etag, last_modified, now, _also_now, next_poll, _id = unchanged[1]
            state = dataclasses.replace(state, etag=etag, last_modified=last_modified, last_attempt=now,
                                        last_success=now, last_error=None, error_count=0, next_poll=next_poll,
                                        catch_up=False)
        return state

    def last_new_entry(self, feed_id: int) -> float | None:
        """When the feed last brought an entry we had not seen."""
        return self.db.execute("SELECT MAX(first_seen) FROM entries WHERE feed_id = ?", (feed_id,)).fetchone()[0]

    def set_silent(self, feed_id: int, since: float | None) -> None:
        with self.transaction() as db:
            db.execute("UPDATE feeds SET silent_since = ? WHERE id = ?", (since, feed_id))

    def feed_failed(self, feed_id: int, kind: str, message: str, *, now: float, next_poll: float | None,
                    warned: bool = False) -> int:
        """Record a failed poll (`warned`: said at WARNING now); returns the number of
        consecutive failures."""
        with self.transaction() as db:
            db.execute(
                """UPDATE feeds SET last_attempt = ?, last_error = ?, error_kind = ?, error_count = error_count + 1,
                   next_poll = ?, warned_at = CASE WHEN ? THEN ? ELSE warned_at END WHERE id = ?""",
                (now, message, kind, next_poll, warned, now, feed_id),
            )
            return db.execute("SELECT error_count FROM feeds WHERE id = ?", (feed_id,)).fetchone()[0]

    def feed_succeeded(self, feed_id: int, *, etag: str | None, last_modified: str | None, body_hash: str | None,
                       now: float, next_poll: float | None = None, title: str | None = None,
                       site_url: str | None = None, ttl: float | None = None, parsed: bool = False,
                       items: FeedItems | None = None) -> None:
        """Record a successful poll; its catch-up, if any, is over. Call only after every entry
        of the response is recorded: the validators stored here make the next poll skip this
        response. `parsed`: the body was read, `ttl` is what it asked for and `items` what it
        held (else the stored ones stay).

        Committed with the entries that wait for a commit (see `later`), in one transaction: a
        crash loses a poll's entries and validators together (the next poll reads them again),
        never the entries alone. The pipeline commits when no other poll is running, so polls
        made together commit once a second rather than once a feed (on a first poll of 500
        feeds, 0.9 of the 2.7 s the store took); an alert's commit, or closing, commits too."""
        with self.later() as db:
            db.execute(
                """UPDATE feeds SET etag = ?, last_modified = ?, body_hash = COALESCE(?, body_hash),
                   title = COALESCE(?, title), site_url = COALESCE(?, site_url), last_attempt = ?,
                   last_success = ?, last_error = NULL, error_kind = NULL, error_count = 0, next_poll = ?,
                   catch_up = 0, ttl = CASE WHEN ? THEN ? ELSE ttl END, items = CASE WHEN ? THEN ? ELSE items END
                   WHERE id = ?""",
                (etag, last_modified, body_hash, title, site_url, now, now, next_poll, parsed, ttl, parsed,
                 items.pack() if items else None, feed_id),
            )

    def feed_unchanged(self, feed_id: int, *, etag: str | None, last_modified: str | None, now: float,
                       next_poll: float | None = None) -> None:
        """Record a poll that brought nothing new (a 304, or the same bytes as last time). The
        most common write of all, and one that may wait: it goes in with the next write
        transaction or `flush()` (the daemon flushes every few seconds), so a thousand unchanged
        feeds cost one fsync, not a thousand. `feed()` sees it at once. A crash loses at most
        these timestamps: the feed is then polled again sooner, nothing else."""
        self.defer(("unchanged", feed_id), """UPDATE feeds SET etag = ?, last_modified = ?, last_attempt = ?,
                   last_success = ?, last_error = NULL, error_kind = NULL, error_count = 0, next_poll = ?,
                   catch_up = 0 WHERE id = ?""", (etag, last_modified, now, now, next_poll, feed_id))

    def feed_moved(self, feed_id: int, new_url: str) -> None:
        """A permanent redirect: fetch from `new_url` from now on (the feed keeps its id). What
        the new address serves is caught up with, silently, until a poll of it completes."""
        with self.transaction() as db:
            db.execute("UPDATE feeds SET fetch_url = ?, moved_to = ?, catch_up = 1 WHERE id = ?",
                       (new_url, new_url, feed_id))

    def set_feed_status(self, url: str, status: str, reason: str | None) -> bool:
        """Set a feed 'active' or 'disabled' (with the reason); False if no such feed is stored.
        A disabled feed made active again catches up silently with what it missed."""
        with self.transaction() as db:
            changed = db.execute("""UPDATE feeds SET status = ?, status_reason = ?, next_poll = NULL,
                                    catch_up = CASE WHEN status = 'disabled' AND ? = 'active' THEN 1 ELSE catch_up END
                                    WHERE url = ?""", (status, reason, status, url)).rowcount
        return changed == 1

    def parsed_feeds(self) -> set[str]:
        """The URLs of the feeds whose body has been read at least once."""
        return {row[0] for row in self.db.execute("SELECT url FROM feeds WHERE body_hash IS NOT NULL")}

    def feeds(self, counts: bool = True) -> list[FeedRow]:
        """Every stored feed for `newsmon status`: health, entries, its last alert, and how many
        entries it recorded without alerting, by why. `counts=False`: its health only (what
        `run --once` reports), without the counts, which read every entry of every feed."""
        self.flush()
        rows = self.db.execute(
            """SELECT f.*, (SELECT COUNT(*) FROM entries e WHERE e.feed_id = f.id) AS entries
               FROM feeds f ORDER BY f.id""" if counts else "SELECT f.*, 0 AS entries FROM feeds f ORDER BY f.id"
        ).fetchall()
        last_alert: dict[int, float] = {}
        quiet: dict[int, dict[str, int]] = {}
        if counts:
            last_alert = dict(self.db.execute(
                "SELECT feed_id, MAX(created) FROM alerts WHERE feed_id IS NOT NULL GROUP BY feed_id").fetchall())
            for feed_id, why, count in self.db.execute(
                    "SELECT feed_id, quiet, COUNT(*) FROM entries WHERE quiet IS NOT NULL GROUP BY feed_id, quiet"):
                quiet.setdefault(feed_id, {})[why] = count
        return [FeedRow(r["url"], r["title"], r["last_success"], r["last_error"], r["error_count"], r["entries"],
                        r["status"], r["error_kind"], r["next_poll"], r["last_attempt"], r["status_reason"],
                        r["fetch_url"], last_alert.get(r["id"]), quiet.get(r["id"], {})) for r in rows]
