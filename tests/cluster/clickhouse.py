"""Debian's clickhouse-server, started by tests and benchmarks on loopback.

Each server gets its own directory, ports and a config written here; a two-shard cluster
is two such servers that know each other through ``remote_servers``. Given a ZooKeeper,
the servers also get ``<zookeeper>`` and ``<macros>`` (shard, replica): ``ON CLUSTER``
and ReplicatedMergeTree work then, and a shard may have several replicas.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from clickhouse_driver import Client

if TYPE_CHECKING:
    from cluster.zookeeper import ZooKeeper

SERVER_BINARY = "/usr/sbin/clickhouse-server"
CLUSTER = "lr_cluster"

_CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{dir}/server.log</log><errorlog>{dir}/error.log</errorlog>
        <console>0</console></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp}</tcp_port>
    <http_port>{http}</http_port>
    <interserver_http_port>{interserver}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/tmp/</tmp_path>
    <user_files_path>{dir}/user_files/</user_files_path>
    <format_schema_path>{dir}/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>53687091</mark_cache_size>
    <uncompressed_cache_size>53687091</uncompressed_cache_size>
    <timezone>UTC</timezone>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
{zookeeper}
    <remote_servers>
        <{cluster}>
{shards}
        </{cluster}>
    </remote_servers>
</yandex>
"""

_SHARD = """            <shard><internal_replication>{internal}</internal_replication>{replicas}</shard>"""
_REPLICA = """<replica><host>127.0.0.1</host><port>{tcp}</port></replica>"""
_ZOOKEEPER = """    <zookeeper><node><host>127.0.0.1</host><port>{port}</port></node>
        <session_timeout_ms>30000</session_timeout_ms></zookeeper>
    <macros><shard>{shard}</shard><replica>{replica}</replica></macros>"""

_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage>
        <insert_distributed_sync>1</insert_distributed_sync></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
        <profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
"""


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate a server this test session started; kill it if it has not gone in 30 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ClickHouse:
    """One clickhouse-server process on its own directory and ports."""

    dir: Path
    tcp: int = field(default_factory=free_port)
    http: int = field(default_factory=free_port)
    interserver: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def configure(
        self, shards: list[list[int]], zookeeper: ZooKeeper | None = None, shard: int = 1
    ) -> None:
        """Write the config: ``shards`` are the native ports of each shard's replicas; this
        server is a replica of shard number ``shard`` (a macro, with ZooKeeper only)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        text = "\n".join(
            _SHARD.format(
                # Several replicas: the Distributed table writes to one and replication
                # copies the rows, instead of writing to each replica itself.
                internal="true" if len(ports) > 1 else "false",
                replicas="".join(_REPLICA.format(tcp=p) for p in ports),
            )
            for ports in shards
        )
        zk = ""
        if zookeeper is not None:
            zk = _ZOOKEEPER.format(port=zookeeper.port, shard=shard, replica=f"r{self.tcp}")
        (self.dir / "config.xml").write_text(
            _CONFIG.format(
                dir=self.dir,
                tcp=self.tcp,
                http=self.http,
                interserver=self.interserver,
                cluster=CLUSTER,
                shards=text,
                zookeeper=zk,
            )
        )
        (self.dir / "users.xml").write_text(_USERS)

    def start(self) -> ClickHouse:
        with (self.dir / "stdout.log").open("ab") as log:
            self.process = subprocess.Popen(
                [SERVER_BINARY, "--config-file", str(self.dir / "config.xml")],
                stdout=log,
                stderr=log,
                cwd=self.dir,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"clickhouse-server exited: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.tcp), timeout=1).close()
            except OSError:
                time.sleep(0.1)
                continue
            client = self.client()
            try:
                client.execute("SELECT 1")
            finally:
                client.disconnect()
            return self
        raise AssertionError(f"clickhouse-server did not start: {self.log()}")

    def log(self) -> str:
        texts = []
        for name in ("stdout.log", "error.log"):
            path = self.dir / name
            if path.exists():
                texts.append(path.read_text(errors="replace")[-2000:])
        return "\n".join(texts)

    def client(self) -> Client:
        return Client("127.0.0.1", port=self.tcp)

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


def start_servers(
    root: Path, count: int, zookeeper: ZooKeeper | None = None, replicas: int = 1
) -> list[ClickHouse]:
    """``count`` servers; together they form the cluster ``CLUSTER`` of ``count // replicas``
    shards of ``replicas`` replicas each (more than one replica needs ``zookeeper``)."""
    if not Path(SERVER_BINARY).exists() and shutil.which("clickhouse-server") is None:
        raise AssertionError("clickhouse-server is missing; install Debian's clickhouse-server")
    if count % replicas or (replicas > 1 and zookeeper is None):
        raise AssertionError(f"{count} servers cannot be shards of {replicas} replicas here")
    servers = [ClickHouse(root / f"ch{i}") for i in range(count)]
    shards = [servers[i : i + replicas] for i in range(0, count, replicas)]
    for number, shard in enumerate(shards, 1):
        for server in shard:
            server.configure([[s.tcp for s in ss] for ss in shards], zookeeper, number)
    started = []
    try:
        for server in servers:
            started.append(server.start())
    except BaseException:
        for server in started:
            server.stop()
        raise
    return servers
