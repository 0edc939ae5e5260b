"""The audit log: who did what to which target, when and from where, per org."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from livereport.store.metadata.base import Tables
from livereport.store.records import Org

#: Most audit entries one read returns.
AUDIT_PAGE = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    created REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    address TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_by_org ON audit_log (org_id, id);
"""


@dataclass(frozen=True)
class AuditEntry:
    """One admin action: who did what to which target, when and from where."""

    id: int
    created: float
    actor: str
    action: str
    target: str
    address: str

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.created,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "address": self.address,
        }


class AuditRecords(Tables):
    def audit(self, org_id: int, actor: str, action: str, target: str, address: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO audit_log (org_id, created, actor, action, target, address) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (org_id, time.time(), actor[:200], action[:100], target[:300], address[:100]),
            )

    def audit_log(self, org: Org, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
        """The org's latest admin actions, newest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT id, created, actor, action, target, address FROM audit_log "
                "WHERE org_id = ? ORDER BY id DESC LIMIT ?",
                (org.id, max(1, min(limit, AUDIT_PAGE))),
            ).fetchall()
        return [AuditEntry(*row) for row in rows]
