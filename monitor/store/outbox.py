"""The outbox: alerts queued per channel, claimed, sent or retried; and newsmon's own notices."""

from __future__ import annotations

import time

from monitor.model import AlertMessage, PendingAlert
from monitor.store.base import StoreBase
from monitor.store.rows import AlertRow, _dump, _load


class Outbox(StoreBase):
    """The `alerts` table."""

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

    def pending(self, channel: str, now: float, *, retry_now: bool = False, limit: int = 100) -> list[PendingAlert]:
        """Pending alerts of a channel due by `now`, oldest first. `retry_now` also takes failed
        ones still in their retry backoff (not those waiting for their first attempt)."""
        query = "SELECT * FROM alerts WHERE channel = ? AND status = 'pending' AND (next_attempt <= ?"
        query += " OR attempts > 0)" if retry_now else ")"
        params: list = [channel, now]
        rows = self.db.execute(query + " ORDER BY id LIMIT ?", (*params, limit)).fetchall()
        return [PendingAlert(r["id"], r["rule"], r["story_id"], r["channel"], r["attempts"], _load(r["message"]),
                             r["created"]) for r in rows]

    def claim(self, alert_id: int) -> bool:
        """Mark a pending alert as being sent; False if it is no longer pending (someone else
        took it, or it was sent meanwhile)."""
        with self.transaction() as db:
            changed = db.execute("UPDATE alerts SET status = 'sending', attempts = attempts + 1 "
                                 "WHERE id = ? AND status = 'pending'", (alert_id,)).rowcount
        return changed == 1

    def mark_sent(self, alert_id: int) -> None:
        with self.transaction() as db:
            db.execute("UPDATE alerts SET status = 'sent', sent = ?, last_error = NULL WHERE id = ?", (time.time(), alert_id))

    def mark_failed(self, alert_id: int, error: str, next_attempt: float) -> None:
        with self.transaction() as db:
            db.execute("UPDATE alerts SET status = 'pending', last_error = ?, next_attempt = ? WHERE id = ?",
                       (error, next_attempt, alert_id))

    def alerts(self, limit: int = 50, status: str | None = None) -> list[AlertRow]:
        query = "SELECT * FROM alerts"
        params: tuple = ()
        if status:
            query += " WHERE status = ?"
            params = (status,)
        rows = self.db.execute(query + " ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        out = []
        for r in rows:
            message = _load(r["message"])
            out.append(AlertRow(r["id"], r["rule"], r["channel"], r["status"], r["attempts"], r["created"],
                                r["sent"], r["last_error"], message.title, message.url))
        return out

    def alert_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall())
