"""Silences and acknowledgements: who muted what until when and why, what each silence held,
and who is handling which story."""

from __future__ import annotations

import json
from collections.abc import Iterable

from monitor.model import Ack, PendingAlert, Silence
from monitor.store.base import StoreBase
from monitor.store.outbox import DEAD_AFTER, pending_alert
from monitor.store.rows import load_message



class Silences(StoreBase):
    """The `silences` and `acks` tables, and the alerts they hold."""

    def add_silence(self, matchers: dict, ends: float, reason: str, now: float, *, by: str | None = None,
                    resend: bool = False) -> int:
        """Record a silence; returns its id. It applies from the next delivery round on."""
        with self.transaction() as db:
            return db.execute("INSERT INTO silences (created, ends, matchers, reason, by, resend) VALUES (?, ?, ?, ?, ?, ?)",
                              (now, ends, json.dumps(matchers, sort_keys=True), reason, by, int(resend))).lastrowid

    def silences(self, *, active_at: float | None = None, ids: Iterable[int] | None = None) -> list[Silence]:
        """Silences, newest first: only those still in force at `active_at`, if given."""
        query, params = "SELECT s.*, (SELECT COUNT(*) FROM alerts a WHERE a.silence_id = s.id) AS held FROM silences s", []
        if active_at is not None:
            query += " WHERE s.expired IS NULL AND s.ends > ?"
            params.append(active_at)
        if ids is not None:
            wanted = list(ids)
            query += (" AND" if params else " WHERE") + f" s.id IN ({', '.join('?' * len(wanted))})"
            params.extend(wanted)
        return [_silence(row) for row in self.db.execute(query + " ORDER BY s.id DESC", params).fetchall()]

    def expire_silence(self, silence_id: int, now: float) -> bool:
        """End a silence now (the next delivery round handles its end). False if there is no
        such silence in force."""
        with self.transaction() as db:
            return db.execute("UPDATE silences SET expired = ? WHERE id = ? AND expired IS NULL AND ends > ?",
                              (now, silence_id, now)).rowcount == 1

    def silence_alerts(self, silenced: Iterable[tuple[int, int]]) -> None:
        """(alert id, silence id): these waiting alerts are silenced, not sent."""
        with self.transaction() as db:
            db.executemany("UPDATE alerts SET status = 'silenced', silence_id = ?, note = ? WHERE id = ? "
                           "AND status = 'pending'", [(silence, f"silenced by silence {silence}", alert)
                                                      for alert, silence in silenced])

    def quiet_alerts(self, alert_ids: Iterable[int], note: str) -> None:
        """Waiting alerts recorded as not sent on purpose (a channel's quiet_after_ack)."""
        with self.transaction() as db:
            db.executemany("UPDATE alerts SET status = 'silenced', note = ? WHERE id = ? AND status = 'pending'",
                           [(note, alert) for alert in alert_ids])

    def ended_silences(self, now: float) -> list[Silence]:
        """Silences that have ended (their time ran out, or 'silence expire') and whose end was
        not handled yet."""
        rows = self.db.execute(
            "SELECT s.*, (SELECT COUNT(*) FROM alerts a WHERE a.silence_id = s.id) AS held FROM silences s "
            "WHERE s.announced IS NULL AND (s.expired IS NOT NULL OR s.ends <= ?) ORDER BY s.id", (now,))
        return [_silence(row) for row in rows.fetchall()]

    def end_silence(self, silence: Silence, now: float) -> int:
        """Handle a silence's end, once: with `resend`, what it held is pending again (48 h
        from now). Returns how many alerts were queued again."""
        with self.transaction() as db:
            if db.execute("UPDATE silences SET announced = ? WHERE id = ? AND announced IS NULL",
                          (now, silence.id)).rowcount != 1:
                return 0
            if not silence.resend:
                return 0
            return db.execute(f"UPDATE alerts SET status = 'pending', next_attempt = ?, expires = ? + {DEAD_AFTER}, "
                              "note = ? WHERE silence_id = ? AND status = 'silenced'",
                              (now, now, f"held by silence {silence.id}, sent when it ended", silence.id)).rowcount

    def pending_everywhere(self) -> list[PendingAlert]:
        """Every channel's waiting alerts, oldest first (for silences, which apply at send time)."""
        return [pending_alert(row) for row in self.db.execute("SELECT * FROM alerts WHERE status = 'pending' ORDER BY id")]

    # ------------------------------------------------------------ acknowledgements

    def acknowledge(self, story_id: int, now: float, by: str | None = None, note: str | None = None) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO acks (story_id, at, by, note) VALUES (?, ?, ?, ?) ON CONFLICT (story_id) DO UPDATE "
                       "SET at = excluded.at, by = excluded.by, note = excluded.note", (story_id, now, by, note))

    def unacknowledge(self, story_id: int) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM acks WHERE story_id = ?", (story_id,)).rowcount == 1

    def ack(self, story_id: int) -> Ack | None:
        row = self.db.execute("SELECT story_id, at, by, note FROM acks WHERE story_id = ?", (story_id,)).fetchone()
        return Ack(*row) if row else None

    # ------------------------------------------------------------ what `status` and /metrics show

    def held_summary(self) -> list[tuple[str, str, int, float, float]]:
        """(channel, why, how many, earliest release time, oldest queued) of held alerts."""
        return [tuple(row) for row in self.db.execute(
            "SELECT channel, held, COUNT(*), MIN(next_attempt), MIN(created) FROM alerts WHERE status = 'held' "
            "GROUP BY channel, held ORDER BY channel, held")]

    def unacknowledged(self, since: float, severity: str = "critical") -> list[tuple[int, str, float, list[str]]]:
        """(story, title, first sent, channels) of stories whose alerts of `severity` were sent
        since `since` and that nobody has acknowledged, oldest first (newsmon's notices and
        escalations left out)."""
        out: dict[int, tuple[int, str, float, list[str]]] = {}
        rows = self.db.execute("""SELECT a.story_id, a.message, a.sent, a.channel FROM alerts a
                                  LEFT JOIN acks k ON k.story_id = a.story_id
                                  WHERE a.status = 'sent' AND a.sent >= ? AND a.seq >= 0 AND a.rule NOT LIKE 'newsmon:%'
                                  AND k.story_id IS NULL ORDER BY a.sent""", (since,))
        for story, text, sent, channel in rows:
            message = load_message(text)
            if message.severity != severity:
                continue
            known = out.setdefault(story, (story, message.title, sent, []))
            if channel not in known[3]:
                known[3].append(channel)
        return list(out.values())

    def story_exists(self, story_id: int) -> bool:
        return self.db.execute("SELECT 1 FROM stories WHERE id = ?", (story_id,)).fetchone() is not None


def _silence(row) -> Silence:
    return Silence(row["id"], row["created"], row["ends"], json.loads(row["matchers"]), row["reason"], row["by"],
                   bool(row["resend"]), row["expired"], row["announced"], row["held"])
