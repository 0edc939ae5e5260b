"""Debian's ZooKeeper, started by tests as one standalone server on loopback.

ClickHouse 18.16 needs it for ``ON CLUSTER`` (the distributed DDL queue) and for
ReplicatedMergeTree. The server gets its own port and data directory; one per session.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cluster.clickhouse import free_port, stop_process

#: The package's jars and its log4j configuration (log4j.properties in the conf directory).
CLASSPATH = "/usr/share/java/zookeeper.jar:/usr/share/java/*:/etc/zookeeper/conf"
MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"

_CONFIG = """tickTime=500
initLimit=10
syncLimit=5
dataDir={dir}/data
clientPort={port}
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok
"""


@dataclass
class ZooKeeper:
    """One standalone ZooKeeper process."""

    dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> ZooKeeper:
        java = shutil.which("java")
        if java is None or not Path("/usr/share/java/zookeeper.jar").exists():
            raise AssertionError(
                "ZooKeeper is missing: the cluster tests need Debian's zookeeper package "
                "(/usr/share/java/zookeeper.jar) and a Java runtime (java on PATH)"
            )
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        (self.dir / "zoo.cfg").write_text(_CONFIG.format(dir=self.dir, port=self.port))
        with (self.dir / "zookeeper.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    java,
                    "-Xmx256m",
                    "-XX:+UseSerialGC",
                    "-cp",
                    CLASSPATH,
                    f"-Dzookeeper.log.dir={self.dir}",
                    "-Dzookeeper.root.logger=WARN,CONSOLE",
                    MAIN,
                    str(self.dir / "zoo.cfg"),
                ],
                stdout=log,
                stderr=log,
                cwd=self.dir,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"ZooKeeper exited: {self.log()}")
            if self._answers():
                return self
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"ZooKeeper did not start within 60 s: {self.log()}")

    def _answers(self) -> bool:
        """True once the server answers ``ruok`` with ``imok`` (it serves clients then)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"ruok")
                return conn.recv(16) == b"imok"
        except OSError:
            return False

    def log(self) -> str:
        path = self.dir / "zookeeper.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None


_running: list[ZooKeeper] = []


def zookeeper(root: Path) -> ZooKeeper:
    """The session's ZooKeeper (data under ``root``), started at the first need."""
    if not _running:
        _running.append(ZooKeeper(root / "zookeeper").start())
    return _running[0]


def stop_zookeeper() -> None:
    for server in _running:
        server.stop()
    _running.clear()
