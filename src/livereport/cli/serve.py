"""`livereport serve` and `livereport demo`: a server on a data directory, checked before
anything is opened, and the demo's simulated campaign streamed into it."""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx

from livereport import instance
from livereport.cli.common import Failure, config_of, data_option, err, failures
from livereport.config import Config
from livereport.observe import configure_logging

if TYPE_CHECKING:
    import uvicorn

DEMO_CAMPAIGN = "demo-spring-sale"
log = logging.getLogger("livereport.serve")


def _serve(
    config: Config,
    host: str,
    port: int,
    on_ready: Callable[[str], None] | None,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Check everything that can be checked before the engine is opened (settings, another
    server on the data directory, the port, the directory itself), then serve until stopped
    (``on_stop`` is called as the server begins to stop). A start-up failure ends with one
    line on stderr and status 1, nothing left half made."""
    from livereport.web.app import create_app

    configure_logging(config.log_level)  # a bad level fails here, before anything is made
    instance.check_config(config)
    running = instance.running_server(config)
    if running:
        raise Failure(
            f"{config.data} is already served by another process, on {running}; stop it first "
            "or choose another data directory with --data"
        )
    if instance.engine_in_use(config):
        raise Failure(
            f"{config.data} is in use by another process (a livereport command run on it "
            "without a server); wait for it to end or stop it first"
        )
    sockets = _listen(host, port)
    try:
        tightened = instance.private_data_dir(config)
        if tightened:
            log.warning("closed the data directory to other users: %s", ", ".join(tightened))
        metadata = instance.open_metadata(config)
        store = instance.open_store(config)
        first = instance.bootstrap(config, metadata)
        if first is not None:
            err.print(
                f"First start: created org [bold]{first.org}[/], admin user {first.admin_email} "
                f"and an API key. They are in {first.path} (readable only by you)."
            )
        app = create_app(config, store, metadata)
        _run(config, app, sockets, _url(host, port), on_ready, on_stop)
    finally:
        for sock in sockets:
            sock.close()


def _run(
    config: Config,
    app: Any,
    sockets: list[socket.socket],
    url: str,
    on_ready: Callable[[str], None] | None,
    on_stop: Callable[[], None] | None,
) -> None:
    import uvicorn

    announced = threading.Event()
    failed: list[str] = []

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            # Announced from the server's own start, not by a thread watching it: a daemon
            # thread still running when the interpreter exits is killed while chDB's exit
            # handlers stop the engine, which crashed or hung the process (issue 16).
            await super().startup(sockets)
            if not self.started:
                return
            try:
                instance.write_server_file(config, url)
            except OSError as exc:  # CLI commands would open the engine beside this server
                failed.append(f"cannot write {instance.SERVER_FILE} in {config.data} ({exc})")
                self.should_exit = True  # a graceful stop: the writer is already running
                return
            announced.set()
            err.print(f"livereport serves {config.data} on {url}")
            if on_ready is not None:
                on_ready(url)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if on_stop is not None:
                on_stop()
            await super().shutdown(sockets)

    server = Server(uvicorn_config(config, app))
    configure_logging(config.log_level)  # again: uvicorn.Config set up its own loggers
    # uvicorn re-raises SIGTERM once it has shut down gracefully (stopped listening, answered
    # in-flight requests, stored what was accepted); unwind with status 0 instead of dying, so
    # the server file goes away (a stale one can name a reused pid: "already served").
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        server.run(sockets=sockets)
    except SystemExit:
        if server.started:
            raise
        # uvicorn exits 3 when the app's start (migrations, the writer) fails; it logged why.
        raise Failure("the server could not start; the log line above says why") from None
    finally:
        if announced.is_set():
            instance.remove_server_file(config)
    if failed:
        raise Failure(failed[0])


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_config(config: Config, app: Any) -> uvicorn.Config:
    """How uvicorn serves the app (the tests' in-process servers take the same)."""
    import uvicorn

    from livereport.web.limits import HEAD_READ_BYTES

    return uvicorn.Config(
        app,
        log_level="warning",
        timeout_graceful_shutdown=config.shutdown_timeout_s,
        # h11 gives up on a request head still incomplete past this size, whatever arrived
        # so far, and resets the connection; leave room above the limits of web/limits.py so
        # that an oversized head always gets their clear answer.
        h11_max_incomplete_event_size=HEAD_READ_BYTES,
        # X-Forwarded-* only from the proxies the admin declared (uvicorn trusts localhost).
        proxy_headers=bool(config.proxies),
        forwarded_allow_ips=config.proxies,
    )


def _listen(host: str, port: int) -> list[socket.socket]:
    """The listening sockets, bound before anything else is opened: a busy port then fails
    at once with nothing made, and uvicorn serves these very sockets, so no other process
    can take the port in between. Bound as asyncio binds them for uvicorn: every address of
    the host, SO_REUSEADDR, IPv6 sockets IPv6 only."""
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise click.BadParameter(
            f"{host!r} is not a known address ({exc.strerror})", param_hint="--host"
        ) from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(found):
            try:
                sock = socket.socket(family, kind, proto)
            except OSError:  # an address family this machine lacks, as asyncio skips it
                continue
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen()  # else another socket with SO_REUSEADDR could still bind the port
    except OSError as exc:
        for sock in sockets:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise Failure(f"port {port} is in use; choose another with --port") from None
        if exc.errno == errno.EACCES:
            raise Failure(
                f"port {port} needs privileges this user lacks; choose another with --port"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise click.BadParameter(
                f"{host!r} is not an address of this machine", param_hint="--host"
            ) from None
        raise Failure(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    if not sockets:
        raise click.BadParameter(f"{host!r}: no address to listen on", param_hint="--host")
    return sockets


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(0 if signum == signal.SIGTERM else 128 + signum)


@click.command()
@data_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(data: Path | None, host: str, port: int) -> None:
    """Serve the API (and dashboard) on an embedded data directory."""
    with failures():
        _serve(config_of(data), host, port, None)


def _program() -> str:
    """How to run this command again from here: ``.venv/bin/livereport`` in a clone, where it
    is not on PATH, ``livereport`` where it is, ``python -m livereport`` otherwise."""
    program = Path(sys.argv[0])
    if program.name != "livereport":
        return f"{Path(sys.executable).name} -m livereport"
    on_path = shutil.which("livereport")
    if on_path and Path(on_path).resolve() == program.resolve():
        return "livereport"
    try:
        return str(program.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(program.resolve())


@click.command()
@data_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--rate",
    default=200,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Simulated events per second, live and in the history.",
)
@click.option(
    "--history",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0, 24),
    help="Hours of history at the same rate, loaded as the live stream starts (only the hours the data directory has no demo events for).",
)
@click.option("--seed", default=1, show_default=True)
def demo(data: Path | None, host: str, port: int, rate: int, history: float, seed: int) -> None:
    """Serve, and stream a simulated multi-channel campaign into it through the HTTP API."""
    with failures():
        config = config_of(data)
    if "LIVEREPORT_LOG_LEVEL" not in os.environ:  # keep the demo's terminal readable
        config = dataclasses.replace(config, log_level="warning")
    stopping = threading.Event()
    streams: list[threading.Thread] = []

    def start(url: str) -> None:
        key = instance.cli_key(config)
        assert key is not None  # written at first start

        def announce() -> None:  # once the campaign has events to show
            err.print(
                f"Demo campaign [bold]{DEMO_CAMPAIGN}[/] streams {rate} events/s into {url}. "
                f"Watch it at {url} (sign in with the admin in "
                f"{config.data / instance.FIRST_START_FILE}) or with: {_program()} report "
                f"{DEMO_CAMPAIGN}" + (f" --data {config.data}" if data else "")
            )

        demo = _DemoStream(url, key, rate, seed, timedelta(hours=history), stopping, announce)
        for job in (demo.live, demo.load_history):
            thread = threading.Thread(target=_quietly(job, stopping), daemon=True)
            thread.start()
            streams.append(thread)

    with failures():
        try:
            _serve(config, host, port, start, stopping.set)
        finally:
            # The streams must not outlive the interpreter, whose exit would kill them while
            # chDB's exit handlers stop the engine (see _run).
            stopping.set()
            for thread in streams:
                thread.join(timeout=10)


@dataclasses.dataclass
class _DemoStream:
    """The demo campaign's traffic: live from now on, and the hours before now at the same
    rate, so that its charts show a campaign that was running rather than one that starts
    with a spike. Each run tags its ids: a restarted demo sends new events."""

    url: str
    key: str
    rate: int
    seed: int
    history: timedelta
    stopping: threading.Event
    announce: Callable[[], None]
    now: datetime = dataclasses.field(default_factory=lambda: datetime.now(UTC))
    #: Set once the history's start is known: the live stream waits for it, so that its
    #: first events are not taken for those of an earlier run.
    measured: threading.Event = dataclasses.field(default_factory=threading.Event)

    def traffic(self, seed: int) -> Any:
        from livereport.simulate import LiveTraffic

        return LiveTraffic(
            seed,
            DEMO_CAMPAIGN,
            None,
            self.rate,
            executions=("morning", "evening"),
            variants=("A", "B"),
            tag=f"{int(self.now.timestamp()):x}",
        )

    def history_start(self) -> datetime | None:
        """Where the history begins: ``history`` before now, or after the latest demo event
        the server holds when that is later (a restarted demo); None: nothing to load."""
        headers = {"Authorization": f"Bearer {self.key}"}
        response = httpx.get(
            f"{self.url}/v1/campaigns",
            params={"q": DEMO_CAMPAIGN, "limit": 500},
            headers=headers,
            timeout=30,
        )
        response.raise_for_status()
        since = self.now - self.history
        for row in response.json()["campaigns"]:
            if row["campaign"] == DEMO_CAMPAIGN:
                since = max(since, datetime.fromisoformat(row["last"]) + timedelta(seconds=1))
        return since if since < self.now else None

    def load_history(self) -> None:
        """The history, posted as fast as the server takes it, beside the live stream."""
        from livereport.simulate import history, post_events

        try:
            since = self.history_start() if self.history else None
        finally:
            self.measured.set()
        if since is None:
            return
        hours = (self.now - since).total_seconds() / 3600
        err.print(
            f"Demo history: loading the {hours:.3g} hours before now, about "
            f"{round(hours * 3600 * self.rate):,} events, the latest first."
        )
        began, sent = time.monotonic(), 0
        with httpx.Client(timeout=60) as client:
            for events in history(lambda n: self.traffic(self.seed + 1 + n), since, self.now):
                if self.stopping.is_set():
                    return
                post_events(client, self.url, self.key, events, batch=len(events) or 1)
                sent += len(events)
        err.print(f"Demo history loaded: {sent:,} events in {time.monotonic() - began:.0f} s.")

    def live(self) -> None:
        """simulate.run's loop, which ends as soon as the server begins to stop, rather than
        when its retries of the stopped server run out."""
        from livereport.simulate import post_events

        traffic = self.traffic(self.seed)
        while not self.measured.wait(0.5):
            if self.stopping.is_set():
                return
        with httpx.Client(timeout=30) as client:
            announce: Callable[[], None] | None = self.announce
            last = tick = time.monotonic() - 1.0  # the first second's events at once
            while not self.stopping.wait(max(0.0, tick + 1.0 - time.monotonic())):
                tick = time.monotonic()
                events = traffic.next_batch(datetime.now(UTC), tick - last)
                last = tick
                post_events(client, self.url, self.key, events)
                if announce is not None:  # once the report has something to show
                    announce()
                    announce = None


def _quietly(fn: Callable[[], None], stopping: threading.Event) -> Callable[[], None]:
    def run() -> None:
        try:
            fn()
        except Exception as exc:  # the demo stream must not take the server down
            if not stopping.is_set():
                err.print(f"demo stream stopped: {exc}")

    return run
