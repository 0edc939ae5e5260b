"""Brute force and floods: 20 wrong passwords in a row lock the account (even the right
password fails until the lock ends, and admins see the lock); each API key has a token
bucket, past which requests get 429 with Retry-After."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from tenants import ADMIN_A, CSRF, EDITOR_A, VIEWER_A, Tenants, start_tenants

from conftest import cli
from livereport.store.metadata import Metadata

#: Long enough that a slow machine never sees the lock end during the test.
LOCK_S = 600


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    env = {
        # Room for 20 failures from one address inside the throttle's window, so the
        # account lock is what stops them.
        "LIVEREPORT_SIGNIN_MAX_FAILURES": "100",
        "LIVEREPORT_SIGNIN_LOCK_S": str(LOCK_S),
        "LIVEREPORT_KEY_REQUESTS_PER_S": "1",
        "LIVEREPORT_KEY_BURST": "5",
    }
    tenants = start_tenants(tmp_path_factory.mktemp("lockout") / "data", env)
    try:
        yield tenants
    finally:
        tenants.server.stop()


def _sign_in(site: Tenants, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{site.url}/v1/signin", json={"email": email, "password": password}, headers=CSRF
    )


def _account(site: Tenants, email: str) -> dict[str, object]:
    with site.signed_in(ADMIN_A) as admin:
        users = admin.get("/v1/admin/users").json()["users"]
    found: dict[str, object] = next(u for u in users if u["email"] == email)
    return found


def test_twenty_wrong_passwords_lock_the_account_until_the_lock_ends(site: Tenants) -> None:
    email, password = EDITOR_A
    codes = [_sign_in(site, email, f"wrong-guess-{i}").status_code for i in range(20)]
    assert codes == [401] * 19 + [429]
    locked = _sign_in(site, email, password)
    assert locked.status_code == 429
    assert "locked" in locked.json()["error"] and int(locked.headers["Retry-After"]) >= 1
    seen = _account(site, email)
    assert isinstance(seen["locked_until"], float) and seen["locked_until"] > time.time()
    listed = cli("users", "list", data=site.server.data).stdout
    (line,) = [row for row in listed.splitlines() if email in row]
    assert line.split("\t")[-1].startswith("20")  # the lock's end, a date in this century
    with site.signed_in(ADMIN_A) as admin:
        assert any(
            e["action"] == "user.locked" for e in admin.get("/v1/admin/audit").json()["entries"]
        )
    # The lock ends by itself: seen from a moment after its end, it is gone.
    metadata = Metadata(site.server.data / "metadata.sqlite3")
    until = metadata.sign_in_lock(email, time.time())
    assert until is not None and until == pytest.approx(time.time() + LOCK_S, abs=120)
    assert metadata.sign_in_lock(email, until + 1) is None


def test_a_right_password_ends_the_run_of_failures(site: Tenants) -> None:
    email, password = VIEWER_A
    for i in range(12):
        assert _sign_in(site, email, f"wrong-{i}").status_code == 401
    assert _account(site, email)["failed_sign_ins"] == 12
    assert _sign_in(site, email, password).status_code == 200
    assert _account(site, email)["failed_sign_ins"] == 0
    for i in range(12):  # 24 in all, but never 20 in a row
        assert _sign_in(site, email, f"wrong-again-{i}").status_code == 401
    assert _sign_in(site, email, password).status_code == 200


def test_an_admin_can_unlock_an_account_sooner(site: Tenants) -> None:
    user = ("locked.out@a.example", "locked-out-password")
    with site.signed_in(ADMIN_A) as admin:
        user_id = admin.post(
            "/v1/admin/users", json={"email": user[0], "role": "viewer", "password": user[1]}
        ).json()["id"]
        for i in range(20):
            _sign_in(site, user[0], f"nope-{i}")
        assert _sign_in(site, *user).status_code == 429
        unlocked = admin.patch(f"/v1/admin/users/{user_id}", json={"unlock": True})
        assert unlocked.status_code == 200 and unlocked.json()["locked_until"] is None
    assert _sign_in(site, *user).status_code == 200


def test_a_key_past_its_rate_gets_429_with_retry_after(site: Tenants) -> None:
    with site.key_client("b") as client:
        codes = [client.get("/v1/campaigns").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        refused = client.get("/v1/campaigns")
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "requests per second" in refused.json()["error"]
    with site.key_client("a") as other:  # another key has its own bucket
        assert other.get("/v1/campaigns").status_code == 200
    site.server.advance(2.1)
    with site.key_client("b") as client:
        assert client.get("/v1/campaigns").status_code == 200
