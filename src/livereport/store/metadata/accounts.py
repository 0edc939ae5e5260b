"""Account records kept beside the metadata: what admins manage (users' roles, disabling,
sign-in locks, key use) and the audit log of their actions.

Mixed into ``Metadata`` (store/metadata.py), whose ``_db()`` opens the database; the SQL
stays in the portable subset (``?`` placeholders, ``ON CONFLICT … DO UPDATE``).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from livereport.errors import BadRequest, NotFound
from livereport.store.records import Org, User

ROLES = ("admin", "editor", "viewer")
#: Most audit entries one read returns.
AUDIT_PAGE = 500
#: The one password rule, the same wherever a password is chosen (creation, invitation,
#: change, reset): long enough to resist guessing at the sign-in's throttled rate.
MIN_PASSWORD = 10


def check_new_password(password: str, field: str = "password") -> None:
    """Refuse a password that breaks the rule, naming the field and what is expected."""
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"{field}: expected at least {MIN_PASSWORD} characters")


def random_password() -> str:
    """A password for an admin's reset when none is given: 120 random bits, 20 characters."""
    return secrets.token_urlsafe(15)


@dataclass(frozen=True)
class Account:
    """A user as admins see it: role, whether disabled, and the sign-in lock if any."""

    id: int
    org_id: int
    email: str
    role: str
    created: float
    disabled: float | None
    failures: int
    locked_until: float | None

    def locked(self, now: float) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "role": self.role,
            "created": self.created,
            "disabled": self.disabled is not None,
            "failed_sign_ins": self.failures,
            "locked_until": self.locked_until if self.locked(now) else None,
        }


@dataclass(frozen=True)
class AuditEntry:
    """One admin action: who did what to which target, when and from where."""

    id: int
    created: float
    actor: str
    action: str
    target: str
    address: str

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.created,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "address": self.address,
        }


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


INVITE_PREFIX = "inv_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_ACCOUNT = (
    "SELECT u.id, u.org_id, u.email, u.role, u.created, u.disabled, "
    "COALESCE(f.failures, 0), f.locked_until "
    "FROM users u LEFT JOIN sign_in_failures f ON f.user_id = u.id "
)


class AccountRecords:
    """Users' roles and state, sign-in failures, key use, and the audit log."""

    if TYPE_CHECKING:

        def _db(self) -> AbstractContextManager[Any]: ...

        def create_user(self, org: Org, email: str, role: str, password: str) -> User: ...

        def set_password(
            self, user_id: int, password: str, keep_session: str | None = None
        ) -> int: ...

    def org_by_id(self, org_id: int) -> Org:
        with self._db() as db:
            row = db.execute("SELECT id, name FROM orgs WHERE id = ?", (org_id,)).fetchone()
        if row is None:
            raise NotFound(f"there is no org {org_id}")
        return Org(int(row[0]), str(row[1]))

    # users, as admins manage them

    def accounts(self, org: Org) -> list[Account]:
        with self._db() as db:
            rows = db.execute(_ACCOUNT + "WHERE u.org_id = ? ORDER BY u.id", (org.id,)).fetchall()
        return [Account(*row) for row in rows]

    def account(self, org: Org, user_id: int | None = None, email: str | None = None) -> Account:
        """The org's user with this id or email; 404 for users of other orgs too."""
        column, value = ("u.id", user_id) if email is None else ("u.email", email.strip().lower())
        with self._db() as db:
            row = db.execute(
                _ACCOUNT + f"WHERE u.org_id = ? AND {column} = ?",
                (org.id, value),
            ).fetchone()
        if row is None:
            shown = f"{email!r}" if email is not None else str(user_id)
            raise NotFound(f"org {org.name!r} has no user {shown}; see `livereport users list`")
        return Account(*row)

    def account_by_email(self, email: str) -> Account | None:
        """The user of this email in any org (for the sign-in, which comes before any org)."""
        with self._db() as db:
            row = db.execute(_ACCOUNT + "WHERE u.email = ?", (email.strip().lower(),)).fetchone()
        return Account(*row) if row else None

    def set_role(self, org: Org, user_id: int, role: str) -> Account:
        if role not in ROLES:
            raise BadRequest(f"role: {role[:40]!r} is not valid; expected admin, editor or viewer")
        current = self.account(org, user_id)
        if current.role == "admin" and role != "admin":
            self._keep_an_admin(org, current)
        with self._db() as db:
            db.execute("UPDATE users SET role = ? WHERE id = ?", (role, user_id))
        return self.account(org, user_id)

    def set_disabled(self, org: Org, user_id: int, disabled: bool) -> Account:
        """Disable (ending every session of the user at once) or enable a user."""
        current = self.account(org, user_id)
        if disabled and current.role == "admin":
            self._keep_an_admin(org, current)
        with self._db() as db:
            db.execute(
                "UPDATE users SET disabled = ? WHERE id = ?",
                (time.time() if disabled else None, user_id),
            )
            if disabled:
                db.execute("DELETE FROM sessions WHERE user_id = ?", (user_id,))
        return self.account(org, user_id)

    def reset_password(self, org: Org, user_id: int, password: str) -> int:
        """An admin's reset: the org's user gets this password, every session of theirs ends
        and a sign-in lock (earned with the old password) is lifted; return the sessions ended."""
        self.account(org, user_id)  # 404 for users of other orgs
        ended = self.set_password(user_id, password)
        self.clear_failed_sign_ins(user_id)
        return ended

    def _keep_an_admin(self, org: Org, leaving: Account) -> None:
        others = [
            a
            for a in self.accounts(org)
            if a.role == "admin" and a.disabled is None and a.id != leaving.id
        ]
        if not others:
            raise BadRequest(
                f"{leaving.email} is the last enabled admin of org {org.name!r}; "
                "make another user admin first"
            )

    # invitations

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
            cur = db.execute(
                "INSERT INTO invites (org_id, email, role, token_hash, created, expires) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (org.id, email, role, _digest(token), now, expires),
            )
        return token, Invite(int(cur.lastrowid or 0), org.id, email, role, expires)

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

    # API key use

    def touch_key(self, key_id: int, now: float) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO key_terms (key_id, last_used) VALUES (?, ?) "
                "ON CONFLICT (key_id) DO UPDATE SET last_used = excluded.last_used",
                (key_id, now),
            )

    # the audit log

    def audit(self, org_id: int, actor: str, action: str, target: str, address: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO audit_log (org_id, created, actor, action, target, address) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (org_id, time.time(), actor[:200], action[:100], target[:300], address[:100]),
            )

    def audit_log(self, org: Org, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
        """The org's latest admin actions, newest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT id, created, actor, action, target, address FROM audit_log "
                "WHERE org_id = ? ORDER BY id DESC LIMIT ?",
                (org.id, max(1, min(limit, AUDIT_PAGE))),
            ).fetchall()
        return [AuditEntry(*row) for row in rows]
