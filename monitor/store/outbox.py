"""The outbox: alerts queued per channel, delivered (to each of the channel's targets), dead
after their deadline; each channel's delivery state; and newsmon's own notices."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.model import AlertMessage, PendingAlert
from monitor.store.base import StoreBase
from monitor.store.rows import AlertRow, ChannelState, _dump, _load

DEAD_AFTER = 48 * 3600.0  # an alert still unsent this long after it was queued is dead
STATE_FIELDS = ("failures", "retry_at", "last_error", "digest_since", "fold_until", "window_start")


class Outbox(StoreBase):
    """The `alerts` and `channels` tables."""

    def queue_notice(self, rule: str, channels: tuple[str, ...], message: AlertMessage, now: float) -> int:
        """Queue one of newsmon's own notices (not about an article) to `channels`, as its own
        story, through the same outbox as alerts. Returns the story id."""
        with self.transaction() as db:
            story = db.execute("INSERT INTO stories (first_seen, title, outlets) VALUES (?, ?, '[]')",
                               (now, message.title)).lastrowid
            db.executemany(
                """INSERT INTO alerts (rule, story_id, channel, seq, next_attempt, created, message)
                   VALUES (?, ?, ?, 0, ?, ?, ?)""",
                [(rule, story, channel, now, now, _dump(message)) for channel in channels])
        return story

    def recover(self) -> int:
        """Return alerts left 'sending' by a crash to 'pending'; returns how many."""
        with self.transaction() as db:
            return db.execute("UPDATE alerts SET status = 'pending' WHERE status = 'sending'").rowcount

    def pending_channels(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT channel FROM alerts WHERE status = 'pending' ORDER BY channel")
        return [row[0] for row in rows]

    def pending(self, channel: str, now: float, *, limit: int | None = 100) -> list[PendingAlert]:
        """A channel's pending alerts due by `now` (a rule's group_wait may hold one back),
        oldest first."""
        query = "SELECT * FROM alerts WHERE channel = ? AND status = 'pending' AND next_attempt <= ? ORDER BY id"
        params: tuple = (channel, now)
        if limit is not None:
            query += " LIMIT ?"
            params += (limit,)
        return [_pending(row) for row in self.db.execute(query, params).fetchall()]

    def mark_delivered(self, alert_ids: Iterable[int], targets: Iterable[str], now: float, via: str,
                       required: Iterable[str], error: str | None = None) -> int:
        """Record one attempt at these alerts, in one transaction: `targets` accepted them (and,
        with `error`, others did not). An alert every `required` target has accepted is sent
        (`via` 'alert', 'digest' or 'summary'). Returns how many became sent.

        There is no separate "claim" write before a send: if newsmon dies mid-send, the alert is
        still pending and goes again after the restart (at most one duplicate), which is what a
        claim would give, for one fsync less per alert."""
        targets, required = set(targets), set(required)
        done = 0
        with self.transaction() as db:
            for alert_id in alert_ids:
                row = db.execute("SELECT delivered FROM alerts WHERE id = ?", (alert_id,)).fetchone()
                if row is None:
                    continue
                delivered = set(row[0].split()) | targets
                if required <= delivered:
                    db.execute("UPDATE alerts SET delivered = ?, status = 'sent', sent = ?, via = ?, last_error = NULL, "
                               "attempts = attempts + 1 WHERE id = ?", (" ".join(sorted(delivered)), now, via, alert_id))
                    done += 1
                else:
                    db.execute("UPDATE alerts SET delivered = ?, status = 'pending', last_error = COALESCE(?, last_error), "
                               "attempts = attempts + 1 WHERE id = ?", (" ".join(sorted(delivered)), error, alert_id))
        return done

    def expire(self, now: float) -> list[AlertRow]:
        """Alerts still unsent past their deadline become 'dead'; returns them."""
        query = f"""SELECT * FROM alerts WHERE status IN ('pending', 'sending')
                    AND COALESCE(expires, created + {DEAD_AFTER}) <= ? ORDER BY id"""
        if not self.db.execute(query + " LIMIT 1", (now,)).fetchone():
            return []  # the usual case: no write transaction at all
        with self.transaction() as db:
            rows = db.execute(query, (now,)).fetchall()
            db.executemany("UPDATE alerts SET status = 'dead' WHERE id = ?", [(row["id"],) for row in rows])
        return [_row(row) for row in rows]

    def hold(self, channel: str, until: float) -> None:
        """A channel's pending alerts are held back on purpose (a digest, flood control) until
        `until`: their 48 h deadline counts from then."""
        with self.transaction() as db:
            db.execute(f"""UPDATE alerts SET expires = ? + {DEAD_AFTER} WHERE channel = ? AND status = 'pending'
                           AND COALESCE(expires, created + {DEAD_AFTER}) < ? + {DEAD_AFTER}""", (until, channel, until))

    def retry_dead(self, now: float, ids: Iterable[int] | None = None) -> int:
        """Dead alerts (all, or these ids) back to pending, with a fresh 48 h deadline."""
        query = f"UPDATE alerts SET status = 'pending', next_attempt = ?, expires = ? + {DEAD_AFTER} WHERE status = 'dead'"
        with self.transaction() as db:
            if ids is None:
                return db.execute(query, (now, now)).rowcount
            return sum(db.execute(query + " AND id = ?", (now, now, alert_id)).rowcount for alert_id in ids)

    def sends_since(self, channel: str, since: float) -> tuple[int, float | None]:
        """(how many alerts were sent alone on `channel` since `since`, the earliest of them)."""
        count, earliest = self.db.execute("SELECT COUNT(*), MIN(sent) FROM alerts WHERE channel = ? AND sent > ? "
                                          "AND via = 'alert'", (channel, since)).fetchone()
        return count, earliest

    def channel_state(self, name: str) -> ChannelState:
        row = self.db.execute("SELECT * FROM channels WHERE name = ?", (name,)).fetchone()
        return ChannelState(name, **{key: row[key] for key in STATE_FIELDS}) if row else ChannelState(name)

    def set_channel_state(self, name: str, **values: object) -> None:
        unknown = set(values) - set(STATE_FIELDS)
        if unknown:
            raise ValueError(f"unknown channel state fields: {sorted(unknown)}")
        columns = ", ".join(values)
        updates = ", ".join(f"{key} = excluded.{key}" for key in values)
        with self.transaction() as db:
            db.execute(f"INSERT INTO channels (name, {columns}) VALUES (?{', ?' * len(values)}) "
                       f"ON CONFLICT(name) DO UPDATE SET {updates}", (name, *values.values()))

    def alerts(self, limit: int | None = 50, status: str | None = None, since: float | None = None,
               oldest_first: bool = False) -> list[AlertRow]:
        query, params = "SELECT * FROM alerts WHERE 1 = 1", []
        if status:
            query += " AND status = ?"
            params.append(status)
        if since is not None:
            query += " AND COALESCE(sent, created) >= ?"
            params.append(since)
        query += " ORDER BY id" + ("" if oldest_first else " DESC")
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        return [_row(row) for row in self.db.execute(query, params).fetchall()]

    def oldest_pending(self, channel: str) -> float | None:
        """When the oldest alert still waiting on `channel` was queued."""
        return self.db.execute("SELECT MIN(created) FROM alerts WHERE channel = ? AND status = 'pending'",
                               (channel,)).fetchone()[0]

    def channel_counts(self) -> dict[str, dict[str, int]]:
        """{channel: {status: count}} over the whole outbox."""
        out: dict[str, dict[str, int]] = {}
        for channel, status, count in self.db.execute("SELECT channel, status, COUNT(*) FROM alerts GROUP BY channel, status"):
            out.setdefault(channel, {})[status] = count
        return out

    def sent_since(self, since: float) -> int:
        """How many alerts were sent (alone, in a digest or a summary) at or after `since`."""
        return self.db.execute("SELECT COUNT(*) FROM alerts WHERE status = 'sent' AND sent >= ?", (since,)).fetchone()[0]

    def alert_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall())


def _pending(r) -> PendingAlert:
    return PendingAlert(r["id"], r["rule"], r["story_id"], r["channel"], r["attempts"], _load(r["message"]),
                        r["created"], frozenset(r["delivered"].split()))


def _row(r) -> AlertRow:
    message = _load(r["message"])
    return AlertRow(r["id"], r["rule"], r["channel"], r["status"], r["attempts"], r["created"], r["sent"],
                    r["last_error"], message.title, message.url, r["story_id"], r["via"], message.outlet,
                    message.published, message.severity)
