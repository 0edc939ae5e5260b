"""POST /v1/events over HTTP (SPEC §2 "Ingest API"): bodies, encodings, keys, limits, ids."""

from __future__ import annotations

import gzip
import json
import random
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import zstandard

from conftest import Server, post

MB = 1024 * 1024
JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


def new_campaign(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:12]}"


def event(campaign: str, type_: str = "sent", **fields: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(),
        "campaign": campaign,
        "channel": "email",
        "type": type_,
        "profile": "p-1",
        **fields,
    }


def events(campaign: str, n: int) -> list[dict[str, Any]]:
    return [event(campaign) for _ in range(n)]


def as_json(items: list[Any]) -> bytes:
    return json.dumps(items).encode()


def as_ndjson(items: list[Any]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in items)


def send(client: httpx.Client, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post("/v1/events", content=body, headers=headers or JSON)


def totals(client: httpx.Client, campaign: str, channel: str = "email") -> dict[str, Any]:
    response = client.get(f"/v1/campaigns/{campaign}/totals", params={"channel": channel})
    assert response.status_code == 200, response.text
    metrics: dict[str, Any] = response.json()["metrics"]
    return metrics


def assert_error(response: httpx.Response, status: int) -> str:
    """An error answer: the status, and a JSON body {"error": "…"}; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str) and body["error"]
    message: str = body["error"]
    return message


@pytest.fixture(scope="module")
def client(server: Server, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with server.client(keys["both"]) as c:
        yield c


# --- bodies -----------------------------------------------------------------------------


def test_json_array_body(client: httpx.Client) -> None:
    campaign = new_campaign("json")
    response = send(client, as_json(events(campaign, 3)))
    assert response.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    assert totals(client, campaign)["sent"] == 3


def test_json_content_type_may_name_a_charset(client: httpx.Client) -> None:
    response = send(
        client,
        as_json(events(new_campaign("charset"), 1)),
        {"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.json()["accepted"] == 1


def test_ndjson_body(client: httpx.Client) -> None:
    campaign = new_campaign("ndjson")
    response = send(client, as_ndjson(events(campaign, 3)), NDJSON)
    assert response.json() == {"accepted": 3, "duplicates": 0, "rejected": []}
    assert totals(client, campaign)["sent"] == 3


def test_ndjson_with_crlf_line_ends(client: httpx.Client) -> None:
    body = as_ndjson(events(new_campaign("crlf"), 2)).replace(b"\n", b"\r\n")
    assert send(client, body, NDJSON).json()["accepted"] == 2


def test_bad_ndjson_line_is_rejected_alone(client: httpx.Client) -> None:
    campaign = new_campaign("ndjson-bad")
    good = events(campaign, 3)
    unknown_type = event(campaign, "opened")
    lines = [
        json.dumps(good[0]),
        '{"id": "broken", "time": ',
        json.dumps(good[1]),
        json.dumps(unknown_type),
        json.dumps(good[2]),
    ]
    result = send(client, "\n".join(lines).encode(), NDJSON).json()
    assert result["accepted"] == 3
    assert [r["index"] for r in result["rejected"]] == [1, 3]
    assert result["rejected"][1]["id"] == unknown_type["id"]
    assert result["rejected"][1]["errors"][0].startswith("type: ")
    assert totals(client, campaign)["sent"] == 3


# --- encodings --------------------------------------------------------------------------


def test_gzip_body(client: httpx.Client) -> None:
    campaign = new_campaign("gzip")
    body = gzip.compress(as_json(events(campaign, 4)))
    response = send(client, body, {**JSON, "Content-Encoding": "gzip"})
    assert response.json()["accepted"] == 4
    assert totals(client, campaign)["sent"] == 4


def test_zstd_body(client: httpx.Client) -> None:
    campaign = new_campaign("zstd")
    body = zstandard.ZstdCompressor().compress(as_ndjson(events(campaign, 4)))
    response = send(client, body, {**NDJSON, "Content-Encoding": "zstd"})
    assert response.json()["accepted"] == 4
    assert totals(client, campaign)["sent"] == 4


def test_gzip_body_of_several_members(client: httpx.Client) -> None:
    campaign = new_campaign("gzip-members")
    body = b"".join(gzip.compress(as_ndjson(events(campaign, 2))) for _ in range(3))
    response = send(client, body, {**NDJSON, "Content-Encoding": "gzip"})
    assert response.json()["accepted"] == 6


def test_zstd_body_of_several_frames(client: httpx.Client) -> None:
    campaign = new_campaign("zstd-frames")
    compress = zstandard.ZstdCompressor(write_content_size=False).compress
    body = b"".join(compress(as_ndjson(events(campaign, 2))) for _ in range(3))
    response = send(client, body, {**NDJSON, "Content-Encoding": "zstd"})
    assert response.json()["accepted"] == 6


def test_corrupt_gzip_is_400(client: httpx.Client) -> None:
    body = b"\x1f\x8b" + b"this is not deflate data" * 4
    assert_error(send(client, body, {**JSON, "Content-Encoding": "gzip"}), 400)


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_truncated_compressed_body_is_400(client: httpx.Client, encoding: str) -> None:
    plain = as_ndjson(events(new_campaign("truncated"), 50))
    compress = gzip.compress if encoding == "gzip" else zstandard.ZstdCompressor().compress
    body = compress(plain)[:-8]
    assert_error(send(client, body, {**NDJSON, "Content-Encoding": encoding}), 400)


def test_unknown_content_encoding_is_415(client: httpx.Client) -> None:
    assert_error(send(client, b"[]", {**JSON, "Content-Encoding": "br"}), 415)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_wrong_content_type_is_415(client: httpx.Client, content_type: str) -> None:
    assert_error(send(client, b"[]", {"Content-Type": content_type}), 415)


# --- whole-body errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "position"),
    [
        (b'[{"id": "a"} {"id": "b"}]', 13),
        (b'[{"id": "a"},, {}]', 13),
        (b'[{"id": "a"}, {"id": ', 21),
    ],
    ids=["missing comma", "double comma", "cut short"],
)
def test_unparseable_json_is_400_with_the_position(
    client: httpx.Client, body: bytes, position: int
) -> None:
    message = assert_error(send(client, body), 400)
    numbers = {int(n) for n in re.findall(r"\d+", message)}
    assert numbers & {position, position + 1}, message  # 0- or 1-based


@pytest.mark.parametrize("body", [b'{"id": "a"}', b'"events"', b"42"])
def test_json_that_is_not_an_array_is_400(client: httpx.Client, body: bytes) -> None:
    assert "array" in assert_error(send(client, body), 400)


# --- keys -------------------------------------------------------------------------------


def test_no_key_is_401(server: Server) -> None:
    assert_error(httpx.post(f"{server.url}/v1/events", json=[]), 401)


def test_unknown_key_is_401(server: Server) -> None:
    with server.client("lr_not_a_real_key") as stranger:
        assert_error(send(stranger, b"[]"), 401)


def test_read_only_key_is_403(server: Server, keys: dict[str, str]) -> None:
    with server.client(keys["read"]) as reader:
        assert_error(send(reader, as_json(events(new_campaign("read-only"), 1))), 403)


def test_ingest_only_key_can_post(server: Server, keys: dict[str, str]) -> None:
    with server.client(keys["ingest"]) as sender:
        assert post(sender, events(new_campaign("ingest-only"), 1))["accepted"] == 1


# --- limits -----------------------------------------------------------------------------


def test_more_than_10000_events_is_413(client: httpx.Client) -> None:
    campaign = new_campaign("too-many")
    assert_error(send(client, as_json(events(campaign, 10_001))), 413)
    assert client.get(f"/v1/campaigns/{campaign}/totals?channel=email").status_code == 404


def test_10000_events_near_10_mb_are_accepted(client: httpx.Client) -> None:
    campaign = new_campaign("at-limits")
    padded = [event(campaign, url="https://example.com/" + "x" * 780) for _ in range(10_000)]
    body = as_json(padded)
    assert 9 * MB < len(body) < 10_000_000
    assert send(client, body).json()["accepted"] == 10_000
    assert totals(client, campaign)["sent"] == 10_000


def test_body_over_10_mb_is_413(client: httpx.Client) -> None:
    assert_error(send(client, b"[" + b" " * (10 * MB) + b"]"), 413)


def test_streamed_body_over_10_mb_is_413(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count as it reads
        yield b"["
        for _ in range(11):
            yield b" " * MB
        yield b"]"

    assert_error(send(client, chunks()), 413)


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_compressed_body_that_decodes_over_10_mb_is_413(
    client: httpx.Client, encoding: str
) -> None:
    plain = b"[" + b" " * (11 * MB) + b"]"
    body = (
        gzip.compress(plain) if encoding == "gzip" else zstandard.ZstdCompressor().compress(plain)
    )
    assert len(body) < MB
    assert_error(send(client, body, {**JSON, "Content-Encoding": encoding}), 413)


# --- accounting and ids -----------------------------------------------------------------


def test_every_event_is_accounted_for(client: httpx.Client) -> None:
    campaign = new_campaign("mixed")
    old = events(campaign, 2)
    post(client, old)
    body = [*old, *events(campaign, 3), event(campaign, "opened"), 7, event(campaign, time="soon")]
    result = post(client, body)
    assert (result["accepted"], result["duplicates"], len(result["rejected"])) == (3, 2, 3)
    assert result["accepted"] + result["duplicates"] + len(result["rejected"]) == len(body)


@pytest.mark.parametrize(("first", "second"), [("sent", "delivered"), ("delivered", "sent")])
def test_duplicate_in_one_request_first_one_stands(
    client: httpx.Client, first: str, second: str
) -> None:
    campaign = new_campaign("dup-inside")
    a = event(campaign, first)
    b = {**event(campaign, second), "id": a["id"]}
    assert post(client, [a, b]) == {"accepted": 1, "duplicates": 1, "rejected": []}
    metrics = totals(client, campaign)
    assert (metrics[first], metrics[second]) == (1, 0)


def test_duplicate_across_requests_first_one_stands(client: httpx.Client) -> None:
    campaign = new_campaign("dup-across")
    sent = events(campaign, 5)
    post(client, sent)
    again = [{**e, "type": "delivered"} for e in sent]
    assert post(client, again) == {"accepted": 0, "duplicates": 5, "rejected": []}
    metrics = totals(client, campaign)
    assert (metrics["sent"], metrics["delivered"]) == (5, 0)


def test_same_id_in_another_org_is_not_a_duplicate(server: Server, client: httpx.Client) -> None:
    org = new_campaign("org")
    server.create_org(org)
    campaign = new_campaign("two-orgs")
    sent = events(campaign, 3)
    post(client, sent)
    with server.client(server.key("ingest", "read", org=org)) as other:
        assert post(other, sent)["accepted"] == 3
        assert totals(other, campaign)["sent"] == 3
    assert totals(client, campaign)["sent"] == 3


def test_concurrent_requests_count_each_id_once(server: Server, keys: dict[str, str]) -> None:
    campaign = new_campaign("concurrent")
    pool = events(campaign, 400)
    requests = [random.Random(seed).sample(pool, 150) for seed in range(32)]

    def send_one(batch: list[dict[str, Any]]) -> dict[str, Any]:
        with server.client(keys["both"]) as c:
            return post(c, batch)

    with ThreadPoolExecutor(max_workers=8) as workers:
        results = list(workers.map(send_one, requests))
    distinct = {e["id"] for batch in requests for e in batch}
    assert sum(r["accepted"] for r in results) == len(distinct)
    assert sum(r["duplicates"] for r in results) == 32 * 150 - len(distinct)
    with server.client(keys["both"]) as c:
        assert totals(c, campaign)["sent"] == len(distinct)
