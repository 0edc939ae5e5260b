"""POST /v1/webhooks/{provider}/{org_token}: a provider's delivery, verified with the org's
secret, mapped by its provider module, then validated and stored like /v1/events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from livereport.errors import InvalidEvent, NotFound, PayloadTooLarge, Unauthorized
from livereport.events import Event, decode_event
from livereport.ingest.decode import read_body
from livereport.providers import PROVIDERS, Fields
from livereport.providers.base import Delivery
from livereport.web.params import services_of

_encode = msgspec.json.Encoder().encode


async def post_webhook(request: Request) -> Response:
    s = services_of(request)
    provider = PROVIDERS.get(request.path_params["provider"])
    if provider is None:
        raise NotFound(f"no provider by that name; expected one of {', '.join(sorted(PROVIDERS))}")
    org = await run_in_threadpool(s.metadata.find_webhook_org, request.path_params["org_token"])
    secret = org.secrets.get(provider.name) if org else None
    if org is None or secret is None:
        # One answer for an unknown token and an unconfigured provider: tokens stay unguessable.
        raise Unauthorized(
            "unknown webhook URL; configure it with `livereport webhooks set PROVIDER`"
        )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > s.config.max_body_bytes:
        raise PayloadTooLarge(f"the request body is larger than {s.config.max_body_bytes} bytes")
    body = await read_body(
        request.stream(), request.headers.get("content-encoding"), s.config.max_body_bytes
    )
    now = datetime.now(UTC)
    delivery = Delivery(str(request.url), request.headers, body, now)
    provider.verify(delivery, secret)
    fields = Fields(org.campaign_field, org.profile_field, org.execution_field, org.variant_field)
    parsed = provider.parse(delivery, fields)
    for note in parsed.notes:
        await run_in_threadpool(s.metadata.add_webhook_note, org.org_id, provider.name, note)
    retention = timedelta(days=s.config.retention_days)
    events: list[Event] = []
    rejected: list[dict[str, object]] = []
    for index, raw in enumerate(parsed.events):
        try:
            events.append(decode_event(raw, now=now, retention=retention))
        except InvalidEvent as exc:
            rejected.append({"index": index, "id": raw.get("id"), "errors": exc.errors})
            request.app.state.observed.ingest.count_rejected(exc.errors)
    flags = await s.writer.submit(org.org_id, events)
    accepted = sum(flags)
    return Response(
        _encode(
            {
                "accepted": accepted,
                "duplicates": len(flags) - accepted,
                "rejected": rejected,
                "unknown": parsed.unknown,
                "ignored": parsed.ignored,
            }
        ),
        media_type="application/json",
    )
