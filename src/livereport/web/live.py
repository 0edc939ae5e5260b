"""Live reports: ``GET /v1/campaigns/{c}/live?tab=…`` streams Server-Sent Events.

The stream sends the whole report of the tab at once, then again whenever the campaign's
data changes. One watcher per (org, campaign) checks, with a single cheap query on the
per-minute rollups, whether anything new arrived or the minute rolled over: as soon as this
node's writer stored events of the campaign, and once a second for what other nodes stored.
The streams of that campaign then wake together and share one build of each tab
(report/build.py). A heartbeat event every 15 seconds
keeps idle connections open and tells the page how fresh its numbers are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from livereport.errors import LivereportError
from livereport.report.build import check_tab
from livereport.report.query import HIGH_WATER_SQL, Window, isoformat
from livereport.store.base import Store
from livereport.web.auth import authenticate_caller
from livereport.web.params import engagement_param, period_param, query_param, services_of
from livereport.web.session import still_live

if TYPE_CHECKING:
    from livereport.store.metadata import Metadata

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

POLL_S = 1.0
#: However often this node stores a campaign's events, its streams rebuild at most this often.
MIN_CHECK_S = 0.5
HEARTBEAT_S = 15.0
#: What EventSource waits before it reconnects by itself, in milliseconds.
RETRY_MS = 2000

#: (events of the live 24 hours, the end of that window, events of the campaign stored in
#: all): the first two tell whether a cached 24-hour report is current, the last moves with
#: a late event of any older period a stream may show.
Fingerprint = tuple[int, int, int]
#: The ``alerts`` event of a campaign without firing alerts.
NO_ALERTS = b'{"alerts":[]}'


def fingerprint(store: Store, org: int, campaign: str, now: float) -> Fingerprint:
    """Changes when an event of the campaign lands (in the live window or before it), and
    when the minute turns."""
    window = Window.at(now)
    rows = store.execute(
        f"SELECT ({HIGH_WATER_SQL}), (SELECT sum(events) FROM {{db}}.campaign_hours "  # noqa: S608 - a constant
        "WHERE org = %(org)s AND campaign = %(campaign)s)",
        {"org": org, "campaign": campaign, "start": window.start, "end": window.end},
    )
    day, every = rows[0] if rows else (0, 0)
    return (int(day or 0), window.end, int(every or 0))


@dataclass
class Watch:
    """The change counter of one campaign; streams wait for it to move."""

    version: int = 0
    subscribers: int = 0
    #: When the campaign was last checked successfully (epoch seconds), and what it found:
    #: the streams' builds reuse it as the tab cache's high-water mark (no query of their own).
    checked: float = 0.0
    fingerprint: Fingerprint | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set when this node stored events of the campaign: check now, not at the next poll.
    stored: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    #: The encoded body of the reports its streams sent lately: streams that share a build
    #: (report/build.py) share the same report object, and encode it once between them.
    encoded: dict[int, tuple[Any, bytes]] = field(default_factory=dict)
    #: The campaign's firing alerts as the stream's ``alerts`` event carries them (encoded).
    alerts: bytes = NO_ALERTS

    def encode(self, report: dict[str, Any]) -> bytes:
        found = self.encoded.get(id(report))
        if found is not None and found[0] is report:
            return found[1]
        body = _encode(report)
        if len(self.encoded) >= 16:
            self.encoded.pop(next(iter(self.encoded)))
        self.encoded[id(report)] = (report, body)
        return body

    def bump(self) -> None:
        self.version += 1
        self.changed.set()
        self.changed = asyncio.Event()

    async def wait(self, seen: int, timeout: float) -> bool:
        """True once the version differs from ``seen``; False after ``timeout`` seconds."""
        if self.version != seen:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)
        return self.version != seen


class Watches:
    """The watchers of campaigns that have at least one open stream."""

    def __init__(
        self, store: Store, poll_s: float = POLL_S, metadata: Metadata | None = None
    ) -> None:
        self.store = store
        self.poll_s = poll_s
        self.metadata = metadata
        self._watches: dict[tuple[int, str], Watch] = {}

    @contextlib.asynccontextmanager
    async def watch(self, org: int, campaign: str) -> AsyncIterator[Watch]:
        """Subscribe to a campaign's changes; what lands after this returns bumps the version."""
        key = (org, campaign)
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = Watch()
            # The first check happens before the caller reads the report, so nothing that
            # lands in between is missed.
            baseline = await self._check(org, campaign, watch)
            watch.task = asyncio.create_task(self._poll(org, campaign, watch, baseline))
        watch.subscribers += 1
        try:
            yield watch
        finally:
            watch.subscribers -= 1
            if watch.subscribers == 0 and self._watches.get(key) is watch:
                del self._watches[key]
                if watch.task is not None:
                    watch.task.cancel()

    async def _check(self, org: int, campaign: str, watch: Watch) -> Fingerprint | None:
        now = time.time()
        try:
            current = await run_in_threadpool(fingerprint, self.store, org, campaign, now)
        except LivereportError as exc:
            log.warning("live: cannot check campaign %r: %s", campaign[:80], exc.message)
            return None
        if self.metadata is not None:
            try:
                alerts = await run_in_threadpool(self.metadata.firing_alerts, org, campaign)
            except LivereportError as exc:
                log.warning("live: cannot read the alerts of %r: %s", campaign[:80], exc.message)
            else:
                encoded = _encode({"alerts": [a.json() for a in alerts]})
                if encoded != watch.alerts:
                    watch.alerts = encoded
                    watch.bump()
        watch.checked = now
        watch.fingerprint = current
        return current

    def notifier(
        self, loop: asyncio.AbstractEventLoop
    ) -> Callable[[Iterable[tuple[int, str]]], None]:
        """What the writer thread calls with the (org, campaign) pairs of each insert."""

        def stored(keys: Iterable[tuple[int, str]]) -> None:
            for key in keys:
                if key in self._watches:
                    loop.call_soon_threadsafe(self._stored, key)

        return stored

    def _stored(self, key: tuple[int, str]) -> None:
        watch = self._watches.get(key)
        if watch is not None:
            watch.stored.set()

    async def _poll(self, org: int, campaign: str, watch: Watch, last: Fingerprint | None) -> None:
        loop = asyncio.get_running_loop()
        gap = min(MIN_CHECK_S, self.poll_s)
        notified = loop.time() - gap
        while True:
            try:
                await asyncio.wait_for(watch.stored.wait(), self.poll_s)
            except TimeoutError:
                pass
            else:  # the first insert after a quiet spell is checked at once, a burst twice a second
                await asyncio.sleep(max(0.0, notified + gap - loop.time()))
                notified = loop.time()
            watch.stored.clear()
            current = await self._check(org, campaign, watch)
            if current is not None:
                if current != last:
                    watch.bump()
                last = current


def watches_of(request: Request) -> Watches:
    watches: Watches = request.app.state.watches
    return watches


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _encode(data) + b"\n\n"


def stream_event_schema(report: dict[str, Any], alert: dict[str, Any]) -> dict[str, Any]:
    """One event of the stream, as OpenAPI documents an event stream: an object of the SSE
    fields (``event``, ``data``), whose ``data`` is JSON: the report (of schema ``report``),
    a heartbeat, a problem or the end of the session."""
    error = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    data = {
        "report": (report, "The whole report of the tab: at once, then after each change."),
        "heartbeat": (
            {
                "type": "object",
                "properties": {"as_of": {"type": ["string", "null"], "format": "date-time"}},
                "required": ["as_of"],
            },
            f"Every {HEARTBEAT_S:g} s without a change: when the numbers were last checked.",
        ),
        "alerts": (
            {
                "type": "object",
                "properties": {"alerts": {"type": "array", "items": alert}},
                "required": ["alerts"],
            },
            "The campaign's firing alerts: after the first report when there are any, then whenever they change (an empty list when the last one resolved).",
        ),
        "problem": (
            error,
            "The report could not be built this time (storage); the stream goes on.",
        ),
        "signed-out": (error, "The session of the stream ended; the stream closes."),
    }
    return {
        "oneOf": [
            {
                "type": "object",
                "description": text,
                "properties": {
                    "event": {"const": name},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": schema,
                    },
                },
                "required": ["event", "data"],
            }
            for name, (schema, text) in data.items()
        ]
    }


async def get_live(request: Request) -> Response:
    """The report of a tab as an event stream; 4xx before the stream starts when it cannot."""
    services = services_of(request)
    caller = authenticate_caller(request, services.metadata)
    campaign = request.path_params["campaign"]
    tab = query_param(request, "tab", "campaign")
    assert tab is not None
    execution = query_param(request, "execution") or None
    asked = period_param(request)
    engagement = engagement_param(request)
    org = caller.org_id

    def build(known: Fingerprint | None) -> dict[str, Any]:
        # A preset moves with the clock: its window is made again for every build.
        window = None if asked.default else services.reports.window(org, campaign, asked)
        return services.reports.report(
            org,
            campaign,
            tab,
            execution,
            share=True,
            known=known,
            window=window,
            compare=asked.compare,
            engagement=engagement,
        )

    # Unknown tab or campaign (404), execution or period (400): a plain error now, not a stream.
    check_tab(tab)
    await run_in_threadpool(services.reports.check_campaign, org, campaign, execution)
    if not asked.default:
        await run_in_threadpool(services.reports.window, org, campaign, asked)
    watches = watches_of(request)

    async def stream() -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MS}\n\n".encode()
        async with watches.watch(org, campaign) as watch:
            seen = watch.version
            last_sent = b""
            alerts_sent = NO_ALERTS  # a stream starts with none: sent once there are some
            while True:
                try:
                    report = await run_in_threadpool(build, watch.fingerprint)
                except LivereportError as exc:
                    yield _event("problem", {"error": exc.message})
                else:
                    body = watch.encode(report)
                    if body != last_sent:
                        last_sent = body
                        yield b"event: report\ndata: " + body + b"\n\n"
                if watch.alerts != alerts_sent:
                    alerts_sent = watch.alerts
                    yield b"event: alerts\ndata: " + alerts_sent + b"\n\n"
                while not await watch.wait(seen, HEARTBEAT_S):
                    if caller.session is not None and not await run_in_threadpool(
                        still_live, services.metadata, caller.session
                    ):
                        yield _event(
                            "signed-out", {"error": "your session has ended; sign in again"}
                        )
                        return
                    # A heartbeat: keeps proxies from closing the stream, and tells the page
                    # that the numbers it shows were still current when last checked.
                    checked = isoformat(watch.checked) if watch.checked else None
                    yield _event("heartbeat", {"as_of": checked})
                seen = watch.version

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
    )
