"""The log of alert notifications (alerts/service.py sends them): each delivery is claimed
for a lease, so one app node sends it, and another takes it over if that node dies."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from livereport.store.metadata.alerts import isoformat
from livereport.store.metadata.base import Tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_deliveries (
    id TEXT PRIMARY KEY,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    alert_id INTEGER,
    event TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at REAL NOT NULL,
    claimed_until REAL,
    status INTEGER,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_deliveries_due ON alert_deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS alert_deliveries_by_org ON alert_deliveries (org_id, created);
"""

_DELIVERY_COLUMNS = (
    "id, org_id, alert_id, event, kind, target, body, state, attempts, next_at, status, "
    "error, created, updated"
)
#: Most entries of the delivery log one read returns, newest first.
DELIVERY_PAGE = 200


@dataclass(frozen=True)
class Delivery:
    id: str
    org_id: int
    alert_id: int | None
    event: str
    kind: str
    target: str
    body: str
    state: str
    attempts: int
    next_at: float
    status: int | None
    error: str | None
    created: float
    updated: float

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "alert": self.alert_id,
            "event": self.event,
            "kind": self.kind,
            "target": self.target,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt": isoformat(self.next_at) if self.state == "pending" else None,
            "status": self.status,
            "error": self.error,
            "created": isoformat(self.created),
            "updated": isoformat(self.updated),
        }


@dataclass(frozen=True)
class NewDelivery:
    org_id: int
    alert_id: int | None
    event: str
    kind: str
    target: str
    body: str


class DeliveryRecords(Tables):
    def add_deliveries(self, items: Iterable[NewDelivery], now: float) -> list[str]:
        ids = []
        with self._db() as db:
            for item in items:
                delivery_id = str(uuid.uuid4())
                db.execute(
                    f"INSERT INTO alert_deliveries ({_DELIVERY_COLUMNS}) "  # noqa: S608
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, NULL, NULL, ?, ?)",
                    (
                        delivery_id,
                        item.org_id,
                        item.alert_id,
                        item.event,
                        item.kind,
                        item.target,
                        item.body,
                        now,
                        now,
                        now,
                    ),
                )
                ids.append(delivery_id)
        return ids

    def claim_deliveries(self, now: float, lease_s: float, limit: int = 50) -> list[Delivery]:
        """Due deliveries, each claimed for ``lease_s`` by this caller: another node does not
        send it meanwhile, and takes it over if this one dies before finishing."""
        with self._db() as db:
            rows = db.execute(
                f"SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries WHERE state = 'pending' "  # noqa: S608
                "AND next_at <= ? AND (claimed_until IS NULL OR claimed_until < ?) "
                "ORDER BY next_at LIMIT ?",
                (now, now, limit),
            ).fetchall()
            claimed = []
            for row in rows:
                cur = db.execute(
                    "UPDATE alert_deliveries SET claimed_until = ? WHERE id = ? "
                    "AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)",
                    (now + lease_s, row[0], now),
                )
                if cur.rowcount == 1:
                    claimed.append(Delivery(*row))
        return claimed

    def finish_delivery(
        self,
        delivery_id: str,
        *,
        state: str,
        attempts: int,
        next_at: float,
        status: int | None,
        error: str | None,
    ) -> None:
        with self._db() as db:
            db.execute(
                "UPDATE alert_deliveries SET state = ?, attempts = ?, next_at = ?, "
                "claimed_until = NULL, status = ?, error = ?, updated = ? WHERE id = ?",
                (state, attempts, next_at, status, error, time.time(), delivery_id),
            )

    def deliveries(
        self, org_id: int, alert_id: int | None = None, limit: int = DELIVERY_PAGE
    ) -> list[Delivery]:
        sql = f"SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries WHERE org_id = ?"  # noqa: S608
        params: list[Any] = [org_id]
        if alert_id is not None:
            sql += " AND alert_id = ?"
            params.append(alert_id)
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY created DESC LIMIT ?", [*params, limit]).fetchall()
        return [Delivery(*r) for r in rows]

    def prune_deliveries(self, before: float) -> int:
        """Forget finished deliveries last changed before ``before`` (the log keeps as many
        days as the events)."""
        with self._db() as db:
            cur = db.execute(
                "DELETE FROM alert_deliveries WHERE state != 'pending' AND updated < ?", (before,)
            )
        return int(cur.rowcount)
