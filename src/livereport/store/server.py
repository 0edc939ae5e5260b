"""The server backend: a ClickHouse server or cluster over the native protocol.

``LIVEREPORT_CLICKHOUSE=clickhouse://host:9000/database`` selects it; ``?cluster=NAME``
says the server belongs to a cluster of that name (its ``remote_servers`` entry): the
migrations then make local tables on every host and Distributed tables over them under
the names the report SQL reads (store/schema.py), so this module runs the same SQL either way.
``on_cluster=1|0`` forces or forbids distributed DDL (``ON CLUSTER``; by default it is used
when the servers have ZooKeeper), and ``replicated=1`` makes the local tables
ReplicatedMergeTree (this needs ZooKeeper and ``{shard}``/``{replica}`` macros on the servers).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from clickhouse_driver import Client
from clickhouse_driver.errors import Error as DriverError

from livereport.errors import StorageUnavailable
from livereport.events import Event
from livereport.store import window
from livereport.store.base import (
    EVENT_COLUMNS,
    LOCAL_SUFFIX,
    WindowTurn,
    bind,
    check_identifier,
    clear_local_tables,
    clickhouse_fault,
    drop_local_partitions,
    event_row,
)

_INSERT = "INSERT INTO {db}.events (" + ", ".join(EVENT_COLUMNS) + ") VALUES"
_MOVES = "INSERT INTO {db}.unique_moves (" + ", ".join(window.MOVE_COLUMNS) + ") VALUES"


@dataclass(frozen=True)
class ServerAddress:
    """Where the events live: host, native port, credentials, database and cluster name."""

    host: str
    port: int
    database: str
    user: str = "default"
    password: str = ""
    cluster: str = ""
    #: Distributed DDL: None to use it when the servers have ZooKeeper, or forced on/off.
    on_cluster: bool | None = None
    #: ReplicatedMergeTree local tables (a cluster of replicated shards).
    replicated: bool = False

    @classmethod
    def parse(cls, url: str) -> ServerAddress:
        parts = urlsplit(url)
        expected = (
            "expected clickhouse://[user[:password]@]host[:9000]/database"
            "[?cluster=NAME[&on_cluster=0|1][&replicated=0|1]]"
        )
        if parts.scheme != "clickhouse" or not parts.hostname:
            raise ValueError(f"LIVEREPORT_CLICKHOUSE={url!r} is not valid; {expected}")
        try:
            port = parts.port or 9000
        except ValueError:
            raise ValueError(f"LIVEREPORT_CLICKHOUSE={url!r} has a bad port; {expected}") from None
        query = parse_qs(parts.query)
        unknown = set(query) - {"cluster", "on_cluster", "replicated"}
        if unknown:
            raise ValueError(
                f"LIVEREPORT_CLICKHOUSE has unknown options {sorted(unknown)}; {expected}"
            )
        cluster = query.get("cluster", [""])[0]
        if cluster:
            check_identifier(cluster)
        flags: dict[str, bool] = {}
        for option in ("on_cluster", "replicated"):
            if option not in query:
                continue
            value = query[option][0]
            if value not in ("0", "1"):
                raise ValueError(
                    f"LIVEREPORT_CLICKHOUSE has {option}={value!r}; expected 0 or 1 ({expected})"
                )
            if not cluster:
                raise ValueError(
                    f"LIVEREPORT_CLICKHOUSE has {option} without a cluster; add ?cluster=NAME"
                )
            flags[option] = value == "1"
        return cls(
            host=parts.hostname,
            port=port,
            database=check_identifier(parts.path.strip("/") or "livereport"),
            user=unquote(parts.username or "default"),
            password=unquote(parts.password or ""),
            cluster=cluster,
            on_cluster=flags.get("on_cluster"),
            replicated=flags.get("replicated", False),
        )

    def at(self, host: str, port: int) -> ServerAddress:
        """The same credentials, database and options on another host of the cluster."""
        return replace(self, host=host, port=port)


class ServerStore:
    """A Store on a ClickHouse server; with a cluster, on one of its hosts (any will do)."""

    def __init__(self, url: str | ServerAddress) -> None:
        self.address = url if isinstance(url, ServerAddress) else ServerAddress.parse(url)
        self.database = self.address.database
        self.cluster = self.address.cluster
        self.replicated = self.address.replicated
        self._idle: list[Client] = []
        self._lock = threading.Lock()

    def _client(self) -> Client:
        settings: dict[str, Any] = {"strings_encoding": "utf-8"}
        if self.cluster:
            # An insert returns only once every shard has its rows: acknowledged means stored.
            settings["insert_distributed_sync"] = 1
        return Client(
            self.address.host,
            port=self.address.port,
            user=self.address.user,
            password=self.address.password,
            connect_timeout=10,
            send_receive_timeout=300,
            settings=settings,
        )

    @contextmanager
    def _connection(self) -> Iterator[Client]:
        # A driver client is one connection and not thread-safe: each caller takes its own.
        with self._lock:
            client = self._idle.pop() if self._idle else self._client()
        ok = False
        try:
            yield client
            ok = True
        except DriverError as exc:
            raise _unavailable(self.address, exc) from exc
        except (OSError, EOFError) as exc:
            raise _unavailable(self.address, exc) from exc
        finally:
            if ok:
                with self._lock:
                    self._idle.append(client)
            else:
                client.disconnect()

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        statement = bind(sql, params, self.database)
        with self._connection() as client:
            return list(client.execute(statement))

    def select_with_batch(
        self, sql: str, params: Mapping[str, Any] | None, batch: Mapping[str, list[Any]]
    ) -> list[tuple[Any, ...]]:
        """A SELECT that reads ``batch`` (columns by name) as the table ``{batch}``: an
        external table sent with the query (the native protocol's own way)."""
        statement = bind(sql, params, self.database).replace("{batch}", "batch")
        names = list(batch)
        types = dict(zip(window.LOOKUP_COLUMNS, window.LOOKUP_TYPES, strict=True))
        table = {
            "name": "batch",
            "structure": [(name, types[name]) for name in names],
            "data": [
                dict(zip(names, values, strict=True))
                for values in zip(*batch.values(), strict=True)
            ],
        }
        with self._connection() as client:
            return list(client.execute(statement, external_tables=[table]))

    def insert_events(
        self, rows: Sequence[tuple[int, Event]], received: int, turn: WindowTurn | None = None
    ) -> None:
        if not rows:
            return
        values = [event_row(org, e, received) for org, e in rows]
        # The window's distinct profiles first: recording them again after a failed insert
        # moves nothing, so a retry cannot count a profile twice (store/window.py).
        with window.recording(self.database), window.turn(turn, rows):
            moves = window.moves(self, rows)
            if moves:
                with self._connection() as client:
                    client.execute(_MOVES.replace("{db}", self.database), moves)
        with self._connection() as client:
            client.execute(_INSERT.replace("{db}", self.database), values)

    def iter_event_keys(self, since: int) -> Iterator[tuple[int, str]]:
        # Streamed in blocks: the keys of a retention period need not fit in memory at once.
        with self._connection() as client:
            rows = client.execute_iter(
                bind(
                    "SELECT org, id FROM {db}.events WHERE time >= %(since)s",
                    {"since": since},
                    self.database,
                )
            )
            for org, id_ in rows:
                yield int(org), str(id_)

    def hosts(self) -> list[ServerStore]:
        """A store on each host of the cluster (this one alone without a cluster)."""
        if not self.cluster:
            return [self]
        rows = self.execute(
            "SELECT host_address, port FROM system.clusters WHERE cluster = %(c)s "
            "ORDER BY shard_num, replica_num",
            {"c": self.cluster},
        )
        if not rows:
            raise StorageUnavailable(
                f"the ClickHouse server at {self.address.host}:{self.address.port} has no "
                f"cluster {self.cluster!r} in its remote_servers; check LIVEREPORT_CLICKHOUSE"
            )
        return [ServerStore(self.address.at(str(h), int(p))) for h, p in rows]

    def has_zookeeper(self) -> bool:
        """True when the server reaches a ZooKeeper (configured and answering)."""
        try:
            self.execute("SELECT count() FROM system.zookeeper WHERE path = '/'")
        except StorageUnavailable:
            return False
        return True

    def distributed_ddl(self) -> bool:
        """Whether migrations run once with ``ON CLUSTER`` instead of host by host."""
        if not self.cluster:
            return False
        if self.address.on_cluster is not None:
            return self.address.on_cluster
        return self.has_zookeeper()

    def drop_partitions_before(self, day: date) -> list[str]:
        """Retention on a cluster: each host drops the old days of its local tables (the
        Distributed tables hold no data)."""
        if not self.cluster:
            return drop_local_partitions(self, day)
        dropped = []
        for host in self.hosts():
            try:
                where = f"{host.address.host}:{host.address.port}"
                dropped += [f"{where}/{d}" for d in drop_local_partitions(host, day, LOCAL_SUFFIX)]
            finally:
                host.close()
        return dropped

    def clear_tables(self, tables: Sequence[str]) -> None:
        """Drop every partition of these tables (their local tables on each host of a cluster)."""
        if not self.cluster:
            clear_local_tables(self, tables)
            return
        for host in self.hosts():
            try:
                clear_local_tables(host, tables, LOCAL_SUFFIX)
            finally:
                host.close()

    def writes(self) -> None:
        """A server has writers this process does not see, and shows half an insert."""
        return None

    def write_marks(self, org: int, campaigns: Sequence[str]) -> None:
        return None

    def recent_lasts(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for client in idle:
            client.disconnect()


def _unavailable(address: ServerAddress, exc: BaseException) -> StorageUnavailable:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StorageUnavailable(
        f"the ClickHouse server at {address.host}:{address.port} failed: {text[:500]}",
        clickhouse_fault(exc),
    )
