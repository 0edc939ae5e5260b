"""Two stateless app nodes on a two-shard ClickHouse cluster and PostgreSQL.

Node A writes, node B reads and streams; both take the same ids at once; node A is killed
with SIGKILL in the middle of an ingest while its client carries on with node B. Every
count must stay exact.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cluster.clickhouse import CLUSTER
from conftest import Server, clickhouse_servers, use_backend


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Node A (``server``) and node B (``server.peer``), one on each shard's server."""
    with use_backend("cluster"):
        srv = Server(tmp_path_factory.mktemp("nodes") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def keys(server: Server) -> dict[str, str]:
    return {"both": server.key("ingest", "read")}


def event(campaign: str, id_: str, type_: str = "delivered", profile: str = "") -> dict[str, Any]:
    return {
        "id": id_,
        "time": int(time.time() * 1000),
        "campaign": campaign,
        "channel": "email",
        "type": type_,
        "profile": profile or f"p-{id_}",
    }


def totals(url: str, key: str, campaign: str) -> dict[str, Any]:
    response = httpx.get(
        f"{url}/v1/campaigns/{campaign}/totals",
        params={"channel": "email"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    metrics: dict[str, Any] = response.json()["metrics"]
    return metrics


def post_to(url: str, key: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/v1/events", json=events, headers={"Authorization": f"Bearer {key}"}, timeout=60
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def next_report(lines: Iterator[str]) -> dict[str, Any]:
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: ") and name == "report":
            report: dict[str, Any] = json.loads(line[len("data: ") :])
            return report
    raise AssertionError("the stream ended")


def test_the_cluster_has_two_shards_and_rows_on_both(server: Server, keys: dict[str, str]) -> None:
    assert server.peer is not None and server.peer.port != server.port
    events = [event(f"spread-{n}", f"s{n}") for n in range(40)]
    assert post_to(server.url, keys["both"], events)["accepted"] == 40
    database = server.env["LIVEREPORT_CLICKHOUSE"].rsplit("/", 1)[1].split("?")[0]
    local, through_distributed = [], []
    for host in clickhouse_servers("cluster"):
        client = host.client()
        try:
            # The database name is the fixture's own random hex name.
            local_sql = f"SELECT count() FROM {database}.events_local"  # noqa: S608
            local.append(client.execute(local_sql)[0][0])
            all_sql = f"SELECT count() FROM {database}.events"  # noqa: S608
            through_distributed.append(client.execute(all_sql)[0][0])
            shards = client.execute(
                "SELECT count() FROM system.clusters WHERE cluster = %(c)s", {"c": CLUSTER}
            )
        finally:
            client.disconnect()
        assert shards == [(2,)]
    # Forty campaigns hashed over two shards: both hold some; every host sees all of them.
    assert all(n > 0 for n in local), local
    assert through_distributed == [sum(local), sum(local)]
    assert sum(local) == 40


def test_events_posted_to_node_a_show_in_reports_and_live_stream_of_node_b(
    server: Server, keys: dict[str, str]
) -> None:
    assert server.peer is not None
    key, campaign = keys["both"], "a-to-b"
    node_a, node_b = server.url, server.peer.url
    post_to(node_a, key, [event(campaign, "ab-1")])
    assert totals(node_b, key, campaign)["delivered"] == 1
    url = f"{node_b}/v1/campaigns/{campaign}/live"
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream("GET", url, params={"tab": "email"}, headers=headers, timeout=30) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert next_report(lines)["widgets"][0]["data"]["metrics"]["delivered"] == 1
        # Node B never sees these requests: it learns of them from the rollups it polls.
        post_to(node_a, key, [event(campaign, "ab-2"), event(campaign, "ab-3")])
        report = next_report(lines)
        while report["widgets"][0]["data"]["metrics"]["delivered"] != 3:
            report = next_report(lines)
    assert totals(node_a, key, campaign)["delivered"] == 3


def test_a_key_made_through_node_a_works_on_node_b(server: Server, keys: dict[str, str]) -> None:
    assert server.peer is not None
    read = server.key("read")
    response = httpx.get(
        f"{server.peer.url}/v1/campaigns", headers={"Authorization": f"Bearer {read}"}
    )
    assert response.status_code == 200, response.text
    for node in (server, server.peer):
        ready = httpx.get(f"{node.url}/readyz")
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"{node.url}/metrics").status_code == 200


def test_the_same_ids_sent_to_both_nodes_at_once_count_once(
    server: Server, keys: dict[str, str]
) -> None:
    assert server.peer is not None
    key, campaign = keys["both"], "both-at-once"
    batches = [[event(campaign, f"dup-{r}-{i}") for i in range(500)] for r in range(6)]
    accepted: list[int] = []

    def send(url: str) -> None:
        for batch in batches:
            accepted.append(post_to(url, key, batch)["accepted"])

    threads = [threading.Thread(target=send, args=(u,)) for u in (server.url, server.peer.url)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(accepted) == 3000
    assert totals(server.url, key, campaign)["delivered"] == 3000


@pytest.fixture
def slow_cluster(tmp_path: Path) -> Iterator[Server]:
    """Two nodes whose inserts take a while, so that a kill lands in the middle of one."""
    with use_backend("cluster"):
        srv = Server(tmp_path / "data", env={"LIVEREPORT_TEST_INSERT_DELAY_MS": "150"}).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_killing_a_node_mid_ingest_while_the_client_retries_on_the_other_stays_exact(
    slow_cluster: Server,
) -> None:
    srv, rng = slow_cluster, random.Random(6)
    assert srv.peer is not None and srv.process is not None
    key, campaign = srv.key("ingest", "read"), "killed-node"
    profiles = [f"p{n}" for n in range(300)]
    batches = [
        [
            event(campaign, f"k-{b}-{i}", rng.choice(["delivered", "open"]), rng.choice(profiles))
            for i in range(400)
        ]
        for b in range(12)
    ]
    expected: dict[str, set[str]] = {"delivered": set(), "open": set()}
    profiles_opened: set[str] = set()
    for batch in batches:
        for e in batch:
            expected[e["type"]].add(e["id"])
            if e["type"] == "open":
                profiles_opened.add(e["profile"])
    kill_at = time.monotonic() + rng.uniform(0.3, 0.9)
    killer = threading.Timer(
        max(0.0, kill_at - time.monotonic()),
        lambda: srv.process and srv.process.send_signal(signal.SIGKILL),
    )
    killer.start()
    urls = [srv.url, srv.peer.url]
    failed_over = False
    try:
        for batch in batches:
            while True:
                try:
                    response = httpx.post(
                        f"{urls[0]}/v1/events",
                        json=batch,
                        headers={"Authorization": f"Bearer {key}"},
                        timeout=60,
                    )
                except httpx.TransportError:
                    response = None
                if response is not None and response.status_code == 200:
                    break
                # The node is gone (or answered 503): the client retries on the other one.
                urls = urls[1:] or urls
                failed_over = True
        # At-least-once clients re-send what they are unsure of: send everything again.
        for batch in batches:
            assert post_to(urls[0], key, batch)["accepted"] == 0
    finally:
        killer.cancel()
    assert failed_over, "the kill should have landed during the ingest"
    srv.process.wait(timeout=30)
    metrics = totals(srv.peer.url, key, campaign)
    assert metrics["delivered"] == len(expected["delivered"])
    assert metrics["opens"] == len(expected["open"])
    assert metrics["unique_opens"] == len(profiles_opened)
    # The killed node comes back (its peer still running) and reads the same numbers.
    srv.start()
    assert totals(srv.url, key, campaign) == metrics


def test_retention_drops_old_days_on_every_shard(server: Server) -> None:
    from datetime import date, timedelta

    from livereport.events import Event
    from livereport.store.base import drop_partitions_before
    from livereport.store.server import ServerStore

    store = ServerStore(server.env["LIVEREPORT_CLICKHOUSE"])
    try:
        old = int(time.time() * 1000) - 40 * 86_400_000
        rows = [
            (
                1,
                Event(
                    id=f"old-{n}",
                    time_ms=old,
                    campaign=f"old-{n}",
                    channel="email",
                    type="sent",
                    profile="p",
                ),
            )
            for n in range(20)
        ]
        store.insert_events(rows, int(time.time()))
        count = "SELECT count() FROM {db}.events WHERE campaign LIKE 'old-%%'"
        assert store.execute(count) == [(20,)]
        dropped = drop_partitions_before(store, date.today() - timedelta(days=30))
        # Both shards held some of the twenty campaigns: each drops its own old day.
        assert len({d.split("/")[0] for d in dropped if "events_local" in d}) == 2
        assert store.execute(count) == [(0,)]
        assert store.execute(
            "SELECT count() FROM {db}.minute_counts WHERE campaign LIKE 'old-%%'"
        ) == [(0,)]
    finally:
        store.close()
