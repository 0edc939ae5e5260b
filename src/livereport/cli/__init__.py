"""The command line (SPEC §8): serve, demo, simulate, ingest, report, orgs, keys, users,
webhooks, bounces.

Exit status: 0 success, 2 bad usage, 1 failure with a one-line message on stderr.
"""

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import httpx

from livereport import instance
from livereport.cli.common import (
    SERVER_URL,
    Failure,
    _audit,
    _client_target,
    _config,
    _existing,
    _print_table,
    _printable,
    _refusal,
    _rules_target,
    _when,
    data_option,
    err,
    failures,
    out,
)
from livereport.config import Config
from livereport.errors import LivereportError
from livereport.events import Channel
from livereport.observe import configure_logging
from livereport.report.catalogue import (
    ENGAGEMENTS,
    OVERVIEW_SORTS,
    PERIODS,
    STATUSES,
    TABS,
    VARIANT_RATES,
    variant_channels,
)
from livereport.report.render import Column, render_report
from livereport.store.metadata import Role, Scope

if TYPE_CHECKING:
    import uvicorn

DEMO_CAMPAIGN = "demo-spring-sale"
log = logging.getLogger("livereport.serve")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="livereport")
def main() -> None:
    """Live 24-hour reports of messaging campaigns."""
    # livereport writes only into data directories, which hold password and key hashes: what
    # any command makes there (metadata, the engine's parts, journals) is its owner's only.
    os.umask(os.umask(0o077) | 0o077)


# serving


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


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


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


@main.command()
@data_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def serve(data: Path | None, host: str, port: int) -> None:
    """Serve the API (and dashboard) on an embedded data directory."""
    with failures():
        _serve(_config(data), host, port, None)


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


@main.command()
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
        config = _config(data)
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


# clients of a running server


@main.command()
@click.argument("campaign")
@click.option(
    "--tab",
    default="campaign",
    show_default=True,
    type=click.Choice(list(TABS)),
    help="The tab to show.",
)
@click.option("--execution", default=None, help="Only this execution.")
@click.option(
    "--period",
    default=None,
    type=click.Choice(list(PERIODS)),
    help="A period ending now (default 24h, the live window); not with --from.",
)
@click.option(
    "--from",
    "start",
    default=None,
    metavar="TIME",
    help="The start of a custom period: RFC 3339 with an offset, a whole minute (2026-11-30T08:00:00Z).",
)
@click.option(
    "--to",
    "end",
    default=None,
    metavar="TIME",
    help="The end of a custom period (excluded); without it, until now.",
)
@click.option(
    "--compare",
    is_flag=True,
    help="Show the KPIs of the previous period of the same length beside them.",
)
@click.option(
    "--engagement",
    default="all",
    show_default=True,
    type=click.Choice(list(ENGAGEMENTS)),
    help="Which opens and clicks count: all, only people's (human) or only machines' (machine).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@data_option
@click.option(
    "--url", default=None, type=SERVER_URL, help="A server's base URL, e.g. http://127.0.0.1:8000."
)
@click.option("--key", default=None, help="An API key with the read scope (with --url).")
def report(
    campaign: str,
    tab: str,
    execution: str | None,
    period: str | None,
    start: str | None,
    end: str | None,
    compare: bool,
    engagement: str,
    as_json: bool,
    data: Path | None,
    url: str | None,
    key: str | None,
) -> None:
    """Show a campaign's report tab in the terminal: the live last 24 hours, or any period."""
    import msgspec

    from livereport.report.period import asked

    wanted = {
        "period": period,
        "from": start,
        "to": end,
        "compare": "previous" if compare else None,
        "engagement": None if engagement == "all" else engagement,
    }
    given = {name: value for name, value in wanted.items() if value is not None}
    with failures():
        try:
            asked_for = asked(period, start, end, given.get("compare"))
        except LivereportError as exc:
            raise click.UsageError(exc.message) from None
        target = _client_target(data, url, key)
        if target is not None:
            base, token = target
            params = {"tab": tab, **({"execution": execution} if execution else {}), **given}
            response = httpx.get(
                f"{base}/v1/campaigns/{httpx.URL(campaign).raw_path.decode()}/report",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            if response.status_code != 200:
                raise Failure(_refusal(response))
            body = response.json()
        else:
            body = _local(
                data,
                lambda store, org: _local_report(
                    store,
                    org,
                    campaign,
                    tab,
                    execution,
                    asked_for,
                    _config(data).retention_days,
                    engagement,
                ),
            )
        if as_json:
            sys.stdout.write(msgspec.json.encode(body).decode() + "\n")
        else:
            render_report(out, body)


@main.command()
@click.option(
    "--period",
    default=None,
    type=click.Choice(list(PERIODS)),
    help="A period ending now (default 24h); not with --from.",
)
@click.option(
    "--from",
    "start",
    default=None,
    metavar="TIME",
    help="The start of a custom period: RFC 3339 with an offset, a whole minute.",
)
@click.option(
    "--to",
    "end",
    default=None,
    metavar="TIME",
    help="The end of a custom period (excluded); without it, until now.",
)
@click.option(
    "--search", default=None, help="Only campaigns whose id contains this text (any case)."
)
@click.option(
    "--channel",
    default=None,
    type=click.Choice([c.value for c in Channel]),
    help="Only campaigns with events on this channel.",
)
@click.option(
    "--status",
    default=None,
    type=click.Choice(list(STATUSES)),
    help="Only campaigns of this status.",
)
@click.option(
    "--sort",
    default=None,
    type=click.Choice(list(OVERVIEW_SORTS)),
    help="What to sort by (default: last activity).",
)
@click.option(
    "--asc", is_flag=True, help="Smallest first (the default is largest, or newest, first)."
)
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 500), help="Campaigns to show."
)
@click.option(
    "--offset", default=0, show_default=True, type=click.IntRange(0), help="Campaigns to skip."
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@data_option
@click.option(
    "--url", default=None, type=SERVER_URL, help="A server's base URL, e.g. http://127.0.0.1:8000."
)
@click.option("--key", default=None, help="An API key with the read scope (with --url).")
def campaigns(
    period: str | None,
    start: str | None,
    end: str | None,
    search: str | None,
    channel: str | None,
    status: str | None,
    sort: str | None,
    asc: bool,
    limit: int,
    offset: int,
    as_json: bool,
    data: Path | None,
    url: str | None,
    key: str | None,
) -> None:
    """Every campaign at a glance: status, key numbers and activity over a period."""
    import msgspec

    from livereport.report import overview
    from livereport.report.period import asked
    from livereport.report.render import render_overview

    given = {
        name: value
        for name, value in {
            "period": period,
            "from": start,
            "to": end,
            "q": search,
            "channel": channel,
            "status": status,
            "sort": sort,
            "order": "asc" if asc else None,
            "limit": str(limit),
            "offset": str(offset),
        }.items()
        if value is not None
    }
    with failures():
        try:
            asked_for = asked(period, start, end)
            listing = overview.listing(*(given.get(name) for name in overview.LISTING_PARAMS))
        except LivereportError as exc:
            raise click.UsageError(exc.message) from None
        target = _client_target(data, url, key)
        if target is not None:
            base, token = target
            response = httpx.get(
                f"{base}/v1/campaigns",
                params=given,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            if response.status_code != 200:
                raise Failure(_refusal(response))
            body = response.json()
        else:
            retention = _config(data).retention_days

            def local(store: Any, org: int) -> Any:
                from livereport.report.build import Reports

                return Reports(store, retention_days=retention).campaigns(
                    org, None, asked_for, listing
                )

            body = _local(data, local)
        if as_json:
            sys.stdout.write(msgspec.json.encode(body).decode() + "\n")
        else:
            render_overview(out, body)


@main.command()
@click.argument("campaign")
@click.option(
    "--channel",
    default="email",
    show_default=True,
    type=click.Choice(variant_channels()),
    help="The channel whose variants are compared.",
)
@click.option(
    "--metric",
    default=None,
    type=click.Choice(list(VARIANT_RATES)),
    help="The rate compared (default: the channel's open rate, else its click, delivery or error rate).",
)
@click.option(
    "--control",
    default=None,
    help="The variant the others are compared with (default: the first by name).",
)
@click.option("--execution", default=None, help="Only this execution.")
@click.option(
    "--period",
    default=None,
    type=click.Choice(list(PERIODS)),
    help="A period ending now (default: the campaign's whole life); not with --from.",
)
@click.option(
    "--from",
    "start",
    default=None,
    metavar="TIME",
    help="The start of a custom period: RFC 3339 with an offset, a whole minute.",
)
@click.option(
    "--to",
    "end",
    default=None,
    metavar="TIME",
    help="The end of a custom period (excluded); without it, until now.",
)
@click.option(
    "--engagement",
    default="all",
    show_default=True,
    type=click.Choice(list(ENGAGEMENTS)),
    help="Which opens and clicks count: all, only people's (human) or only machines' (machine).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@data_option
@click.option(
    "--url", default=None, type=SERVER_URL, help="A server's base URL, e.g. http://127.0.0.1:8000."
)
@click.option("--key", default=None, help="An API key with the read scope (with --url).")
def variants(
    campaign: str,
    channel: str,
    metric: str | None,
    control: str | None,
    execution: str | None,
    period: str | None,
    start: str | None,
    end: str | None,
    engagement: str,
    as_json: bool,
    data: Path | None,
    url: str | None,
    key: str | None,
) -> None:
    """Compare a campaign's variants on one rate: lift, interval and a verdict you may trust
    however often you look."""
    import msgspec

    from livereport.report.period import asked
    from livereport.report.render import render_variants

    given = {
        name: value
        for name, value in {
            "channel": channel,
            "metric": metric,
            "control": control,
            "execution": execution,
            "period": period,
            "from": start,
            "to": end,
            "engagement": None if engagement == "all" else engagement,
        }.items()
        if value is not None
    }
    with failures():
        try:
            asked_for = asked(period if period or start else "life", start, end)
        except LivereportError as exc:
            raise click.UsageError(exc.message) from None
        target = _client_target(data, url, key)
        if target is not None:
            base, token = target
            response = httpx.get(
                f"{base}/v1/campaigns/{httpx.URL(campaign).raw_path.decode()}/variants",
                params=given,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            if response.status_code != 200:
                raise Failure(_refusal(response))
            body = response.json()
        else:
            retention = _config(data).retention_days

            def local(store: Any, org: int) -> Any:
                from livereport.report.build import Reports

                reports = Reports(store, retention_days=retention)
                window = reports.window(org, campaign, asked_for)
                return reports.variants(
                    org,
                    campaign,
                    channel,
                    metric,
                    control,
                    execution,
                    window=window,
                    engagement=engagement,
                )

            body = _local(data, local)
        if as_json:
            sys.stdout.write(msgspec.json.encode(body).decode() + "\n")
        else:
            render_variants(out, body)


def _local_report(
    store: Any,
    org: int,
    campaign: str,
    tab: str,
    execution: str | None,
    asked_for: Any,
    retention_days: int,
    engagement: str = "all",
) -> Any:
    from livereport.report.build import Reports

    reports = Reports(store, retention_days=retention_days)
    window = None if asked_for.default else reports.window(org, campaign, asked_for)
    return reports.report(
        org,
        campaign,
        tab,
        execution,
        window=window,
        compare=asked_for.compare,
        engagement=engagement,
    )


def _local(
    data: Path | None,
    fn: Callable[[Any, int], Any],
    org_name: str | None = None,
    writes: bool = False,
) -> Any:
    """Run ``fn(store, org_id)`` on the data directory opened in this process. The store is
    the report layer's (store/tenant.py: reads only, each of one org) unless ``fn`` writes."""
    from livereport.store.schema import migrate
    from livereport.store.tenant import TenantStore

    config = _config(data)
    metadata = instance.open_metadata(config)
    instance.bootstrap(config, metadata)
    store = instance.open_store(config)
    migrate(store)
    return fn(store if writes else TenantStore(store), metadata.org(org_name).id)


@main.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["canonical", "ajo"]),
    default="canonical",
    show_default=True,
    help="canonical: livereport events, one JSON object per line; ajo: exported records of the reference product's message feedback and tracking datasets, one per line.",
)
@data_option
@click.option(
    "--org", default=None, help="Org to ingest into (with --data; default: the first org)."
)
@click.option("--url", default=None, type=SERVER_URL)
@click.option("--key", default=None, help="An API key with the ingest scope (with --url).")
@click.option("--batch", default=5000, show_default=True, type=click.IntRange(1, 10_000))
def ingest(
    files: tuple[Path, ...],
    fmt: str,
    data: Path | None,
    org: str | None,
    url: str | None,
    key: str | None,
    batch: int,
) -> None:
    """Load NDJSON event files (.gz too) with a progress bar and a summary of rejections."""
    from livereport.ingest.load import load_files

    with failures():
        target = _client_target(data, url, key)
        if target is not None and org is not None:
            # Through a server the key decides the org: never load another org's events silently.
            raise Failure(
                "--org works only on a data directory no server runs on; "
                "use --url and --key with a key of that org"
            )
        loader: Callable[..., Any] = load_files
        if fmt == "ajo":
            from livereport.ingest.ajo import load_ajo_files

            loader = load_ajo_files
        if target is not None:
            summary = loader(files, batch=batch, url=target[0], key=target[1])
        else:
            # The org's own bounce rules apply to canonical events, as on a server.
            rules = {} if fmt == "ajo" else {"metadata": instance.open_metadata(_config(data))}
            summary = _local(
                data,
                lambda store, org_id: loader(files, batch=batch, store=store, org=org_id, **rules),
                org,
                writes=True,
            )
    for why, count in sorted(getattr(summary, "skipped", {}).items()):
        err.print(f"  skipped {count}: {why}", markup=False)
    err.print(
        f"{summary.lines} lines: [green]{summary.accepted} accepted[/], "
        f"{summary.duplicates} duplicates, [red]{len(summary.rejected)} rejected[/]"
    )
    for where, errors in summary.rejected[:20]:
        err.print(f"  {where}: {'; '.join(errors)}", markup=False)
    if len(summary.rejected) > 20:
        err.print(f"  … and {len(summary.rejected) - 20} more")


@main.command()
@click.option("--url", required=True, type=SERVER_URL, help="The server's base URL.")
@click.option("--key", required=True, help="An API key with the ingest scope.")
@click.option("--campaign", default="simulated-campaign", show_default=True)
@click.option(
    "--rate",
    default=500,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Events per second.",
)
@click.option(
    "--duration",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds; 0 runs until interrupted.",
)
@click.option("--seed", default=1, show_default=True)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    type=click.Choice([c.value for c in Channel]),
    help="Channels to simulate (repeat; default all).",
)
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress bar (there is none either when standard error is not a terminal).",
)
@click.option(
    "--incident",
    "incidents",
    multiple=True,
    metavar="KIND[:key=value,...]",
    help="Make the traffic go wrong, to see alerts fire: bounce-storm, complaint-spike or stall, with keys channel, start, duration (seconds, or 30s/5m/1h), share (0.4 or 40%) and domain; e.g. bounce-storm:start=2m,duration=5m (repeat for several).",
)
def simulate(
    url: str,
    key: str,
    campaign: str,
    rate: int,
    duration: float,
    seed: int,
    channels: tuple[str, ...],
    quiet: bool,
    incidents: tuple[str, ...],
) -> None:
    """Send realistic campaign traffic to a running instance."""
    from livereport import simulate as sim

    try:
        planned = [sim.Incident.parse(spec) for spec in incidents]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--incident") from None
    with failures(), _sending(campaign, duration, quiet or not err.is_terminal) as on_batch:
        totals = sim.run(
            url,
            key,
            campaign=campaign,
            rate=rate,
            duration=duration or None,
            seed=seed,
            channels=channels or None,
            on_batch=on_batch,
            incidents=planned,
        )
    err.print(
        f"{campaign}: {totals['accepted']:,} accepted, {totals['duplicates']:,} duplicates, "
        f"{totals['rejected']:,} rejected",
        markup=False,
    )


@contextmanager
def _sending(
    campaign: str, duration: float, quiet: bool
) -> Iterator[Callable[[list[Any], dict[str, int]], None] | None]:
    """What `simulate` shows while it runs: a progress bar on standard error (time, of the
    duration, and the events sent and how the server took them), gone once it ends."""
    if quiet:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[counts]}"),
    )
    began = time.monotonic()
    sums = {"sent": 0, "accepted": 0, "duplicates": 0, "rejected": 0}
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(campaign, total=duration or None, counts="starting")

        def on_batch(events: list[Any], counts: dict[str, int]) -> None:
            sums["sent"] += len(events)
            for name, count in counts.items():
                sums[name] += count
            progress.update(
                task,
                completed=time.monotonic() - began,
                counts=f"{sums['sent']:,} sent: {sums['accepted']:,} accepted, "
                f"{sums['duplicates']:,} duplicates, {sums['rejected']:,} rejected",
            )

        yield on_batch


# orgs, keys, users


@main.group()
def orgs() -> None:
    """Organisations (tenants)."""


@orgs.command("create")
@click.argument("name")
@data_option
def orgs_create(name: str, data: Path | None) -> None:
    """Create an org."""
    with failures():
        config = _config(data)
        metadata = instance.open_metadata(config)
        instance.bootstrap(config, metadata)  # else this org would stand in for the first start
        org = metadata.create_org(name)
        _audit(metadata, org.id, "org.create", f"org {org.name}")
    click.echo(org.name)


@orgs.command("list")
@data_option
def orgs_list(data: Path | None) -> None:
    """List the orgs: id and name."""
    with failures():
        found = instance.open_metadata(_config(data)).orgs()
    for org in found:
        click.echo(f"{org.id}\t{org.name}")


@main.group()
def keys() -> None:
    """API keys of an org."""


@keys.command("create")
@data_option
@click.option("--org", default=None, help="Org name (default: the org made at first start).")
@click.option(
    "--scope", "scopes", multiple=True, required=True, type=click.Choice([s.value for s in Scope])
)
@click.option("--name", default="", help="What the key is for.")
@click.option(
    "--expires-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Days until the key stops working (default: never).",
)
def keys_create(
    data: Path | None, org: str | None, scopes: tuple[str, ...], name: str, expires_days: int | None
) -> None:
    """Create a key; prints only the key (shown once)."""
    with failures():
        config = _config(data)
        metadata = instance.open_metadata(config)
        instance.bootstrap(config, metadata)
        expires = None if expires_days is None else time.time() + expires_days * 86_400
        plain, key = metadata.create_key(metadata.org(org), scopes, name, expires)
        _audit(
            metadata,
            key.org_id,
            "key.create",
            f"key {key.id} ({key.prefix}…) {','.join(sorted(key.scopes))}",
        )
    click.echo(plain)


@keys.command("list")
@data_option
@click.option("--org", default=None)
def keys_list(data: Path | None, org: str | None) -> None:
    """List the keys of an org (never their values): scopes, when created, expiring, last
    used and revoked (UTC)."""
    with failures():
        metadata = instance.open_metadata(_config(data))
        found = metadata.keys(metadata.org(org))
    # The id and prefix that find a key stay whole; names, scopes and times may wrap.
    columns = [
        Column("id", "right"),
        Column("prefix"),
        Column("name", wrap=True),
        *(Column(h, wrap=True) for h in ("scopes", "created", "expires", "last used", "revoked")),
    ]
    rows = [
        [
            str(k.id),
            k.prefix + "…",
            _printable(k.name),
            ", ".join(sorted(k.scopes)),
            _when(k.created),
            _when(k.expires),
            _when(k.last_used),
            _when(k.revoked),
        ]
        for k in found
    ]
    _print_table(columns, rows)


@keys.command("revoke")
@click.argument("key_id", type=int)
@data_option
@click.option("--org", default=None)
def keys_revoke(key_id: int, data: Path | None, org: str | None) -> None:
    """Revoke a key at once."""
    with failures():
        metadata = instance.open_metadata(_config(data))
        the_org = metadata.org(org)
        metadata.revoke_key(the_org, key_id)
        _audit(metadata, the_org.id, "key.revoke", f"key {key_id}")
    err.print(f"key {key_id} revoked")


@main.group()
def users() -> None:
    """Users of an org."""


@users.command("create")
@click.argument("email")
@data_option
@click.option("--org", default=None)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--password-stdin", is_flag=True, required=True, help="Read the password from standard input."
)
def users_create(
    email: str, data: Path | None, org: str | None, role: str, password_stdin: bool
) -> None:
    """Create a user; the password is read from stdin."""
    password = sys.stdin.readline().rstrip("\r\n")
    with failures():
        config = _config(data)
        metadata = instance.open_metadata(config)
        instance.bootstrap(config, metadata)
        user = metadata.create_user(metadata.org(org), email, role, password)
        _audit(metadata, user.org_id, "user.create", f"user {user.email} as {user.role}")
    err.print(f"user {user.email} created with role {user.role}")


@users.command("invite")
@click.argument("email")
@data_option
@click.option("--org", default=None)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option(
    "--days",
    default=7,
    show_default=True,
    type=click.IntRange(1, 30),
    help="Days the invitation stays open.",
)
def users_invite(email: str, data: Path | None, org: str | None, role: str, days: int) -> None:
    """Invite someone; prints only the one-time token, which they accept with a password on
    the server's /invite page (or POST /v1/invites/accept)."""
    with failures():
        config = _config(data)
        metadata = instance.open_metadata(config)
        instance.bootstrap(config, metadata)
        token, invite = metadata.create_invite(metadata.org(org), email, role, days)
        _audit(metadata, invite.org_id, "user.invite", f"user {invite.email} as {invite.role}")
    click.echo(token)
    click.echo(
        f"send {invite.email} the link <server>/invite#{token} (or the token, to paste "
        f"on /invite); it works once, for {days} days",
        err=True,
    )


@users.command("list")
@data_option
@click.option("--org", default=None)
def users_list(data: Path | None, org: str | None) -> None:
    """List the users of an org, one per line: id, email, role, disabled, failed sign-ins,
    locked until (tab-separated, times in UTC)."""
    with failures():
        metadata = instance.open_metadata(_config(data))
        now = time.time()
        accounts = metadata.accounts(metadata.org(org))
    click.echo("id\temail\trole\tdisabled\tfailed sign-ins\tlocked until")
    for a in accounts:
        locked = _when(a.locked_until, seconds=True) if a.locked(now) else ""
        click.echo(
            f"{a.id}\t{_printable(a.email)}\t{a.role}\t{_when(a.disabled)}\t{a.failures}\t{locked}"
        )


def _change_user(
    data: Path | None,
    org: str | None,
    email: str,
    action: str,
    change: Callable[[Any, Any, Any], Any],
) -> None:
    """Apply ``change(metadata, org, account)`` to the org's user of this email, and audit it."""
    with failures():
        metadata = instance.open_metadata(_config(data))
        the_org = metadata.org(org)
        account = metadata.account(the_org, email=email)
        change(metadata, the_org, account)
        _audit(metadata, the_org.id, action, f"user {account.email}")
    err.print(f"{action.replace('user.', '')}: {account.email}", markup=False)


@users.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
@data_option
@click.option("--org", default=None)
def users_role(email: str, role: str, data: Path | None, org: str | None) -> None:
    """Change a user's role (takes effect on their next request)."""
    _change_user(data, org, email, f"user.role {role}", lambda m, o, a: m.set_role(o, a.id, role))


@users.command("disable")
@click.argument("email")
@data_option
@click.option("--org", default=None)
def users_disable(email: str, data: Path | None, org: str | None) -> None:
    """Disable a user and end their sessions at once."""
    _change_user(data, org, email, "user.disable", lambda m, o, a: m.set_disabled(o, a.id, True))


@users.command("enable")
@click.argument("email")
@data_option
@click.option("--org", default=None)
def users_enable(email: str, data: Path | None, org: str | None) -> None:
    """Enable a disabled user again."""
    _change_user(data, org, email, "user.enable", lambda m, o, a: m.set_disabled(o, a.id, False))


@users.command("unlock")
@click.argument("email")
@data_option
@click.option("--org", default=None)
def users_unlock(email: str, data: Path | None, org: str | None) -> None:
    """End a user's sign-in lock (after too many wrong passwords) before it expires."""
    _change_user(data, org, email, "user.unlock", lambda m, o, a: m.clear_failed_sign_ins(a.id))


@users.command("reset-password")
@click.argument("email")
@data_option
@click.option("--org", default=None, help="Org (with --data; default: the first org).")
@click.option(
    "--url", default=None, type=SERVER_URL, help="A server's base URL, e.g. http://127.0.0.1:8000."
)
@click.option("--key", default=None, help="An API key with the admin scope (with --url).")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from standard input (default: make a random one).",
)
def users_reset_password(
    email: str,
    data: Path | None,
    org: str | None,
    url: str | None,
    key: str | None,
    password_stdin: bool,
) -> None:
    """Set a user's password, end every session of theirs and lift a sign-in lock; prints
    the new random password once (nothing with --password-stdin)."""
    from livereport.store.accounts import check_new_password, random_password

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else random_password()
    with failures():
        check_new_password(password)
        target = _rules_target(url, key)
        if target is not None:
            if org:
                raise click.UsageError("--org goes with --data; with --url the key's org is used")
            shown, ended = _reset_password_remote(*target, email, password)
        else:
            metadata = instance.open_metadata(_existing(data))
            the_org = metadata.org(org)
            account = metadata.account(the_org, email=email)
            ended = metadata.reset_password(the_org, account.id, password)
            shown = account.email
            _audit(
                metadata, the_org.id, "user.password.reset", f"user {shown}; {ended} sessions ended"
            )
    if not password_stdin:
        click.echo(password)
    click.echo(f"password of {_printable(shown)} reset; {ended} sessions ended", err=True)


def _reset_password_remote(base: str, token: str, email: str, password: str) -> tuple[str, int]:
    """Reset through a server's admin API: find the user by email, then set the password."""
    headers = {"Authorization": f"Bearer {token}"}
    listed = httpx.get(f"{base}/v1/admin/users", headers=headers, timeout=30)
    if listed.status_code != 200:
        raise Failure(_refusal(listed))
    wanted = email.strip().lower()
    found = [u for u in listed.json()["users"] if u["email"] == wanted]
    if not found:
        raise Failure(f"the key's org has no user {email!r}; see GET /v1/admin/users")
    reset = httpx.post(
        f"{base}/v1/admin/users/{found[0]['id']}/password",
        json={"password": password},
        headers=headers,
        timeout=30,
    )
    body = reset.json()
    if reset.status_code != 200:
        raise Failure(_refusal(reset))
    return str(body["email"]), int(body["sessions_ended"])


@main.group()
def audit() -> None:
    """The audit log of admin actions."""


@audit.command("list")
@data_option
@click.option("--org", default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 500))
def audit_list(data: Path | None, org: str | None, limit: int) -> None:
    """Show an org's latest admin actions, newest first, one per line: time (UTC), who,
    what, target, from where (tab-separated)."""
    with failures():
        metadata = instance.open_metadata(_config(data))
        entries = metadata.audit_log(metadata.org(org), limit)
    for e in entries:
        fields = (_when(e.created, seconds=True), e.actor, e.action, e.target, e.address)
        click.echo("\t".join(_printable(f) for f in fields))


# provider webhooks


@main.group()
def webhooks() -> None:
    """Provider webhooks (Mailgun, Postmark, SendGrid, Amazon SES, Twilio) of an org."""


@webhooks.command("set")
@click.argument("provider", type=click.Choice(["mailgun", "postmark", "sendgrid", "ses", "twilio"]))
@data_option
@click.option("--org", default=None, help="Org name (default: the org made at first start).")
@click.option(
    "--secret-stdin",
    is_flag=True,
    required=True,
    help="Read the secret from standard input: Mailgun signing key, Postmark USER:PASSWORD, SendGrid verification key, SES: the SNS signing certificate(s) in PEM, Twilio auth token.",
)
@click.option(
    "--campaign-field", default=None, help="Metadata name of the campaign id (default: campaign)."
)
@click.option(
    "--profile-field", default=None, help="Metadata name of the profile id (default: profile)."
)
@click.option(
    "--execution-field", default=None, help="Metadata name of the execution (default: execution)."
)
@click.option(
    "--variant-field", default=None, help="Metadata name of the variant (default: variant)."
)
def webhooks_set(
    provider: str,
    data: Path | None,
    org: str | None,
    secret_stdin: bool,
    campaign_field: str | None,
    profile_field: str | None,
    execution_field: str | None,
    variant_field: str | None,
) -> None:
    """Store a provider's secret; prints the URL path to give the provider."""
    secret = (sys.stdin.read() if provider == "ses" else sys.stdin.readline()).strip()
    if not secret:
        raise Failure("expected the secret on standard input")
    if provider == "postmark" and ":" not in secret:
        raise Failure("postmark: expected USER:PASSWORD, the basic auth credentials of the webhook")
    if provider == "sendgrid":
        from livereport.providers.sendgrid import load_key

        with failures():
            load_key(secret)
    if provider == "ses":
        from livereport.providers.ses import load_certificates

        with failures():
            if not load_certificates(secret):
                raise Failure("ses: expected an RSA signing certificate in PEM")
    names = {
        "campaign": campaign_field,
        "profile": profile_field,
        "execution": execution_field,
        "variant": variant_field,
    }
    with failures():
        config = _config(data)
        metadata = instance.open_metadata(config)
        instance.bootstrap(config, metadata)
        token = metadata.set_webhook(
            metadata.org(org), provider, secret, {k: v for k, v in names.items() if v}
        )
    click.echo(f"/v1/webhooks/{provider}/{token}")


@webhooks.command("notes")
@data_option
@click.option("--org", default=None)
def webhooks_notes(data: Path | None, org: str | None) -> None:
    """What an admin must act on, such as SNS subscriptions to confirm (open their URL)."""
    with failures():
        metadata = instance.open_metadata(_config(data))
        notes = metadata.webhook_notes(metadata.org(org))
    for created, provider, note in notes:
        click.echo(f"{_when(created)}  {provider}  {note}")


# returned mails


@main.group()
def bounces() -> None:
    """Returned mails: bounces, auto-replies and feedback reports."""


@bounces.command("classify")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@data_option
@click.option(
    "--org",
    default=None,
    help="Classify with this org's own bounce rules first, then the defaults (the org of --data).",
)
@click.option(
    "--url",
    default=None,
    type=SERVER_URL,
    help="A server's base URL: use the rules of the org of --key.",
)
@click.option("--key", default=None, help="An API key with the read scope (with --url).")
def bounces_classify(
    files: tuple[Path, ...],
    as_json: bool,
    data: Path | None,
    org: str | None,
    url: str | None,
    key: str | None,
) -> None:
    """Say whether each raw mail is a bounce, with its category, reason, status and rule."""
    import json

    from livereport.bounces.classify import classify_message
    from livereport.bounces.rules import DEFAULT_RULES

    rules = DEFAULT_RULES
    if any(v is not None for v in (data, org, url, key)):
        rules = _classify_rules(data, org, url, key)
    folder, names = _within_folder([str(p) for p in files])
    rows: list[list[str]] = []
    for path, name in zip(files, names, strict=True):
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise Failure(f"cannot read {path}: {exc.strerror or exc}; check the path") from None
        found = classify_message(raw, rules)
        row = {
            "file": str(path),
            "is_bounce": found.is_bounce,
            "category": found.category.value if found.category else None,
            "reason": found.reason,
            "status": found.status,
            "rule": found.rule,
        }
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            shown = {**row, "file": name, "is_bounce": "yes" if found.is_bounce else "no"}
            rows.append([_printable("" if v is None else str(v)) for v in shown.values()])
    if not as_json:
        # The file and the reason may wrap; the bounce's status and rule id stay whole.
        columns = [
            Column("file", wrap=True),
            Column("bounce"),
            Column("category"),
            Column("reason", wrap=True),
            Column("status"),
            Column("rule"),
        ]
        _print_table(columns, rows, title=None if folder is None else f"in {folder}")


def _within_folder(paths: list[str]) -> tuple[str | None, list[str]]:
    """The folder the paths share, if any, and each path within it: a table names the folder
    once, above, and its rows only what differs."""
    try:
        folder = os.path.commonpath([os.path.dirname(p) for p in paths])
    except ValueError:  # absolute and relative paths mixed
        return None, paths
    if folder in ("", ".", os.sep):
        return None, paths
    return folder, [os.path.relpath(p, folder) for p in paths]


def _classify_rules(data: Path | None, org: str | None, url: str | None, key: str | None) -> Any:
    """An org's rules, then the defaults: of --org in the data directory, or of the key's
    org through a server."""
    import json

    from livereport.bounces.org import compile_rows
    from livereport.bounces.rules import DEFAULT_RULES

    target = _rules_target(url, key)
    if target is not None and org is not None:
        raise click.UsageError(
            "--org names an org of a data directory; with --url the "
            "key's org is used: leave --org out"
        )
    if target is None and org is None:
        raise click.UsageError(
            "--data says where the org's rules are; add --org NAME (see `livereport orgs list`)"
        )
    with failures():
        if target is not None:
            found = _rules_call("GET", *target)
            version, rows, whose = found["version"], found["rules"], "the key's org"
        else:
            metadata = instance.open_metadata(_existing(data))
            the_org = metadata.org(org)
            stored = metadata.bounce_rules(the_org.id)
            version, rows = (stored[0], json.loads(stored[1])) if stored else (0, [])
            whose = f"org {the_org.name}"
        own = compile_rows(rows)
    err.print(
        f"{len(own)} rules of {whose} (version {version}) first, then the "
        f"{len(DEFAULT_RULES)} default rules",
        markup=False,
    )
    return (*own, *DEFAULT_RULES)


@bounces.group("rules")
def bounces_rules() -> None:
    """The org's own bounce rules, tried before the default table (SPEC §5)."""


def _rules_call(method: str, base: str, token: str, body: Any = None) -> dict[str, Any]:
    response = httpx.request(
        method,
        f"{base}/v1/bounce-rules",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
    )
    if response.status_code != 200:
        raise Failure(_refusal(response))
    found: dict[str, Any] = response.json()
    return found


@bounces_rules.command("show")
@data_option
@click.option("--org", default=None, help="Org (with --data; default: the first org).")
@click.option(
    "--url", default=None, type=SERVER_URL, help="A server's base URL, e.g. http://127.0.0.1:8000."
)
@click.option("--key", default=None, help="An API key with the read scope (with --url).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the table as JSON (as `set` reads it)."
)
def bounces_rules_show(
    data: Path | None, org: str | None, url: str | None, key: str | None, as_json: bool
) -> None:
    """Print the org's bounce rules and their version."""
    import json

    with failures():
        target = _rules_target(url, key)
        if target is not None:
            found = _rules_call("GET", *target)
            version, rows = found["version"], found["rules"]
        else:
            metadata = instance.open_metadata(_config(data))
            stored = metadata.bounce_rules(metadata.org(org).id)
            version, rows = (stored[0], json.loads(stored[1])) if stored else (0, [])
    if as_json:
        click.echo(json.dumps({"version": version, "rules": rows}, ensure_ascii=False, indent=2))
        return
    err.print(f"version {version}: {len(rows)} org rules, tried before the default rules")
    fields = ("name", "reason", "category", "status", "code", "pattern", "note")
    columns = [Column(f, wrap=f in ("name", "reason", "pattern", "note")) for f in fields]
    _print_table(columns, [[_printable(str(row.get(k, ""))) for k in fields] for row in rows])


@bounces_rules.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@data_option
@click.option("--org", default=None, help="Org (with --data; default: the first org).")
@click.option(
    "--url", default=None, type=SERVER_URL, help="A server's base URL, e.g. http://127.0.0.1:8000."
)
@click.option("--key", default=None, help="An API key with the admin scope (with --url).")
def bounces_rules_set(
    file: Path, data: Path | None, org: str | None, url: str | None, key: str | None
) -> None:
    """Replace the org's bounce rules with those of a JSON or CSV FILE (an empty list removes them)."""
    import json

    from livereport.bounces.org import read_rule_file, rows_json
    from livereport.bounces.overrides import parse_rules

    try:
        rows = read_rule_file(file.name, file.read_bytes())
        checked = rows_json(parse_rules(rows))
    except (ValueError, OSError) as exc:
        raise Failure(f"{file}: {exc}; nothing was stored") from None
    with failures():
        target = _rules_target(url, key)
        if target is not None:
            version = _rules_call("PUT", *target, {"rules": checked})["version"]
        else:
            config = _config(data)
            metadata = instance.open_metadata(config)
            instance.bootstrap(config, metadata)
            stored = metadata.replace_bounce_rules(metadata.org(org).id, json.dumps(checked), "cli")
            assert stored is not None  # no expected version: the replace always happens
            version = stored
    err.print(f"stored {len(checked)} org bounce rules as version {version}")


@bounces.command("reclassify")
@data_option
@click.option("--org", default=None, help="Org (with --data; default: the first org).")
@click.option(
    "--url", default=None, type=SERVER_URL, help="A server's base URL, e.g. http://127.0.0.1:8000."
)
@click.option("--key", default=None, help="An API key with the admin scope (with --url).")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def bounces_reclassify(
    data: Path | None,
    org: str | None,
    url: str | None,
    key: str | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Apply the org's current bounce rules to the email bounces stored in the live window."""
    import json

    target = _rules_target(url, key)
    if target is not None and org is not None:
        raise click.UsageError(
            "--org names an org of a data directory; with --url the "
            "key's org is used: leave --org out"
        )
    with failures():
        if target is not None:
            from livereport.returns.reclassify import MUTATION_WAIT_S

            response = httpx.post(
                f"{target[0]}/v1/bounce-rules/reclassify",
                json={"dry_run": dry_run},
                headers={"Authorization": f"Bearer {target[1]}"},
                timeout=httpx.Timeout(30, read=MUTATION_WAIT_S + 120),
            )
            if response.status_code != 200:
                raise Failure(_refusal(response))
            outcome: dict[str, Any] = response.json()
        else:
            outcome = _reclassify_local(data, org, dry_run)
    if as_json:
        click.echo(json.dumps(outcome, ensure_ascii=False))
    else:
        _show_reclassified(outcome)


def _reclassify_local(data: Path | None, org: str | None, dry_run: bool) -> dict[str, Any]:
    """On the data directory, opened in this process: no server may run on it."""
    from livereport.returns.reclassify import journal_of, reclassify, repair
    from livereport.store.schema import migrate

    config = _existing(data)
    running = instance.running_server(config)
    if running:
        raise Failure(
            f"{config.data} is served by {running}; reclassify through it: --url "
            f"{running} --key KEY, an admin key (`livereport keys create --scope admin`)"
        )
    metadata = instance.open_metadata(config)
    org_id = metadata.org(org).id
    store = instance.open_store(config)
    migrate(store)
    journal = journal_of(config.data, config.clickhouse)
    days = repair(store, journal)
    if days:
        err.print(f"rebuilt the rollups of days {days} after an interrupted reclassification")
    outcome: dict[str, Any] = reclassify(store, metadata, org_id, dry_run=dry_run, journal=journal)
    if not dry_run:
        _audit(
            metadata,
            org_id,
            "bounces.reclassify",
            f"{outcome['changed']} bounces of "
            f"{outcome['campaigns']} campaigns (rules version {outcome['rules_version']})",
        )
    return outcome


def _show_reclassified(outcome: dict[str, Any]) -> None:
    """Counts per reason and category, before → after, and a summary line."""
    window = outcome["window"]
    rows = []
    for row in outcome["counts"]:
        change = row["after"] - row["before"]
        rows.append(
            [
                _printable(row["reason"]),
                row["category"],
                str(row["before"]),
                str(row["after"]),
                f"{change:+d}" if change else "",
            ]
        )
    columns = [
        Column("reason", wrap=True),
        Column("category"),
        *(Column(h, "right") for h in ("before", "after", "change")),
    ]
    _print_table(columns, rows, title=f"Email bounces from {window['from']} on")
    changed = outcome["changed"]
    verb = "would change" if outcome["dry_run"] else "changed"
    err.print(
        f"{changed} of {outcome['examined']} bounces with SMTP data {verb} "
        f"(rules version {outcome['rules_version']}); {outcome['kept']} kept as the sender "
        f"gave them, {outcome['unchanged']} already as the rules say"
        + ("; dry run: nothing was changed" if outcome["dry_run"] else "")
        + (
            "; ClickHouse still updates the stored events (the reports are done)"
            if outcome["pending"]
            else ""
        ),
        markup=False,
    )


@main.group()
def returns() -> None:
    """Returned mails into events: import mailboxes, listen by SMTP, list unattributed ones."""


@contextmanager
def _return_sink(
    data: Path | None, url: str | None, key: str | None, org: str | None
) -> Iterator[Any]:
    """A running server's POST /v1/returns, else the data directory opened in this process."""
    from livereport.returns.inbox import LocalSink, ServerSink

    target = _client_target(data, url, key)
    if target is not None:
        if org is not None:
            raise Failure(
                "--org works only on a data directory no server runs on; "
                "use --url and --key with a key of that org"
            )
        yield ServerSink(*target)
        return
    from livereport.store.schema import migrate

    config = _config(data)
    metadata = instance.open_metadata(config)
    instance.bootstrap(config, metadata)
    store = instance.open_store(config)
    migrate(store)
    sink = LocalSink(store, metadata, metadata.org(org).id, config.retention_days)
    try:
        yield sink
    finally:
        sink.close()


@returns.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@data_option
@click.option(
    "--org", default=None, help="Org to store into (with --data; default: the first org)."
)
@click.option(
    "--url", default=None, type=SERVER_URL, help="A server's base URL, e.g. http://127.0.0.1:8000."
)
@click.option("--key", default=None, help="An API key with the ingest scope (with --url).")
def returns_import(
    paths: tuple[Path, ...], data: Path | None, org: str | None, url: str | None, key: str | None
) -> None:
    """Read maildir folders, mbox files or single message files of returned mails."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from livereport.returns.inbox import MailboxTally, count_messages, read_messages

    tally = MailboxTally()
    with failures(), _return_sink(data, url, key, org) as sink:
        total = sum(count_messages(p) for p in paths)
        columns = (TextColumn("returned mails"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err) as progress:
            task = progress.add_task("returns", total=total)
            chunk: list[tuple[str, bytes]] = []
            for path in paths:
                for found in read_messages(path):
                    chunk.append(found)
                    if len(chunk) == 200 or sum(len(raw) for _, raw in chunk) > 20_000_000:
                        _take_chunk(sink, chunk, tally)
                        progress.advance(task, len(chunk))
                        chunk = []
            _take_chunk(sink, chunk, tally)
            progress.advance(task, len(chunk))
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(tally.outcomes.items()))
    err.print(f"{tally.messages} returned mails: {counts or 'none'}", markup=False)
    for where, problem in tally.problems[:20]:
        err.print(f"  {where}: {problem}", markup=False)
    if tally.outcomes.get("kept"):
        err.print("Kept returns are listed by `livereport returns unattributed`.")


def _take_chunk(sink: Any, chunk: list[tuple[str, bytes]], tally: Any) -> None:
    """Store a chunk of returned mails at once (one insert), tallying each one's outcome."""
    if chunk:
        for (where, _), answer in zip(
            chunk, sink.take_many([raw for _, raw in chunk]), strict=True
        ):
            tally.add(where, answer)


@returns.command("unattributed")
@data_option
@click.option("--org", default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--message",
    "message_id",
    type=int,
    default=None,
    help="Print the raw message of this kept return.",
)
def returns_unattributed(
    data: Path | None, org: str | None, limit: int, as_json: bool, message_id: int | None
) -> None:
    """Returned mails that made no event (no campaign and profile, or not a return), newest first."""
    import json

    from livereport.web.returns import kept_json

    with failures():
        metadata = instance.open_metadata(_config(data))
        org_id = metadata.org(org).id
        if message_id is not None:
            raw = metadata.kept_return_message(org_id, message_id)
            if raw is None:
                raise Failure(f"no kept return {message_id}; see `livereport returns unattributed`")
            sys.stdout.buffer.write(raw)
            return
        kept = [kept_json(k) for k in metadata.kept_returns(org_id, limit)]
    if as_json:
        for row in kept:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    fields = ("id", "received", "kind", "reason", "status", "subject", "why")
    columns = [
        Column(
            f, "right" if f == "id" else "left", wrap=f in ("received", "reason", "subject", "why")
        )
        for f in fields
    ]
    _print_table(columns, [[_printable(str(row[k] or "")) for k in fields] for row in kept])


@returns.command("smtp")
@click.option(
    "--listen", default="127.0.0.1:2525", show_default=True, help="HOST:PORT to accept mail on."
)
@data_option
@click.option("--org", default=None)
@click.option(
    "--url", default=None, type=SERVER_URL, help="A server's base URL (else the data directory)."
)
@click.option("--key", default=None, help="An API key with the ingest scope (with --url).")
@click.option(
    "--max-size",
    default=10_000_000,
    show_default=True,
    type=click.IntRange(1000, 100_000_000),
    help="Largest message accepted, in bytes.",
)
def returns_smtp(
    listen: str, data: Path | None, org: str | None, url: str | None, key: str | None, max_size: int
) -> None:
    """Accept returned mails for a bounce address over SMTP until stopped (Ctrl-C, SIGTERM)."""
    from aiosmtpd.controller import Controller

    from livereport.returns.inbox import SmtpHandler

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise click.BadParameter(
            f"{listen!r}; expected HOST:PORT, e.g. 127.0.0.1:2525", param_hint="--listen"
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with failures(), _return_sink(data, url, key, org) as sink:
        controller = Controller(
            SmtpHandler(sink), hostname=host, port=int(port), data_size_limit=max_size
        )
        try:
            controller.start()
        except (OSError, RuntimeError) as exc:
            raise Failure(
                f"cannot listen on {listen} ({exc}); is the port in use? try --listen"
            ) from None
        err.print(f"livereport takes returned mails by SMTP on {listen}")
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()


from livereport.cli.alerts import alerts  # noqa: E402

main.add_command(alerts)


if __name__ == "__main__":
    main()
