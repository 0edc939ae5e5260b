"""Roles and the admin API: admins manage users and keys; editors and viewers cannot, and
what they try is not done. Keys expire and are revoked at once; the audit log says who did
what, when and from where."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict

import httpx
import pytest
from tenants import (
    ADMIN_A,
    ADMIN_B,
    EDITOR_A,
    ORG_B,
    VIEWER_A,
    Tenants,
    start_tenants,
)

from conftest import cli
from livereport.store.metadata import Metadata
from livereport.web.layouts import default_layout


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    tenants = start_tenants(tmp_path_factory.mktemp("roles") / "data")
    try:
        yield tenants
    finally:
        tenants.server.stop()


def _emails(site: Tenants) -> list[str]:
    with site.key_client("a_admin") as admin:
        return [u["email"] for u in admin.get("/v1/admin/users").json()["users"]]


def _key_count(site: Tenants) -> int:
    with site.key_client("a_admin") as admin:
        return len(admin.get("/v1/admin/keys").json()["keys"])


def test_admin_creates_a_user_who_can_sign_in(site: Tenants) -> None:
    with site.signed_in(ADMIN_A) as admin:
        made = admin.post(
            "/v1/admin/users",
            json={"email": "New.Person@a.example", "role": "viewer", "password": "a-long-password"},
        )
    assert made.status_code == 200, made.text
    assert made.json()["email"] == "new.person@a.example" and made.json()["role"] == "viewer"
    with site.signed_in(("new.person@a.example", "a-long-password")) as client:
        assert client.get("/v1/me").json()["role"] == "viewer"


def test_a_new_key_is_shown_once_expires_and_records_its_last_use(site: Tenants) -> None:
    with site.signed_in(ADMIN_A) as admin:
        made = admin.post(
            "/v1/admin/keys", json={"scopes": ["read"], "name": "ci", "expires_in_days": 2}
        )
        assert made.status_code == 200, made.text
        plain = made.json()["key"]
        assert plain.startswith("lr_")
        assert made.json()["expires"] == pytest.approx(time.time() + 2 * 86_400, abs=60)
        with httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {plain}"}) as c:
            assert c.get("/v1/campaigns").status_code == 200
        listed = admin.get("/v1/admin/keys")
    assert plain not in listed.text
    (entry,) = [k for k in listed.json()["keys"] if k["id"] == made.json()["id"]]
    assert entry["last_used"] == pytest.approx(time.time(), abs=60)


def test_a_revoked_key_is_refused_at_once(site: Tenants) -> None:
    with site.signed_in(ADMIN_A) as admin:
        made = admin.post("/v1/admin/keys", json={"scopes": ["read"]}).json()
        with httpx.Client(
            base_url=site.url, headers={"Authorization": f"Bearer {made['key']}"}
        ) as c:
            assert c.get("/v1/campaigns").status_code == 200
            assert admin.delete(f"/v1/admin/keys/{made['id']}").status_code == 200
            refused = c.get("/v1/campaigns")
    assert refused.status_code == 401
    assert "revoked" in refused.json()["error"]


def test_an_expired_key_is_refused(site: Tenants) -> None:
    metadata = Metadata(site.server.data / "metadata.sqlite3")
    plain, _ = metadata.create_key(metadata.org(), ["read"], "short", expires=time.time() + 1)
    with httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {plain}"}) as c:
        assert c.get("/v1/campaigns").status_code == 200
        site.server.advance(1.5)
        refused = c.get("/v1/campaigns")
    assert refused.status_code == 401 and "expired" in refused.json()["error"]


def test_disabling_a_user_ends_their_sessions_at_once(site: Tenants) -> None:
    user = ("leaving@a.example", "leaving-password")
    with site.signed_in(ADMIN_A) as admin:
        made = admin.post(
            "/v1/admin/users", json={"email": user[0], "role": "editor", "password": user[1]}
        )
        user_id = made.json()["id"]
        with site.signed_in(user) as leaving:
            assert leaving.get("/v1/campaigns").status_code == 200
            disabled = admin.patch(f"/v1/admin/users/{user_id}", json={"disabled": True})
            assert disabled.status_code == 200 and disabled.json()["disabled"] is True
            assert leaving.get("/v1/campaigns").status_code == 401
        again = httpx.post(
            f"{site.url}/v1/signin",
            json={"email": user[0], "password": user[1]},
            headers={"X-Requested-With": "livereport"},
        )
        assert again.status_code == 401
        assert (
            admin.patch(f"/v1/admin/users/{user_id}", json={"disabled": False}).status_code == 200
        )
    with site.signed_in(user) as back:
        assert back.get("/v1/me").status_code == 200


def test_viewer_cannot_save_layouts_create_keys_or_users(site: Tenants) -> None:
    keys_before = _key_count(site)
    layout = {"widgets": [asdict(p) for p in default_layout("campaign")[1:]]}
    with site.signed_in(VIEWER_A) as viewer:
        attempts = [
            viewer.put("/v1/layouts/campaign", json=layout),
            viewer.delete("/v1/layouts/campaign"),
            viewer.post("/v1/admin/keys", json={"scopes": ["admin"]}),
            viewer.post(
                "/v1/admin/users",
                json={"email": "sneaky@a.example", "role": "admin", "password": "sneaky-password"},
            ),
            viewer.get("/v1/admin/users"),
            viewer.get("/v1/admin/audit"),
        ]
        assert viewer.get("/v1/layouts/campaign").json()["default"] is True
    assert [a.status_code for a in attempts] == [403] * len(attempts)
    assert all(a.json()["error"] for a in attempts)
    assert _key_count(site) == keys_before
    assert "sneaky@a.example" not in _emails(site)


def test_editor_cannot_manage_users_or_keys(site: Tenants) -> None:
    keys_before = _key_count(site)
    with site.key_client("a_admin") as admin:
        viewer_id = next(
            u["id"]
            for u in admin.get("/v1/admin/users").json()["users"]
            if u["email"] == VIEWER_A[0]
        )
    with site.signed_in(EDITOR_A) as editor:
        attempts = [
            editor.get("/v1/admin/users"),
            editor.post(
                "/v1/admin/users",
                json={"email": "e2@a.example", "role": "viewer", "password": "another-password"},
            ),
            editor.patch(f"/v1/admin/users/{viewer_id}", json={"role": "admin"}),
            editor.patch(f"/v1/admin/users/{viewer_id}", json={"disabled": True}),
            editor.post("/v1/admin/keys", json={"scopes": ["read"]}),
        ]
    assert [a.status_code for a in attempts] == [403] * len(attempts)
    with site.key_client("a_admin") as admin:
        viewer = next(
            u for u in admin.get("/v1/admin/users").json()["users"] if u["id"] == viewer_id
        )
    assert viewer["role"] == "viewer" and viewer["disabled"] is False
    assert "e2@a.example" not in _emails(site)
    assert _key_count(site) == keys_before


def test_keys_without_the_admin_scope_cannot_use_the_admin_api(site: Tenants) -> None:
    with site.key_client("a") as client:
        refused = client.get("/v1/admin/users")
    assert refused.status_code == 403 and "admin scope" in refused.json()["error"]


def test_a_forged_cross_site_admin_request_is_refused(site: Tenants) -> None:
    with site.signed_in(ADMIN_A) as admin:
        refused = admin.post(
            "/v1/admin/keys", json={"scopes": ["admin"]}, headers={"X-Requested-With": ""}
        )
    assert refused.status_code == 403 and "X-Requested-With" in refused.json()["error"]


def test_an_admin_cannot_demote_or_disable_themselves(site: Tenants) -> None:
    with site.signed_in(ADMIN_A) as admin:
        me = next(
            u for u in admin.get("/v1/admin/users").json()["users"] if u["email"] == ADMIN_A[0]
        )
        for change in ({"role": "viewer"}, {"disabled": True}):
            refused = admin.patch(f"/v1/admin/users/{me['id']}", json=change)
            assert refused.status_code == 400 and "yourself" in refused.json()["error"]


def test_bad_admin_requests_say_what_is_expected(site: Tenants) -> None:
    with site.key_client("a_admin") as admin:
        cases = {
            "/v1/admin/users": (
                {"email": "x@a.example", "role": "boss", "password": "long-enough-1"},
                "role",
            ),
            "/v1/admin/keys": ({"scopes": ["everything"]}, "scope"),
        }
        for path, (body, word) in cases.items():
            refused = admin.post(path, json=body)
            assert refused.status_code == 400 and word in refused.json()["error"]
        unknown = admin.post("/v1/admin/keys", json={"scopes": ["read"], "colour": "red"})
        assert unknown.status_code == 400 and "expected JSON" in unknown.json()["error"]
        assert admin.patch("/v1/admin/users/99999", json={"role": "viewer"}).status_code == 404
        assert admin.patch("/v1/admin/users/abc", json={"role": "viewer"}).status_code == 404
        assert admin.delete("/v1/admin/keys/99999").status_code == 404


def test_the_audit_log_says_who_did_what_when_and_from_where(site: Tenants) -> None:
    started = time.time()
    with site.signed_in(ADMIN_A) as admin:
        made = admin.post("/v1/admin/keys", json={"scopes": ["ingest"], "name": "audited"}).json()
        admin.delete(f"/v1/admin/keys/{made['id']}")
        entries = admin.get("/v1/admin/audit").json()["entries"]
    revoke, create = entries[0], entries[1]
    assert (create["action"], revoke["action"]) == ("key.create", "key.revoke")
    assert create["actor"] == f"user {ADMIN_A[0]}" and create["address"] == "127.0.0.1"
    assert f"key {made['id']}" in revoke["target"]
    assert started - 1 <= create["time"] <= time.time() + 1
    shown = cli("audit", "list", data=site.server.data).stdout
    assert "key.revoke" in shown and ADMIN_A[0] in shown


def test_only_admins_of_the_first_org_create_orgs(site: Tenants) -> None:
    body = {"name": "org-c", "admin_email": "cat@c.example", "admin_password": "admin-c-password"}
    with site.key_client("b_admin") as b_admin:
        refused = b_admin.post("/v1/admin/orgs", json=body)
    assert refused.status_code == 403
    assert "org-c" not in cli("orgs", "list", data=site.server.data).stdout
    with site.key_client("a_admin") as a_admin:
        made = a_admin.post("/v1/admin/orgs", json=body)
    assert made.status_code == 200, made.text
    assert "org-c" in cli("orgs", "list", data=site.server.data).stdout
    with site.signed_in(("cat@c.example", "admin-c-password")) as cat:
        assert cat.get("/v1/me").json()["role"] == "admin"


def test_the_command_line_manages_users_and_shows_keys(site: Tenants) -> None:
    data = site.server.data
    listed = cli("users", "list", "--org", ORG_B, data=data).stdout
    assert ADMIN_B[0] in listed and ADMIN_A[0] not in listed
    last = cli("users", "role", ADMIN_B[0], "viewer", "--org", ORG_B, data=data, check=False)
    assert last.returncode == 1 and "last enabled admin" in last.stderr
    user = ("cli.user@a.example", "cli-user-password")
    cli(
        "users",
        "create",
        user[0],
        "--role",
        "viewer",
        "--password-stdin",
        data=data,
        stdin=user[1] + "\n",
    )
    cli("users", "role", user[0], "editor", data=data)
    with site.signed_in(user) as client:
        assert client.get("/v1/me").json()["role"] == "editor"
        cli("users", "disable", user[0], data=data)
        assert client.get("/v1/me").status_code == 401
    cli("users", "enable", user[0], data=data)
    with site.signed_in(user) as client:
        assert client.get("/v1/me").status_code == 200
    plain = cli(
        "keys", "create", "--scope", "read", "--expires-days", "3", data=data
    ).stdout.strip()
    assert plain.startswith("lr_")
    assert "expires" in cli("keys", "list", data=data).stdout
    shown = cli("audit", "list", data=data).stdout
    assert "user.disable" in shown and "command line" in shown
    missing = cli("users", "role", "nobody@a.example", "viewer", data=data, check=False)
    assert missing.returncode == 1 and "no user" in missing.stderr


def test_an_invited_person_accepts_once_and_signs_in(site: Tenants) -> None:
    with site.signed_in(ADMIN_A) as admin:
        invited = admin.post(
            "/v1/admin/invites", json={"email": "guest@a.example", "role": "editor"}
        )
    assert invited.status_code == 200, invited.text
    token = invited.json()["token"]
    assert token.startswith("inv_")
    accept = {"token": token, "password": "guest-password-1"}
    accepted = httpx.post(f"{site.url}/v1/invites/accept", json=accept)
    assert accepted.status_code == 200 and accepted.json()["role"] == "editor"
    again = httpx.post(
        f"{site.url}/v1/invites/accept", json={**accept, "password": "takeover-pass-2"}
    )
    assert again.status_code == 404 and "already used" in again.json()["error"]
    with site.signed_in(("guest@a.example", "guest-password-1")) as guest:
        assert guest.get("/v1/me").json()["role"] == "editor"
    with site.signed_in(ADMIN_A) as admin:
        actions = [e["action"] for e in admin.get("/v1/admin/audit").json()["entries"][:2]]
    assert actions == ["user.accept", "user.invite"]


def test_invitations_expire_and_only_admins_make_them(site: Tenants) -> None:
    metadata = Metadata(site.server.data / "metadata.sqlite3")
    token, _ = metadata.create_invite(metadata.org(), "late@a.example", "viewer", days=-1)
    late = httpx.post(
        f"{site.url}/v1/invites/accept", json={"token": token, "password": "late-password-1"}
    )
    assert late.status_code == 404
    with site.signed_in(EDITOR_A) as editor:
        refused = editor.post("/v1/admin/invites", json={"email": "pal@a.example", "role": "admin"})
    assert refused.status_code == 403
    printed = cli(
        "users", "invite", "cli.guest@a.example", "--role", "viewer", data=site.server.data
    ).stdout.strip()
    assert printed.startswith("inv_")
    made = httpx.post(f"{site.url}/v1/invites/accept", json={"token": printed, "password": "short"})
    assert made.status_code == 400 and "10 characters" in made.json()["error"]
    made = httpx.post(
        f"{site.url}/v1/invites/accept", json={"token": printed, "password": "long-enough-now"}
    )
    assert made.status_code == 200 and made.json()["email"] == "cli.guest@a.example"
