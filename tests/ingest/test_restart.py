"""What a 200 promised survives a restart (SPEC §2): events stay stored, ids stay known."""

from __future__ import annotations

import signal
import uuid
from datetime import UTC, datetime
from typing import Any

from conftest import Server, post

#: Their subject is the server's process (what survives its kill and restart): fresh_server is a
#: `livereport serve` child process (conftest).
SERVER_PROCESS = True


def events(campaign: str, n: int, type_: str = "sent") -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [
        {
            "id": uuid.uuid4().hex,
            "time": now,
            "campaign": campaign,
            "channel": "email",
            "type": type_,
            "profile": f"p-{i}",
        }
        for i in range(n)
    ]


def send(srv: Server, key: str, batch: list[dict[str, Any]]) -> dict[str, Any]:
    with srv.client(key) as c:  # a new client each time: the port changes on restart
        return post(c, batch)


def totals(srv: Server, key: str, campaign: str) -> dict[str, Any]:
    with srv.client(key) as c:
        response = c.get(f"/v1/campaigns/{campaign}/totals", params={"channel": "email"})
    assert response.status_code == 200, response.text
    metrics: dict[str, Any] = response.json()["metrics"]
    return metrics


def kill_and_start(srv: Server) -> None:
    srv.stop(signal.SIGKILL)
    srv.start()


def test_totals_survive_a_graceful_restart(fresh_server: Server) -> None:
    key = fresh_server.key("ingest", "read")
    send(fresh_server, key, events("restart", 300) + events("restart", 20, "delivered"))
    before = totals(fresh_server, key, "restart")
    assert (before["sent"], before["delivered"]) == (300, 20)
    fresh_server.restart()
    assert totals(fresh_server, key, "restart") == before


def test_totals_survive_a_kill_right_after_the_200(fresh_server: Server) -> None:
    key = fresh_server.key("ingest", "read")
    send(fresh_server, key, events("killed", 300) + events("killed", 20, "delivered"))
    kill_and_start(fresh_server)
    metrics = totals(fresh_server, key, "killed")
    assert (metrics["sent"], metrics["delivered"]) == (300, 20)


def test_ids_sent_before_a_kill_are_duplicates_after_it(fresh_server: Server) -> None:
    key = fresh_server.key("ingest", "read")
    old = events("retry", 200)
    send(fresh_server, key, old)
    kill_and_start(fresh_server)
    new = events("retry", 50)
    assert send(fresh_server, key, old + new) == {"accepted": 50, "duplicates": 200, "rejected": []}
    assert totals(fresh_server, key, "retry")["sent"] == 250


def test_ids_sent_before_a_graceful_restart_are_duplicates_after_it(fresh_server: Server) -> None:
    key = fresh_server.key("ingest", "read")
    old = events("retry", 200)
    send(fresh_server, key, old)
    fresh_server.restart()
    retried = [{**e, "type": "delivered"} for e in old]
    assert send(fresh_server, key, retried)["duplicates"] == 200
    metrics = totals(fresh_server, key, "retry")
    assert (metrics["sent"], metrics["delivered"]) == (200, 0)
