"""Cluster ingest throughput: one app node on one ClickHouse server against two app nodes on
a two-shard cluster, both with PostgreSQL metadata and its shared duplicate memory.

    .venv/bin/python bench/cluster.py [--duration 20] [--clients 4] [--batch 5000]

Starts Debian's clickhouse-server processes and `livereport serve` nodes on loopback (the
same helpers as tests/cluster), posts pre-encoded batches of new events from ``--clients``
threads (spread over the nodes) for ``--duration`` seconds, checks that the stored count
equals what the nodes accepted, and prints a markdown table of events per second.
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

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


def start_nodes(root: Path, shards: int) -> tuple[list[ClickHouse], list[Server]]:
    """``shards`` ClickHouse servers (a cluster when more than one) and one app node on each."""
    servers = start_servers(root / "clickhouse", shards)
    name = "lr_bench_" + secrets.token_hex(4)
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")  # a random hex name: nothing to escape
    query = f"?cluster={CLUSTER}" if shards > 1 else ""
    nodes = []
    for i, ch in enumerate(servers):
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
            {"id": f"{tag}-{i}", "time": now_ms - i, "campaign": f"bench-{i % 20}",
             "channel": "email", "type": ("sent", "delivered", "open")[i % 3],
             "profile": f"p{i % 5000}"}
            for i in range(size)
        ]
    )  # fmt: skip


def run(setup: str, shards: int, duration: float, clients: int, size: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="lr-cluster-bench-") as tmp:
        servers, nodes = start_nodes(Path(tmp), shards)
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
            return Result(setup, sum(accepted), stored, seconds, disk)
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
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    results = [
        run("1 node + 1 ClickHouse server", 1, args.duration, args.clients, args.batch),
        run("2 nodes + 2 shards", 2, args.duration, args.clients, args.batch),
    ]
    print(f"{platform.node()}: {os.cpu_count()} cores, {args.clients} clients, "
          f"batches of {args.batch}, {args.duration:.0f} s each")  # fmt: skip
    print()
    print("| setup | events accepted | stored | events/s | bytes on disk per event |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for r in results:
        per_event = r.disk_bytes / max(1, r.stored)
        print(f"| {r.setup} | {r.accepted:,} | {r.stored:,} | {r.rate:,.0f} | {per_event:.1f} |")
        if r.stored != r.accepted:
            raise SystemExit(f"{r.setup}: {r.stored} stored but {r.accepted} accepted")


if __name__ == "__main__":
    main()
