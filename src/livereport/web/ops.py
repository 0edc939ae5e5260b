"""Routes and middleware for operators: /healthz (alive), /readyz (storage and schema ready),
/metrics (Prometheus text), and a request id plus a JSON access log line for every request."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from livereport.observe import (
    AlertMetrics,
    Gauge,
    Histogram,
    IngestMetrics,
    Registry,
    new_request_id,
    request_id,
)
from livereport.store.schema import migration_files

if TYPE_CHECKING:
    from livereport.ingest.writer import Writer
    from livereport.store.base import Store

log = logging.getLogger("livereport.access")

READY_TIMEOUT_S = 5.0


class Observed:
    """One server's metrics: ingest counters, request latency, and gauges read at scrape time."""

    def __init__(self) -> None:
        self.registry = Registry()
        self.ingest = IngestMetrics(self.registry)
        self.alerts = AlertMetrics(self.registry)
        self.requests: Histogram = self.registry.add(
            Histogram(
                "livereport_request_seconds",
                "Time to answer a request, per endpoint (route template) and method.",
                ("endpoint", "method"),
            )
        )
        self.writer: Writer | None = None
        self.registry.add(
            Gauge(
                "livereport_buffer_events",
                "Events accepted by ingest, waiting to be stored.",
                lambda: None if self.writer is None else self.writer.pending,
            )
        )
        self.registry.add(
            Gauge(
                "livereport_freshness_lag_seconds",
                "Now minus the time of the newest stored event.",
                self._lag,
            )
        )
        self.registry.add(
            Gauge(
                "livereport_active_parts",
                "Active data parts of the database (merges keep it low).",
                self._parts,
            )
        )

    def _lag(self) -> float | None:
        newest = None if self.writer is None else self.writer.newest_ms
        return None if newest is None else max(0.0, time.time() - newest / 1000)

    def _parts(self) -> float | None:
        if self.writer is None:
            return None
        store = self.writer.store
        try:
            ((count,),) = store.execute(
                "SELECT count() FROM system.parts WHERE database = %(db)s AND active",
                {"db": store.database},
            )
        except Exception:  # a scrape must not fail because storage does
            return None
        return float(count)


def _observed(request: Request) -> Observed:
    observed: Observed = request.app.state.observed
    return observed


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def check_ready(store: Store) -> str | None:
    """None when storage answers and every shipped migration is applied, else what is wrong."""
    store.execute("SELECT 1")
    applied = {int(v) for (v,) in store.execute("SELECT version FROM {db}.schema_migrations")}
    missing = [name for version, name, _ in migration_files() if version not in applied]
    return f"migrations not applied: {', '.join(missing)}" if missing else None


async def readyz(request: Request) -> Response:
    services = getattr(request.app.state, "services", None)
    if services is None:
        return JSONResponse({"status": "starting", "error": "the server is starting"}, 503)
    if services.writer.stopping:
        return JSONResponse({"status": "stopping", "error": "the server is shutting down"}, 503)
    try:
        problem = await asyncio.wait_for(
            run_in_threadpool(check_ready, services.store), READY_TIMEOUT_S
        )
    except TimeoutError:
        problem = f"storage did not answer a trivial query within {READY_TIMEOUT_S:g} s"
    except Exception as exc:
        problem = f"storage is not reachable: {getattr(exc, 'message', exc)}"
    if problem is not None:
        return JSONResponse({"status": "unavailable", "error": problem}, 503)
    return JSONResponse({"status": "ready"})


async def metrics(request: Request) -> Response:
    text = await run_in_threadpool(_observed(request).registry.render)  # gauges may query
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


def ops_routes() -> list[Route]:
    return [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics)]


class RequestContext:
    """ASGI middleware: X-Request-ID taken or made, echoed, logged; latency per endpoint."""

    def __init__(self, app: ASGIApp, observed: Observed) -> None:
        self.app = app
        self.observed = observed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = new_request_id(given)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route: Any = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.observed.requests.observe(elapsed, endpoint, scope["method"])
            log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "fields": {
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    }
                },
            )
            request_id.reset(token)
