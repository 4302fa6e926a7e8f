"""The outbox: alerts queued per channel, delivered (to each of the channel's targets), dead
after their deadline; each channel's delivery state; and newsmon's own notices."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.model import REFUSALS_TO_FAIL, AlertMessage, PendingAlert
from monitor.store.base import StoreBase
from monitor.store.rows import AlertRow, ChannelState, dump_message, load_message

DEAD_AFTER = 48 * 3600.0  # an alert still unsent this long after it was queued is dead
DEAD_MIN_FAILURES = 3  # ... and only while its channel's attempts keep failing
REFUSAL_WAIT = 60.0  # seconds before trying a refused alert again, times its refusals so far
STATE_FIELDS = ("failures", "retry_at", "last_error", "digest_since", "fold_until", "window_start", "failing_since",
                "failing_notice", "heartbeat_at")


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
                [(rule, story, channel, now, now, dump_message(message)) for channel in channels])
        return story

    def recover(self) -> int:
        """Return alerts left 'sending' by a crash to 'pending'; returns how many."""
        with self.transaction() as db:
            return db.execute("UPDATE alerts SET status = 'pending' WHERE status = 'sending'").rowcount

    def pending_channels(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT channel FROM alerts WHERE status = 'pending' "
                               "OR (status = 'held' AND held LIKE 'quiet hours%') ORDER BY channel")
        return [row[0] for row in rows]

    def pending(self, channel: str, now: float, *, limit: int | None = 100) -> list[PendingAlert]:
        """A channel's pending alerts due by `now` (a rule's group_wait may hold one back),
        oldest first."""
        query = "SELECT * FROM alerts WHERE channel = ? AND status = 'pending' AND next_attempt <= ? ORDER BY id"
        params: tuple = (channel, now)
        if limit is not None:
            query += " LIMIT ?"
            params += (limit,)
        return [pending_alert(row) for row in self.db.execute(query, params).fetchall()]

    def begin_attempt(self, alert_ids: Iterable[int], now: float) -> None:
        """Record that these alerts are about to be handed to a service ('sending', one more
        attempt), before they are: if this cannot be written, nothing is sent, so a store that
        cannot record stops the sending instead of repeating it. An alert left 'sending' (the
        process died mid-send, or the outcome could not be recorded) is pending again at the
        next start: at most one duplicate per fault."""
        with self.transaction() as db:
            db.executemany("UPDATE alerts SET status = 'sending', attempts = attempts + 1, last_attempt = ? "
                           "WHERE id = ? AND status IN ('pending', 'sending')", [(now, alert_id) for alert_id in alert_ids])

    def mark_delivered(self, alert_ids: Iterable[int], targets: Iterable[str], now: float, via: str,
                       required: Iterable[str], error: str | None = None, refused: Iterable[str] = ()) -> int:
        """Record an attempt's outcome, in one transaction: `targets` accepted these alerts
        (and, with `error`, others did not; `refused`: those that refused them for good). An
        alert every `required` target has accepted is sent (`via` 'alert', 'digest' or
        'summary'). One refused `REFUSALS_TO_FAIL` times fails for the targets that refused it
        (status 'failed' once no other target is left to try), and waits a little before its
        next try meanwhile; the channel's other alerts go on. Returns how many became sent."""
        targets, required, refused = set(targets), set(required), set(refused)
        done = 0
        with self.transaction() as db:
            for alert_id in alert_ids:
                row = db.execute("SELECT delivered, refused, refusals FROM alerts WHERE id = ?", (alert_id,)).fetchone()
                if row is None:
                    continue
                delivered = set(row["delivered"].split()) | targets
                refusals = row["refusals"] + (1 if refused else 0)
                given_up = set(row["refused"].split()) | (refused if refusals >= REFUSALS_TO_FAIL else set())
                if required <= delivered:
                    status, next_attempt = "sent", now
                elif required <= delivered | given_up:
                    status, next_attempt = "failed", now
                else:
                    status = "pending"
                    next_attempt = now + REFUSAL_WAIT * refusals if refused else now
                db.execute("""UPDATE alerts SET delivered = ?, refused = ?, refusals = ?, status = ?, next_attempt = ?,
                              last_attempt = COALESCE(last_attempt, ?),
                              sent = CASE WHEN ? = 'sent' THEN ? ELSE sent END,
                              via = CASE WHEN ? = 'sent' THEN ? ELSE via END,
                              last_error = CASE WHEN ? = 'sent' THEN NULL ELSE COALESCE(?, last_error) END
                              WHERE id = ?""",
                           (" ".join(sorted(delivered)), " ".join(sorted(given_up)), refusals, status, next_attempt, now,
                            status, now, status, via, status, error, alert_id))
                done += status == "sent"
        return done

    def held(self) -> list[PendingAlert]:
        """Alerts held until their story is corroborated (a channel's min_outlets), oldest first."""
        return [pending_alert(row) for row in self.db.execute(
            "SELECT * FROM alerts WHERE status = 'held' AND held LIKE 'min_outlets%' ORDER BY id")]

    def hold_quiet(self, alert_ids: Iterable[int], until: float, why: str) -> None:
        """Waiting alerts held for a channel's quiet hours until `until` (their 48-hour deadline
        counts from then)."""
        with self.transaction() as db:
            db.executemany(f"UPDATE alerts SET status = 'held', held = ?, next_attempt = ?, expires = ? + {DEAD_AFTER} "
                           "WHERE id = ? AND status = 'pending'", [(why, until, until, alert) for alert in alert_ids])

    def quiet_due(self, channel: str, now: float) -> list[PendingAlert]:
        """A channel's alerts held for quiet hours that have ended, oldest first."""
        return [pending_alert(row) for row in self.db.execute(
            "SELECT * FROM alerts WHERE channel = ? AND status = 'held' AND held LIKE 'quiet hours%' "
            "AND next_attempt <= ? ORDER BY id", (channel, now))]

    def unescalated(self, channel: str, sent_before: float, sent_after: float) -> list[PendingAlert]:
        """A channel's alerts (not follow-ups' escalations) sent between the two times and never
        escalated, oldest first."""
        return [pending_alert(row) for row in self.db.execute(
            "SELECT * FROM alerts WHERE channel = ? AND status = 'sent' AND seq >= 0 AND escalated IS NULL "
            "AND sent <= ? AND sent >= ? ORDER BY id", (channel, sent_before, sent_after))]

    def escalate(self, alert_id: int, to: str, message: AlertMessage, now: float) -> bool:
        """Record an alert's escalation, once: a new alert of its rule and story on channel `to`
        (seq -1 - its own, so it never collides with the story's alerts there). False if it was
        escalated already."""
        with self.transaction() as db:
            if db.execute("UPDATE alerts SET escalated = ? WHERE id = ? AND escalated IS NULL", (now, alert_id)).rowcount != 1:
                return False
            db.execute("""INSERT OR IGNORE INTO alerts (rule, story_id, channel, seq, article_id, next_attempt, created,
                          message, feed_id) SELECT rule, story_id, ?, -1 - seq, article_id, ?, ?, ?, feed_id
                          FROM alerts WHERE id = ?""", (to, now, now, dump_message(message), alert_id))
        return True

    def release(self, alert_ids: Iterable[int], now: float) -> None:
        """Held alerts become pending; their 48-hour deadline counts from now, their release."""
        with self.transaction() as db:
            db.executemany(f"UPDATE alerts SET status = 'pending', expires = ? + {DEAD_AFTER} WHERE id = ? AND status = 'held'",
                           [(now, alert_id) for alert_id in alert_ids])

    def not_corroborated(self, alert_ids: Iterable[int], note: str) -> None:
        """Held alerts whose story no other outlet reported in time: recorded, never sent."""
        with self.transaction() as db:
            db.executemany("UPDATE alerts SET status = 'uncorroborated', note = ? WHERE id = ? AND status = 'held'",
                           [(note, alert_id) for alert_id in alert_ids])

    def failed_since(self, since: float) -> list[AlertRow]:
        """Alerts that failed for good (a service refused them) since `since`, oldest first."""
        rows = self.db.execute("SELECT * FROM alerts WHERE status = 'failed' AND last_attempt >= ? ORDER BY id", (since,))
        return [_row(row) for row in rows.fetchall()]

    def expire(self, now: float, configured: Iterable[str]) -> list[AlertRow]:
        """Alerts past their deadline (48 h after they were queued, or after a hold) become
        'dead' when delivery really has been failing: their channel's last `DEAD_MIN_FAILURES`
        attempts or more all failed (or the channel is not configured any more). A clock that
        jumps ahead alone kills nothing: a healthy channel just sends them. Returns them."""
        names = sorted(set(configured))
        query = f"""SELECT alerts.* FROM alerts LEFT JOIN channels ON channels.name = alerts.channel
                    WHERE alerts.status = 'pending' AND COALESCE(alerts.expires, alerts.created + {DEAD_AFTER}) <= ?
                    AND (COALESCE(channels.failures, 0) >= {DEAD_MIN_FAILURES}
                         OR alerts.channel NOT IN ({', '.join('?' * len(names))}))
                    ORDER BY alerts.id"""
        if not self.db.execute(query + " LIMIT 1", (now, *names)).fetchone():
            return []  # the usual case: no write transaction at all
        with self.transaction() as db:
            rows = db.execute(query, (now, *names)).fetchall()
            db.executemany("UPDATE alerts SET status = 'dead' WHERE id = ?", [(row["id"],) for row in rows])
        return [_row(row) for row in rows]

    def clock_stepped(self, delta: float, since: float | None = None) -> None:
        """The wall clock jumped by `delta` seconds while newsmon ran: what waits (alerts not
        yet sent, channels backing off or folding, feeds held back) keeps its real distance
        from now, and an alert's age counts real time. With `since` (a time on the new clock,
        before the step), a time from `since` on was set after the step, on the new clock,
        and stays; a deadline (`expires`) is judged by when it was set, 48 h before it."""
        def moved(column: str, reference: str = "") -> str:
            return f"{column} = CASE WHEN ?2 IS NULL OR {column}{reference} < ?2 THEN {column} + ?1 ELSE {column} END"

        with self.transaction() as db:
            db.execute(f"""UPDATE alerts SET {moved('created')}, {moved('next_attempt')},
                           {moved('expires', f' - {DEAD_AFTER}')} WHERE status IN ('pending', 'sending', 'held')""",
                       (delta, since))
            db.execute(f"""UPDATE channels SET {moved('retry_at')}, {moved('fold_until')}, {moved('window_start')},
                           {moved('digest_since')}, {moved('failing_since')}, {moved('heartbeat_at')}""", (delta, since))
            db.execute(f"UPDATE feeds SET {moved('next_poll')} WHERE next_poll IS NOT NULL", (delta, since))

    def hold(self, channel: str, until: float) -> None:
        """A channel's pending alerts are held back on purpose (a digest, flood control) until
        `until`: their 48 h deadline counts from then."""
        with self.transaction() as db:
            db.execute(f"""UPDATE alerts SET expires = ? + {DEAD_AFTER} WHERE channel = ? AND status = 'pending'
                           AND COALESCE(expires, created + {DEAD_AFTER}) < ? + {DEAD_AFTER}""", (until, channel, until))

    def retry_dead(self, now: float, ids: Iterable[int] | None = None) -> int:
        """Dead and failed alerts (all, or these ids) back to pending, with a fresh 48 h deadline
        and their refusals forgotten."""
        query = (f"UPDATE alerts SET status = 'pending', next_attempt = ?, expires = ? + {DEAD_AFTER}, refusals = 0, "
                 "refused = '' WHERE status IN ('dead', 'failed')")
        with self.transaction() as db:
            if ids is None:
                return db.execute(query, (now, now)).rowcount
            return sum(db.execute(query + " AND id = ?", (now, now, alert_id)).rowcount for alert_id in ids)

    def sends_since(self, channel: str, since: float) -> tuple[int, float | None]:
        """(how many messages `channel` sent since `since`: each alert sent alone, and each
        summary (quiet hours, flood control) as one; the earliest of them)."""
        count, earliest = self.db.execute(
            "SELECT COUNT(DISTINCT CASE WHEN via = 'alert' THEN 'a' || id ELSE 's' || sent END), MIN(sent) FROM alerts "
            "WHERE channel = ? AND sent > ? AND via IN ('alert', 'summary')", (channel, since)).fetchone()
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

    def alerts(self, limit: int | None = 50, status: str | tuple[str, ...] | None = None, since: float | None = None,
               oldest_first: bool = False) -> list[AlertRow]:
        query, params = "SELECT * FROM alerts WHERE 1 = 1", []
        if status:
            statuses = (status,) if isinstance(status, str) else status
            query += f" AND status IN ({', '.join('?' * len(statuses))})"
            params.extend(statuses)
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

    def alerted_since(self, since: float) -> int:
        """How many alerts (of a rule about a story, however many channels took it; not newsmon's
        own notices) were sent at or after `since`."""
        return self.db.execute("SELECT COUNT(*) FROM (SELECT DISTINCT rule, story_id, seq FROM alerts WHERE status = 'sent' "
                               "AND sent >= ? AND rule NOT LIKE 'newsmon:%')", (since,)).fetchone()[0]

    def alert_counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT status, COUNT(*) FROM alerts GROUP BY status").fetchall())


def pending_alert(r) -> PendingAlert:
    return PendingAlert(r["id"], r["rule"], r["story_id"], r["channel"], r["attempts"], load_message(r["message"]),
                        r["created"], frozenset(r["delivered"].split()), frozenset(r["refused"].split()), r["refusals"])


def _row(r) -> AlertRow:
    message = load_message(r["message"])
    return AlertRow(r["id"], r["rule"], r["channel"], r["status"], r["attempts"], r["created"], r["sent"],
                    r["last_error"], message.title, message.url, r["story_id"], r["via"], message.outlet,
                    message.published, message.severity, r["held"], r["note"])
