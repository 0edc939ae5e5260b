"""The session cookie is Secure when the browser used HTTPS: to livereport itself, or to a
reverse proxy listed in LIVEREPORT_TRUSTED_PROXIES. X-Forwarded-Proto and X-Forwarded-For
from any other address change nothing: neither the cookie nor the address that sign-in
throttling counts (issue 16)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from conftest import Server, free_port, start_app
from livereport.config import Config
from livereport.web.session import COOKIE, _set_cookie

EMAIL, PASSWORD = "cookie@example.com", "cookie-password-1"
CSRF = {"X-Requested-With": "livereport"}
HTTPS_PROXY = {**CSRF, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


def _server(path: Path, **env: str) -> Server:
    server = start_app(path / "data", env)
    server.create_user(EMAIL, "editor", PASSWORD)
    return server


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose proxy, as the tests reach it, is 127.0.0.1; two failed sign-ins per
    address are the most allowed."""
    server = _server(
        tmp_path_factory.mktemp("proxied"),
        LIVEREPORT_TRUSTED_PROXIES="127.0.0.1",
        LIVEREPORT_SIGNIN_MAX_FAILURES="2",
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def no_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the default setting: no proxy trusted."""
    server = _server(tmp_path_factory.mktemp("direct"))
    yield server
    server.stop()


@pytest.fixture
def strict_no_proxy(tmp_path: Path) -> Iterator[Server]:
    """No proxy trusted, and two failed sign-ins per address are the most allowed."""
    server = _server(tmp_path, LIVEREPORT_SIGNIN_MAX_FAILURES="2")
    yield server
    server.stop()


def _sign_in(server: Server, headers: dict[str, str], email: str = EMAIL) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/signin", json={"email": email, "password": PASSWORD}, headers=headers
    )


def _cookie_flags(response: httpx.Response) -> list[str]:
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    return [part.strip() for part in cookie.split(";")[1:]]


def test_a_cookie_set_over_https_is_secure() -> None:
    scope = {
        "type": "http",
        "scheme": "https",
        "method": "POST",
        "path": "/v1/signin",
        "headers": [(b"host", b"reports.example.com")],
        "server": ("10.0.0.1", 443),
    }
    response = Response()
    _set_cookie(response, Request(scope), "token")
    assert "Secure" in _cookie_flags(httpx.Response(200, headers=response.headers.raw))


def test_https_at_a_trusted_proxy_makes_the_cookie_secure(behind_proxy: Server) -> None:
    signin = _sign_in(behind_proxy, HTTPS_PROXY)
    assert signin.status_code == 200, signin.text
    assert "Secure" in _cookie_flags(signin)
    signout = httpx.post(
        f"{behind_proxy.url}/v1/signout",
        headers=HTTPS_PROXY,
        cookies={COOKIE: signin.cookies[COOKIE]},
    )
    assert "Secure" in _cookie_flags(signout)


def test_plain_http_at_a_trusted_proxy_keeps_the_cookie_usable_over_http(
    behind_proxy: Server,
) -> None:
    signin = _sign_in(behind_proxy, {**HTTPS_PROXY, "X-Forwarded-Proto": "http"})
    assert signin.status_code == 200, signin.text
    assert "Secure" not in _cookie_flags(signin)


def test_behind_a_trusted_proxy_each_browser_address_is_throttled_on_its_own(
    behind_proxy: Server,
) -> None:
    def sign_in(address: str, email: str) -> int:
        headers = {**CSRF, "X-Forwarded-For": address}
        return _sign_in(behind_proxy, headers, f"{email}@example.com").status_code

    assert [sign_in("198.51.100.1", f"nobody-{n}") for n in range(3)] == [401, 401, 429]
    assert sign_in("198.51.100.2", "somebody") == 401  # another browser, the same proxy


def test_forwarded_headers_from_an_address_not_trusted_change_nothing(no_proxy: Server) -> None:
    signin = _sign_in(no_proxy, HTTPS_PROXY)
    assert signin.status_code == 200, signin.text
    assert "Secure" not in _cookie_flags(signin)


def test_a_forged_forwarded_address_does_not_dodge_the_sign_in_throttle(
    strict_no_proxy: Server,
) -> None:
    server = strict_no_proxy
    for n in range(2):  # unknown accounts, so that only the address adds up
        headers = {**CSRF, "X-Forwarded-For": f"198.51.100.{n}"}
        assert _sign_in(server, headers, f"nobody-{n}@example.com").status_code == 401
    throttled = _sign_in(server, {**CSRF, "X-Forwarded-For": "198.51.100.9"}, "x@example.com")
    assert throttled.status_code == 429, throttled.text


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.1/8", "*,10.0.0.1"])
def test_a_trusted_proxy_that_could_never_match_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="LIVEREPORT_TRUSTED_PROXIES"):
        Config.load(env={"LIVEREPORT_TRUSTED_PROXIES": value})


def test_a_server_with_such_a_proxy_does_not_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "livereport",
            "serve",
            "--data",
            str(tmp_path / "data"),
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "LIVEREPORT_TRUSTED_PROXIES": "10.0.0.5,proxy.internal"},
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "livereport: LIVEREPORT_TRUSTED_PROXIES='10.0.0.5,proxy.internal' is not valid: "
        "'proxy.internal' does not appear to be an IPv4 or IPv6 address; expected IP addresses "
        "or networks, comma-separated (10.0.0.5,10.1.0.0/16), or * alone"
    ]
    assert not (tmp_path / "data").exists()
