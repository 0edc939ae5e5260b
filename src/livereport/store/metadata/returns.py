"""Returned mails that made no event (returns/intake.py), kept for admins with their raw
message, once per org and digest."""

from __future__ import annotations

import base64

from livereport.store.metadata.base import Tables
from livereport.store.records import KeptReturn

SCHEMA = """
CREATE TABLE IF NOT EXISTS kept_returns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    digest TEXT NOT NULL,
    received REAL NOT NULL,
    kind TEXT NOT NULL,
    category TEXT,
    reason TEXT,
    status TEXT,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    why TEXT NOT NULL,
    message TEXT NOT NULL,
    UNIQUE (org_id, digest)
);
"""


class ReturnRecords(Tables):
    def keep_return(self, org_id: int, kept: KeptReturn, message: bytes) -> bool:
        """Keep a returned mail once per org (by digest); False when it was kept already.

        The raw message is kept (base64) so an admin can still act on it.
        """
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO kept_returns (org_id, digest, received, kind, category, reason, "
                "status, rule, subject, why, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (org_id, digest) DO NOTHING",
                (
                    org_id,
                    kept.digest,
                    kept.received,
                    kept.kind,
                    kept.category,
                    kept.reason,
                    kept.status,
                    kept.rule,
                    kept.subject,
                    kept.why,
                    base64.b64encode(message).decode(),
                ),
            )
        return cur.rowcount == 1

    def kept_returns(
        self, org_id: int, limit: int = 100, before: int | None = None
    ) -> list[KeptReturn]:
        """The org's kept returns, newest first (``before``: only ids below it, for paging)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT id, digest, received, kind, category, reason, status, rule, subject, why "
                "FROM kept_returns WHERE org_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
                (org_id, before if before is not None else 2**62, limit),
            ).fetchall()
        return [
            KeptReturn(digest, received, kind, category, reason, status, rule, subject, why, id_)
            for id_, digest, received, kind, category, reason, status, rule, subject, why in rows
        ]

    def kept_return_message(self, org_id: int, return_id: int) -> bytes | None:
        """The raw message of one kept return of the org, if there is one by that id."""
        with self._db() as db:
            row = db.execute(
                "SELECT message FROM kept_returns WHERE org_id = ? AND id = ?", (org_id, return_id)
            ).fetchone()
        return base64.b64decode(row[0]) if row else None
