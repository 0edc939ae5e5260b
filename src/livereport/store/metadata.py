"""Metadata: orgs, API keys, users, browser sessions and layouts, in SQLite for the embedded instance.

Every call opens the file anew, so keys and users made by the CLI work at once on a
running server that shares the data directory.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from livereport.errors import BadRequest, NotFound, StorageUnavailable
from livereport.store.accounts import AccountRecords, check_new_password
from livereport.store.alerts import ALERT_SCHEMA, AlertRecords
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
from livereport.store.sqldb import PostgreSQL

__all__ = [
    "ApiKey",
    "KeptReturn",
    "Metadata",
    "Org",
    "Role",
    "Scope",
    "StoredSession",
    "User",
    "WebhookOrg",
]

KEY_PREFIX = "lr_"

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS orgs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created REAL NOT NULL,
    revoked REAL
);
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created REAL NOT NULL,
    disabled REAL
);
CREATE TABLE IF NOT EXISTS layouts (
    user_id INTEGER NOT NULL REFERENCES users(id),
    tab TEXT NOT NULL,
    layout TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (user_id, tab)
);
CREATE TABLE IF NOT EXISTS user_settings (
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (user_id, name)
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
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
CREATE TABLE IF NOT EXISTS key_terms (
    key_id INTEGER PRIMARY KEY REFERENCES api_keys(id),
    expires REAL,
    last_used REAL
);
CREATE TABLE IF NOT EXISTS sign_in_failures (
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    failures INTEGER NOT NULL,
    locked_until REAL
);
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
CREATE TABLE IF NOT EXISTS invites (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    accepted REAL
);
CREATE TABLE IF NOT EXISTS webhook_notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    provider TEXT NOT NULL,
    note TEXT NOT NULL,
    created REAL NOT NULL
);
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
CREATE TABLE IF NOT EXISTS bounce_rule_tables (
    org_id INTEGER PRIMARY KEY REFERENCES orgs(id),
    version INTEGER NOT NULL,
    rules TEXT NOT NULL,
    updated REAL NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS machine_rule_settings (
    org_id INTEGER PRIMARY KEY REFERENCES orgs(id),
    version INTEGER NOT NULL,
    disabled TEXT NOT NULL,
    updated REAL NOT NULL,
    updated_by TEXT NOT NULL
);
"""
    + ALERT_SCHEMA
)


def hash_key(plain: str) -> str:
    # Keys are 256-bit random tokens: a fast hash is enough, unlike for passwords.
    return hashlib.sha256(plain.encode()).hexdigest()


class Metadata(AccountRecords, AlertRecords):
    def __init__(
        self, path: Path, database_url: str = "", *, cheap_passwords: bool = False
    ) -> None:
        """SQLite in ``path``, or with ``database_url`` the PostgreSQL database of a cluster;
        ``cheap_passwords`` for tests only (the ``test_cheap_passwords`` setting)."""
        self.path = path
        self._hasher = _CHEAP_HASHER if cheap_passwords else PasswordHasher()
        self._postgres = PostgreSQL(database_url, _SCHEMA) if database_url else None
        if self._postgres is not None:
            with self._db() as db:
                db.executescript(_SCHEMA)
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Password and key hashes: the file is made readable by its owner only, and SQLite
        # gives its WAL files the database file's mode.
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with self._db() as db:
            # Kept in the file: set once here, so that opening it to read never writes.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
        # SQLite deletes the WAL's index file when its last connection closes and must create
        # it again on the next open, which fails on a full disk: one idle connection keeps it,
        # so that reads go on working while the disk is full.
        self._keeper = sqlite3.connect(self.path, check_same_thread=False)
        self._keeper.execute("SELECT count(*) FROM orgs").fetchall()  # opens the WAL index

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if self._postgres is not None:
            try:
                with self._postgres.connect() as pg:
                    # The shim speaks the part of sqlite3.Connection used here (store/sqldb.py).
                    yield cast(sqlite3.Connection, pg)
            except sqlite3.OperationalError as exc:
                raise StorageUnavailable(
                    f"the PostgreSQL metadata database cannot be used ({exc}); check "
                    "LIVEREPORT_DATABASE and that the server is reachable, then retry"
                ) from exc
            return
        try:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        except sqlite3.OperationalError as exc:
            raise _unavailable(self.path, exc) from exc
        try:
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        except sqlite3.OperationalError as exc:  # disk full, read-only, I/O error, locked
            raise _unavailable(self.path, exc) from exc
        finally:
            db.close()

    # orgs

    def create_org(self, name: str) -> Org:
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise BadRequest("org name: expected 1 to 100 characters")
        with self._db() as db:
            try:
                cur = db.execute(
                    "INSERT INTO orgs (name, created) VALUES (?, ?)", (name, time.time())
                )
            except sqlite3.IntegrityError:
                raise BadRequest(f"org {name!r} already exists; choose another name") from None
            return Org(int(cur.lastrowid or 0), name)

    def orgs(self) -> list[Org]:
        with self._db() as db:
            return [Org(i, n) for i, n in db.execute("SELECT id, name FROM orgs ORDER BY id")]

    def org(self, name: str | None = None) -> Org:
        """The org of that name, or without a name the first one (made at first start)."""
        with self._db() as db:
            if name is None:
                row = db.execute("SELECT id, name FROM orgs ORDER BY id LIMIT 1").fetchone()
            else:
                row = db.execute("SELECT id, name FROM orgs WHERE name = ?", (name,)).fetchone()
        if row is None:
            what = f"there is no org {name!r}" if name else "there is no org yet"
            raise NotFound(f"{what}; create one with `livereport orgs create NAME`")
        return Org(*row)

    # API keys

    def create_key(
        self, org: Org, scopes: Sequence[str], name: str = "", expires: float | None = None
    ) -> tuple[str, ApiKey]:
        """Make a key, valid until ``expires`` (epoch seconds) if given; the plain key is
        returned once and only its hash is kept."""
        try:
            chosen = frozenset(Scope(s) for s in scopes)
        except ValueError:
            raise BadRequest(
                f"scope: {', '.join(scopes)} is not valid; expected ingest, read or admin"
            ) from None
        if not chosen:
            raise BadRequest("scope: at least one is required (ingest, read, admin)")
        plain = KEY_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO api_keys (org_id, name, prefix, hash, scopes, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (org.id, name, plain[:10], hash_key(plain), ",".join(sorted(chosen)), now),
            )
            key_id = int(cur.lastrowid or 0)
            if expires is not None:
                db.execute(
                    "INSERT INTO key_terms (key_id, expires) VALUES (?, ?)", (key_id, expires)
                )
        return plain, ApiKey(key_id, org.id, name, plain[:10], chosen, now, None, expires)

    def find_key(self, plain: str, now: float | None = None) -> ApiKey | None:
        """The live (neither revoked nor expired) key with this value, if any."""
        with self._db() as db:
            row = db.execute(
                f"SELECT {_KEY_COLUMNS} WHERE k.hash = ? AND k.revoked IS NULL "
                "AND (t.expires IS NULL OR t.expires > ?)",
                (hash_key(plain), time.time() if now is None else now),
            ).fetchone()
        return _key(row) if row else None

    def keys(self, org: Org) -> list[ApiKey]:
        with self._db() as db:
            rows = db.execute(
                f"SELECT {_KEY_COLUMNS} WHERE k.org_id = ? ORDER BY k.id",
                (org.id,),
            ).fetchall()
        return [_key(r) for r in rows]

    def revoke_key(self, org: Org, key_id: int) -> None:
        with self._db() as db:
            cur = db.execute(
                "UPDATE api_keys SET revoked = ? WHERE id = ? AND org_id = ? AND revoked IS NULL",
                (time.time(), key_id, org.id),
            )
        if cur.rowcount == 0:
            raise NotFound(f"org {org.name!r} has no live key {key_id}; see `livereport keys list`")

    # users

    def create_user(self, org: Org, email: str, role: str, password: str) -> User:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254:
            raise BadRequest("email: expected an email address such as ana@example.com")
        try:
            chosen = Role(role)
        except ValueError:
            raise BadRequest(
                f"role: {role!r} is not valid; expected admin, editor or viewer"
            ) from None
        check_new_password(password)
        hashed = self._hasher.hash(password)
        with self._db() as db:
            try:
                cur = db.execute(
                    "INSERT INTO users (org_id, email, role, password_hash, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (org.id, email, chosen, hashed, time.time()),
                )
            except sqlite3.IntegrityError:
                raise BadRequest(f"user {email} already exists") from None
        return User(int(cur.lastrowid or 0), org.id, email, chosen)

    def check_password(self, email: str, password: str) -> User | None:
        """The enabled user with this email and password, else None (in about the same time)."""
        with self._db() as db:
            row = db.execute(
                "SELECT id, org_id, email, role, password_hash FROM users "
                "WHERE email = ? AND disabled IS NULL",
                (email.strip().lower(),),
            ).fetchone()
        hasher = self._hasher
        if row is None:
            # Verify against a stand-in so an unknown email costs as long as a wrong password.
            with suppress(VerificationError, InvalidHashError):
                hasher.verify(hasher.hash(secrets.token_urlsafe(16)), password)
            return None
        user_id, org_id, found, role, hashed = row
        try:
            hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return None
        if hasher.check_needs_rehash(hashed):
            with self._db() as db:
                db.execute(
                    "UPDATE users SET password_hash = ? WHERE id = ?",
                    (hasher.hash(password), user_id),
                )
        return User(user_id, org_id, found, Role(role))

    def set_password(self, user_id: int, password: str, keep_session: str | None = None) -> int:
        """Give the user a new password and end their sessions, all but ``keep_session`` (the
        one that made the change); return how many ended."""
        check_new_password(password)
        hashed = self._hasher.hash(password)
        with self._db() as db:
            found = db.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (hashed, user_id)
            ).rowcount
            if found != 1:
                raise NotFound(f"there is no user {user_id}")
            cur = db.execute(
                "DELETE FROM sessions WHERE user_id = ? AND id <> ?", (user_id, keep_session or "")
            )
        return max(0, cur.rowcount)

    def user(self, user_id: int) -> User | None:
        with self._db() as db:
            row = db.execute(
                "SELECT id, org_id, email, role FROM users WHERE id = ? AND disabled IS NULL",
                (user_id,),
            ).fetchone()
        return User(row[0], row[1], row[2], Role(row[3])) if row else None

    # browser sessions

    def create_session(self, session_id: str, user_id: int, now: float) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO sessions (id, user_id, created, last_seen) VALUES (?, ?, ?, ?)",
                (session_id, user_id, now, now),
            )

    def find_session(self, session_id: str) -> StoredSession | None:
        """The session with this id, if its user still exists and is enabled."""
        with self._db() as db:
            row = db.execute(
                "SELECT s.id, s.created, s.last_seen, u.id, u.org_id, u.email, u.role "
                "FROM sessions s JOIN users u ON u.id = s.user_id "
                "WHERE s.id = ? AND u.disabled IS NULL",
                (session_id,),
            ).fetchone()
        if row is None:
            return None
        sid, created, last_seen, user_id, org_id, email, role = row
        return StoredSession(sid, User(user_id, org_id, email, Role(role)), created, last_seen)

    def touch_session(self, session_id: str, now: float) -> None:
        with self._db() as db:
            db.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", (now, session_id))

    def delete_session(self, session_id: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def delete_sessions(self, *, created_before: float, seen_before: float) -> int:
        """Forget sessions past their absolute or idle lifetime; return how many."""
        with self._db() as db:
            cur = db.execute(
                "DELETE FROM sessions WHERE created < ? OR last_seen < ?",
                (created_before, seen_before),
            )
        return cur.rowcount

    # dashboard layouts, per user and tab

    def layout(self, user_id: int, tab: str) -> str | None:
        """The saved layout (JSON text) of a user's tab, if any."""
        with self._db() as db:
            row = db.execute(
                "SELECT layout FROM layouts WHERE user_id = ? AND tab = ?", (user_id, tab)
            ).fetchone()
        return str(row[0]) if row else None

    def save_layout(self, user_id: int, tab: str, layout: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO layouts (user_id, tab, layout, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (user_id, tab) DO UPDATE SET layout = excluded.layout, "
                "updated = excluded.updated",
                (user_id, tab, layout, time.time()),
            )

    def delete_layout(self, user_id: int, tab: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM layouts WHERE user_id = ? AND tab = ?", (user_id, tab))

    # dashboard settings, per user (web/session.py says which names and values there are)

    def user_settings(self, user_id: int) -> dict[str, str]:
        with self._db() as db:
            rows = db.execute(
                "SELECT name, value FROM user_settings WHERE user_id = ?", (user_id,)
            ).fetchall()
        return {str(name): str(value) for name, value in rows}

    def save_user_settings(self, user_id: int, settings: dict[str, str]) -> None:
        with self._db() as db:
            for name, value in settings.items():
                db.execute(
                    "INSERT INTO user_settings (user_id, name, value, updated) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (user_id, name) DO UPDATE SET value = excluded.value, "
                    "updated = excluded.updated",
                    (user_id, name, value, time.time()),
                )

    # provider webhooks, per org

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

    # returned mails that made no event (returns/intake.py), kept for admins

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

    # an org's own bounce rules (bounces/org.py): one versioned table per org

    def bounce_rules_version(self, org_id: int) -> int:
        """The version of the org's stored bounce rule table; 0 when it never saved one."""
        with self._db() as db:
            row = db.execute(
                "SELECT version FROM bounce_rule_tables WHERE org_id = ?", (org_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def bounce_rules(self, org_id: int) -> tuple[int, str] | None:
        """(version, rows as JSON text) of the org's bounce rule table, if it saved one."""
        with self._db() as db:
            row = db.execute(
                "SELECT version, rules FROM bounce_rule_tables WHERE org_id = ?", (org_id,)
            ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def replace_bounce_rules(
        self, org_id: int, rules: str, actor: str, expected: int | None = None
    ) -> int | None:
        """Replace the org's whole bounce rule table (JSON text); return the new version.

        With ``expected``, only when the stored version is still that one (0: none stored);
        None when another change came first. One statement each way, so two nodes saving at
        once cannot both win.
        """
        now = time.time()
        with self._db() as db:
            current = db.execute(
                "SELECT version FROM bounce_rule_tables WHERE org_id = ?", (org_id,)
            ).fetchone()
            if current is None:
                if expected not in (None, 0):
                    return None
                cur = db.execute(
                    "INSERT INTO bounce_rule_tables (org_id, version, rules, updated, updated_by) "
                    "VALUES (?, 1, ?, ?, ?) ON CONFLICT (org_id) DO NOTHING",
                    (org_id, rules, now, actor),
                )
                return 1 if cur.rowcount == 1 else None
            version = int(current[0])
            if expected is not None and expected != version:
                return None
            cur = db.execute(
                "UPDATE bounce_rule_tables SET version = version + 1, rules = ?, updated = ?, "
                "updated_by = ? WHERE org_id = ? AND version = ?",
                (rules, now, actor, org_id, version),
            )
            return version + 1 if cur.rowcount == 1 else None

    # the machine detection rules an org turned off (ingest/machine.py)

    def machine_rules_version(self, org_id: int) -> int:
        """The version of the org's machine rule settings; 0 when it never changed them."""
        with self._db() as db:
            row = db.execute(
                "SELECT version FROM machine_rule_settings WHERE org_id = ?", (org_id,)
            ).fetchone()
        return int(row[0]) if row else 0

    def disabled_machine_rules(self, org_id: int) -> tuple[int, tuple[str, ...]]:
        """(version, names of the rules the org turned off); (0, ()) when it never did."""
        with self._db() as db:
            row = db.execute(
                "SELECT version, disabled FROM machine_rule_settings WHERE org_id = ?", (org_id,)
            ).fetchone()
        if row is None:
            return 0, ()
        return int(row[0]), tuple(str(name) for name in json.loads(row[1]))

    def set_disabled_machine_rules(self, org_id: int, names: Sequence[str], actor: str) -> int:
        """Store the names of the rules the org turns off (checked by the caller); return the
        new version. One statement, so two nodes saving at once each bump the version."""
        now = time.time()
        disabled = json.dumps(sorted(set(names)))
        with self._db() as db:
            db.execute(
                "INSERT INTO machine_rule_settings (org_id, version, disabled, updated, updated_by) "
                "VALUES (?, 1, ?, ?, ?) ON CONFLICT (org_id) DO UPDATE SET "
                "version = machine_rule_settings.version + 1, disabled = excluded.disabled, "
                "updated = excluded.updated, updated_by = excluded.updated_by",
                (org_id, disabled, now, actor),
            )
            row = db.execute(
                "SELECT version FROM machine_rule_settings WHERE org_id = ?", (org_id,)
            ).fetchone()
        return int(row[0])


_WEBHOOK_FIELDS = frozenset({"campaign", "profile", "execution", "variant"})


@cache
def _unavailable(path: Path, exc: sqlite3.OperationalError) -> StorageUnavailable:
    return StorageUnavailable(
        f"the metadata database {path.name} cannot be used ({exc}); "
        "check the data directory's free space and permissions, then retry"
    )


#: argon2 at its least cost: a hash in microseconds instead of tens of milliseconds, which
#: the tests' thousands of users and sign-ins need (and which no real instance should use).
_CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


_KEY_COLUMNS = (
    "k.id, k.org_id, k.name, k.prefix, k.scopes, k.created, k.revoked, t.expires, t.last_used "
    "FROM api_keys k LEFT JOIN key_terms t ON t.key_id = k.id"
)


def _key(
    row: tuple[int, int, str, str, str, float, float | None, float | None, float | None],
) -> ApiKey:
    id_, org_id, name, prefix, scopes, created, revoked, expires, last_used = row
    return ApiKey(
        id_,
        org_id,
        name,
        prefix,
        frozenset(Scope(s) for s in scopes.split(",")),
        created,
        revoked,
        expires,
        last_used,
    )
