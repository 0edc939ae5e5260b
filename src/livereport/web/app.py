"""The ASGI application: ingest, the report API, the catalogue, the OpenAPI document, and the
dashboard (pages, sessions, live streams, layouts, exports)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from livereport.alerts.service import Alerts
from livereport.config import Config
from livereport.errors import BadRequest, LivereportError
from livereport.ingest import pipeline
from livereport.ingest.decode import media_type, read_body
from livereport.ingest.machine import Memory
from livereport.ingest.seen import SharedSeen
from livereport.ingest.writer import Writer
from livereport.report import overview
from livereport.report.build import Reports, describe_catalogue
from livereport.report.catalogue import BUCKETS, DEFAULT_BUCKET
from livereport.returns.reclassify import journal_of
from livereport.returns.reclassify import repair as repair_reclassify
from livereport.store.base import Store, drop_partitions_before, retention_start
from livereport.store.metadata import Metadata, Scope
from livereport.store.recover import InsertJournal
from livereport.store.schema import migrate
from livereport.store.tenant import TenantStore
from livereport.web.accounts import account_routes
from livereport.web.alerts import alert_routes
from livereport.web.auth import KeyUse, authenticate, authenticate_caller
from livereport.web.bounce_rules import get_bounce_rules, post_reclassify, put_bounce_rules
from livereport.web.export import get_export
from livereport.web.layouts import delete_layout, get_layout, put_layout
from livereport.web.limits import RequestLimits
from livereport.web.live import Watches, get_live
from livereport.web.machine_rules import get_engagement, get_machine_rules, put_machine_rules
from livereport.web.openapi import openapi_document
from livereport.web.ops import Observed, RequestContext, ops_routes
from livereport.web.pages import page_routes
from livereport.web.params import (
    Clock,
    check_query,
    choice_param,
    engagement_param,
    ingest_context,
    period_param,
    query_param,
    required_param,
    services_of,
)
from livereport.web.returns import get_bounce, get_unattributed, post_return
from livereport.web.services import Services
from livereport.web.session import (
    SignInThrottle,
    get_me,
    post_signin,
    post_signout,
    put_my_settings,
)
from livereport.web.webhooks import post_webhook

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encode(content)


async def post_events(request: Request) -> Response:
    s = services_of(request)
    key = authenticate(request, s.metadata, Scope.INGEST)
    media = media_type(request.headers.get("content-type"))
    body = await read_body(
        request.stream(),
        request.headers.get("content-encoding"),
        s.config.max_body_bytes,
        utf8=True,
    )
    result = await pipeline.run(
        s.writer,
        pipeline.Body(body, media, s.config.max_events_per_request),
        ingest_context(request, key.org_id),
    )
    return JSON(result.answer())


def _read(request: Request) -> tuple[Services, int]:
    s = services_of(request)
    return s, authenticate_caller(request, s.metadata, Scope.READ).org_id


async def get_campaigns(request: Request) -> Response:
    s, org = _read(request)
    _all_engagement(request)
    asked = period_param(request)
    wanted = overview.listing(*(query_param(request, name) for name in overview.LISTING_PARAMS))
    found = await run_in_threadpool(s.reports.campaigns, org, None, asked, wanted)
    # Each campaign's firing alerts, for the overview's badges.
    alerts = await run_in_threadpool(s.metadata.open_alert_counts, org)
    rows = []
    for row in found["campaigns"]:
        count, worst = alerts.get(row["campaign"], (0, None))
        rows.append({**row, "open_alerts": count, "alert_severity": worst})
    return JSON({**found, "campaigns": rows})


def _all_engagement(request: Request) -> None:
    """The overview and the org totals count every open and click: they refuse a filter."""
    if engagement_param(request) != "all":
        raise BadRequest(
            "engagement: the campaign overview and the org totals count all opens and clicks; "
            "expected all (or leave it out), or ask a campaign's report for human or machine "
            "ones"
        )


async def get_org_totals(request: Request) -> Response:
    s, org = _read(request)
    _all_engagement(request)
    asked = period_param(request)
    channel = query_param(request, "channel", "email")
    top = query_param(request, "top", "sent")
    limit = overview.whole(
        "limit", query_param(request, "limit"), overview.DEFAULT_TOP, 1, overview.MAX_TOP
    )
    volume = overview.whole(
        "min_volume", query_param(request, "min_volume"), overview.DEFAULT_MIN_VOLUME, 0, 10**9
    )
    assert channel is not None and top is not None
    found = await run_in_threadpool(s.reports.org_totals, org, asked, channel, top, limit, volume)
    return JSON(found)


async def get_totals(request: Request) -> Response:
    s, org = _read(request)
    campaign = request.path_params["campaign"]
    channel = required_param(request, "channel", "a channel or 'campaign'")
    execution = query_param(request, "execution")
    asked = period_param(request)
    engagement = engagement_param(request)

    def totals() -> dict[str, Any]:
        window = s.reports.window(org, campaign, asked)
        return s.reports.totals(
            org,
            campaign,
            channel,
            execution,
            window=window,
            compare=asked.compare,
            engagement=engagement,
        )

    return JSON(await run_in_threadpool(totals))


async def get_breakdown(request: Request) -> Response:
    s, org = _read(request)
    campaign = request.path_params["campaign"]
    channel = required_param(request, "channel", "a channel or 'campaign'")
    by = required_param(request, "by", "a dimension such as bounce_reason")
    execution = query_param(request, "execution")
    asked = period_param(request)
    engagement = engagement_param(request)

    def breakdown() -> dict[str, Any]:
        window = s.reports.window(org, campaign, asked)
        return s.reports.breakdown(
            org, campaign, channel, by, execution, window=window, engagement=engagement
        )

    return JSON(await run_in_threadpool(breakdown))


async def get_variants(request: Request) -> Response:
    s, org = _read(request)
    campaign = request.path_params["campaign"]
    channel = required_param(
        request, "channel", "a channel whose variants are compared, e.g. email"
    )
    metric = query_param(request, "metric")
    control = query_param(request, "control")
    execution = query_param(request, "execution")
    asked = period_param(request)
    if query_param(request, "period") is None and asked.start is None:
        # A verdict stays valid only over counts that grow: the campaign's whole life, unless
        # a period is asked for (a sliding 24 hours drops a long campaign's first exposures).
        asked = replace(asked, preset="life")
    engagement = engagement_param(request)

    def variants() -> dict[str, Any]:
        window = s.reports.window(org, campaign, asked)
        return s.reports.variants(
            org,
            campaign,
            channel,
            metric,
            control,
            execution,
            window=window,
            engagement=engagement,
        )

    return JSON(await run_in_threadpool(variants))


async def get_series(request: Request) -> Response:
    s, org = _read(request)
    campaign = request.path_params["campaign"]
    channel = required_param(request, "channel", "a channel or 'campaign'")
    listed = required_param(request, "metrics", "comma-separated metric names", limit=4096)
    metrics = listed.split(",")
    if "" in metrics:
        raise BadRequest(
            f"metrics: {listed[:80]!r} has an empty name; expected metric names separated by "
            "single commas, e.g. sent,delivered"
        )
    given = query_param(request, "bucket")
    bucket = None if given is None else choice_param(request, "bucket", BUCKETS, DEFAULT_BUCKET)
    execution = query_param(request, "execution")
    asked = period_param(request)
    engagement = engagement_param(request)

    def series() -> dict[str, Any]:
        window = s.reports.window(org, campaign, asked)
        return s.reports.series(
            org,
            campaign,
            channel,
            metrics,
            bucket,
            execution,
            window=window,
            engagement=engagement,
        )

    return JSON(await run_in_threadpool(series))


async def get_report(request: Request) -> Response:
    s, org = _read(request)
    campaign = request.path_params["campaign"]
    tab = query_param(request, "tab", "campaign")
    assert tab is not None
    execution = query_param(request, "execution")
    asked = period_param(request)
    engagement = engagement_param(request)

    def report() -> dict[str, Any]:
        window = None if asked.default else s.reports.window(org, campaign, asked)
        return s.reports.report(
            org,
            campaign,
            tab,
            execution,
            window=window,
            compare=asked.compare,
            engagement=engagement,
        )

    return JSON(await run_in_threadpool(report))


async def get_catalogue(request: Request) -> Response:
    return JSON(describe_catalogue())


async def get_openapi(request: Request) -> Response:
    return JSON(openapi_document())


async def _on_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, RecursionError):
        # JSON decoders give up on nesting past the interpreter's depth limit: the body's
        # fault, and the same for every route that reads JSON.
        return JSON(
            {
                "error": "the JSON body nests arrays or objects too deeply; expected at most "
                "a few levels (events are flat objects)"
            },
            status_code=400,
        )
    if isinstance(exc, UnicodeDecodeError):
        return JSON(
            {"error": f"the body is not valid UTF-8 ({exc.reason}); expected JSON text in UTF-8"},
            status_code=400,
        )
    if not isinstance(exc, LivereportError):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSON({"error": "internal error; see the server log"}, status_code=500)
    headers = {}
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSON({"error": exc.message}, status_code=exc.status, headers=headers)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, method not allowed) as JSON errors too."""
    assert isinstance(exc, HTTPException)
    hint = {404: "; see /v1/openapi.json for the routes", 405: "; see /v1/openapi.json"}
    message = f"{exc.detail}{hint.get(exc.status_code, '')}"
    return JSON({"error": message}, status_code=exc.status_code, headers=exc.headers)


async def _drop_old_partitions(services: Services) -> None:
    while True:
        keep_from = retention_start(services.config.retention_days, time.time())
        try:
            dropped = await run_in_threadpool(drop_partitions_before, services.store, keep_from)
            if dropped:
                log.info("retention: dropped %s", ", ".join(dropped))
        except LivereportError as exc:
            log.warning("retention check failed: %s", exc.message)
        await asyncio.sleep(services.config.retention_check_s)


Endpoint = Callable[[Request], Awaitable[Response]]
#: Routes whose query string is not ours to check: a provider's delivery URL is whatever the
#: sender configured there (Twilio signs any query it was given in a callback URL). Nor are
#: the operators' routes outside /v1 (probes, scrapers) checked.
_ANY_QUERY = frozenset({"/v1/webhooks/{provider}/{org_token}"})


def _documented_query(document: dict[str, Any], path: str, method: str) -> frozenset[str] | None:
    """The query parameters the OpenAPI document lists for a route's method; None when they
    are not checked: routes outside the API (pages, static files, probes) and webhooks."""
    template = re.sub(r":\w+}", "}", path)
    item = document["paths"].get(template)
    if item is None or template in _ANY_QUERY or not template.startswith("/v1/"):
        return None
    operation = item.get("get" if method == "HEAD" else method.lower(), {})
    return frozenset(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")


def _checking(endpoint: Endpoint, accepted: frozenset[str] | None) -> Endpoint:
    if accepted is None:
        return endpoint

    async def checked(request: Request) -> Response:
        check_query(request, accepted)
        return await endpoint(request)

    return checked


def serve_routes(routes: list[BaseRoute], document: dict[str, Any]) -> list[BaseRoute]:
    """The routes as the app serves them. Those of one path are joined into one route, so that
    a 405 lists every method of the path in Allow (Starlette answers with the first route
    of a path alone); and each endpoint the OpenAPI document describes refuses the query
    parameters the document does not list for it: the document is the one declaration."""
    methods: dict[str, dict[str, Endpoint]] = {}
    order: list[BaseRoute | str] = []
    for route in routes:
        if not isinstance(route, Route):
            order.append(route)
            continue
        if route.path not in methods:
            methods[route.path] = {}
            order.append(route.path)
        for method in route.methods or ():
            accepted = _documented_query(document, route.path, method)
            methods[route.path][method] = _checking(route.endpoint, accepted)
    return [_joined(item, methods[item]) if isinstance(item, str) else item for item in order]


def _joined(path: str, endpoints: dict[str, Endpoint]) -> Route:
    async def dispatch(request: Request) -> Response:
        return await endpoints[request.method](request)

    return Route(path, dispatch, methods=list(endpoints))


def create_app(
    config: Config, store: Store, metadata: Metadata, clock: Clock | None = None
) -> Starlette:
    """The app over an opened store; its lifespan runs migrations, the writer and retention.
    ``clock`` decides the expiries and request rates of keys and sessions (web/params.py
    Clock; the system's clocks unless a test brings its own)."""
    observed = Observed()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(migrate, store)
        # Before any insert: the rollups of a reclassification a crash cut short.
        days = await run_in_threadpool(
            repair_reclassify, store, journal_of(config.data, config.clickhouse)
        )
        if days:
            log.warning("rebuilt the rollups of days %s (reclassification cut short)", days)
        writer = Writer(
            store,
            linger_s=config.flush_linger_ms / 1000,
            max_batch=config.flush_max_events,
            max_pending=config.max_pending_events,
            retention_s=config.retention_days * 86_400,
            metrics=observed.ingest,
            insert_delay_s=config.test_insert_delay_ms / 1000,
            # A ClickHouse server writes each block with its views even when the node dies
            # mid-insert: only the embedded engine needs the journal's rollup repair.
            journal=None
            if config.clickhouse
            else InsertJournal(config.data / "insert-journal.json"),
            # Several app nodes on one ClickHouse: they share the duplicate memory.
            shared=(
                SharedSeen(config.database, config.retention_days * 86_400)
                if config.clickhouse and config.database
                else None
            ),
        )
        observed.writer = writer
        started = time.monotonic()
        await run_in_threadpool(writer.start)
        log.info("duplicate memory: %d ids in %.1fs", len(writer.seen), time.monotonic() - started)
        # The embedded engine counts its writes, so the tab cache keeps only reports built
        # while no insert ran (report/build.py). A server answers reads during an insert,
        # between the views' commits, and cannot say when: no cache there.
        reports = Reports(
            TenantStore(store), cache=not config.clickhouse, retention_days=config.retention_days
        )
        # Live streams of a campaign this node just stored events for check it at once,
        # rather than at their next poll (events stored by other nodes wait for that poll).
        watches = app.state.watches = Watches(TenantStore(store), metadata=metadata)
        touched = watches.notifier(asyncio.get_running_loop())
        # Alerts judge the campaigns this node stores events for (alerts/service.py); what they
        # open or resolve reaches the campaign's live streams at once.
        alerts = Alerts(
            TenantStore(store),
            metadata,
            allow_private=bool(config.alert_private_targets),
            keep_days=config.retention_days,
            on_change=touched,
            metrics=observed.alerts,
        )

        def stored(keys: Iterable[tuple[int, str]]) -> None:
            keys = set(keys)
            touched(keys)
            alerts.stored(keys)

        writer.on_stored = stored
        services = Services(config, store, metadata, writer, reports, alerts)
        app.state.services = services
        retention = asyncio.create_task(_drop_old_partitions(services))
        alerts.start()
        try:
            yield
        finally:
            retention.cancel()
            await alerts.stop()
            await run_in_threadpool(writer.stop)

    routes = [
        Route("/v1/events", post_events, methods=["POST"]),
        Route("/v1/webhooks/{provider}/{org_token}", post_webhook, methods=["POST"]),
        Route("/v1/returns", post_return, methods=["POST"]),
        Route("/v1/returns/unattributed", get_unattributed),
        Route("/v1/campaigns/{campaign:path}/bounces/{event_id}", get_bounce),
        Route("/v1/campaigns/{campaign:path}/engagements/{event_id}", get_engagement),
        Route("/v1/bounce-rules", get_bounce_rules, methods=["GET"]),
        Route("/v1/bounce-rules", put_bounce_rules, methods=["PUT"]),
        Route("/v1/machine-rules", get_machine_rules, methods=["GET"]),
        Route("/v1/machine-rules", put_machine_rules, methods=["PUT"]),
        Route("/v1/bounce-rules/reclassify", post_reclassify, methods=["POST"]),
        Route("/v1/campaigns", get_campaigns),
        Route("/v1/totals", get_org_totals),
        Route("/v1/campaigns/{campaign:path}/totals", get_totals),
        Route("/v1/campaigns/{campaign:path}/breakdown", get_breakdown),
        Route("/v1/campaigns/{campaign:path}/series", get_series),
        Route("/v1/campaigns/{campaign:path}/variants", get_variants),
        Route("/v1/campaigns/{campaign:path}/report", get_report),
        Route("/v1/campaigns/{campaign:path}/live", get_live),
        Route("/v1/campaigns/{campaign:path}/export.csv", get_export),
        Route("/v1/layouts/{tab}", get_layout, methods=["GET"]),
        Route("/v1/layouts/{tab}", put_layout, methods=["PUT"]),
        Route("/v1/layouts/{tab}", delete_layout, methods=["DELETE"]),
        Route("/v1/signin", post_signin, methods=["POST"]),
        Route("/v1/signout", post_signout, methods=["POST"]),
        Route("/v1/me", get_me),
        Route("/v1/me/settings", put_my_settings, methods=["PUT"]),
        Route("/v1/catalogue", get_catalogue),
        Route("/v1/openapi.json", get_openapi),
        *account_routes(),
        *alert_routes(),
        *ops_routes(),
        *page_routes(),
    ]
    app = Starlette(
        routes=serve_routes(routes, openapi_document()),
        lifespan=lifespan,
        middleware=[
            Middleware(RequestContext, observed=observed),
            Middleware(RequestLimits, max_body_bytes=config.max_body_bytes),
        ],
        exception_handlers={
            Exception: _on_error,
            LivereportError: _on_error,
            HTTPException: _on_http_error,
        },
    )
    app.state.observed = observed
    app.state.clock = clock or Clock()
    # Memories of this app, not of the process: apps sharing a process (the tests') must not
    # share failed sign-ins, key uses (their key ids collide) or deliveries seen.
    app.state.signin_throttle = SignInThrottle()
    app.state.key_use = KeyUse()
    app.state.machine_memory = Memory()
    return app
