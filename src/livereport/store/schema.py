"""Versioned migrations: the numbered .sql files beside this module, applied once each, in order.

The same files serve every backend. On a cluster (``?cluster=NAME``) each host gets them
rewritten: every table becomes a shard-local ``<name>_local`` (materialized views read and
write the local tables, so rollups stay on the shard of their events), and a Distributed
table takes the original name, so ingest and report SQL do not change. Rows are spread by
``cityHash64(org, campaign)``: a campaign's events, and so its rollups, stay on one shard.

Two ways to apply them. When the servers have ZooKeeper (or ``on_cluster=1``), each
statement runs once as distributed DDL, ``… ON CLUSTER name``, and ClickHouse applies it on
every host. Without ZooKeeper (or with ``on_cluster=0``) the statements run on each host in
turn, which needs nothing but the cluster definition. Either way each host keeps its own
``schema_migrations`` ledger; a migration missing on some hosts only (a host added later)
is applied host by host to those, so it never runs twice where it already ran.

With ``replicated=1`` the local tables are the Replicated variants of their engines, at
``/clickhouse/tables/{shard}/<database>/<table>`` in ZooKeeper with ``{replica}`` as the
replica name (both macros of the servers' config).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from typing import Any, Protocol, cast

from livereport.errors import StorageUnavailable
from livereport.store import window
from livereport.store.base import LOCAL_SUFFIX, Store


class ClusterStore(Store, Protocol):
    """What migrating a cluster needs of its store (store/server.py ServerStore)."""

    cluster: str
    replicated: bool
    address: Any

    def hosts(self) -> Sequence[ClusterStore]: ...

    def distributed_ddl(self) -> bool: ...

    def has_zookeeper(self) -> bool: ...


_LEDGER = """
CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
    version UInt32, name String, applied DateTime
) ENGINE = TinyLog
"""
#: Statements that make a table or a view, and those that change one.
_CREATES = re.compile(
    r"^\s*CREATE\s+(TABLE|MATERIALIZED\s+VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?\{db\}\.(\w+)",
    re.IGNORECASE,
)
_ALTER = re.compile(r"^\s*ALTER\s+TABLE\s+\{db\}\.(\w+)", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+\{db\}\.(\w+)", re.IGNORECASE)
#: The engines of the migrations that have a Replicated variant (parameters kept after
#: the ZooKeeper path and the replica name).
_ENGINE = re.compile(
    r"\bENGINE\s*=\s*((?:Summing|Aggregating|Replacing|Collapsing)?MergeTree)\b(?:\s*\(([^)]*)\))?",
    re.IGNORECASE,
)
#: The migration that made the live window's distinct-profile tables (store/window.py).
_WINDOW_MIGRATION = "0003_window_uniques.sql"


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration shipped with the package, in order."""
    folder = resources.files("livereport.store") / "migrations"
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".sql"):
            version = int(item.name.split("_", 1)[0])
            found.append((version, item.name, item.read_text(encoding="utf-8")))
    return sorted(found)


def split_statements(sql: str) -> list[str]:
    """Split a migration on ``;`` at line ends; comments are dropped."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip().rstrip(";") for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";")]


def schema_objects() -> tuple[set[str], set[str]]:
    """Names of the tables and of the materialized views the migrations make."""
    tables: set[str] = set()
    views: set[str] = set()
    for _, _, sql in migration_files():
        for statement in split_statements(sql):
            match = _CREATES.match(statement)
            if match:
                kind = tables if match.group(1).upper() == "TABLE" else views
                kind.add(match.group(2))
    return tables, views


def cluster_statements(
    statement: str, cluster: str, on_cluster: bool = False, replicated: bool = False
) -> list[str]:
    """One migration statement as it runs on a cluster: on each host, or once for all
    hosts with ``on_cluster``; ``replicated`` makes its local tables Replicated."""
    tables, views = schema_objects()
    names = "|".join(sorted(tables | views, key=len, reverse=True))
    local = re.sub(r"\{db\}\.(" + names + r")\b", r"{db}.\1" + LOCAL_SUFFIX, statement)
    created = _CREATES.match(statement)
    altered = _ALTER.match(statement)
    spread = f" ON CLUSTER {cluster}" if on_cluster else ""
    if _INSERT.match(statement):
        # A backfill: on each host from its own shard's tables, or once through the
        # Distributed tables (which put each row on its campaign's shard).
        return [statement if on_cluster else local]
    if created and created.group(1).upper() == "TABLE":
        name = created.group(2)
        if replicated and _ENGINE.search(local):  # a Null table keeps nothing to replicate
            local = _replicated(local, name + LOCAL_SUFFIX)
        key = "cityHash64(org, campaign)" if re.search(r"\bcampaign\b", statement) else "rand()"
        return [
            _on_cluster(local, spread),
            f"CREATE TABLE IF NOT EXISTS {{db}}.{name}{spread} AS {{db}}.{name}{LOCAL_SUFFIX} "
            f"ENGINE = Distributed({cluster}, {{db}}, {name}{LOCAL_SUFFIX}, {key})",
        ]
    if altered and altered.group(1) in tables:
        # The Distributed table has the same columns. On a replicated cluster the server
        # refuses an ALTER … ON CLUSTER of a table that is not replicated: the caller runs
        # that one on each host (it is the statement without ON CLUSTER).
        return [
            _on_cluster(local, spread),
            statement if replicated else _on_cluster(statement, spread),
        ]
    return [_on_cluster(local, spread)]


def _on_cluster(statement: str, spread: str) -> str:
    """``statement`` with ``spread`` (`` ON CLUSTER name``, or empty to run on one host)
    after the name of the object it makes or changes."""
    match = _CREATES.match(statement) or _ALTER.match(statement)
    if not spread or match is None:
        return statement
    return statement[: match.end()] + spread + statement[match.end() :]


def _replicated(statement: str, table: str) -> str:
    """A CREATE TABLE with the Replicated variant of its MergeTree engine."""

    def engine(found: re.Match[str]) -> str:
        path = f"'/clickhouse/tables/{{shard}}/{{db}}/{table}', '{{replica}}'"
        params = (found.group(2) or "").strip()
        return f"ENGINE = Replicated{found.group(1)}({path}{', ' + params if params else ''})"

    replaced, count = _ENGINE.subn(engine, statement, count=1)
    if count != 1:
        raise ValueError(f"no MergeTree engine to replicate in the migration of {table}")
    return replaced


def migrate(store: Store) -> list[str]:
    """Create the database if needed and apply the migrations not applied yet (on every
    host of the cluster when the store names one)."""
    if not store.cluster:
        applied = _migrate_host(store)
    else:
        server = cast(ClusterStore, store)  # a cluster is reached through a server store
        hosts = server.hosts()
        try:
            applied = _migrate_cluster(server, hosts)
        finally:
            for host in hosts:
                host.close()
    if _WINDOW_MIGRATION in applied:
        # The live window's tables start from the events already stored (an upgrade).
        window.rebuild(store)
    return applied


def _migrate_cluster(store: ClusterStore, hosts: Sequence[ClusterStore]) -> list[str]:
    cluster, replicated = store.cluster, store.replicated
    on_cluster = store.distributed_ddl()
    if replicated and not store.has_zookeeper():
        raise StorageUnavailable(
            f"LIVEREPORT_CLICKHOUSE asks for replicated=1 but the ClickHouse server at "
            f"{store.address.host}:{store.address.port} has no ZooKeeper; configure "
            f"<zookeeper> and the {{shard}}/{{replica}} <macros> on every server, or drop "
            f"replicated=1"
        )
    # A restart finds every ledger in place and queues no distributed DDL at all.
    lacking = [host for host in hosts if not _has_ledger(host)]
    if on_cluster and len(lacking) == len(hosts):
        _distributed(store, f"CREATE DATABASE IF NOT EXISTS {{db}} ON CLUSTER {cluster}")
        ledger = _LEDGER.replace("schema_migrations", f"schema_migrations ON CLUSTER {cluster}")
        _distributed(store, ledger)
    else:
        for host in lacking:
            host.execute("CREATE DATABASE IF NOT EXISTS {db}")
            host.execute(_LEDGER)
    done = [_applied(host) for host in hosts]
    applied = []
    for version, name, sql in migration_files():
        lacking = [
            host for host, versions in zip(hosts, done, strict=True) if version not in versions
        ]
        if not lacking:
            continue
        statements = split_statements(sql)
        if on_cluster and len(lacking) == len(hosts):
            for statement in statements:
                for part in cluster_statements(statement, cluster, True, replicated):
                    if _ALTER.match(part) and " ON CLUSTER " not in part:
                        for host in hosts:  # a Distributed table of a replicated cluster
                            host.execute(part)
                    else:
                        _distributed(store, part)
        else:
            for host in lacking:
                for statement in statements:
                    for part in cluster_statements(statement, cluster, False, replicated):
                        host.execute(part)
        for host in lacking:
            _record(host, version, name)
        applied.append(name)
    return applied


def _distributed(store: ClusterStore, statement: str) -> None:
    """Run distributed DDL; a failure says what the servers need for it."""
    try:
        store.execute(statement)
    except StorageUnavailable as exc:
        raise StorageUnavailable(
            f"{exc}; the migration ran with ON CLUSTER {store.cluster}, which needs "
            f"ZooKeeper and <distributed_ddl> on every server of the cluster (add "
            f"on_cluster=0 to LIVEREPORT_CLICKHOUSE to apply migrations host by host)"
        ) from exc


def _has_ledger(store: Store) -> bool:
    rows = store.execute(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = 'schema_migrations'",
        {"db": store.database},
    )
    return bool(rows[0][0])


def _applied(store: Store) -> set[int]:
    return {int(v) for (v,) in store.execute("SELECT version FROM {db}.schema_migrations")}


def _record(store: Store, version: int, name: str) -> None:
    # INSERT … SELECT, not VALUES: servers before 19.x wait for a data block after an
    # INSERT … VALUES sent over the native protocol, which hangs a plain query.
    store.execute(
        "INSERT INTO {db}.schema_migrations (version, name, applied) SELECT %(v)s, %(name)s, now()",
        {"v": version, "name": name},
    )


def _migrate_host(store: Store) -> list[str]:
    store.execute("CREATE DATABASE IF NOT EXISTS {db}")
    store.execute(_LEDGER)
    done = _applied(store)
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        for statement in split_statements(sql):
            store.execute(statement)
        _record(store, version, name)
        applied.append(name)
    return applied
