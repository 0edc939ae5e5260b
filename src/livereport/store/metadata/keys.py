"""API keys: made with scopes and an optional expiry, kept as hashes, their use recorded."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence

from livereport.errors import BadRequest, NotFound
from livereport.store.metadata.base import Tables
from livereport.store.records import ApiKey, Org, Scope

KEY_PREFIX = "lr_"

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS key_terms (
    key_id INTEGER PRIMARY KEY REFERENCES api_keys(id),
    expires REAL,
    last_used REAL
);
"""


def hash_key(plain: str) -> str:
    # Keys are 256-bit random tokens: a fast hash is enough, unlike for passwords.
    return hashlib.sha256(plain.encode()).hexdigest()


class KeyRecords(Tables):
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
            key_id = db.insert(
                "INSERT INTO api_keys (org_id, name, prefix, hash, scopes, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (org.id, name, plain[:10], hash_key(plain), ",".join(sorted(chosen)), now),
            )
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

    def touch_key(self, key_id: int, now: float) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO key_terms (key_id, last_used) VALUES (?, ?) "
                "ON CONFLICT (key_id) DO UPDATE SET last_used = excluded.last_used",
                (key_id, now),
            )


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
