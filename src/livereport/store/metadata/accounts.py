"""Users as admins manage them: their roles, disabling, the reset of a password, and the
rule that an org keeps an enabled admin."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from livereport.errors import BadRequest, NotFound
from livereport.store.metadata.orgs import OrgRecords
from livereport.store.metadata.users import UserRecords
from livereport.store.records import Org

ROLES = ("admin", "editor", "viewer")


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


_ACCOUNT = (
    "SELECT u.id, u.org_id, u.email, u.role, u.created, u.disabled, "
    "COALESCE(f.failures, 0), f.locked_until "
    "FROM users u LEFT JOIN sign_in_failures f ON f.user_id = u.id "
)


class AccountRecords(UserRecords, OrgRecords):
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
