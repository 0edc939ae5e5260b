"""A user's dashboard: the layout of each tab and their settings (web/session.py says which
names and values there are)."""

from __future__ import annotations

import time

from livereport.store.metadata.base import Tables

SCHEMA = """
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
"""


class LayoutRecords(Tables):
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
