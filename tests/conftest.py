"""Shared fixtures: real livereport servers in subprocesses, on their own data directories.

chDB holds one engine per process, so every server runs as `livereport serve` in a child
process, reached over real HTTP like any client would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, data: Path, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a child process."""
    result = subprocess.run(
        [sys.executable, "-m", "livereport", *args, "--data", str(data)],
        input=stdin, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"livereport {' '.join(args)} failed: {result.stderr}")
    return result


@dataclass
class Server:
    """A `livereport serve` child process on a data directory."""

    data: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.port = free_port()
        with (self.data.parent / f"{self.data.name}-server.log").open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "livereport", "serve", "--data", str(self.data),
                 "--port", str(self.port)],
                stdout=log, stderr=log, env={**os.environ, **self.env},
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not start: {self.log()}")

    def log(self) -> str:
        path = self.data.parent / f"{self.data.name}-server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
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

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the read-mostly tests of the session (tests use their own campaign ids)."""
    srv = Server(tmp_path_factory.mktemp("shared") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    """A server of its own, for tests that restart or count everything."""
    srv = Server(tmp_path / "data").start()
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
