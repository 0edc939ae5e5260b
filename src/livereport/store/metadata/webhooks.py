"""Provider webhooks, per org: the token in the webhook's URL, each provider's secret, the
payload's field names, and notes an admin must act on."""

from __future__ import annotations

import secrets
import time

from livereport.errors import BadRequest
from livereport.store.metadata.base import Tables
from livereport.store.records import Org, WebhookOrg

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_orgs (
    org_id INTEGER PRIMARY KEY REFERENCES orgs(id),
    token TEXT NOT NULL UNIQUE,
    campaign_field TEXT NOT NULL DEFAULT 'campaign',
    profile_field TEXT NOT NULL DEFAULT 'profile',
    execution_field TEXT NOT NULL DEFAULT 'execution',
    variant_field TEXT NOT NULL DEFAULT 'variant'
);
CREATE TABLE IF NOT EXISTS webhook_secrets (
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    provider TEXT NOT NULL,
    secret TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (org_id, provider)
);
CREATE TABLE IF NOT EXISTS webhook_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    provider TEXT NOT NULL,
    note TEXT NOT NULL,
    created REAL NOT NULL
);
"""

_WEBHOOK_FIELDS = frozenset({"campaign", "profile", "execution", "variant"})


class WebhookRecords(Tables):
    def set_webhook(
        self, org: Org, provider: str, secret: str, field_names: dict[str, str] | None = None
    ) -> str:
        """Store a provider's secret (and field names); return the org's webhook token.

        The token is kept in clear, like the secrets: the provider's signature, checked with
        the secret, is what authenticates a delivery; the token only says which org it is for.
        """
        with self._db() as db:
            row = db.execute(
                "SELECT token FROM webhook_orgs WHERE org_id = ?", (org.id,)
            ).fetchone()
            token = str(row[0]) if row else "wh_" + secrets.token_urlsafe(24)
            if row is None:
                db.execute(
                    "INSERT INTO webhook_orgs (org_id, token) VALUES (?, ?)", (org.id, token)
                )
            for name, value in (field_names or {}).items():
                if name not in _WEBHOOK_FIELDS or not 1 <= len(value) <= 128:
                    raise BadRequest(f"{name} field: expected 1 to 128 characters")
                db.execute(
                    f"UPDATE webhook_orgs SET {name}_field = ? WHERE org_id = ?",  # noqa: S608
                    (value, org.id),
                )
            db.execute(
                "INSERT INTO webhook_secrets (org_id, provider, secret, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (org_id, provider) DO UPDATE SET secret = excluded.secret, "
                "updated = excluded.updated",
                (org.id, provider, secret, time.time()),
            )
        return token

    def find_webhook_org(self, token: str) -> WebhookOrg | None:
        """The org whose webhook token this is, with its secrets and field names."""
        with self._db() as db:
            row = db.execute(
                "SELECT org_id, campaign_field, profile_field, execution_field, variant_field "
                "FROM webhook_orgs WHERE token = ?",
                (token,),
            ).fetchone()
            if row is None:
                return None
            found = dict(
                db.execute(
                    "SELECT provider, secret FROM webhook_secrets WHERE org_id = ?", (row[0],)
                ).fetchall()
            )
        return WebhookOrg(row[0], found, *row[1:])

    def add_webhook_note(self, org_id: int, provider: str, note: str) -> None:
        """Keep something an admin must act on, such as an SNS subscription to confirm."""
        with self._db() as db:
            db.execute(
                "INSERT INTO webhook_notes (org_id, provider, note, created) VALUES (?, ?, ?, ?)",
                (org_id, provider, note, time.time()),
            )

    def webhook_notes(self, org: Org) -> list[tuple[float, str, str]]:
        """(time, provider, note) of the org's webhook notes, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT created, provider, note FROM webhook_notes WHERE org_id = ? ORDER BY id",
                (org.id,),
            ).fetchall()
        return [(float(c), str(p), str(n)) for c, p, n in rows]
