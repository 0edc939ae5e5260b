"""The account records (sign-in locks, key expiry and use, roles, invitations, the audit log)
on PostgreSQL, the metadata database of cluster mode: the same SQL must work there."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from livereport.errors import BadRequest, NotFound
from livereport.store.metadata import Metadata

SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def metadata(tmp_path: Path) -> Iterator[Metadata]:
    name = f"lr_accounts_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{SERVER}/test", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    found = Metadata(tmp_path / "unused.sqlite3", f"{SERVER}/{name}")
    try:
        yield found
    finally:
        assert found._postgres is not None
        found._postgres.close()  # the pooled connections (a server keeps them for its lifetime)
        with psycopg.connect(f"{SERVER}/test", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_sign_in_failures_lock_and_unlock(metadata: Metadata) -> None:
    org = metadata.create_org("a")
    user = metadata.create_user(org, "ann@a.example", "viewer", "password-1234")
    now = time.time()
    assert [metadata.record_failed_sign_in(user.email, now, 3, 60) for _ in range(2)] == [
        None,
        None,
    ]
    until = metadata.record_failed_sign_in(user.email, now, 3, 60)
    assert until == pytest.approx(now + 60)
    assert metadata.sign_in_lock(user.email, now) == pytest.approx(now + 60)
    assert metadata.account(org, user.id).locked(now)
    metadata.clear_failed_sign_ins(user.id)
    assert metadata.sign_in_lock(user.email, now) is None


def test_keys_expire_and_record_their_use(metadata: Metadata) -> None:
    org = metadata.create_org("a")
    plain, key = metadata.create_key(org, ["read"], "ci", expires=time.time() + 60)
    assert metadata.find_key(plain) is not None
    assert metadata.find_key(plain, now=time.time() + 120) is None
    metadata.touch_key(key.id, 1234.5)
    metadata.touch_key(key.id, 2345.5)
    assert metadata.keys(org)[0].last_used == 2345.5


def test_roles_disabling_invitations_and_the_audit_log(metadata: Metadata) -> None:
    org, other = metadata.create_org("a"), metadata.create_org("b")
    admin = metadata.create_user(org, "ann@a.example", "admin", "password-1234")
    with pytest.raises(BadRequest, match="last enabled admin"):
        metadata.set_role(org, admin.id, "viewer")
    with pytest.raises(NotFound):
        metadata.set_disabled(other, admin.id, True)  # another org's user is not found
    token, _ = metadata.create_invite(org, "guest@a.example", "editor", days=1)
    guest = metadata.accept_invite(token, "guest-password")
    with pytest.raises(NotFound):
        metadata.accept_invite(token, "guest-password")
    assert metadata.set_disabled(org, guest.id, True).disabled is not None
    metadata.audit(org.id, "user ann@a.example", "user.disable", "user guest@a.example", "10.0.0.1")
    (entry,) = metadata.audit_log(org)
    assert (entry.action, entry.address) == ("user.disable", "10.0.0.1")
    assert metadata.audit_log(other) == []


def test_passwords_sessions_and_invitation_claims(metadata: Metadata) -> None:
    org, other = metadata.create_org("a"), metadata.create_org("b")
    user = metadata.create_user(org, "ann@a.example", "editor", "password-1234")
    for sid in ("kept", "gone-1", "gone-2"):
        metadata.create_session(sid, user.id, time.time())
    assert metadata.set_password(user.id, "password-5678", keep_session="kept") == 2
    assert metadata.find_session("kept") is not None and metadata.find_session("gone-1") is None
    assert metadata.check_password(user.email, "password-5678") == user
    with pytest.raises(NotFound):
        metadata.reset_password(other, user.id, "password-9999")  # another org's admin
    metadata.record_failed_sign_in(user.email, time.time(), 1, 60)
    assert metadata.reset_password(org, user.id, "password-9999") == 1
    assert (
        metadata.find_session("kept") is None
        and metadata.sign_in_lock(user.email, time.time()) is None
    )
    with pytest.raises(BadRequest, match="at least 10"):
        metadata.set_password(user.id, "short")
    token, _ = metadata.create_invite(org, "guest@a.example", "viewer", days=1)
    assert metadata.open_invite(token).email == "guest@a.example"
    with pytest.raises(BadRequest, match="at least 10"):
        metadata.accept_invite(token, "short")
    metadata.accept_invite(token, "guest-password")
    with pytest.raises(NotFound, match="already used"):
        metadata.open_invite(token)
