"""The two ways migrations reach a cluster, and replicated shards.

The two-shard cluster of the tests has ZooKeeper: there, each migration statement runs once
as distributed DDL (``ON CLUSTER``), which the ZooKeeper task queue shows; ``on_cluster=0``
applies them host by host instead. A second cluster of one shard with two replicas runs
ReplicatedMergeTree tables: events posted to an app node on one replica are read, exactly,
from an app node on the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cluster.clickhouse import CLUSTER, ClickHouse, start_servers
from cluster.test_nodes import event, post_to, totals
from cluster.zookeeper import zookeeper
from conftest import POSTGRES, Server, clickhouse_servers, new_storage
from livereport.errors import StorageUnavailable
from livereport.store.schema import migrate, migration_files, schema_objects
from livereport.store.server import ServerAddress, ServerStore

DDL_QUEUE = "/clickhouse/task_queue/ddl"


def url(server: ClickHouse, database: str, options: str = "") -> str:
    return f"clickhouse://127.0.0.1:{server.tcp}/{database}?cluster={CLUSTER}{options}"


def query(server: ClickHouse, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    client = server.client()
    try:
        return list(client.execute(sql, params))
    finally:
        client.disconnect()


def engines(server: ClickHouse, database: str) -> dict[str, str]:
    rows = query(
        server, "SELECT name, engine FROM system.tables WHERE database = %(d)s", {"d": database}
    )
    return {str(name): str(engine) for name, engine in rows}


def ddl_entries(server: ClickHouse, database: str) -> list[str]:
    """The distributed DDL queries in ZooKeeper's task queue that name ``database``."""
    rows = query(server, "SELECT value FROM system.zookeeper WHERE path = %(p)s", {"p": DDL_QUEUE})
    return [str(value) for (value,) in rows if f"{database}." in str(value)]


def migrated(address: str) -> list[str]:
    store = ServerStore(address)
    try:
        return migrate(store)
    finally:
        store.close()


def expected_engines(local_engine: str = "MergeTree") -> dict[str, str]:
    """What every host holds after the migrations: local tables, their views and a
    Distributed table of each table's name (engines without the Replicated prefix)."""
    tables, views = schema_objects()
    names = {"schema_migrations": "TinyLog"}
    for table in tables:
        names[table] = "Distributed"
        # unique_moves keeps nothing: its views write the live window's tables.
        names[table + "_local"] = "Null" if table == "unique_moves" else local_engine
    for view in views:
        names[view + "_local"] = "MaterializedView"
    return names


def plain(found: dict[str, str]) -> dict[str, str]:
    """Engines with their MergeTree family collapsed, for comparison across modes."""
    return {
        name: "MergeTree" if engine.endswith("MergeTree") else engine
        for name, engine in found.items()
    }


def test_migrations_run_once_as_distributed_ddl_when_the_cluster_has_zookeeper() -> None:
    servers = clickhouse_servers("cluster")
    database = new_storage()
    store = ServerStore(url(servers[0], database))
    try:
        assert store.has_zookeeper() and store.distributed_ddl()
    finally:
        store.close()
    versions = [name for _, name, _ in migration_files()]
    assert migrated(url(servers[0], database)) == versions
    for server in servers:
        assert plain(engines(server, database)) == expected_engines()
        ledger = query(server, f"SELECT version FROM {database}.schema_migrations")  # noqa: S608
        assert sorted(v for (v,) in ledger) == [v for v, _, _ in migration_files()]
    # One distributed DDL made the events table on both shards.
    entries = ddl_entries(servers[0], database)
    for made in ("CREATE TABLE IF NOT EXISTS", "ALTER TABLE"):  # made once, then a column added
        events_local = [
            e for e in entries if f"{made} {database}.events_local ON CLUSTER {CLUSTER}" in e
        ]
        assert len(events_local) == 1, (made, entries)
    # A second run, from the other shard, finds everything applied: no new DDL.
    assert migrated(url(servers[1], database)) == []
    assert len(ddl_entries(servers[0], database)) == len(entries)


def test_a_host_without_the_schema_gets_it_host_by_host() -> None:
    servers = clickhouse_servers("cluster")
    database = new_storage()
    migrated(url(servers[0], database))
    entries = ddl_entries(servers[0], database)
    # As if the second shard were a host added to the cluster later.
    query(servers[1], f"DROP DATABASE {database}")
    assert engines(servers[1], database) == {}
    assert migrated(url(servers[0], database)) == [name for _, name, _ in migration_files()]
    assert plain(engines(servers[1], database)) == expected_engines()
    # Only the new host ran the migrations again, so no distributed DDL was queued for them.
    added = [e for e in ddl_entries(servers[0], database) if e not in entries]
    assert all("schema_migrations" in e or "CREATE DATABASE" in e for e in added), added
    first = query(servers[0], f"SELECT count() FROM {database}.schema_migrations")  # noqa: S608
    assert first == [(len(migration_files()),)]


def test_on_cluster_0_applies_migrations_host_by_host() -> None:
    servers = clickhouse_servers("cluster")
    database = new_storage()
    store = ServerStore(url(servers[0], database, "&on_cluster=0"))
    try:
        assert not store.distributed_ddl()
    finally:
        store.close()
    assert migrated(url(servers[0], database, "&on_cluster=0"))
    for server in servers:
        assert plain(engines(server, database)) == expected_engines()
    assert ddl_entries(servers[0], database) == []


def test_replication_needs_zookeeper_and_says_so() -> None:
    (server,) = clickhouse_servers("server")  # one server, no ZooKeeper in its config
    store = ServerStore(url(server, new_storage(), "&replicated=1"))
    try:
        assert not store.has_zookeeper()
        with pytest.raises(StorageUnavailable, match=r"replicated=1 .* has no ZooKeeper"):
            migrate(store)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("&replicated=yes", "replicated='yes'; expected 0 or 1"),
        ("&on_cluster=2", "on_cluster='2'; expected 0 or 1"),
        ("&on_cluster=1&replicas=2", "unknown options"),
    ],
)
def test_bad_cluster_options_are_refused(options: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServerAddress.parse(f"clickhouse://127.0.0.1:9000/db?cluster={CLUSTER}{options}")
    with pytest.raises(ValueError, match="without a cluster"):
        ServerAddress.parse("clickhouse://127.0.0.1:9000/db?replicated=1")


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ClickHouse]]:
    """One shard of two replicas, on the session's ZooKeeper."""
    root = tmp_path_factory.mktemp("replicas")
    servers = start_servers(root, 2, zookeeper(root.parent), replicas=2)
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def replicated_nodes(
    replicas: list[ClickHouse], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """App node A on replica 1 and node B (``peer``) on replica 2, with replicated=1."""
    name = new_storage()
    root = tmp_path_factory.mktemp("replicated-nodes")
    metadata = f"{POSTGRES}?options=-csearch_path%3D{name}"

    def env(server: ClickHouse) -> dict[str, str]:
        return {
            "LIVEREPORT_CLICKHOUSE": url(server, name, "&replicated=1"),
            "LIVEREPORT_DATABASE": metadata,
        }

    node = Server(root / "a", env=env(replicas[0]))
    node.peer = Server(root / "b", env=env(replicas[1]))
    node.start()
    yield node
    node.stop()


def test_events_written_through_one_replica_are_read_exactly_from_the_other(
    replicas: list[ClickHouse], replicated_nodes: Server
) -> None:
    node_a, node_b = replicated_nodes, replicated_nodes.peer
    assert node_b is not None
    key = node_a.key("ingest", "read")
    database = node_a.env["LIVEREPORT_CLICKHOUSE"].rsplit("/", 1)[1].split("?")[0]
    for server in replicas:
        found = engines(server, database)
        assert found["events_local"] == "ReplicatedMergeTree"
        assert found["minute_counts_local"] == "ReplicatedSummingMergeTree"
        assert found["minute_uniques_local"] == "ReplicatedAggregatingMergeTree"
    campaign = "replicated"
    sent = [event(campaign, f"r{n}", profile=f"p{n % 7}") for n in range(30)]
    sent += [event(campaign, f"o{n}", "open", profile=f"p{n % 4}") for n in range(12)]
    assert post_to(node_a.url, key, sent)["accepted"] == 42
    # A retry of part of the batch through the other node is not counted again.
    assert post_to(node_b.url, key, sent[:10])["accepted"] == 0
    # Replication is asynchronous: wait until replica 2 holds every part replica 1 wrote.
    tables = sorted(t for t in engines(replicas[1], database) if t.endswith("_local"))
    for table in tables:
        if engines(replicas[1], database)[table].startswith("Replicated"):
            query(replicas[1], f"SYSTEM SYNC REPLICA {database}.{table}")
    local = query(replicas[1], f"SELECT count() FROM {database}.events_local")  # noqa: S608
    assert local == [(42,)]
    metrics = totals(node_b.url, key, campaign)
    assert metrics["delivered"] == 30
    assert metrics["opens"] == 12
    assert metrics["unique_opens"] == 4
    assert totals(node_a.url, key, campaign) == metrics
