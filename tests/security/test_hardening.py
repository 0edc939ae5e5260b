"""Hostile input gets a clear 4xx, never a 5xx, and never takes the memory: compression
bombs, huge strings, deep nesting, bad UTF-8, NUL bytes, huge numbers, oversized headers.
Answers carry the security headers, and no CORS header opens the API to other sites."""

from __future__ import annotations

import json
import socket
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import zstandard
from tenants import Tenants, event, start_tenants

GIB = 1 << 30
MIB = 1 << 20


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    # A process of its own: the tests measure its memory and send it bombs.
    tenants = start_tenants(tmp_path_factory.mktemp("hardening") / "data", process=True)
    try:
        yield tenants
    finally:
        tenants.server.stop()


def _peak_rss_mb(site: Tenants) -> float:
    """The server process's peak resident memory so far (VmHWM), in MB."""
    assert site.server.process is not None
    status = Path(f"/proc/{site.server.process.pid}/status").read_text()
    (line,) = [row for row in status.splitlines() if row.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


def _bomb(encoding: str, size: int = GIB) -> bytes:
    zero = bytes(MIB)
    packer = (
        zlib.compressobj(9, zlib.DEFLATED, 31)
        if encoding == "gzip"
        else zstandard.ZstdCompressor().compressobj()
    )
    return b"".join([*(packer.compress(zero) for _ in range(size // MIB)), packer.flush()])


def _post(site: Tenants, body: bytes, **headers: str) -> httpx.Response:
    with site.key_client("a") as client:
        return client.post(
            "/v1/events", content=body, headers={"Content-Type": "application/json", **headers}
        )


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_a_1_gib_compression_bomb_is_refused_with_bounded_memory(
    site: Tenants, encoding: str
) -> None:
    bomb = _bomb(encoding)
    assert len(bomb) < 2 * MIB  # 1 GiB of zeros, about 1 MB of gzip, 32 KB of zstd
    _post(site, json.dumps([event("warm-up", "sent")]).encode())  # the usual working set
    before = _peak_rss_mb(site)
    refused = _post(site, bomb, **{"Content-Encoding": encoding})
    after = _peak_rss_mb(site)
    assert refused.status_code == 413
    assert "decoded request body is larger than" in refused.json()["error"]
    print(f"{encoding} bomb: peak RSS {before:.0f} MB before, {after:.0f} MB after")
    # The decoded body stops at the 10 MiB limit (plus one slice): far from 1 GiB.
    assert after - before < 64


def test_a_10_mb_json_string_is_refused_with_413(site: Tenants) -> None:
    huge = b'"' + b"a" * (10 * MIB) + b'"'
    assert _post(site, huge).status_code == 413
    as_field = b'[{"id": ' + huge + b"}]"
    refused = _post(site, as_field)
    assert refused.status_code == 413 and "larger than" in refused.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        yield b'[{"id": "'
        for _ in range(11):
            yield b"a" * MIB
        yield b'"}]'

    with site.key_client("a") as client:
        streamed = client.post(
            "/v1/events", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert streamed.status_code == 413


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "nests"),
        (b'[{"id": "a' + b'{"x":' * 5000 + b'"}]', "application/json", "not valid JSON"),
        (b'[{"id": "caf\xe9"}]', "application/json", "UTF-8"),
        (b'{"id": "ok"}\n{"id": "\xff\xfe"}', "application/x-ndjson", "UTF-8"),
        (b'[{"id": "nul\x00"}]', "application/json", "not valid JSON"),
        (b"\x00" * 1000, "application/json", "not valid JSON"),
        (b"", "application/json", "not valid JSON"),
        (b"[1e999999999]", "application/json", ""),
    ],
)
def test_malformed_bodies_get_a_clear_400(
    site: Tenants, body: bytes, content_type: str, expected: str
) -> None:
    response = _post(site, body, **{"Content-Type": content_type})
    assert response.status_code in (200, 400), response.text
    message = response.text
    assert expected in message
    if response.status_code == 200:  # per-event rejections, each with its reason
        assert response.json()["accepted"] == 0 and response.json()["rejected"][0]["errors"]


@pytest.mark.parametrize(
    "fields",
    [
        {"time": 1e308},
        {"time": -1e308},
        {"time": 10**40},
        {"time": "99999-01-01T00:00:00Z"},
        {"smtp": {"code": 10**50}},
        {"smtp": {"code": -(10**50)}},
        {"smtp": {"code": 1e308}},
        {"smtp": {"diagnostic": "d" * 100_000}},
        {"id": "x" * 100_000},
        {"campaign": "c" * 100_000},
        {"id": "a\u0000b"},
        {"profile": ""},
        {"channel": {"nested": [[[[]]]]}},
        {"reason": "r" * 1_000_000},
    ],
)
def test_hostile_event_fields_are_rejected_with_a_reason(
    site: Tenants, fields: dict[str, object]
) -> None:
    sent = {**event("hostile", "bounce"), **fields}
    response = _post(site, json.dumps([sent]).encode())
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 0, (fields, result)
    (rejected,) = result["rejected"]
    assert rejected["errors"] and all(isinstance(e, str) and e for e in rejected["errors"])


def test_oversized_headers_and_urls_are_refused(site: Tenants) -> None:
    with site.key_client("a") as client:
        big = client.get("/v1/campaigns", headers={"X-Padding": "a" * 40_000})
        many = client.get("/v1/campaigns", headers={f"X-H{i}": "1" for i in range(150)})
        long_url = client.get(
            "/v1/campaigns/" + "c" * 9000 + "/totals", params={"channel": "email"}
        )
    assert big.status_code == 431 and "headers are too large" in big.json()["error"]
    assert many.status_code == 431
    assert long_url.status_code == 414 and "URL" in long_url.json()["error"]


def test_an_oversized_head_arriving_in_pieces_gets_the_same_answer(site: Tenants) -> None:
    # The HTTP server reads a head as it arrives; a large part of it still incomplete
    # must wait for the rest, so that the limits answer (not a reset connection).
    url = httpx.URL(site.url)
    head = (
        f"GET /v1/campaigns HTTP/1.1\r\nHost: {url.host}\r\n"
        f"Authorization: Bearer {site.keys['a']}\r\nX-Padding: {'a' * 40_000}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((url.host, url.port), timeout=30) as sock:
        sock.sendall(head[:30_000])
        time.sleep(0.3)  # the server has read the first piece alone
        sock.sendall(head[30_000:])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"431", answer[:300]
    assert b"headers are too large" in rest


def test_small_json_routes_never_buffer_a_large_body(site: Tenants) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(5):
            yield b" " * MIB

    csrf = {"X-Requested-With": "livereport", "Content-Type": "application/json"}
    declared = httpx.post(f"{site.url}/v1/signin", content=b" " * (5 * MIB), headers=csrf)
    streamed = httpx.post(f"{site.url}/v1/signin", content=chunks(), headers=csrf)
    with site.key_client("a_admin") as admin:
        admin_body = admin.post("/v1/admin/users", content=chunks(), headers=csrf)
    for response in (declared, streamed, admin_body):
        assert response.status_code == 413, response.text
        assert "larger than" in response.json()["error"]


def test_unknown_routes_and_methods_answer_json(site: Tenants) -> None:
    missing = httpx.get(f"{site.url}/v1/nothing-here")
    wrong = httpx.delete(f"{site.url}/v1/events")
    assert missing.status_code == 404 and missing.json()["error"]
    assert wrong.status_code == 405 and wrong.json()["error"]


def test_answers_carry_security_headers_and_no_cors(site: Tenants) -> None:
    origin = {"Origin": "https://evil.example"}
    with site.key_client("a") as client:
        api = client.get("/v1/campaigns", headers=origin)
        preflight = client.options(
            "/v1/events", headers={**origin, "Access-Control-Request-Method": "POST"}
        )
    page = httpx.get(f"{site.url}/signin", headers=origin)
    for response in (api, preflight, page):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "access-control-allow-origin" not in response.headers
    assert preflight.status_code == 405
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and page.headers["Referrer-Policy"] == "same-origin"
