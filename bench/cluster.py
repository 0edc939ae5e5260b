"""Cluster ingest throughput: 1, 2 and 4 app nodes (worker processes) on one ClickHouse
server, and two app nodes on a two-shard cluster, all with PostgreSQL metadata and its
shared duplicate memory.

    .venv/bin/python bench/cluster.py [--duration 20] [--clients 8] [--batch 5000]

Starts Debian's clickhouse-server processes and `livereport serve` nodes on loopback (the
same helpers as tests/cluster), posts batches of new events (20 campaigns in every batch)
from ``--clients`` threads spread over the nodes for ``--duration`` seconds, checks that the
stored count equals what the nodes accepted, and prints a markdown table of events per
second with the time a batch spent in PostgreSQL (claiming its ids, waiting for its
campaigns' turn at the live window) and storing (the window, then the events; the turn's
wait is inside it), read from the nodes' /metrics.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import psycopg

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS), str(TESTS / "cluster")]  # this file's name hides tests/cluster

from clickhouse import CLUSTER, ClickHouse, start_servers  # noqa: E402

from conftest import BACKEND_ENV, Server  # noqa: E402

POSTGRES = os.environ.get("LIVEREPORT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Result:
    setup: str
    accepted: int
    stored: int
    seconds: float
    #: Bytes on disk of events and rollups, over all shards.
    disk_bytes: int
    #: Mean milliseconds per batch in PostgreSQL's shared memory, and storing it.
    wait_ms: float
    store_ms: float
    #: Mean events per stored batch (the writers group concurrent requests).
    batch_events: float

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


def start_nodes(root: Path, shards: int, count: int) -> tuple[list[ClickHouse], list[Server]]:
    """``shards`` ClickHouse servers (a cluster when more than one) and ``count`` app nodes
    spread over them."""
    servers = start_servers(root / "clickhouse", shards)
    name = "lr_bench_" + secrets.token_hex(4)
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")  # a random hex name: nothing to escape
    query = f"?cluster={CLUSTER}" if shards > 1 else ""
    nodes = []
    for i in range(count):
        ch = servers[i % shards]
        env = {
            "LIVEREPORT_CLICKHOUSE": f"clickhouse://127.0.0.1:{ch.tcp}/{name}{query}",
            "LIVEREPORT_DATABASE": f"{POSTGRES}?options=-csearch_path%3D{name}",
            "LIVEREPORT_LOG_LEVEL": "warning",
        }
        data = root / f"node{i}"
        BACKEND_ENV[data] = env
        nodes.append(Server(data, env=env).start())
    return servers, nodes


def body(tag: str, size: int, now_ms: int) -> bytes:
    """One batch of new events: ``tag`` makes the ids unique across batches."""
    return msgspec.json.encode(
        [
            {
                "id": f"{tag}-{i}",
                "time": now_ms - i,
                "campaign": f"bench-{i % 20}",
                "channel": "email",
                "type": ("sent", "delivered", "open")[i % 3],
                "profile": f"p{i % 5000}",
            }
            for i in range(size)
        ]
    )


def _metrics(node: Server) -> dict[str, float]:
    """The sums and counts of one node's histograms so far."""
    text = httpx.get(f"{node.url}/metrics", timeout=30).text
    return {
        name: float(value)
        for name, _, value in (line.partition(" ") for line in text.splitlines())
        if name.endswith(("_sum", "_count"))
    }


def _mean_ms(seen: list[dict[str, float]], histogram: str) -> float:
    total = sum(m.get(f"{histogram}_sum", 0.0) for m in seen)
    return 1000 * total / max(1.0, sum(m.get(f"{histogram}_count", 0.0) for m in seen))


def run(setup: str, shards: int, count: int, duration: float, clients: int, size: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="lr-cluster-bench-") as tmp:
        servers, nodes = start_nodes(Path(tmp), shards, count)
        try:
            key = nodes[0].key("ingest", "read")
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            accepted = [0] * clients
            stop = time.monotonic() + duration
            now_ms = int(time.time() * 1000)

            def client(n: int) -> None:
                node = nodes[n % len(nodes)]
                with httpx.Client(base_url=node.url, headers=headers, timeout=120) as http:
                    sent = 0
                    while time.monotonic() < stop:
                        payload = body(f"c{n}-{sent}", size, now_ms)
                        response = http.post("/v1/events", content=payload)
                        response.raise_for_status()
                        accepted[n] += int(response.json()["accepted"])
                        sent += 1

            started = time.monotonic()
            threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.monotonic() - started
            database = nodes[0].env["LIVEREPORT_CLICKHOUSE"].rsplit("/", 1)[1].split("?")[0]
            stored, disk = 0, 0
            for n, server in enumerate(servers):
                check = server.client()
                try:
                    if n == 0:  # through the Distributed table on a cluster
                        sql = f"SELECT count() FROM {database}.events"  # noqa: S608  (own hex name)
                        stored = int(check.execute(sql)[0][0])
                    parts = check.execute(
                        "SELECT sum(bytes_on_disk) FROM system.parts "
                        "WHERE database = %(db)s AND active",
                        {"db": database},
                    )
                    disk += int(parts[0][0] or 0)
                finally:
                    check.disconnect()
            seen = [_metrics(node) for node in nodes]
            return Result(
                setup,
                sum(accepted),
                stored,
                seconds,
                disk,
                _mean_ms(seen, "livereport_shared_wait_seconds"),
                _mean_ms(seen, "livereport_flush_seconds"),
                sum(accepted) / max(1.0, sum(m["livereport_flush_seconds_count"] for m in seen)),
            )
        finally:
            for node in nodes:
                node.stop()
            for server in servers:
                server.stop()
            schema = nodes[0].env["LIVEREPORT_CLICKHOUSE"].rsplit("/", 1)[1].split("?")[0]
            with psycopg.connect(POSTGRES, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    setups = [
        ("1 node + 1 ClickHouse server", 1, 1),
        ("2 nodes + 1 ClickHouse server", 1, 2),
        ("4 nodes + 1 ClickHouse server", 1, 4),
        ("2 nodes + 2 shards", 2, 2),
    ]
    results = [
        run(setup, shards, count, args.duration, args.clients, args.batch)
        for setup, shards, count in setups
    ]
    print(
        f"{platform.node()}: {os.cpu_count()} cores, {args.clients} clients, "
        f"batches of {args.batch}, {args.duration:.0f} s each"
    )
    print()
    print(
        "| setup | events accepted | stored | events/s | events per batch "
        "| ms per batch in PostgreSQL | ms per batch storing | bytes on disk per event |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        per_event = r.disk_bytes / max(1, r.stored)
        print(
            f"| {r.setup} | {r.accepted:,} | {r.stored:,} | {r.rate:,.0f} | {r.batch_events:,.0f} "
            f"| {r.wait_ms:.0f} "
            f"| {r.store_ms:.0f} | {per_event:.1f} |"
        )
        if r.stored != r.accepted:
            raise SystemExit(f"{r.setup}: {r.stored} stored but {r.accepted} accepted")


if __name__ == "__main__":
    main()
