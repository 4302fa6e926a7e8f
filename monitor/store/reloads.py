"""The daemon's own records: each reload's outcome, for `newsmon reload` to wait for and show;
and its heartbeat, the proof that it can still write (for /healthz and `status`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from monitor.store.base import StoreBase


@dataclass(frozen=True)
class Reload:
    """One reload: whether the new configuration was applied, and what changed (by name) or
    every problem that made the daemon keep the old one."""

    id: int
    at: float
    pid: int
    applied: bool
    lines: tuple[str, ...]


class Reloads(StoreBase):
    """The `reloads` and `heartbeat` tables."""

    def record_reload(self, *, at: float, pid: int, applied: bool, lines: list[str]) -> int:
        with self.transaction() as db:
            return db.execute("INSERT INTO reloads (at, pid, applied, lines) VALUES (?, ?, ?, ?)",
                              (at, pid, int(applied), json.dumps(lines, ensure_ascii=False))).lastrowid

    def last_reload(self) -> Reload | None:
        row = self.db.execute("SELECT * FROM reloads ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return Reload(row["id"], row["at"], row["pid"], bool(row["applied"]), tuple(json.loads(row["lines"])))

    def heartbeat(self, at: float, pid: int) -> None:
        """A write that proves the database takes writes (the daemon's, every half minute)."""
        with self.transaction() as db:
            db.execute("INSERT INTO heartbeat (id, at, pid) VALUES (1, ?, ?) "
                       "ON CONFLICT(id) DO UPDATE SET at = excluded.at, pid = excluded.pid", (at, pid))

    def last_heartbeat(self) -> tuple[float, int] | None:
        """(when, by which pid) the daemon last recorded its heartbeat."""
        row = self.db.execute("SELECT at, pid FROM heartbeat WHERE id = 1").fetchone()
        return (row["at"], row["pid"]) if row else None
