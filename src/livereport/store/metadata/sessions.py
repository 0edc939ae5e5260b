"""Browser sessions: a signed-in user's session id, with its age and last use."""

from __future__ import annotations

from livereport.store.metadata.base import Tables
from livereport.store.records import Role, StoredSession, User

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id);
"""


class SessionRecords(Tables):
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
