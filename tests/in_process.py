"""Test servers in the test process: the app `livereport serve` builds (web/app.py), served by
uvicorn in a thread on a loopback port, so tests talk real HTTP to it (live streams too).

chDB holds one engine per process: every app here shares the process's engine, each with a
database of its own, and keeps its metadata (SQLite) and files in its own data directory.
Start-up is then the migrations of one database, not a new interpreter and engine.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from livereport import instance
from livereport.cli.serve import _listen, uvicorn_config
from livereport.config import Config
from livereport.store.chdb import ChdbStore
from livereport.store.metadata import Metadata
from livereport.web.app import create_app
from livereport.web.params import Clock

#: The directory of the process's one embedded engine (conftest sets it for the session).
ENGINE: list[Path] = []


class MovableClock:
    """The system's clocks plus an offset a test moves forward, instead of sleeping until a
    key expires or a rate limit refills."""

    def __init__(self) -> None:
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def clock(self) -> Clock:
        return Clock(
            now=lambda: time.time() + self.offset,
            monotonic=lambda: time.monotonic() + self.offset,
        )


@dataclass
class Running:
    """An app served by uvicorn in a thread of this process."""

    config: Config
    metadata: Metadata
    server: uvicorn.Server
    thread: threading.Thread
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop as SIGTERM stops `livereport serve`: stop listening, finish the open requests
        (live streams up to the shutdown timeout), store what was accepted."""
        self.server.should_exit = True
        self.thread.join(timeout=self.config.shutdown_timeout_s + 30)
        instance.remove_server_file(self.config)
        if self.thread.is_alive():
            raise AssertionError(f"the in-process server of {self.config.data} did not stop")


def serve(data: Path, database: str, env: dict[str, str], clock: MovableClock) -> Running:
    """Serve the data directory's instance, its events in ``database`` of the shared engine,
    started as `livereport serve` starts one (cli/__init__.py ``_serve``): settings from the
    environment and ``env``, a private data directory, the first start, the server file that
    sends the command line to this server."""
    config = Config.load(env={**os.environ, **env}, data=data)
    instance.check_config(config)
    instance.private_data_dir(config)
    metadata = instance.open_metadata(config)
    store = ChdbStore(ENGINE[0], database)
    instance.bootstrap(config, metadata)
    app = create_app(config, store, metadata, clock.clock())
    # Bound as `livereport serve` binds its own: asyncio sets TCP_NODELAY only on sockets
    # that say they are TCP, and without it every answer waited 40 ms for a delayed ACK.
    (sock,) = _listen("127.0.0.1", 0)
    port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn_config(config, app))
    thread = threading.Thread(
        target=_run, args=(server, sock), name=f"serve-{data.parent.name}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise AssertionError(f"the in-process server of {data} did not start")
        time.sleep(0.01)
    running = Running(config, metadata, server, thread, port)
    instance.write_server_file(config, running.url)
    return running


def drop(database: str) -> None:
    """Drop an app's database from the shared engine (its app stopped for good)."""
    ChdbStore(ENGINE[0], database).execute("DROP DATABASE IF EXISTS {db} SYNC")


def _run(server: uvicorn.Server, sock: socket.socket) -> None:
    with contextlib.closing(sock):
        server.run(sockets=[sock])
