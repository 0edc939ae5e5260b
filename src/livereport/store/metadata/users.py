"""Users: who signs in to the dashboard, with which role and password, and the run of wrong
passwords that locks an account for a while."""

from __future__ import annotations

import secrets
import time
from contextlib import suppress

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from livereport.errors import BadRequest, NotFound
from livereport.store.metadata.base import Tables
from livereport.store.records import Org, Role, User
from livereport.store.sqldb import UniqueViolation

#: The one password rule, the same wherever a password is chosen (creation, invitation,
#: change, reset): long enough to resist guessing at the sign-in's throttled rate.
MIN_PASSWORD = 10

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created REAL NOT NULL,
    disabled REAL
);
CREATE TABLE IF NOT EXISTS sign_in_failures (
    user_id INTEGER PRIMARY KEY REFERENCES users(id),
    failures INTEGER NOT NULL,
    locked_until REAL
);
"""


def check_new_password(password: str, field: str = "password") -> None:
    """Refuse a password that breaks the rule, naming the field and what is expected."""
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"{field}: expected at least {MIN_PASSWORD} characters")


def random_password() -> str:
    """A password for an admin's reset when none is given: 120 random bits, 20 characters."""
    return secrets.token_urlsafe(15)


class UserRecords(Tables):
    #: How passwords are hashed: argon2's defaults, or ``CHEAP_HASHER`` in tests.
    _hasher: PasswordHasher

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
                user_id = db.insert(
                    "INSERT INTO users (org_id, email, role, password_hash, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (org.id, email, chosen, hashed, time.time()),
                )
            except UniqueViolation:
                raise BadRequest(f"user {email} already exists") from None
        return User(user_id, org.id, email, chosen)

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
            rehashed = hasher.hash(password)
            with self._db() as db:
                db.execute("UPDATE users SET password_hash = ? WHERE id = ?", (rehashed, user_id))
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

    # sign-in failures and locks

    def sign_in_lock(self, email: str, now: float) -> float | None:
        """Until when the account of this email is locked, if it is now."""
        with self._db() as db:
            row = db.execute(
                "SELECT f.locked_until FROM users u JOIN sign_in_failures f ON f.user_id = u.id "
                "WHERE u.email = ? AND f.locked_until > ?",
                (email.strip().lower(), now),
            ).fetchone()
        return float(row[0]) if row else None

    def record_failed_sign_in(
        self, email: str, now: float, lock_after: int, lock_s: float
    ) -> float | None:
        """Count a wrong password in a row; return the lock's end when this one locks it."""
        with self._db() as db:
            row = db.execute(
                "SELECT id FROM users WHERE email = ?", (email.strip().lower(),)
            ).fetchone()
            if row is None:
                return None
            user_id = int(row[0])
            db.execute(
                "INSERT INTO sign_in_failures (user_id, failures) VALUES (?, 1) "
                "ON CONFLICT (user_id) DO UPDATE SET failures = sign_in_failures.failures + 1",
                (user_id,),
            )
            (failures,) = db.execute(
                "SELECT failures FROM sign_in_failures WHERE user_id = ?", (user_id,)
            ).fetchone()
            if int(failures) < lock_after:
                return None
            until = now + lock_s
            db.execute(
                "UPDATE sign_in_failures SET failures = 0, locked_until = ? WHERE user_id = ?",
                (until, user_id),
            )
        return until

    def clear_failed_sign_ins(self, user_id: int) -> None:
        """A right password ends the run of failures (and an admin's unlock ends a lock)."""
        with self._db() as db:
            db.execute("DELETE FROM sign_in_failures WHERE user_id = ?", (user_id,))


#: argon2 at its least cost: a hash in microseconds instead of tens of milliseconds, which
#: the tests' thousands of users and sign-ins need (and which no real instance should use).
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
