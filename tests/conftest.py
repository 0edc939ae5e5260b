"""Shared fixtures: livereport servers on their own data directories, reached over real HTTP
like any client would.

Tests whose subject is not the process get the app in this process (``start_app``,
tests/in_process.py: uvicorn in a thread, a database of its own on the process's one chDB
engine). Those whose subject is the process (a crash, SIGTERM, a full disk, the start, the
command line) and the server and cluster backends run `livereport serve` in a child process
(``Server``).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import in_process
from livereport.store.metadata import Metadata


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(
    *args: str, data: Path, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a child process."""
    result = subprocess.run(
        [sys.executable, "-m", "livereport", *args, "--data", str(data)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **BACKEND_ENV.get(data, {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"livereport {' '.join(args)} failed: {result.stderr}")
    return result


#: Machine rules whose verdict depends on earlier events (Server.stateless_machine_rules).
STATEFUL_MACHINE_RULES = ("fast_after_delivery", "link_burst")
#: The storage settings of each data directory a test server runs on, for its CLI too.
BACKEND_ENV: dict[Path, dict[str, str]] = {}
#: PostgreSQL of the tests (trust auth); each cluster-mode server gets a schema of its own.
POSTGRES = os.environ.get("LIVEREPORT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ("chdb", "server", "cluster")
#: The storage new test servers use: chDB, one ClickHouse server, or a two-shard cluster
#: with two app nodes and PostgreSQL (set by ``use_backend``; tests/cluster uses the others).
_backend = {"kind": "chdb"}
#: The ClickHouse processes started so far, by backend; stopped at the end of the session.
_clickhouse: dict[str, list[Any]] = {}
_clickhouse_root: list[Path] = []
#: The PostgreSQL schemas made for test instances, dropped at the end of the session.
_schemas: list[str] = []
# Passwords hashed at argon2's least cost, here and in every server and command started
# (config.py test_cheap_passwords): the tests make and check thousands.
os.environ["LIVEREPORT_TEST_CHEAP_PASSWORDS"] = "1"


@contextmanager
def use_backend(kind: str) -> Iterator[None]:
    """Servers started inside the block store their events and metadata in ``kind``."""
    assert kind in BACKENDS, kind
    before = _backend["kind"]
    _backend["kind"] = kind
    try:
        yield
    finally:
        _backend["kind"] = before


def clickhouse_servers(kind: str) -> list[Any]:
    """The clickhouse-server processes of a backend, started at the first need."""
    from cluster.clickhouse import start_servers
    from cluster.zookeeper import zookeeper

    if kind not in _clickhouse:
        root = _clickhouse_root[0] / kind
        # The cluster has ZooKeeper, so its migrations run once, ON CLUSTER.
        zk = zookeeper(_clickhouse_root[0]) if kind == "cluster" else None
        _clickhouse[kind] = start_servers(root, 2 if kind == "cluster" else 1, zk)
    return _clickhouse[kind]


def new_storage() -> str:
    """A name for a new instance's ClickHouse database and PostgreSQL schema (made here),
    so that tests do not see each other's data."""
    import psycopg

    name = "lr_" + secrets.token_hex(6)
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")  # a random hex name: nothing to escape
    _schemas.append(name)
    return name


def storage_env(kind: str, name: str, node: int = 0) -> dict[str, str]:
    """Settings of app node ``node`` of the instance ``name`` on backend ``kind``."""
    from cluster.clickhouse import CLUSTER

    servers = clickhouse_servers(kind)
    query = f"?cluster={CLUSTER}" if kind == "cluster" else ""
    return {
        "LIVEREPORT_CLICKHOUSE": f"clickhouse://127.0.0.1:{servers[node].tcp}/{name}{query}",
        "LIVEREPORT_DATABASE": f"{POSTGRES}?options=-csearch_path%3D{name}",
    }


@pytest.fixture(scope="session", autouse=True)
def _engine(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The directory of this process's one embedded engine, which in-process apps share."""
    in_process.ENGINE.append(tmp_path_factory.mktemp("engine"))


@pytest.fixture(scope="session", autouse=True)
def _clickhouse_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    _clickhouse_root.append(tmp_path_factory.mktemp("clickhouse"))
    yield
    for servers in _clickhouse.values():
        for server in servers:
            server.stop()
    _clickhouse.clear()
    from cluster.zookeeper import stop_zookeeper

    stop_zookeeper()
    if _schemas:
        import psycopg

        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            for name in _schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        _schemas.clear()


class _RoundRobin(httpx.HTTPTransport):
    """Sends each request to the next app node: writes and reads land on different nodes."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__()
        self.ports = ports
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(port=self.ports[self.sent % len(self.ports)])
        self.sent += 1
        return super().handle_request(request)


@dataclass
class Server:
    """A `livereport serve` child process on a data directory."""

    data: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    #: On a cluster: the second app node, on the other shard's server and the same metadata.
    peer: Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        kind = _backend["kind"]
        if kind != "chdb" and "LIVEREPORT_CLICKHOUSE" not in self.env:
            name = new_storage()
            self.env.update(storage_env(kind, name))
            if kind == "cluster":
                peer_env = {**self.env, **storage_env(kind, name, node=1)}
                self.peer = Server(self.data.parent / f"{self.data.name}-b", env=peer_env)
        if self.env:
            BACKEND_ENV[self.data] = self.env
        self._spawn()
        if self.peer is not None and (
            self.peer.process is None or self.peer.process.poll() is not None
        ):
            self.peer.start()
        return self

    def _spawn(self) -> None:
        self.port = free_port()
        with (self.data.parent / f"{self.data.name}-server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "livereport",
                    "serve",
                    "--data",
                    str(self.data),
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=log,
                env={**os.environ, **self.env},
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not start: {self.log()}")

    def log(self) -> str:
        path = self.data.parent / f"{self.data.name}-server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.peer is not None:
            self.peer.stop(sig)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)
        self.process = None

    def restart(self) -> Server:
        self.stop()
        return self.start()

    def key(self, *scopes: str, org: str | None = None) -> str:
        args = ["keys", "create", *(f"--scope={s}" for s in scopes)]
        if org:
            args += ["--org", org]
        return cli(*args, data=self.data).stdout.strip()

    def create_org(self, name: str) -> None:
        cli("orgs", "create", name, data=self.data)

    def create_user(self, email: str, role: str, password: str, org: str | None = None) -> None:
        where = ["--org", org] if org else []
        args = ["users", "create", email, *where, "--role", role, "--password-stdin"]
        cli(*args, data=self.data, stdin=password + "\n")

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass for the server (a process's clock moves only by waiting)."""
        time.sleep(seconds)

    def stateless_machine_rules(self, org: str | None = None) -> None:
        """Turn off, for the org, the machine rules that decide from other events too (a
        delivery, other clicks): their verdicts depend on what one ingest process saw
        before, which a count made by hand from the posted events cannot know."""
        with self.client(self.key("admin", org=org)) as admin:
            answer = admin.put("/v1/machine-rules", json={"disabled": list(STATEFUL_MACHINE_RULES)})
            assert answer.status_code == 200, answer.text

    def client(self, key: str) -> httpx.Client:
        """A client of the server; on a cluster, of both app nodes in turn."""
        transport = _RoundRobin([self.port, self.peer.port]) if self.peer is not None else None
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            transport=transport,
        )


@dataclass
class InProcess(Server):
    """The app `livereport serve` builds, served in this process (tests/in_process.py): the
    surface of :class:`Server`, without a child process. Its events are in a database of its
    own on the process's engine, which stays through a restart."""

    database: str = field(default_factory=lambda: "lr_" + secrets.token_hex(6))
    running: in_process.Running | None = None
    clock: in_process.MovableClock = field(default_factory=in_process.MovableClock)

    def start(self) -> InProcess:
        if self.env:
            BACKEND_ENV[self.data] = self.env
        self.running = in_process.serve(self.data, self.database, self.env, self.clock)
        self.port = self.running.port
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop serving, and drop the events: the process's engine outlives its apps, and
        would keep every app's tables in memory (a restart keeps them)."""
        self._stop(sig)
        in_process.drop(self.database)

    def restart(self) -> InProcess:
        self._stop(signal.SIGTERM)
        return self.start()

    def _stop(self, sig: int) -> None:
        assert sig == signal.SIGTERM, "a signal other than SIGTERM needs a Server process"
        if self.running is not None:
            self.running.stop()
        self.running = None

    def advance(self, seconds: float) -> None:
        """Move the server's clock forward (key and session expiry, request rates)."""
        self.clock.advance(seconds)

    def log(self) -> str:
        return ""  # it logs to this process's stderr, which pytest shows with a failure

    def key(self, *scopes: str, org: str | None = None) -> str:
        """A key made in the metadata, as `livereport keys create` makes one (and audits it)."""
        from livereport.cli.common import audit_action

        metadata = self._metadata()
        plain, made = metadata.create_key(metadata.org(org), scopes, "")
        what = f"key {made.id} ({made.prefix}…) {','.join(sorted(made.scopes))}"
        audit_action(metadata, made.org_id, "key.create", what)
        return plain

    def create_org(self, name: str) -> None:
        """An org, made as `livereport orgs create` makes one (and audits it)."""
        from livereport.cli.common import audit_action

        metadata = self._metadata()
        made = metadata.create_org(name)
        audit_action(metadata, made.id, "org.create", f"org {made.name}")

    def create_user(self, email: str, role: str, password: str, org: str | None = None) -> None:
        """A user, made as `livereport users create` makes one (and audits it)."""
        from livereport.cli.common import audit_action

        metadata = self._metadata()
        user = metadata.create_user(metadata.org(org), email, role, password)
        audit_action(metadata, user.org_id, "user.create", f"user {user.email} as {user.role}")

    def _metadata(self) -> Metadata:
        assert self.running is not None, "the server is stopped"
        return self.running.metadata


def start_app(data: Path, env: dict[str, str] | None = None) -> Server:
    """A started server for tests whose subject is not the process: in this process on the
    embedded engine; a `livereport serve` process on a server or cluster backend."""
    env = env or {}
    if _backend["kind"] != "chdb" or "LIVEREPORT_CLICKHOUSE" in {**os.environ, **env}:
        return Server(data, env=env).start()
    return InProcess(data, env=env).start()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the read-mostly tests of the session (tests use their own campaign ids)."""
    srv = start_app(tmp_path_factory.mktemp("shared") / "data")
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """A server of its own, for tests that restart or count everything: a `livereport serve`
    process for the tests marked ``server_process`` and in the modules that say
    ``SERVER_PROCESS = True`` (their subject is the process: a kill, a restart, its log, its
    data directory once stopped), else in this process."""
    data = tmp_path / "data"
    process = getattr(request.module, "SERVER_PROCESS", False) or bool(
        request.node.get_closest_marker("server_process")
    )
    srv = Server(data).start() if process else start_app(data)
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def keys(server: Server) -> dict[str, str]:
    """Keys on the shared server: both scopes, ingest only, read only."""
    return {
        "both": server.key("ingest", "read"),
        "ingest": server.key("ingest"),
        "read": server.key("read"),
    }


def post(client: httpx.Client, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/v1/events", json=events)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def next_report(lines: Iterator[str]) -> dict[str, Any]:
    """The next ``report`` event of a live stream's lines (other events are skipped)."""
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: ") and name == "report":
            report: dict[str, Any] = json.loads(line[len("data: ") :])
            return report
    raise AssertionError("the stream ended")


# --- markers -------------------------------------------------------------------------------
#: What a test module's text shows it starts, by marker: ``./dev test --fast`` leaves these
#: out (the edit loop), the full run keeps them. A module is judged whole, by what it calls.
_STARTS: dict[str, tuple[str, ...]] = {
    "browser": ("playwright", "chromium"),
    "cluster": ("clickhouse_servers(", "use_backend", "start_servers(", "tests/cluster"),
    "server": (
        "Server(",
        "subprocess",
        "cli(",
        "server:",
        "world:",
        "uvicorn",
        "start_tenants(",
        "start_app(",
    ),
}
#: Modules slow without a server of their own: crash, soak and retention runs.
_SLOW_DIRECTORIES = ("reliability",)
_judged: dict[Path, set[str]] = {}


def _markers_of(path: Path) -> set[str]:
    if path not in _judged:
        text = path.read_text(encoding="utf-8")
        found = {name for name, signs in _STARTS.items() if any(s in text for s in signs)}
        if path.parent.name == "cluster":
            found.add("cluster")
        if path.parent.name in _SLOW_DIRECTORIES:
            found.add("slow")
        _judged[path] = found
    return _judged[path]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for name in sorted(_markers_of(Path(str(item.path)))):
            item.add_marker(getattr(pytest.mark, name))
        if {"server", "keys", "world", "client", "site"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)
