"""Operators can see the server: /healthz, /readyz, /metrics that count what was sent, and
JSON log lines carrying the request id."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from reliability_client import event, scrape
from starlette.applications import Starlette

from conftest import Server
from livereport.web.ops import ops_routes

#: Their subject is the server's process (its log and metrics from its start): fresh_server is a
#: `livereport serve` child process (conftest).
SERVER_PROCESS = True


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A `livereport serve` process, whose log a test reads (the session's is in-process)."""
    srv = Server(tmp_path_factory.mktemp("observed") / "data").start()
    yield srv
    srv.stop()


TOTALS = (
    'livereport_request_seconds_count{endpoint="/v1/campaigns/{campaign:path}/totals",method="GET"}'
)


def test_metrics_count_exactly_the_mix_that_was_sent(fresh_server: Server) -> None:
    key = fresh_server.key("ingest", "read")
    future = int(time.time() * 1000) + 3_600_000
    good = [event(f"obs-{i}", "obs") for i in range(5)]
    body = [
        *good,
        good[0],
        good[1],  # duplicates inside the request
        {**event("obs-bad-channel", "obs"), "channel": "fax"},
        {**event("obs-future-1", "obs"), "time": future},
        {**event("obs-future-2", "obs"), "time": future},
    ]
    with fresh_server.client(key) as c:
        first = c.post("/v1/events", json=body).json()
        second = c.post("/v1/events", json=good[2:]).json()
        assert c.get("/v1/campaigns/obs/totals", params={"channel": "email"}).status_code == 200
    assert (first["accepted"], first["duplicates"], len(first["rejected"])) == (5, 2, 3)
    assert (second["accepted"], second["duplicates"]) == (0, 3)

    m = scrape(fresh_server.url)
    text = httpx.get(f"{fresh_server.url}/metrics").text
    assert "# TYPE livereport_events_accepted_total counter" in text
    assert "# TYPE livereport_flush_seconds histogram" in text
    assert m["livereport_events_accepted_total"] == 5
    assert m["livereport_events_duplicate_total"] == 5
    assert m['livereport_events_rejected_total{field="channel"}'] == 1
    assert m['livereport_events_rejected_total{field="time"}'] == 2
    assert sum(v for k, v in m.items() if k.startswith("livereport_events_rejected_total")) == 3
    # The same drops by reason: the channel is invalid, the two times are out of range, and
    # the five duplicates are counted as such.
    assert m['livereport_events_dropped_total{reason="invalid"}'] == 1
    assert m['livereport_events_dropped_total{reason="out_of_time"}'] == 2
    assert m['livereport_events_dropped_total{reason="duplicate"}'] == 5
    assert m["livereport_flush_seconds_count"] >= 1
    assert m['livereport_flush_seconds_bucket{le="+Inf"}'] == m["livereport_flush_seconds_count"]
    assert m["livereport_buffer_events"] == 0
    assert 0 <= m["livereport_freshness_lag_seconds"] < 120
    assert m[TOTALS] == 1
    assert m['livereport_request_seconds_count{endpoint="/v1/events",method="POST"}'] == 2


def test_readyz_answers_200_once_storage_and_schema_are_ready(server: Server) -> None:
    response = httpx.get(f"{server.url}/readyz", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready"}
    assert httpx.get(f"{server.url}/healthz", timeout=10).json() == {"status": "ok"}


def test_readyz_answers_503_with_a_message_before_storage_is_opened() -> None:
    app = Starlette(routes=ops_routes())  # no lifespan ran: no storage yet

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get("/readyz")

    response = asyncio.run(get())
    assert response.status_code == 503
    assert "starting" in response.json()["error"]


def test_request_ids_are_echoed_or_made_and_logged_as_json(server: Server) -> None:
    given = httpx.get(f"{server.url}/v1/catalogue", headers={"X-Request-ID": "rid-obs-42"})
    assert given.headers["x-request-id"] == "rid-obs-42"
    made = httpx.get(f"{server.url}/v1/catalogue").headers["x-request-id"]
    assert len(made) == 32 and made != "rid-obs-42"
    log = server.data.parent / f"{server.data.name}-server.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in log.read_text().splitlines() if "rid-obs-42" in line]
        if lines:
            break
        time.sleep(0.1)
    assert lines, "no log line with the request id"
    assert lines[0]["request_id"] == "rid-obs-42"
    assert (lines[0]["path"], lines[0]["status"], lines[0]["level"]) == (
        "/v1/catalogue",
        200,
        "info",
    )
