"""One contract for the metadata on both of its databases: SQLite (one machine) and PostgreSQL
(a cluster's app nodes). The same records, the same answers to a unique key already taken,
and a block that raises leaves nothing behind."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import POSTGRES, new_storage
from livereport.errors import BadRequest, NotFound
from livereport.store.metadata import SCHEMA, Metadata, Opening, Role, Scope
from livereport.store.sqldb import Database, PostgreSQL, SQLite, UniqueViolation

BACKENDS = ("sqlite", "postgresql")


def _url(backend: str) -> str:
    """A fresh PostgreSQL schema for each test, so that runs do not see each other."""
    return f"{POSTGRES}?options=-csearch_path%3D{new_storage()}" if backend == "postgresql" else ""


@pytest.fixture(params=BACKENDS)
def metadata(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Metadata]:
    found = Metadata(tmp_path / "metadata.sqlite3", _url(request.param))
    try:
        yield found
    finally:
        found.close()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = _url(request.param)
    found: Database = PostgreSQL(url, SCHEMA) if url else SQLite(tmp_path / "m.sqlite3")
    try:
        with found.connect() as db:
            db.executescript(SCHEMA)
        yield found
    finally:
        found.close()


def test_orgs_are_made_once_by_name_and_found(metadata: Metadata) -> None:
    first, second = metadata.create_org("first"), metadata.create_org("second")
    assert second.id > first.id and metadata.orgs() == [first, second]
    assert metadata.org("second") == second and metadata.org() == first
    assert metadata.org_by_id(first.id) == first
    with pytest.raises(BadRequest, match="org 'first' already exists; choose another name"):
        metadata.create_org("first")
    with pytest.raises(NotFound, match="there is no org 'third'"):
        metadata.org("third")


def test_keys_are_found_by_value_until_revoked(metadata: Metadata) -> None:
    org = metadata.create_org("a")
    plain, key = metadata.create_key(org, ["ingest", "read"], "ci", expires=time.time() + 60)
    found = metadata.find_key(plain)
    assert found is not None and found.id == key.id and found.scopes == {Scope.INGEST, Scope.READ}
    assert metadata.find_key(plain, now=time.time() + 120) is None  # expired then
    metadata.touch_key(key.id, 1234.5)
    assert [k.last_used for k in metadata.keys(org)] == [1234.5]
    metadata.revoke_key(org, key.id)
    assert metadata.find_key(plain) is None
    with pytest.raises(NotFound):
        metadata.revoke_key(org, key.id)


def test_users_sign_in_and_their_sessions_end(metadata: Metadata) -> None:
    org = metadata.create_org("a")
    user = metadata.create_user(org, "Ann@Example.com", "editor", "a long enough password")
    assert (user.email, user.role) == ("ann@example.com", Role.EDITOR)
    with pytest.raises(BadRequest, match=r"user ann@example\.com already exists"):
        metadata.create_user(org, "ann@example.com", "viewer", "another long password")
    assert metadata.check_password("ann@example.com", "a long enough password") == user
    assert metadata.check_password("ann@example.com", "a wrong password!") is None
    assert metadata.user(user.id) == user
    metadata.create_session("s1", user.id, 100.0)
    metadata.create_session("s2", user.id, 100.0)
    with pytest.raises(UniqueViolation):  # a session id is its primary key
        metadata.create_session("s1", user.id, 100.0)
    metadata.touch_session("s2", 300.0)
    session = metadata.find_session("s2")
    assert session is not None and session.user == user and session.last_seen == 300.0
    assert metadata.set_password(user.id, "a new long password", keep_session="s2") == 1
    assert metadata.find_session("s1") is None
    assert metadata.delete_sessions(created_before=200.0, seen_before=200.0) == 1


def test_accounts_lock_and_invitations_work_once(metadata: Metadata) -> None:
    org = metadata.create_org("a")
    admin = metadata.create_user(org, "ann@a.example", "admin", "password-1234")
    now = time.time()
    assert metadata.record_failed_sign_in(admin.email, now, 2, 60) is None
    assert metadata.record_failed_sign_in(admin.email, now, 2, 60) == pytest.approx(now + 60)
    assert metadata.account(org, admin.id).locked(now)
    token, _ = metadata.create_invite(org, "guest@a.example", "viewer", days=1)
    guest = metadata.accept_invite(token, "guest-password")
    assert metadata.account(org, email="guest@a.example").id == guest.id
    with pytest.raises(NotFound, match="already used"):
        metadata.accept_invite(token, "guest-password")
    metadata.audit(org.id, "user ann@a.example", "user.invite", "guest@a.example", "10.0.0.1")
    assert [e.action for e in metadata.audit_log(org)] == ["user.invite"]


def test_layouts_and_settings_are_replaced_per_user(metadata: Metadata) -> None:
    user = metadata.create_user(metadata.create_org("a"), "ann@a.example", "viewer", "p" * 12)
    metadata.save_layout(user.id, "email", '{"a": 1}')
    metadata.save_layout(user.id, "email", '{"a": 2}')  # ON CONFLICT … DO UPDATE
    assert metadata.layout(user.id, "email") == '{"a": 2}'
    metadata.delete_layout(user.id, "email")
    assert metadata.layout(user.id, "email") is None
    metadata.save_user_settings(user.id, {"theme": "dark"})
    metadata.save_user_settings(user.id, {"theme": "light", "zone": "UTC"})
    assert metadata.user_settings(user.id) == {"theme": "light", "zone": "UTC"}


def test_webhooks_keep_their_token_secrets_and_notes(metadata: Metadata) -> None:
    org = metadata.create_org("a")
    token = metadata.set_webhook(org, "ses", "s1", {"campaign": "cmp"})
    assert metadata.set_webhook(org, "sendgrid", "s2") == token
    found = metadata.find_webhook_org(token)
    assert found is not None and found.org_id == org.id
    assert found.secrets == {"ses": "s1", "sendgrid": "s2"} and found.campaign_field == "cmp"
    assert metadata.find_webhook_org("wh_unknown") is None
    metadata.add_webhook_note(org.id, "ses", "confirm the subscription")
    assert [(p, n) for _, p, n in metadata.webhook_notes(org)] == [
        ("ses", "confirm the subscription")
    ]


def test_rules_are_versioned_and_one_change_wins(metadata: Metadata) -> None:
    org = metadata.create_org("a").id
    assert metadata.replace_bounce_rules(org, "[]", "ann", expected=0) == 1
    assert metadata.replace_bounce_rules(org, "[1]", "bob", expected=0) is None  # came second
    assert metadata.replace_bounce_rules(org, "[2]", "bob", expected=1) == 2
    assert metadata.bounce_rules(org) == (2, "[2]") and metadata.bounce_rules_version(org) == 2
    assert metadata.set_disabled_machine_rules(org, ["b", "a", "a"], "ann") == 1
    assert metadata.set_disabled_machine_rules(org, ["c"], "ann") == 2
    assert metadata.disabled_machine_rules(org) == (2, ("c",))


def test_one_alert_fires_per_rule_and_subject(metadata: Metadata) -> None:
    org = metadata.create_org("a").id
    metadata.replace_alert_rules(org, json.dumps([{"id": "r"}]), "ann")
    assert metadata.alert_rule_sets() == {org: '[{"id": "r"}]'}
    secret = metadata.alert_secret(org)
    assert metadata.alert_secret(org) == secret != metadata.alert_secret(org, rotate=True)
    opening = Opening(
        rule="r",
        campaign="c",
        channel="email",
        dimension=None,
        key="",
        execution=None,
        severity="warning",
        metric="bounce_rate",
        condition="above",
        threshold=0.1,
        span_minutes=15,
        value=0.2,
        volume=100,
        baseline=None,
    )
    alert = metadata.open_alert(org, opening, 1000.0)
    assert alert is not None and alert.state == "firing"
    assert metadata.open_alert(org, opening, 1001.0) is None  # one is firing already
    assert metadata.open_alert_counts(org) == {"c": (1, "warning")}
    resolved = metadata.resolve_alert(alert.id, 0.05, 120, 1100.0)
    assert resolved is not None and resolved.state == "resolved"
    assert metadata.resolve_alert(alert.id, 0.05, 120, 1100.0) is None
    assert metadata.open_alert(org, opening, 1200.0) is not None  # resolved: may fire again
    assert [a.state for a in metadata.alerts(org)] == ["firing", "resolved"]


def test_a_unique_key_already_taken_is_a_unique_violation(database: Database) -> None:
    with database.connect() as db:
        db.insert("INSERT INTO orgs (name, created) VALUES (?, ?)", ("a", 1.0))
    with pytest.raises(UniqueViolation), database.connect() as db:
        db.insert("INSERT INTO orgs (name, created) VALUES (?, ?)", ("a", 2.0))
    with database.connect() as db:
        assert db.execute("SELECT name, created FROM orgs").fetchall() == [("a", 1.0)]


def test_a_block_that_raises_leaves_nothing_behind(database: Database) -> None:
    with pytest.raises(RuntimeError), database.connect() as db:
        org = db.insert("INSERT INTO orgs (name, created) VALUES (?, ?)", ("a", 1.0))
        db.execute("INSERT INTO webhook_orgs (org_id, token) VALUES (?, ?)", (org, "wh_a"))
        raise RuntimeError("the caller failed half way")
    with pytest.raises(UniqueViolation), database.connect() as db:
        db.insert("INSERT INTO orgs (name, created) VALUES (?, ?)", ("b", 1.0))
        db.insert("INSERT INTO orgs (name, created) VALUES (?, ?)", ("b", 1.0))
    with database.connect() as db:
        assert db.execute("SELECT count(*) FROM orgs").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM webhook_orgs").fetchone() == (0,)


def test_a_block_that_ends_is_committed_for_the_next(database: Database) -> None:
    with database.connect() as db:
        first = db.insert("INSERT INTO orgs (name, created) VALUES (?, ?)", ("a", 1.0))
        second = db.insert("INSERT INTO orgs (name, created) VALUES (?, ?)", ("b", 1.0))
        assert second == first + 1
        assert db.execute("UPDATE orgs SET created = ?", (2.0,)).rowcount == 2
    with database.connect() as db:
        assert list(db.execute("SELECT name FROM orgs ORDER BY id")) == [("a",), ("b",)]
