"""Invitations: a token that lets someone join an org with a role, once, for some days."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from livereport.errors import BadRequest, NotFound
from livereport.store.metadata.accounts import ROLES, AccountRecords
from livereport.store.metadata.users import check_new_password
from livereport.store.records import Org, User

INVITE_PREFIX = "inv_"

SCHEMA = """
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
"""


@dataclass(frozen=True)
class Invite:
    id: int
    org_id: int
    email: str
    role: str
    expires: float
    accepted: float | None = None


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InviteRecords(AccountRecords):
    def create_invite(self, org: Org, email: str, role: str, days: float) -> tuple[str, Invite]:
        """An invitation to join the org with a role; the token is returned once, only its
        hash is kept, and it works once, for ``days``."""
        email = email.strip().lower()
        if "@" not in email or len(email) > 254 or not email.isprintable():
            raise BadRequest("email: expected an email address such as ana@example.com")
        if role not in ROLES:
            raise BadRequest(f"role: {role[:40]!r} is not valid; expected admin, editor or viewer")
        if self.account_by_email(email) is not None:
            raise BadRequest(f"user {email} already exists")
        token = INVITE_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        expires = now + days * 86_400
        with self._db() as db:
            invite_id = db.insert(
                "INSERT INTO invites (org_id, email, role, token_hash, created, expires) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (org.id, email, role, _digest(token), now, expires),
            )
        return token, Invite(invite_id, org.id, email, role, expires)

    def open_invite(self, token: str) -> Invite:
        """The invitation of this token if it can still be accepted; else a 404 that says
        whether it is unknown, used or expired, and what to do."""
        with self._db() as db:
            row = db.execute(
                "SELECT id, org_id, email, role, expires, accepted FROM invites "
                "WHERE token_hash = ?",
                (_digest(token),),
            ).fetchone()
        if row is None:
            raise NotFound(
                "this invitation is unknown: check that the link or the token is complete "
                f"(tokens start with {INVITE_PREFIX!r}), or ask an admin for a new one"
            )
        invite = Invite(*row)
        if invite.accepted is not None:
            raise NotFound(
                f"this invitation was already used on {_utc(invite.accepted)}; "
                f"sign in at /signin as {invite.email}, or ask an admin for a new one"
            )
        if invite.expires <= time.time():
            raise NotFound(
                f"this invitation expired on {_utc(invite.expires)}; ask an admin for a new one"
            )
        return invite

    def accept_invite(self, token: str, password: str) -> User:
        """The user an open invitation becomes, with the password they chose.

        The invitation is claimed in one statement before the user is made, so two
        acceptances at once cannot both succeed; it is given back if the user cannot be made.
        """
        invite = self.open_invite(token)
        check_new_password(password)
        with self._db() as db:
            claimed = db.execute(
                "UPDATE invites SET accepted = ? WHERE id = ? AND accepted IS NULL AND expires > ?",
                (time.time(), invite.id, time.time()),
            ).rowcount
        if claimed != 1:
            self.open_invite(token)  # raises: used or expired since it was read
            raise NotFound("this invitation was just used; ask an admin for a new one")
        try:
            return self.create_user(
                self.org_by_id(invite.org_id), invite.email, invite.role, password
            )
        except BaseException:
            with self._db() as db:
                db.execute("UPDATE invites SET accepted = NULL WHERE id = ?", (invite.id,))
            raise
