"""Metadata: orgs, keys, users, sessions, dashboards, webhooks, kept returns, an org's rules,
alerts and the audit log, in SQLite for the embedded instance or in the PostgreSQL database
of a cluster (store/sqldb.py).

Each concept is one module with its tables and records; :class:`Metadata` is all of them on
one database.
"""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher

from livereport.store.metadata import (
    alerts,
    audit,
    deliveries,
    invites,
    keys,
    layouts,
    orgs,
    returns,
    rules,
    sessions,
    users,
    webhooks,
)
from livereport.store.metadata.accounts import ROLES, Account
from livereport.store.metadata.alerts import SEVERITY_ORDER, Alert, AlertRecords, Opening
from livereport.store.metadata.audit import AUDIT_PAGE, AuditEntry, AuditRecords
from livereport.store.metadata.deliveries import (
    DELIVERY_PAGE,
    Delivery,
    DeliveryRecords,
    NewDelivery,
)
from livereport.store.metadata.invites import INVITE_PREFIX, Invite, InviteRecords
from livereport.store.metadata.keys import KEY_PREFIX, KeyRecords, hash_key
from livereport.store.metadata.layouts import LayoutRecords
from livereport.store.metadata.returns import ReturnRecords
from livereport.store.metadata.rules import RuleRecords
from livereport.store.metadata.sessions import SessionRecords
from livereport.store.metadata.users import (
    CHEAP_HASHER,
    MIN_PASSWORD,
    check_new_password,
    random_password,
)
from livereport.store.metadata.webhooks import WebhookRecords
from livereport.store.records import (
    ApiKey,
    KeptReturn,
    Org,
    Role,
    Scope,
    StoredSession,
    User,
    WebhookOrg,
)
from livereport.store.sqldb import Database, PostgreSQL, SQLite

__all__ = [
    "AUDIT_PAGE",
    "DELIVERY_PAGE",
    "INVITE_PREFIX",
    "KEY_PREFIX",
    "MIN_PASSWORD",
    "ROLES",
    "SCHEMA",
    "SEVERITY_ORDER",
    "Account",
    "Alert",
    "ApiKey",
    "AuditEntry",
    "Delivery",
    "Invite",
    "KeptReturn",
    "Metadata",
    "NewDelivery",
    "Opening",
    "Org",
    "Role",
    "Scope",
    "StoredSession",
    "User",
    "WebhookOrg",
    "check_new_password",
    "hash_key",
    "random_password",
]

#: Every table, those referred to first.
SCHEMA = "".join(
    module.SCHEMA
    for module in (
        orgs,
        keys,
        users,
        sessions,
        layouts,
        webhooks,
        audit,
        invites,
        returns,
        rules,
        alerts,
        deliveries,
    )
)


class Metadata(
    InviteRecords,  # accounts, users and orgs
    SessionRecords,
    KeyRecords,
    LayoutRecords,
    WebhookRecords,
    ReturnRecords,
    RuleRecords,
    AuditRecords,
    AlertRecords,
    DeliveryRecords,
):
    def __init__(
        self, path: Path, database_url: str = "", *, cheap_passwords: bool = False
    ) -> None:
        """SQLite in ``path``, or with ``database_url`` the PostgreSQL database of a cluster;
        ``cheap_passwords`` for tests only (the ``test_cheap_passwords`` setting)."""
        self.path = path
        self._hasher = CHEAP_HASHER if cheap_passwords else PasswordHasher()
        #: The cluster's database, when there is one (tests close its pooled connections).
        self._postgres = PostgreSQL(database_url, SCHEMA) if database_url else None
        self._database: Database = self._postgres or SQLite(path)
        with self._db() as db:
            db.executescript(SCHEMA)

    def close(self) -> None:
        """Release the connections kept open (a server keeps them for its lifetime)."""
        self._database.close()
