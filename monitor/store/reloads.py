"""Reloads: each reload's outcome as the daemon recorded it, for `newsmon reload` to wait for
and show."""

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
    """The `reloads` table."""

    def record_reload(self, *, at: float, pid: int, applied: bool, lines: list[str]) -> int:
        with self.transaction() as db:
            return db.execute("INSERT INTO reloads (at, pid, applied, lines) VALUES (?, ?, ?, ?)",
                              (at, pid, int(applied), json.dumps(lines, ensure_ascii=False))).lastrowid

    def last_reload(self) -> Reload | None:
        row = self.db.execute("SELECT * FROM reloads ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return Reload(row["id"], row["at"], row["pid"], bool(row["applied"]), tuple(json.loads(row["lines"])))
