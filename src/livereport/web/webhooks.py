"""POST /v1/webhooks/{provider}/{org_token}: a provider's delivery, verified with the org's
secret, mapped by its provider module, then handed to the ingest pipeline like /v1/events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from livereport.errors import NotFound, Unauthorized
from livereport.ingest import pipeline
from livereport.ingest.decode import read_body
from livereport.providers import PROVIDERS, Fields
from livereport.providers.base import Delivery
from livereport.store.metadata import KeptReturn
from livereport.web.params import ingest_context, services_of

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
    for k in parsed.kept:  # unattributed: listed with the returned mails, never dropped
        kept = KeptReturn(
            k.digest,
            now.timestamp(),
            k.kind,
            k.category,
            k.reason,
            k.status,
            k.rule,
            k.subject,
            k.why,
        )
        await run_in_threadpool(s.metadata.keep_return, org.org_id, kept, k.raw)
    result = await pipeline.run(
        s.writer, pipeline.Items(parsed.events), ingest_context(request, org.org_id)
    )
    return Response(
        _encode(
            {
                **result.answer(),
                "unknown": parsed.unknown,
                "ignored": parsed.ignored,
                "kept": len(parsed.kept),
            }
        ),
        media_type="application/json",
    )


def openapi_paths() -> dict[str, Any]:
    """The webhook route for the OpenAPI document (web/openapi.py)."""

    def error(description: str) -> dict[str, Any]:
        schema = {
            "type": "object",
            "properties": {"error": {"type": "string"}},
            "required": ["error"],
        }
        return {"description": description, "content": {"application/json": {"schema": schema}}}

    result = {
        "type": "object",
        "properties": {
            "accepted": {"type": "integer"},
            "duplicates": {"type": "integer"},
            "rejected": {"type": "array", "items": {"type": "object"}},
            "unknown": {
                "type": "integer",
                "description": "Items of a type livereport does not know (kept in the count).",
            },
            "ignored": {
                "type": "integer",
                "description": "Documented items that make no event, e.g. an intermediate status.",
            },
            "kept": {
                "type": "integer",
                "description": "Notices that name no campaign and profile (Amazon SES notifications without attribution headers): kept for admins, listed by GET /v1/returns/unattributed.",
            },
        },
        "required": ["accepted", "duplicates", "rejected", "unknown", "ignored", "kept"],
    }
    return {
        "/v1/webhooks/{provider}/{org_token}": {
            "post": {
                "summary": "A provider's webhook delivery (Mailgun, Postmark, SendGrid, Amazon SES, Twilio)",
                "description": "The provider's own body and signature, as it sends them; the path is printed by `livereport webhooks set PROVIDER`. The delivery is verified with the org's secret for that provider (Mailgun HMAC, Postmark basic auth, SendGrid ECDSA, SNS certificate signature, X-Twilio-Signature) and mapped to events whose ids come from the provider's ids, so retries count once.",
                "security": [],
                "parameters": [
                    {
                        "name": "provider",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": sorted(PROVIDERS)},
                    },
                    {
                        "name": "org_token",
                        "in": "path",
                        "required": True,
                        "description": "The org's webhook token.",
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {}},
                        "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                        "text/plain": {
                            "schema": {"type": "string"},
                            "description": "Amazon SNS posts JSON as text/plain.",
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": "Every item accounted for.",
                        "content": {"application/json": {"schema": result}},
                    },
                    "400": error("The body cannot be read as the provider's format."),
                    "401": error(
                        "Unknown webhook URL, or a missing or forged signature: nothing is stored."
                    ),
                    "404": error("No provider by that name."),
                    "413": error("The body is over the limit."),
                },
            }
        },
    }
