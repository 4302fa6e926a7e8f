"""Stories as recorded: which articles and outlets each holds, which of them are copies of
another's text, what alerted on it, and repairs (a story found to be another, merged into it)."""

from __future__ import annotations

import dataclasses
import sqlite3

from monitor import times
from monitor.store.base import StoreBase
from monitor.model import SEVERITIES, AlertMessage, IncidentFacts
from monitor.store.rows import StoryArticle, StoryRow, dump_message, load_message

WAITING = ("pending", "held")  # alert statuses not yet handed to a service


class Stories(StoreBase):
    """The `stories` table, and what the alert path asks about a story."""

    def alerted(self, story_id: int) -> dict[str, int]:
        """Rule -> highest alert seq already queued for a story (any channel)."""
        rows = self.db.execute("SELECT rule, MAX(seq) FROM alerts WHERE story_id = ? GROUP BY rule", (story_id,))
        return {row[0]: row[1] for row in rows}

    def story_entities(self, story_id: int, rule: str) -> set[str]:
        """The entities (or bare terms) a rule has hit in any article of a story."""
        rows = self.db.execute(
            """SELECT DISTINCT COALESCE(h.entity, h.term) FROM hits h JOIN articles a ON a.id = h.article_id
               WHERE a.story_id = ? AND h.rule = ?""", (story_id, rule))
        return {row[0] for row in rows}

    def alerted_channels(self, story_id: int, rule: str) -> set[str]:
        """The channels that have an alert of a rule for a story (any seq, any status)."""
        rows = self.db.execute("SELECT DISTINCT channel FROM alerts WHERE story_id = ? AND rule = ?", (story_id, rule))
        return {row[0] for row in rows}

    def last_message(self, story_id: int, rule: str) -> AlertMessage | None:
        """What a rule's latest alert on a story said (its highest seq; any channel)."""
        row = self.db.execute("SELECT message FROM alerts WHERE story_id = ? AND rule = ? ORDER BY seq DESC, id DESC "
                              "LIMIT 1", (story_id, rule)).fetchone()
        return load_message(row[0]) if row else None

    def story_facts(self, story_id: int) -> str | None:
        """A story's gathered event facts (JSON of monitor.event_facts.EventFacts), None if not gathered."""
        row = self.db.execute("SELECT facts FROM stories WHERE id = ?", (story_id,)).fetchone()
        return row[0] if row else None

    def story_reports(self, story_id: int) -> list[tuple[bytes | None, str, str | None, int, float]]:
        """(features, outlet, url, article id, fetched) of a story's articles, first fetched first:
        what its facts are gathered from again (a story recorded before newsmon gathered facts)."""
        rows = self.db.execute("SELECT features, outlet, url, id, fetched FROM articles WHERE story_id = ? "
                               "ORDER BY fetched, id", (story_id,))
        return [tuple(row) for row in rows]

    def story_outlets(self, story_id: int) -> list[tuple[str, float, str | None]]:
        """(outlet, when it published the story, url) of each outlet that reported a story, in
        the order newsmon saw them: the time is the earliest its feed or page gave, else when
        newsmon first saw it."""
        rows = self.db.execute(
            """SELECT outlet, MIN(COALESCE(published, fetched)), url FROM articles WHERE story_id = ? GROUP BY outlet
               ORDER BY MIN(fetched)""",
            (story_id,))
        return [(row[0], row[1], row[2]) for row in rows]

    def independent_outlets(self, story_id: int) -> list[str]:
        """The outlets that reported a story in their own words, earliest first: an outlet whose
        only articles copy another's text (one wire story under many mastheads) is left out, so
        copies of one text count once. Articles recorded before newsmon knew copies (schema 10)
        each count as their own."""
        rows = self.db.execute(
            """SELECT outlet FROM articles WHERE story_id = ? AND copy_of IS NULL GROUP BY outlet
               ORDER BY MIN(fetched)""", (story_id,))
        return [row[0] for row in rows]

    def merge_stories(self, survivor: int, absorbed: int, why: str, now: float,
                      facts: str | None = None) -> tuple[int, int]:
        """Record that story `absorbed` is `survivor` (a later report joined both), in one
        transaction: its articles move; each of its alerts moves too unless the survivor holds
        one for the same rule, channel and seq, in which case the one not yet handed to a service
        is cancelled ('merged', with a note), so that the event alerts once per rule and channel;
        alerts already sent stay sent; the survivor's facts become `facts` (both events', gathered).
        Returns (alerts moved, alerts cancelled)."""
        moved = cancelled = 0
        with self.transaction() as db:
            db.execute("UPDATE articles SET story_id = ? WHERE story_id = ?", (survivor, absorbed))
            for row in db.execute("SELECT id, rule, channel, seq, status FROM alerts WHERE story_id = ?",
                                  (absorbed,)).fetchall():
                twin = db.execute("SELECT id, status FROM alerts WHERE story_id = ? AND rule = ? AND channel = ? AND seq = ?",
                                  (survivor, row["rule"], row["channel"], row["seq"])).fetchone()
                if twin is None:
                    db.execute("UPDATE alerts SET story_id = ? WHERE id = ?", (survivor, row["id"]))
                    moved += 1
                elif row["status"] in WAITING:
                    cancelled += _cancel(db, row["id"], f"merged into #{survivor}")
                elif twin["status"] in WAITING:  # this one went out already: the survivor's would repeat it
                    cancelled += _cancel(db, twin["id"], f"#{absorbed}, merged into this story, alerted already")
            db.execute("UPDATE stories SET merged_into = ?, merged_at = ?, merged_why = ? WHERE id = ?",
                       (survivor, now, why, absorbed))
            db.execute("UPDATE stories SET merged_into = ? WHERE merged_into = ?", (survivor, absorbed))
            if facts is not None:
                db.execute("UPDATE stories SET facts = ? WHERE id = ?", (facts, survivor))
            # someone handling the absorbed story handles the survivor (a silence on it follows by
            # its story matcher: see `merged_from`)
            db.execute("""INSERT OR IGNORE INTO acks (story_id, at, by, note)
                          SELECT ?, at, by, note FROM acks WHERE story_id = ?""", (survivor, absorbed))
        return moved, cancelled

    def merged_from(self, story_id: int) -> list[int]:
        """The stories merged into a story, first merged first."""
        rows = self.db.execute("SELECT id FROM stories WHERE merged_into = ? ORDER BY merged_at, id", (story_id,))
        return [row[0] for row in rows]

    def story_of(self, article_id: int) -> int | None:
        row = self.db.execute("SELECT story_id FROM articles WHERE id = ?", (article_id,)).fetchone()
        return row[0] if row else None

    def merged_into(self, story_id: int) -> int | None:
        """The story a story was merged into, if it was (None: its own, or unknown)."""
        row = self.db.execute("SELECT merged_into FROM stories WHERE id = ?", (story_id,)).fetchone()
        return row[0] if row else None

    def story_articles(self, story_id: int) -> list[StoryArticle]:
        """A story's articles, first fetched first."""
        rows = self.db.execute("""SELECT id, outlet, title, url, fetched, published, copy_of FROM articles
                                  WHERE story_id = ? ORDER BY fetched, id""", (story_id,))
        return [StoryArticle(*row) for row in rows]

    def article_features(self, article_id: int) -> tuple[bytes | None, str, str, float | None, str] | None:
        """An article's stored event features (None if it has none), title, text, publication
        time and outlet; None if there is no such article."""
        row = self.db.execute("SELECT features, title, text, published, outlet FROM articles WHERE id = ?",
                              (article_id,)).fetchone()
        return (row[0], row[1], row[2], row[3], row[4]) if row else None

    def stories(self, since: float, limit: int = 200, rule: str | None = None) -> list[StoryRow]:
        """Stories first seen since `since`, newest first (at most `limit`; only those `rule`
        matched, if given), with their articles, rules and the stories merged into them."""
        query = "SELECT id, first_seen, title, facts FROM stories s WHERE first_seen >= ? AND merged_into IS NULL"
        params: list = [since]
        if rule is not None:
            query += (" AND EXISTS (SELECT 1 FROM hits h JOIN articles a ON a.id = h.article_id "
                      "WHERE a.story_id = s.id AND h.rule = ?)")
            params.append(rule)
        out = []
        for story in self.db.execute(query + " ORDER BY first_seen DESC LIMIT ?", (*params, limit)).fetchall():
            rules = [row[0] for row in self.db.execute(
                "SELECT DISTINCT h.rule FROM hits h JOIN articles a ON a.id = h.article_id WHERE a.story_id = ? "
                "AND h.rule != '' ORDER BY h.rule", (story[0],))]
            merged = self.db.execute("SELECT id, title, merged_at, merged_why FROM stories WHERE merged_into = ? "
                                     "ORDER BY merged_at, id", (story[0],)).fetchall()
            out.append(StoryRow(story[0], story[1], story[2], tuple(self.story_articles(story[0])), tuple(rules),
                                tuple(tuple(row) for row in merged), tuple(self.independent_outlets(story[0])),
                                story[3]))
        return out


def refresh_waiting(db: sqlite3.Connection, story_id: int, said: IncidentFacts | None,
                    severities: dict[str, str] | None, leads: dict[str, AlertMessage] | None = None,
                    article_id: int | None = None) -> None:
    """The alerts of a story that wait (pending or held) say its facts as they are now (`said`),
    and each "auto" rule's alerts rise to the severity it has now (`severities`; never lower).
    One held for quiet hours whose severity rose waits no more: the drain judges it again at once
    (a rise to `quiet_min_severity` releases it; below that it is held again, with why).

    A story's first alert of a rule that no send has tried yet is headed by the report of
    `article_id` (`leads`: rule -> the message with it at its head) when that report was
    published earlier than the one at its head now (`Router.alerts_for`)."""
    rows = db.execute("SELECT id, rule, message, held, seq, attempts FROM alerts WHERE story_id = ? "
                      "AND status IN ('pending', 'held')", (story_id,)).fetchall()
    for alert_id, rule, text, held, seq, attempts in rows:
        message = fresh = load_message(text)
        lead = (leads or {}).get(rule)
        if lead is not None and seq == 0 and not attempts and _earlier(lead.published, message.published):
            fresh = dataclasses.replace(lead, severity=message.severity)  # (raised below if need be)
            if message.near_km is not None and (lead.near_km is None or message.near_km < lead.near_km):
                # how close the event is to a watched site is the event's: the report nearest says it
                fresh = dataclasses.replace(fresh, **{name: getattr(message, name) for name in NEAR})
            db.execute("UPDATE alerts SET article_id = ? WHERE id = ?", (article_id, alert_id))
        if said is not None:
            fresh = dataclasses.replace(fresh, event_type=said.event_type, killed=said.killed, injured=said.injured,
                                        killed_low=said.killed_low, injured_low=said.injured_low,
                                        claimed_by=said.claimed_by, place=said.place, place_precision=said.precision)
        severity = (severities or {}).get(rule)
        raised = severity is not None and SEVERITIES.index(message.severity) < SEVERITIES.index(severity)
        if raised:
            fresh = dataclasses.replace(fresh, severity=severity)
        if fresh != message:
            db.execute("UPDATE alerts SET message = ? WHERE id = ?", (dump_message(fresh), alert_id))
        if raised and held and held.startswith("quiet hours"):
            db.execute("UPDATE alerts SET status = 'pending', held = NULL, next_attempt = MIN(next_attempt, created) "
                       "WHERE id = ?", (alert_id,))


NEAR = ("near_km", "near_site", "near_precision", "near_place")  # an AlertMessage's proximity to a watched site


def _earlier(one: str | None, other: str | None) -> bool:
    """Whether the time `one` (ISO 8601, as `AlertMessage.published`) is before `other`; False
    when either is unknown."""
    first, second = times.instant(one), times.instant(other)
    return first is not None and second is not None and first < second


def _cancel(db: sqlite3.Connection, alert_id: int, note: str) -> int:
    return db.execute("UPDATE alerts SET status = 'merged', note = ? WHERE id = ? AND status IN ('pending', 'held')",
                      (note, alert_id)).rowcount
