"""An org's own rules, each set stored whole and versioned: its bounce rule table
(bounces/org.py) and the machine detection rules it turned off (ingest/machine.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from livereport.store.metadata.base import Tables

SCHEMA = """
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


class RuleRecords(Tables):
    # an org's own bounce rules: one versioned table per org

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

    # the machine detection rules an org turned off

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
