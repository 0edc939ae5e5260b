"""Orgs: the tenants every other record belongs to."""

from __future__ import annotations

import time

from livereport.errors import BadRequest, NotFound
from livereport.store.metadata.base import Tables
from livereport.store.records import Org
from livereport.store.sqldb import UniqueViolation

SCHEMA = """
CREATE TABLE IF NOT EXISTS orgs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created REAL NOT NULL
);
"""


class OrgRecords(Tables):
    def create_org(self, name: str) -> Org:
        name = name.strip()
        if not 1 <= len(name) <= 100:
            raise BadRequest("org name: expected 1 to 100 characters")
        with self._db() as db:
            try:
                org_id = db.insert(
                    "INSERT INTO orgs (name, created) VALUES (?, ?)", (name, time.time())
                )
            except UniqueViolation:
                raise BadRequest(f"org {name!r} already exists; choose another name") from None
            return Org(org_id, name)

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

    def org_by_id(self, org_id: int) -> Org:
        with self._db() as db:
            row = db.execute("SELECT id, name FROM orgs WHERE id = ?", (org_id,)).fetchone()
        if row is None:
            raise NotFound(f"there is no org {org_id}")
        return Org(int(row[0]), str(row[1]))
