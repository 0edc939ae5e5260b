"""Alert records: each org's rules, its signing secret and SMTP server, and the alerts
themselves (the log of their notifications is store/metadata/deliveries.py).

Every change that must happen once, whichever app node attempts it, is one guarded
statement: an alert opens only where no alert of the same rule and subject is firing (a
partial unique index), resolves only from firing and pauses only once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from livereport.errors import NotFound
from livereport.store.metadata.base import Tables

SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_rule_sets (
    org_id INTEGER PRIMARY KEY REFERENCES orgs(id),
    rules TEXT NOT NULL,
    updated REAL NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_secrets (
    org_id INTEGER PRIMARY KEY REFERENCES orgs(id),
    secret TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_smtp (
    org_id INTEGER PRIMARY KEY REFERENCES orgs(id),
    settings TEXT NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    rule TEXT NOT NULL,
    campaign TEXT NOT NULL,
    channel TEXT NOT NULL,
    dimension TEXT,
    dim_key TEXT NOT NULL,
    execution TEXT,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    metric TEXT NOT NULL,
    condition TEXT NOT NULL,
    threshold REAL,
    span_minutes INTEGER NOT NULL,
    value REAL,
    volume INTEGER NOT NULL,
    baseline REAL,
    fired_at REAL NOT NULL,
    resolved_at REAL,
    resolved_value REAL,
    resolved_volume INTEGER,
    acknowledged_by TEXT,
    acknowledged_at REAL,
    paused REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_firing
    ON alerts (org_id, rule, campaign, channel, dim_key) WHERE state = 'firing';
CREATE INDEX IF NOT EXISTS alerts_by_campaign ON alerts (org_id, campaign, id);
CREATE INDEX IF NOT EXISTS alerts_by_state ON alerts (state, org_id);
"""

_ALERT_COLUMNS = (
    "id, org_id, rule, campaign, channel, dimension, dim_key, execution, state, severity, "
    "metric, condition, threshold, span_minutes, value, volume, baseline, fired_at, "
    "resolved_at, resolved_value, resolved_volume, acknowledged_by, acknowledged_at, paused"
)
SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}


def isoformat(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return (
        datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def _number(value: float | None) -> float | int | None:
    """A stored REAL as the API shows it: counts as integers, rates as they are."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() and abs(value) >= 1 else float(value)


@dataclass(frozen=True)
class Alert:
    id: int
    org_id: int
    rule: str
    campaign: str
    channel: str
    dimension: str | None
    key: str
    execution: str | None
    state: str
    severity: str
    metric: str
    condition: str
    threshold: float | None
    span_minutes: int
    value: float | None
    volume: int
    baseline: float | None
    fired_at: float
    resolved_at: float | None
    resolved_value: float | None
    resolved_volume: int | None
    acknowledged_by: str | None
    acknowledged_at: float | None
    paused: float | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Alert:
        return cls(*row)

    def json(self) -> dict[str, Any]:
        """The alert as SPEC §10 fixes it, then what else a receiver needs to act on it."""
        return {
            "id": self.id,
            "rule": self.rule,
            "campaign": self.campaign,
            "channel": self.channel,
            "state": self.state,
            "severity": self.severity,
            "value": _number(self.value),
            "volume": self.volume,
            "fired_at": isoformat(self.fired_at),
            "resolved_at": isoformat(self.resolved_at),
            "acknowledged_by": self.acknowledged_by,
            "metric": self.metric,
            "condition": self.condition,
            "threshold": _number(self.threshold),
            "span_minutes": self.span_minutes,
            "execution": self.execution,
            "dimension": self.dimension,
            "key": self.key if self.dimension is not None else None,
            "baseline": _number(self.baseline),
            "acknowledged_at": isoformat(self.acknowledged_at),
            "resolved_value": _number(self.resolved_value),
            "resolved_volume": self.resolved_volume,
        }


@dataclass(frozen=True)
class Opening:
    """What an alert opens with: the rule's subject and the reading that crossed it."""

    rule: str
    campaign: str
    channel: str
    dimension: str | None
    key: str
    execution: str | None
    severity: str
    metric: str
    condition: str
    threshold: float | None
    span_minutes: int
    value: float | None
    volume: int
    baseline: float | None


class AlertRecords(Tables):
    """Rules, secrets, SMTP settings and the alerts."""

    # rules, secret, SMTP

    def alert_rules(self, org_id: int) -> str | None:
        """The org's rules as JSON text; None when it never saved any (the defaults apply)."""
        with self._db() as db:
            row = db.execute(
                "SELECT rules FROM alert_rule_sets WHERE org_id = ?", (org_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def alert_rule_sets(self) -> dict[int, str]:
        """Every org's saved rules, by org id."""
        with self._db() as db:
            rows = db.execute("SELECT org_id, rules FROM alert_rule_sets").fetchall()
        return {int(org): str(text) for org, text in rows}

    def replace_alert_rules(self, org_id: int, rules: str, actor: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO alert_rule_sets (org_id, rules, updated, updated_by) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (org_id) DO UPDATE SET rules = excluded.rules, "
                "updated = excluded.updated, updated_by = excluded.updated_by",
                (org_id, rules, time.time(), actor),
            )

    def alert_secret(self, org_id: int, *, rotate: bool = False) -> str:
        """The org's webhook signing secret, made on first use; ``rotate`` replaces it."""
        fresh = "whsec_" + secrets.token_urlsafe(32)
        with self._db() as db:
            if rotate:
                db.execute(
                    "INSERT INTO alert_secrets (org_id, secret, created) VALUES (?, ?, ?) "
                    "ON CONFLICT (org_id) DO UPDATE SET secret = excluded.secret, "
                    "created = excluded.created",
                    (org_id, fresh, time.time()),
                )
            else:
                db.execute(
                    "INSERT INTO alert_secrets (org_id, secret, created) VALUES (?, ?, ?) "
                    "ON CONFLICT (org_id) DO NOTHING",
                    (org_id, fresh, time.time()),
                )
            row = db.execute(
                "SELECT secret FROM alert_secrets WHERE org_id = ?", (org_id,)
            ).fetchone()
        return str(row[0])

    def alert_smtp(self, org_id: int) -> str | None:
        with self._db() as db:
            row = db.execute(
                "SELECT settings FROM alert_smtp WHERE org_id = ?", (org_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def set_alert_smtp(self, org_id: int, settings: str | None) -> None:
        with self._db() as db:
            if settings is None:
                db.execute("DELETE FROM alert_smtp WHERE org_id = ?", (org_id,))
                return
            db.execute(
                "INSERT INTO alert_smtp (org_id, settings, updated) VALUES (?, ?, ?) "
                "ON CONFLICT (org_id) DO UPDATE SET settings = excluded.settings, "
                "updated = excluded.updated",
                (org_id, settings, time.time()),
            )

    # alerts

    def open_alert(self, org_id: int, opening: Opening, now: float) -> Alert | None:
        """Open an alert; None when one of the same rule and subject is firing already (this
        node or another one opened it)."""
        o = opening
        with self._db() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO alerts (org_id, rule, campaign, channel, dimension, "
                "dim_key, execution, state, severity, metric, condition, threshold, "
                "span_minutes, value, volume, baseline, fired_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'firing', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    org_id,
                    o.rule,
                    o.campaign,
                    o.channel,
                    o.dimension,
                    o.key,
                    o.execution,
                    o.severity,
                    o.metric,
                    o.condition,
                    o.threshold,
                    o.span_minutes,
                    o.value,
                    o.volume,
                    o.baseline,
                    now,
                ),
            )
            if cur.rowcount != 1:
                return None
            row = db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE org_id = ? AND rule = ? "  # noqa: S608
                "AND campaign = ? AND channel = ? AND dim_key = ? AND state = 'firing'",
                (org_id, o.rule, o.campaign, o.channel, o.key),
            ).fetchone()
        return Alert.from_row(row) if row else None

    def resolve_alert(
        self, alert_id: int, value: float | None, volume: int, now: float
    ) -> Alert | None:
        """Resolve a firing alert; None when it was resolved already (by another node)."""
        with self._db() as db:
            cur = db.execute(
                "UPDATE alerts SET state = 'resolved', resolved_at = ?, resolved_value = ?, "
                "resolved_volume = ? WHERE id = ? AND state = 'firing'",
                (now, value, volume, alert_id),
            )
            if cur.rowcount != 1:
                return None
            row = db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE id = ?",  # noqa: S608
                (alert_id,),
            ).fetchone()
        return Alert.from_row(row)

    def mark_paused(self, alert_id: int, now: float) -> bool:
        """Whether this call is the one that pauses for the alert (at most once per alert)."""
        with self._db() as db:
            cur = db.execute(
                "UPDATE alerts SET paused = ? WHERE id = ? AND paused IS NULL", (now, alert_id)
            )
        return bool(cur.rowcount == 1)

    def firing_alerts(self, org_id: int | None = None, campaign: str | None = None) -> list[Alert]:
        sql = f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE state = 'firing'"  # noqa: S608
        params: list[Any] = []
        if org_id is not None:
            sql += " AND org_id = ?"
            params.append(org_id)
        if campaign is not None:
            sql += " AND campaign = ?"
            params.append(campaign)
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY id", params).fetchall()
        return [Alert.from_row(r) for r in rows]

    def alerts(
        self,
        org_id: int,
        *,
        campaign: str | None = None,
        state: str = "all",
        limit: int = 100,
        before: int | None = None,
    ) -> list[Alert]:
        """The org's alerts, newest first."""
        sql = f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE org_id = ?"  # noqa: S608
        params: list[Any] = [org_id]
        if campaign is not None:
            sql += " AND campaign = ?"
            params.append(campaign)
        if state != "all":
            sql += " AND state = ?"
            params.append(state)
        if before is not None:
            sql += " AND id < ?"
            params.append(before)
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
        return [Alert.from_row(r) for r in rows]

    def alert(self, org_id: int, alert_id: int) -> Alert:
        with self._db() as db:
            row = db.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE org_id = ? AND id = ?",  # noqa: S608
                (org_id, alert_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"no alert {alert_id} in your org; GET /v1/alerts lists them")
        return Alert.from_row(row)

    def acknowledge_alert(self, org_id: int, alert_id: int, actor: str) -> Alert:
        """Acknowledge an alert (the first acknowledgement stands)."""
        self.alert(org_id, alert_id)
        with self._db() as db:
            db.execute(
                "UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? "
                "WHERE org_id = ? AND id = ? AND acknowledged_by IS NULL",
                (actor, time.time(), org_id, alert_id),
            )
        return self.alert(org_id, alert_id)

    def open_alert_counts(self, org_id: int) -> dict[str, tuple[int, str]]:
        """Per campaign with firing alerts: how many, and the worst severity."""
        found: dict[str, tuple[int, str]] = {}
        for alert in self.firing_alerts(org_id):
            count, worst = found.get(alert.campaign, (0, "info"))
            if SEVERITY_ORDER[alert.severity] > SEVERITY_ORDER[worst]:
                worst = alert.severity
            found[alert.campaign] = (count + 1, worst)
        return found
