"""Returned mails over HTTP, and the explanation of a stored bounce.

POST /v1/returns (ingest scope): one raw RFC 5322 message → a bounce, spam complaint or retry
event, stored once; a return without campaign and profile is kept for admins instead.
GET /v1/returns/unattributed (admin scope): those kept returns.
GET /v1/campaigns/{campaign}/bounces/{event_id} (read scope): why a bounce has its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from livereport.bounces.org import ORG_PREFIX, provider_failure, rules_for
from livereport.bounces.qualify import qualify
from livereport.bounces.rules import DEFAULT_RULES, Rule
from livereport.errors import BadRequest, NotFound, UnsupportedMediaType
from livereport.ingest.decode import read_body
from livereport.returns.intake import take_return
from livereport.store.base import Store, iso_ms, stored_event
from livereport.store.metadata import KeptReturn, Scope
from livereport.web.auth import authenticate, authenticate_caller
from livereport.web.params import ingest_context, query_param, services_of

_encode = msgspec.json.Encoder().encode
MEDIA_TYPE = "message/rfc822"
#: Largest id a page of kept returns may start before.
MAX_BEFORE = 2**62


def _json(content: Any, status: int = 200) -> Response:
    return Response(_encode(content), status_code=status, media_type="application/json")


async def post_return(request: Request) -> Response:
    s = services_of(request)
    key = authenticate(request, s.metadata, Scope.INGEST)
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != MEDIA_TYPE:
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'!r} is not accepted; send one raw returned mail "
            f"as {MEDIA_TYPE}"
        )
    raw = await read_body(
        request.stream(), request.headers.get("content-encoding"), s.config.max_body_bytes
    )
    if not raw.strip():
        raise BadRequest("the body is empty; expected one raw RFC 5322 message (headers, body)")
    answer = await run_in_threadpool(
        take_return,
        raw,
        metadata=s.metadata,
        writer=s.writer,
        ctx=ingest_context(request, key.org_id),
    )
    return _json(answer)


def _int_param(request: Request, name: str, low: int, high: int, default: int | None) -> int | None:
    value = query_param(request, name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise BadRequest(f"{name}: {value[:20]!r} is not valid; expected an integer {low}-{high}")
    return int(value)


async def get_unattributed(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    limit = _int_param(request, "limit", 1, 1000, 100)
    before = _int_param(request, "before", 1, MAX_BEFORE, None)
    assert limit is not None
    kept = await run_in_threadpool(s.metadata.kept_returns, caller.org_id, limit, before)
    return _json({"returns": [kept_json(k) for k in kept]})


def kept_json(k: KeptReturn) -> dict[str, Any]:
    received = datetime.fromtimestamp(k.received, UTC).isoformat().replace("+00:00", "Z")
    return {
        "id": k.id,
        "received": received,
        "kind": k.kind,
        "category": k.category,
        "reason": k.reason,
        "status": k.status,
        "rule": k.rule,
        "subject": k.subject,
        "why": k.why,
    }


_BOUNCE_COLUMNS = (
    "channel",
    "type",
    "reason",
    "bounce",
    "code",
    "smtp_status",
    "smtp_code",
    "smtp_diagnostic",
    "recipient_domain",
    "platform",
)


async def get_bounce(request: Request) -> Response:
    s = services_of(request)
    org = authenticate_caller(request, s.metadata, Scope.READ).org_id
    campaign = request.path_params["campaign"]
    event_id = request.path_params["event_id"]

    def explain() -> dict[str, Any]:
        return explain_bounce(s.store, org, campaign, event_id, rules_for(s.metadata, org))

    return _json(await run_in_threadpool(explain))


def explain_bounce(
    store: Store, org: int, campaign: str, event_id: str, rules: Sequence[Rule] = DEFAULT_RULES
) -> dict[str, Any]:
    """Why a stored bounce has its category and reason: the rules (the org's own first, then
    the defaults) re-run over its SMTP data, or its provider code, beside what was stored."""
    row = stored_event(store, org, campaign, event_id, _BOUNCE_COLUMNS)
    if row is None:
        raise NotFound(f"campaign {campaign!r} has no event {event_id!r} in your org")
    channel, type_, reason, bounce, code, status, smtp_code, diagnostic, domain, platform, ms = row
    if type_ != "bounce":
        raise NotFound(
            f"event {event_id!r} of campaign {campaign!r} is a {type_} event, not a bounce"
        )
    answer: dict[str, Any] = {
        "id": event_id,
        "campaign": campaign,
        "channel": channel,
        "time": iso_ms(ms),
        "category": bounce or None,
        "reason": reason or None,
        "code": code or None,
        "status": status or None,
        "smtp_code": int(smtp_code) or None,
        "diagnostic": diagnostic or None,
        "recipient_domain": domain or None,
    }
    if status or smtp_code or diagnostic:
        found = qualify(
            status=status or None,
            code=int(smtp_code) or None,
            diagnostic=diagnostic,
            rules=rules,
        )
        answer["rule"] = found.rule
        answer["org_rule"] = found.rule.startswith(ORG_PREFIX)
        answer["rules_say"] = {"reason": found.reason, "category": found.category.value}
        answer["decided_by"] = (
            "rules" if (found.reason, found.category.value) == (reason, bounce) else "sender"
        )
        if answer["status"] is None:
            answer["status"] = found.status
        return answer
    failure = provider_failure(channel, platform, code)
    if failure is not None:
        answer["rule"] = f"{failure.service}:{failure.code}"
        answer["rules_say"] = {"reason": failure.reason, "category": failure.category or None}
        answer["decided_by"] = "rules" if failure.reason == reason else "sender"
        answer["dead"] = failure.dead
        return answer
    answer["rule"] = "event"  # no SMTP data or known code: the event's own reason stands
    answer["rules_say"] = None
    answer["decided_by"] = "sender"
    return answer


def _error(description: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_paths() -> dict[str, Any]:
    """This module's routes for the OpenAPI document (web/openapi.py)."""
    verdict = {
        "kind": {
            "type": "string",
            "enum": ["bounce", "auto-reply", "delay", "delivered", "complaint", "other"],
        },
        "is_bounce": {"type": "boolean"},
        "category": {"type": ["string", "null"], "enum": ["hard", "soft", "ignored", None]},
        "reason": {"type": ["string", "null"]},
        "status": {"type": ["string", "null"]},
        "rule": {"type": "string", "description": "The rule that decided, e.g. dsn+status:5.1.1."},
        "campaign": {"type": ["string", "null"]},
        "profile": {"type": ["string", "null"]},
        "attributed_by": {"type": ["string", "null"], "enum": ["headers", "verp", None]},
        "event": {
            "type": ["object", "null"],
            "properties": {"id": {"type": "string"}, "type": {"type": "string"}},
        },
        "outcome": {
            "type": "string",
            "enum": ["accepted", "duplicate", "rejected", "kept", "kept-already", "ignored"],
        },
        "why": {"type": "string", "description": "Why a kept return made no event."},
        "errors": {"type": "array", "items": {"type": "string"}},
    }
    common = {
        "400": _error("The request is not valid; the message says what is expected."),
        "401": _error("No API key, or an unknown or revoked one."),
        "403": _error("The API key lacks the needed scope."),
    }
    return {
        "/v1/returns": {
            "post": {
                "summary": "Send one returned mail (bounce, auto-reply, delay warning, feedback report)",
                "description": "The raw RFC 5322 message. It is classified and attributed (X-Livereport-Campaign / -Profile headers of the returned original, or a VERP address) and stored as one bounce, spam_complaint or retry event whose id comes from the message, so sending it again is a duplicate. A return without campaign and profile, or not recognised, is kept for admins (GET /v1/returns/unattributed).",
                "security": [{"apiKey": ["ingest"]}],
                "requestBody": {
                    "required": True,
                    "content": {
                        MEDIA_TYPE: {
                            "schema": {
                                # Not blank: bytes.strip() leaves something.
                                "type": "string",
                                "pattern": "[^\\u0009-\\u000d\\u0020]",
                                "description": "The whole message as received, headers then body (RFC 5322), sent as the body's bytes.",
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "What became of the return.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": verdict,
                                    "required": ["kind", "is_bounce", "rule", "outcome"],
                                }
                            }
                        },
                    },
                    **common,
                    "413": _error("The message is over the body limit."),
                    "415": _error("The Content-Type is not message/rfc822."),
                    "503": _error(
                        "Saturated or storage unavailable; retry after Retry-After seconds."
                    ),
                },
            }
        },
        "/v1/returns/unattributed": {
            "get": {
                "summary": "Returned mails kept without an event, newest first",
                "security": [{"apiKey": ["admin"]}, {"session": []}],
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 1000,
                            "default": 100,
                        },
                    },
                    {
                        "name": "before",
                        "in": "query",
                        "description": "Only returns with a smaller id (the next page).",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_BEFORE},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The kept returns.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "returns": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "properties": {
                                                    "id": {"type": "integer"},
                                                    "received": {
                                                        "type": "string",
                                                        "format": "date-time",
                                                    },
                                                    "kind": {"type": "string"},
                                                    "category": {"type": ["string", "null"]},
                                                    "reason": {"type": ["string", "null"]},
                                                    "status": {"type": ["string", "null"]},
                                                    "rule": {"type": "string"},
                                                    "subject": {"type": "string"},
                                                    "why": {"type": "string"},
                                                },
                                            },
                                        }
                                    },
                                }
                            }
                        },
                    },
                    **common,
                },
            }
        },
        "/v1/campaigns/{campaign}/bounces/{event_id}": {
            "get": {
                "summary": "Why a bounce has its category and reason",
                "description": "The stored bounce beside what the qualification rules say when re-run over its SMTP data (or its APNs / FCM / Twilio code): the rule that decides, and whether the stored reason came from the rules or from the sender.",
                "security": [{"apiKey": ["read"]}, {"session": []}],
                "parameters": [
                    {
                        "name": "campaign",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                    },
                    {
                        "name": "event_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The explanation.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "string"},
                                        "campaign": {"type": "string"},
                                        "channel": {"type": "string"},
                                        "time": {"type": "string", "format": "date-time"},
                                        "category": {"type": ["string", "null"]},
                                        "reason": {"type": ["string", "null"]},
                                        "code": {"type": ["string", "null"]},
                                        "status": {"type": ["string", "null"]},
                                        "smtp_code": {"type": ["integer", "null"]},
                                        "diagnostic": {"type": ["string", "null"]},
                                        "recipient_domain": {"type": ["string", "null"]},
                                        "rule": {
                                            "type": "string",
                                            "description": "The rule that decides; an org's own rule is named org:<name>.",
                                        },
                                        "org_rule": {
                                            "type": "boolean",
                                            "description": "The deciding rule is one of the org's own (PUT /v1/bounce-rules).",
                                        },
                                        "rules_say": {"type": ["object", "null"]},
                                        "decided_by": {
                                            "type": "string",
                                            "enum": ["rules", "sender"],
                                        },
                                        "dead": {
                                            "type": "boolean",
                                            "description": "Push and SMS: the token or number will not work again.",
                                        },
                                    },
                                    "required": ["id", "campaign", "channel", "rule", "decided_by"],
                                }
                            }
                        },
                    },
                    **common,
                    "404": _error("No bounce by that id in this campaign of your org."),
                },
            }
        },
    }
