"""Passwords and invitations over real HTTP (issue 16): a signed-in user changes their
password, an admin resets one (API and command line), an invited person accepts on a page.
Each ends the right sessions, is audit-logged, stays inside its org, and every bad input
gets an answer that says what is wrong and what is expected."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from tenants import ADMIN_A, ADMIN_B, CSRF, EDITOR_A, VIEWER_A, Tenants, event, send, start_tenants

from conftest import cli
from livereport.store.metadata import Metadata


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    tenants = start_tenants(tmp_path_factory.mktemp("passwords") / "data")
    try:
        yield tenants
    finally:
        tenants.server.stop()


def _metadata(site: Tenants) -> Metadata:
    return Metadata(site.server.data / "metadata.sqlite3", cheap_passwords=True)


def _new_user(
    site: Tenants, role: str = "editor", org: str | None = None
) -> tuple[int, tuple[str, str]]:
    """A user of their own for one test (the tenants' users stay as they are)."""
    metadata = _metadata(site)
    user = (f"{role}-{uuid.uuid4().hex[:8]}@a.example", f"{role}-password-{uuid.uuid4().hex[:6]}")
    made = metadata.create_user(metadata.org(org), user[0], role, user[1])
    return made.id, user


def _sign_in(site: Tenants, user: tuple[str, str]) -> httpx.Response:
    return httpx.post(
        f"{site.url}/v1/signin", json={"email": user[0], "password": user[1]}, headers=CSRF
    )


@contextmanager
def _session(site: Tenants, user: tuple[str, str]) -> Iterator[httpx.Client]:
    """A session of its own (``site.signed_in`` of a user made for the test)."""
    with site.signed_in(user) as client:
        yield client


def _audit(site: Tenants) -> list[dict[str, str]]:
    with site.key_client("a_admin") as admin:
        entries: list[dict[str, str]] = admin.get("/v1/admin/audit").json()["entries"]
    return entries


# changing one's own password


def test_a_user_changes_their_password_and_their_other_sessions_end(site: Tenants) -> None:
    _, user = _new_user(site, "viewer")
    new = "a-brand-new-password"
    with (
        _session(site, user) as here,
        _session(site, user) as elsewhere,
        _session(site, user) as third,
    ):
        changed = here.post(
            "/v1/me/password", json={"current_password": user[1], "new_password": new}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json() == {"email": user[0], "changed": True, "other_sessions_ended": 2}
        assert here.get("/v1/me").status_code == 200  # the session that changed it goes on
        assert here.get("/v1/campaigns").status_code == 200
        for ended in (elsewhere, third):
            assert ended.get("/v1/me").status_code == 401
            assert ended.get("/v1/campaigns").status_code == 401
    assert _sign_in(site, user).status_code == 401
    assert _sign_in(site, (user[0], new)).status_code == 200
    latest = _audit(site)[0]
    assert (latest["actor"], latest["action"]) == (f"user {user[0]}", "user.password")
    assert latest["target"] == f"user {user[0]}; 2 other sessions ended"
    assert latest["address"] == "127.0.0.1"


def test_a_password_change_needs_the_session_the_header_and_the_current_password(
    site: Tenants,
) -> None:
    _, user = _new_user(site)
    body = {"current_password": user[1], "new_password": "another-good-password"}
    assert httpx.post(f"{site.url}/v1/me/password", json=body, headers=CSRF).status_code == 401
    with site.key_client("a_admin") as key:  # an API key has no password to change
        refused = key.post("/v1/me/password", json=body, headers=CSRF)
    assert refused.status_code == 401 and "sign in" in refused.json()["error"]
    with _session(site, user) as client:
        forged = client.post("/v1/me/password", json=body, headers={"X-Requested-With": ""})
        assert (
            forged.status_code == 403 and "X-Requested-With: livereport" in forged.json()["error"]
        )
        cases = [
            (
                {**body, "current_password": "not-my-password"},
                "current_password: this is not your current password",
            ),
            ({**body, "new_password": "short"}, "new_password: expected at least 10 characters"),
            ({**body, "new_password": user[1]}, "new_password: it is your current password"),
            (
                {"current_password": user[1]},
                'missing required field `new_password`; expected JSON {"current_password"',
            ),
            ({**body, "extra": 1}, "unknown field `extra`"),
            ([], "expected JSON"),
        ]
        for sent, expected in cases:
            answer = client.post("/v1/me/password", json=sent)
            assert answer.status_code == 400, (sent, answer.text)
            assert expected in answer.json()["error"], (sent, answer.json())
        assert client.post("/v1/me/password", content=b"{nope").status_code == 400
        assert client.post("/v1/me/password", content=b" " * 20_000).status_code == 413
        assert client.get("/v1/me").status_code == 200  # nothing above ended the session
    assert _sign_in(site, user).status_code == 200  # nor changed the password


def test_wrong_current_passwords_are_throttled_like_sign_ins(tmp_path: Path) -> None:
    tenants = start_tenants(tmp_path / "data", {"LIVEREPORT_SIGNIN_MAX_FAILURES": "3"})
    try:
        with tenants.signed_in(EDITOR_A) as client:
            wrong = {"current_password": "guess-number-one", "new_password": "taken-over-password"}
            assert [client.post("/v1/me/password", json=wrong).status_code for _ in range(3)] == [
                400
            ] * 3
            right = {**wrong, "current_password": EDITOR_A[1]}
            throttled = client.post("/v1/me/password", json=right)
            assert throttled.status_code == 429 and "try again in" in throttled.json()["error"]
            assert int(throttled.headers["retry-after"]) > 0
            assert client.get("/v1/me").status_code == 200
    finally:
        tenants.server.stop()


# an admin's reset


def test_an_admin_resets_a_password_and_every_session_of_the_user_ends(site: Tenants) -> None:
    user_id, user = _new_user(site)
    chosen = "set-by-the-admin-1"
    with _session(site, user) as one, _session(site, user) as two, site.signed_in(ADMIN_A) as admin:
        reset = admin.post(f"/v1/admin/users/{user_id}/password", json={"password": chosen})
        assert reset.status_code == 200, reset.text
        assert reset.json() == {
            "id": user_id,
            "email": user[0],
            "generated": False,
            "sessions_ended": 2,
        }
        for ended in (one, two):
            assert ended.get("/v1/me").status_code == 401
            assert ended.get("/v1/campaigns").status_code == 401
            assert ended.put("/v1/layouts/email", json={"widgets": []}).status_code == 401
        assert admin.get("/v1/me").status_code == 200
    assert _sign_in(site, user).status_code == 401
    assert _sign_in(site, (user[0], chosen)).status_code == 200
    latest = _audit(site)[0]
    assert (latest["actor"], latest["action"]) == (f"user {ADMIN_A[0]}", "user.password.reset")
    assert latest["target"] == f"user {user[0]}; 2 sessions ended"


def test_a_reset_without_a_password_returns_a_random_one_once(site: Tenants) -> None:
    user_id, user = _new_user(site, "viewer")
    with site.key_client("a_admin") as admin:
        first = admin.post(f"/v1/admin/users/{user_id}/password")
        second = admin.post(f"/v1/admin/users/{user_id}/password", json={})
        listed = admin.get("/v1/admin/users").text
    assert first.status_code == 200 and second.status_code == 200, (first.text, second.text)
    made = first.json()["password"], second.json()["password"]
    assert first.json()["generated"] is True and len(made[0]) == 20 and made[0] != made[1]
    assert made[1] not in listed  # shown in the reset's answer only
    assert _sign_in(site, (user[0], made[0])).status_code == 401
    assert _sign_in(site, (user[0], made[1])).status_code == 200
    assert _audit(site)[0]["actor"].startswith("key ")


def test_a_reset_lifts_the_sign_in_lock(site: Tenants) -> None:
    user_id, user = _new_user(site)
    _metadata(site).record_failed_sign_in(user[0], time.time(), 1, 3600)
    locked = _sign_in(site, user)
    assert locked.status_code == 429 and "locked" in locked.json()["error"]
    with site.key_client("a_admin") as admin:
        chosen = admin.post(f"/v1/admin/users/{user_id}/password").json()["password"]
    assert _sign_in(site, (user[0], chosen)).status_code == 200


def test_only_admins_of_the_users_org_reset_passwords(site: Tenants) -> None:
    user_id, user = _new_user(site)
    body = {"password": "taken-over-password"}
    path = f"/v1/admin/users/{user_id}/password"
    with _session(site, user) as victim:
        with site.signed_in(ADMIN_B) as other_admin:
            other = other_admin.post(path, json=body)
        assert other.status_code == 404 and "has no user" in other.json()["error"]
        assert "a.example" not in other.text  # nothing of org A is revealed
        with site.key_client("b_admin") as other_key:
            assert other_key.post(path, json=body).status_code == 404
        for refused_user in (VIEWER_A, EDITOR_A):
            with site.signed_in(refused_user) as refused:
                answer = refused.post(path, json=body)
            assert answer.status_code == 403, answer.text
            assert "cannot use the admin scope" in answer.json()["error"]
        with site.key_client("a") as read_key:
            answer = read_key.post(path, json=body)
        assert answer.status_code == 403 and "lacks the admin scope" in answer.json()["error"]
        assert httpx.post(f"{site.url}{path}", json=body).status_code == 401
        with httpx.Client(base_url=site.url, timeout=60) as no_header:
            signin = no_header.post(
                "/v1/signin", json={"email": ADMIN_A[0], "password": ADMIN_A[1]}, headers=CSRF
            )
            assert signin.status_code == 200
            forged = no_header.post(path, json=body)  # a cross-site form: no header
        assert forged.status_code == 403 and "X-Requested-With" in forged.json()["error"]
        assert victim.get("/v1/me").status_code == 200  # none of it touched the user
    assert _sign_in(site, user).status_code == 200
    assert _sign_in(site, (user[0], body["password"])).status_code == 401


def test_bad_resets_say_what_is_expected(site: Tenants) -> None:
    user_id, _ = _new_user(site)
    with site.signed_in(ADMIN_A) as admin:
        me = next(
            u for u in admin.get("/v1/admin/users").json()["users"] if u["email"] == ADMIN_A[0]
        )
        own = admin.post(
            f"/v1/admin/users/{me['id']}/password", json={"password": "my-own-new-password"}
        )
        assert own.status_code == 400 and "POST /v1/me/password" in own.json()["error"]
        cases = [
            (
                f"/v1/admin/users/{user_id}/password",
                {"password": "short"},
                400,
                "password: expected at least 10 characters",
            ),
            (
                f"/v1/admin/users/{user_id}/password",
                {"pasword": "a-long-password"},
                400,
                'unknown field `pasword`; expected JSON {"password"?',
            ),
            (
                f"/v1/admin/users/{user_id}/password",
                {"password": 12345678901},
                400,
                "Expected `str`, got `int`",
            ),
            ("/v1/admin/users/abc/password", {}, 404, "ids are whole numbers"),
            ("/v1/admin/users/999999/password", {}, 404, "has no user 999999"),
        ]
        for path, body, status, expected in cases:
            answer = admin.post(path, json=body)
            assert answer.status_code == status, (path, body, answer.text)
            assert expected in answer.json()["error"], (path, body, answer.json())
    assert _sign_in(site, ADMIN_A).status_code == 200  # the refused self-reset changed nothing


def test_a_reset_ends_an_open_live_stream(site: Tenants) -> None:
    campaign = f"watched-{uuid.uuid4().hex[:6]}"
    with site.key_client("a") as key:
        send(key, [event(campaign, "sent")])
    user_id, user = _new_user(site, "viewer")
    with (
        _session(site, user) as viewer,
        viewer.stream("GET", f"/v1/campaigns/{campaign}/live", timeout=60) as live,
    ):
        assert live.status_code == 200
        lines = live.iter_lines()
        assert any(line == "event: report" for line in lines)
        with site.key_client("a_admin") as admin:
            assert admin.post(f"/v1/admin/users/{user_id}/password").status_code == 200
        started = time.monotonic()
        after = []
        for line in lines:  # the next heartbeat finds the session gone, and says so
            # A report already on its way (the minute turned, another test's events) may
            # come first; the session is checked at the heartbeat.
            if line.startswith("event: ") and line not in ("event: heartbeat", "event: report"):
                after.append(line)
                break
    assert after == ["event: signed-out"], after
    assert time.monotonic() - started < 30


# the command line


def test_the_command_line_resets_a_password_from_the_data_directory(site: Tenants) -> None:
    data = site.server.data
    _, user = _new_user(site)
    with _session(site, user) as before:
        made = cli("users", "reset-password", user[0].upper(), data=data)
        assert before.get("/v1/me").status_code == 401
    printed = made.stdout.strip()
    assert len(printed) == 20 and "\n" not in printed
    assert f"password of {user[0]} reset; 1 sessions ended" in made.stderr
    assert _sign_in(site, (user[0], printed)).status_code == 200
    chosen = "typed-on-stdin-1"
    quiet = cli(
        "users", "reset-password", user[0], "--password-stdin", data=data, stdin=chosen + "\n"
    )
    assert quiet.stdout == ""  # a chosen password is never echoed
    assert _sign_in(site, (user[0], chosen)).status_code == 200
    latest = _audit(site)[0]
    assert latest["action"] == "user.password.reset" and latest["actor"].startswith("command line")
    short = cli(
        "users",
        "reset-password",
        user[0],
        "--password-stdin",
        data=data,
        stdin="short\n",
        check=False,
    )
    assert short.returncode == 1 and "password: expected at least 10 characters" in short.stderr
    missing = cli("users", "reset-password", "nobody@a.example", data=data, check=False)
    assert missing.returncode == 1 and "has no user 'nobody@a.example'" in missing.stderr
    other_org = cli("users", "reset-password", user[0], "--org", "org-b", data=data, check=False)
    assert other_org.returncode == 1 and "org 'org-b' has no user" in other_org.stderr
    assert _sign_in(site, (user[0], chosen)).status_code == 200  # the failures changed nothing


def test_the_command_line_resets_a_password_through_a_server(site: Tenants, tmp_path: Path) -> None:
    _, user = _new_user(site)
    empty = tmp_path / "elsewhere"  # --url needs no data directory of its own
    remote = ("users", "reset-password", user[0], "--url", site.url)
    made = cli(*remote, "--key", site.keys["a_admin"], data=empty)
    assert _sign_in(site, (user[0], made.stdout.strip())).status_code == 200
    refused = cli(*remote, "--key", site.keys["a"], data=empty, check=False)
    assert refused.returncode == 1 and "lacks the admin scope" in refused.stderr
    other = cli(*remote, "--key", site.keys["b_admin"], data=empty, check=False)
    assert other.returncode == 1 and f"no user '{user[0]}'" in other.stderr
    usage = cli(*remote, data=empty, check=False)
    assert usage.returncode == 2 and "--url needs --key" in usage.stderr
    assert not empty.exists()
    assert _sign_in(site, (user[0], made.stdout.strip())).status_code == 200


# invitations


def _invite(site: Tenants, email: str, role: str = "editor") -> dict[str, str]:
    with site.key_client("a_admin") as admin:
        made = admin.post("/v1/admin/invites", json={"email": email, "role": role})
    assert made.status_code == 200, made.text
    found: dict[str, str] = made.json()
    return found


def test_an_invitation_is_checked_then_accepted_once(site: Tenants) -> None:
    email = f"invited-{uuid.uuid4().hex[:6]}@a.example"
    made = _invite(site, email, "viewer")
    token = made["token"]
    assert made["link"] == f"{site.url}/invite#{token}"
    check = httpx.post(f"{site.url}/v1/invites/check", json={"token": token})
    assert check.status_code == 200, check.text
    assert {k: check.json()[k] for k in ("email", "role", "org")} == {
        "email": email,
        "role": "viewer",
        "org": "default",
    }
    accepted = httpx.post(
        f"{site.url}/v1/invites/accept", json={"token": token, "password": "invited-password-1"}
    )
    assert accepted.status_code == 200, accepted.text
    for route in ("check", "accept"):
        used = httpx.post(
            f"{site.url}/v1/invites/{route}",
            json={
                "token": token,
                **({"password": "takeover-password"} if route == "accept" else {}),
            },
        )
        assert used.status_code == 404
        assert (
            "already used on" in used.json()["error"]
            and f"sign in at /signin as {email}" in used.json()["error"]
        )
    assert _sign_in(site, (email, "invited-password-1")).status_code == 200


def test_unknown_and_expired_invitations_say_so(site: Tenants) -> None:
    metadata = _metadata(site)
    late, _ = metadata.create_invite(
        metadata.org(), f"late-{uuid.uuid4().hex[:6]}@a.example", "viewer", days=-1
    )
    answers = {
        "expired": httpx.post(f"{site.url}/v1/invites/check", json={"token": late}),
        "unknown": httpx.post(f"{site.url}/v1/invites/check", json={"token": "inv_not-a-real-one"}),
        "long": httpx.post(
            f"{site.url}/v1/invites/accept",
            json={"token": "inv_" + "x" * 5000, "password": "long-enough-1"},
        ),
        "expired accept": httpx.post(
            f"{site.url}/v1/invites/accept", json={"token": late, "password": "long-enough-1"}
        ),
    }
    assert all(a.status_code == 404 for a in answers.values()), {
        k: a.text for k, a in answers.items()
    }
    assert (
        "expired on" in answers["expired"].json()["error"]
        and "ask an admin" in answers["expired"].json()["error"]
    )
    assert "expired on" in answers["expired accept"].json()["error"]
    for name in ("unknown", "long"):
        assert (
            "unknown: check that the link or the token is complete" in answers[name].json()["error"]
        )
    bad = httpx.post(f"{site.url}/v1/invites/check", json={"token": 5})
    assert bad.status_code == 400 and 'expected JSON {"token": "inv_…"}' in bad.json()["error"]


def test_a_short_password_keeps_the_invitation_open(site: Tenants) -> None:
    email = f"patient-{uuid.uuid4().hex[:6]}@a.example"
    token = _invite(site, email)["token"]
    short = httpx.post(f"{site.url}/v1/invites/accept", json={"token": token, "password": "short"})
    assert (
        short.status_code == 400
        and "password: expected at least 10 characters" in short.json()["error"]
    )
    assert httpx.post(f"{site.url}/v1/invites/check", json={"token": token}).status_code == 200
    # A user made meanwhile with that email: the acceptance fails and the invitation stays open.
    metadata = _metadata(site)
    user = metadata.create_user(metadata.org(), email, "viewer", "made-meanwhile-1")
    taken = httpx.post(
        f"{site.url}/v1/invites/accept", json={"token": token, "password": "patient-password"}
    )
    assert taken.status_code == 409 and "already exists" in taken.json()["error"]
    assert httpx.post(f"{site.url}/v1/invites/check", json={"token": token}).status_code == 200
    assert user.email == email


def test_racing_acceptances_make_one_account(site: Tenants) -> None:
    email = f"racer-{uuid.uuid4().hex[:6]}@a.example"
    token = _invite(site, email)["token"]

    def accept(n: int) -> int:
        body = {"token": token, "password": f"racer-password-{n}"}
        return httpx.post(f"{site.url}/v1/invites/accept", json=body, timeout=60).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(accept, range(8)))
    assert sorted(statuses) == [200] + [404] * 7, statuses
    with site.key_client("a_admin") as admin:
        users = [u["email"] for u in admin.get("/v1/admin/users").json()["users"]]
    assert users.count(email) == 1


def test_the_account_and_invitation_pages_are_served_safely(site: Tenants) -> None:
    signed_out = httpx.get(f"{site.url}/account")
    assert (
        signed_out.status_code == 303
        and signed_out.headers["location"] == "/signin?next=%2Faccount"
    )
    with site.signed_in(VIEWER_A) as viewer:
        page = viewer.get("/account")
    invite = httpx.get(f"{site.url}/invite")
    for answer in (page, invite):
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert (
            "http://" not in answer.text and "https://" not in answer.text
        )  # nothing from elsewhere
        assert "<script>" not in answer.text and " style=" not in answer.text  # nothing inline
    for static in ("js/account.js", "js/invite.js", "js/passwords.js", "css/account.css"):
        served = httpx.get(f"{site.url}/static/{static}")
        assert served.status_code == 200 and "http" not in served.text, static
    document = httpx.get(f"{site.url}/v1/openapi.json").json()
    for path in ("/v1/me/password", "/v1/admin/users/{user_id}/password", "/v1/invites/check"):
        assert "post" in document["paths"][path], path
    assert json.dumps(document["paths"]["/v1/me/password"]).count("minLength") == 1
