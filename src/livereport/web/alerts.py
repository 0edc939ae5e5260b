"""Alerts over HTTP (docs/alerts.md): rules, alerts, acknowledgements, the signing secret,
the SMTP server for alert emails, sample notifications and the delivery log.

Rules and settings are the admins'; everyone in the org reads rules (without their targets'
credentials) and alerts; editors and admins acknowledge.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from livereport.alerts import targets
from livereport.alerts.rules import (
    MAX_RULES,
    MAX_SPAN_MINUTES,
    MAX_TARGETS,
    RULE_DIMENSIONS,
    SEVERITIES,
    STALL,
    parse_rules,
    rules_json,
)
from livereport.alerts.service import DELIVERY_TIMEOUT_S
from livereport.errors import BadRequest, Forbidden, LivereportError, NotFound
from livereport.report.catalogue import METRICS, SCOPES
from livereport.store.metadata import Alert, Delivery, Role, Scope
from livereport.web.auth import Caller, authenticate_caller
from livereport.web.params import choice_param, query_param, services_of
from livereport.web.rule_tables import error_answer, json_body, json_response
from livereport.web.session import client_address

MAX_BODY = 2_000_000
STATES = ("firing", "resolved", "all")
_encode = msgspec.json.Encoder().encode
_SMTP_FIELDS = {"host", "port", "security", "username", "password", "sender"}
_SECURITY = ("starttls", "tls", "none")


def _is_admin(caller: Caller) -> bool:
    if caller.key is not None:
        return Scope.ADMIN in caller.key.scopes
    return caller.user is not None and caller.user.role == Role.ADMIN


async def _json_body(request: Request, expected: str) -> Any:
    body = await json_body(request, MAX_BODY)
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON ({exc}); expected {expected}") from None


async def get_alert_rules(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.READ)
    rules = await run_in_threadpool(s.alerts.book.rules, caller.org_id)
    return json_response(rules_json(rules, redact=not _is_admin(caller)))


async def put_alert_rules(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    items = await _json_body(request, "a JSON list of rules (docs/alerts.md)")
    allow = bool(s.config.alert_private_targets)
    rules = await run_in_threadpool(lambda: parse_rules(items, allow_private=allow))
    found = rules_json(rules)
    await run_in_threadpool(
        s.metadata.replace_alert_rules, caller.org_id, json.dumps(found), caller.actor
    )
    await run_in_threadpool(
        s.metadata.audit,
        caller.org_id,
        caller.actor,
        "alert.rules",
        f"{len(found)} rules: {', '.join(r['id'] for r in found)}"[:1000],
        client_address(request),
    )
    return json_response(found)


def _limit(request: Request) -> int:
    raw = query_param(request, "limit", "100")
    assert raw is not None
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise BadRequest(f"limit: {raw[:20]!r}; expected a whole number from 1 to 1000")
    return int(raw)


async def get_alerts(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.READ)
    campaign = query_param(request, "campaign")
    state = choice_param(request, "state", STATES, "all")
    limit = _limit(request)
    found = await run_in_threadpool(
        lambda: s.metadata.alerts(caller.org_id, campaign=campaign, state=state, limit=limit)
    )
    return json_response([a.json() for a in found])


def _alert_id(request: Request) -> int:
    raw = request.path_params["alert_id"]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 17:
        raise BadRequest(f"alert id {raw[:20]!r}; expected the number of an alert (GET /v1/alerts)")
    return int(raw)


async def post_ack(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.READ)
    if caller.user is not None and caller.user.role == Role.VIEWER:
        raise Forbidden("a viewer cannot acknowledge alerts; ask an editor or an admin")
    if caller.key is not None and Scope.ADMIN not in caller.key.scopes:
        raise Forbidden("acknowledging an alert needs an API key with the admin scope")
    alert_id = _alert_id(request)
    actor = caller.user.email if caller.user is not None else caller.actor
    alert = await run_in_threadpool(s.metadata.acknowledge_alert, caller.org_id, alert_id, actor)
    await run_in_threadpool(
        s.metadata.audit,
        caller.org_id,
        caller.actor,
        "alert.ack",
        f"alert {alert_id}",
        client_address(request),
    )
    s.alerts.changed({(caller.org_id, alert.campaign)})
    return json_response(alert.json())


async def get_alert_secret(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    return json_response(
        {"secret": await run_in_threadpool(s.metadata.alert_secret, caller.org_id)}
    )


async def post_alert_secret(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    secret = await run_in_threadpool(lambda: s.metadata.alert_secret(caller.org_id, rotate=True))
    await run_in_threadpool(
        s.metadata.audit,
        caller.org_id,
        caller.actor,
        "alert.secret",
        "rotated",
        client_address(request),
    )
    return json_response({"secret": secret})


def smtp_json(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    settings: dict[str, Any] = json.loads(text)
    return {**settings, "password": None, "password_set": bool(settings.get("password"))}


def check_smtp(value: Any, allow_private: bool) -> dict[str, Any]:
    expected = (
        '{"host": NAME, "port": 587, "security": "starttls"|"tls"|"none", "sender": ADDRESS, '
        '"username"?: TEXT, "password"?: TEXT}'
    )
    if not isinstance(value, dict):
        raise BadRequest(f"expected {expected}")
    unknown = sorted(set(value) - _SMTP_FIELDS)
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field; expected {expected}")
    host, port = value.get("host"), value.get("port", 587)
    security = value.get("security", "starttls")
    if not isinstance(host, str) or not host or len(host) > 253:
        raise BadRequest("host: expected the SMTP server's name or address")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise BadRequest(f"port: {port!r}; expected a port number from 1 to 65535")
    if security not in _SECURITY:
        raise BadRequest(
            f"security: {str(security)[:20]!r}; expected one of {', '.join(_SECURITY)}"
        )
    sender = value.get("sender")
    if not isinstance(sender, str):
        raise BadRequest("sender: expected the address alert emails come from")
    targets.check_email(sender, "sender")
    for name in ("username", "password"):
        given = value.get(name)
        if given is not None and (not isinstance(given, str) or len(given) > 1000):
            raise BadRequest(f"{name}: expected a string of at most 1,000 characters")
    targets.check_smtp_host(host, port, allow_private=allow_private)
    return {
        "host": host,
        "port": port,
        "security": security,
        "sender": sender,
        "username": value.get("username"),
        "password": value.get("password"),
    }


async def get_alert_smtp(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    return json_response(smtp_json(await run_in_threadpool(s.metadata.alert_smtp, caller.org_id)))


async def put_alert_smtp(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    value = await _json_body(request, "the SMTP server for alert emails, or null to remove it")
    allow = bool(s.config.alert_private_targets)
    settings = None if value is None else await run_in_threadpool(check_smtp, value, allow)
    text = None if settings is None else json.dumps(settings)
    await run_in_threadpool(s.metadata.set_alert_smtp, caller.org_id, text)
    target = "removed" if settings is None else f"{settings['host']}:{settings['port']}"
    await run_in_threadpool(
        s.metadata.audit, caller.org_id, caller.actor, "alert.smtp", target, client_address(request)
    )
    return json_response(smtp_json(text))


def sample_alert(rule: Any, org: int) -> Alert:
    """What a test notification carries: an alert of the rule as it would fire, marked by
    its campaign name and id 0 so that receivers can tell it from a real one."""
    now = time.time()
    value = (
        (rule.threshold or 0) * 1.5 if rule.threshold else (0.0 if rule.metric == "stall" else 1.0)
    )
    return Alert(
        id=0,
        org_id=org,
        rule=rule.id,
        campaign=rule.campaign or "livereport-test",
        channel=rule.channel,
        dimension=rule.dimension,
        key=rule.key or "",
        execution=rule.execution,
        state="firing",
        severity=rule.severity,
        metric=rule.metric,
        condition=rule.condition,
        threshold=rule.threshold,
        span_minutes=rule.span_minutes,
        value=value,
        volume=max(rule.min_volume, 1),
        baseline=None,
        fired_at=now,
        resolved_at=None,
        resolved_value=None,
        resolved_volume=None,
        acknowledged_by=None,
        acknowledged_at=None,
        paused=None,
    )


async def post_rule_test(request: Request) -> Response:
    """Send a sample notification ("event": "test") to each target of a rule, now, once;
    never the pause action."""
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    rule_id = request.path_params["rule_id"]
    rule = await run_in_threadpool(s.alerts.book.rule, caller.org_id, rule_id)
    if rule is None:
        raise NotFound(f"no rule {rule_id[:80]!r} in your org; GET /v1/alert-rules lists them")
    alert = sample_alert(rule, caller.org_id)
    body = _encode({**alert.json(), "event": "test"}).decode()
    results = []
    for target in rule.notify:
        now = time.time()
        delivery = Delivery(
            str(uuid.uuid4()),
            caller.org_id,
            None,
            "test",
            target.kind,
            target.to,
            body,
            "pending",
            0,
            now,
            None,
            None,
            now,
            now,
        )
        status: int | None = None
        error: str | None = None
        try:
            status, answer = await s.alerts.deliver(delivery)
            if not 200 <= status < 300:
                error = f"answered {status}: {answer[:200].decode('utf-8', 'replace')}"
        except targets.DeliveryFailed as exc:
            error = str(exc)[:500]
        except LivereportError as exc:
            error = exc.message[:500]
        results.append(
            {
                "kind": target.kind,
                "target": target.to,
                "ok": error is None,
                "status": status,
                "error": error,
            }
        )
    return json_response({"rule": rule.id, "deliveries": results, "timeout_s": DELIVERY_TIMEOUT_S})


async def get_deliveries(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    raw = query_param(request, "alert")
    alert = None
    if raw is not None:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 17:
            raise BadRequest(f"alert: {raw[:20]!r}; expected the number of an alert")
        alert = int(raw)
    found = await run_in_threadpool(s.metadata.deliveries, caller.org_id, alert)
    return json_response([d.json() for d in found])


def alert_routes() -> list[Route]:
    return [
        Route("/v1/alert-rules", get_alert_rules, methods=["GET"]),
        Route("/v1/alert-rules", put_alert_rules, methods=["PUT"]),
        Route("/v1/alert-rules/{rule_id}/test", post_rule_test, methods=["POST"]),
        Route("/v1/alerts", get_alerts, methods=["GET"]),
        Route("/v1/alerts/{alert_id}/ack", post_ack, methods=["POST"]),
        Route("/v1/alert-secret", get_alert_secret, methods=["GET"]),
        Route("/v1/alert-secret/rotate", post_alert_secret, methods=["POST"]),
        Route("/v1/alert-smtp", get_alert_smtp, methods=["GET"]),
        Route("/v1/alert-smtp", put_alert_smtp, methods=["PUT"]),
        Route("/v1/alert-deliveries", get_deliveries, methods=["GET"]),
    ]


_NUMBER_OR_NULL = {"type": ["number", "null"]}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_TEXT_OR_NULL = {"type": ["string", "null"]}
ALERT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "rule": {"type": "string"},
        "campaign": {"type": "string"},
        "channel": {"type": "string"},
        "state": {"type": "string", "enum": ["firing", "resolved"]},
        "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
        "value": _NUMBER_OR_NULL,
        "volume": {"type": "integer"},
        "fired_at": {"type": "string", "format": "date-time"},
        "resolved_at": _TIME_OR_NULL,
        "acknowledged_by": _TEXT_OR_NULL,
        "metric": {"type": "string"},
        "condition": {"type": "string", "enum": ["above", "below", "stall"]},
        "threshold": _NUMBER_OR_NULL,
        "span_minutes": {"type": "integer"},
        "execution": _TEXT_OR_NULL,
        "dimension": _TEXT_OR_NULL,
        "key": _TEXT_OR_NULL,
        "baseline": _NUMBER_OR_NULL,
        "acknowledged_at": _TIME_OR_NULL,
        "resolved_value": _NUMBER_OR_NULL,
        "resolved_volume": {"type": ["integer", "null"]},
    },
    "required": [
        "id",
        "rule",
        "campaign",
        "channel",
        "state",
        "severity",
        "value",
        "volume",
        "fired_at",
        "resolved_at",
        "acknowledged_by",
    ],
}


def _answer(schema: dict[str, Any], text: str, *codes: str) -> dict[str, Any]:
    errors = {
        "400": error_answer("The request is not valid; the message says what is expected."),
        "401": error_answer("No credential, or an unknown, revoked or expired one."),
        "403": error_answer("The caller lacks the role or scope the operation needs."),
        "404": error_answer("No such alert or rule in your org."),
        "413": error_answer("The body is over 2 MB."),
        "415": error_answer("The Content-Type is not application/json."),
        "429": error_answer("The API key sent too many requests; retry after Retry-After seconds."),
    }
    return {
        "200": {"description": text, "content": {"application/json": {"schema": schema}}},
        **{code: errors[code] for code in ("400", "401", "403", "429", *codes)},
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def openapi_paths() -> dict[str, Any]:
    """This module's routes for the OpenAPI document (web/openapi.py)."""
    read = [{"apiKey": ["read"]}, {"session": []}]
    admin = [{"apiKey": ["admin"]}, {"session": []}]
    text = {"type": "string", "minLength": 1, "maxLength": 1000}
    target = {
        "oneOf": [
            {
                "type": "object",
                "properties": {kind: {"type": "string"}},
                "required": [kind],
                "additionalProperties": False,
            }
            for kind in ("webhook", "slack", "email")
        ]
    }
    rule = {
        "type": "object",
        "description": "A rule; every field is described in docs/alerts.md. Exactly one of `above` and `below`, none for `stall`; the metric must apply to the channel, a dimension to the metric; ids are unique; targets are http(s) URLs or an address, not on private networks unless the server allows it.",
        "properties": {
            "id": {
                "type": "string",
                "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
                "description": "Unique in the org; made from the metric and position when left out.",
            },
            "metric": {"type": "string", "enum": [*METRICS, STALL]},
            "channel": {"type": "string", "enum": list(SCOPES)},
            "above": {
                "type": "number",
                "description": "Fires when the value is above this (a rate as a fraction: 0.05 = 5 %).",
            },
            "below": {"type": "number", "description": "Fires when the value is below this."},
            "span_minutes": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_SPAN_MINUTES,
                "default": 15,
            },
            "min_volume": {
                "type": "integer",
                "minimum": 0,
                "maximum": 10**12,
                "default": 1,
                "description": "Least volume judged: a rate's denominator, a count itself, a stall's sends.",
            },
            "severity": {"type": "string", "enum": list(SEVERITIES), "default": "warning"},
            "campaign": text,
            "execution": text,
            "dimension": {"type": "string", "enum": list(RULE_DIMENSIONS)},
            "key": {"type": "string", "maxLength": 1000},
            "baseline_minutes": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_SPAN_MINUTES * 7,
                "description": "Judge the change against the value over these minutes before the span.",
            },
            "notify": {"type": "array", "items": target, "maxItems": MAX_TARGETS, "default": []},
            "pause": {
                "type": ["object", "null"],
                "properties": {
                    "url": {"type": "string"},
                    "secret": {"type": "string", "minLength": 16, "maxLength": 500},
                },
                "required": ["url", "secret"],
                "additionalProperties": False,
            },
        },
        "required": ["metric", "channel"],
        "additionalProperties": False,
    }
    stored = {
        **rule,
        "required": ["id", "metric", "channel", "span_minutes", "min_volume", "severity", "notify"],
    }
    smtp_in: dict[str, Any] = {
        "type": "object",
        "properties": {
            "host": {"type": "string", "minLength": 1, "maxLength": 253},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 587},
            "security": {"type": "string", "enum": list(_SECURITY), "default": "starttls"},
            "sender": {"type": "string"},
            "username": {"type": ["string", "null"], "maxLength": 1000},
            "password": {"type": ["string", "null"], "maxLength": 1000},
        },
        "required": ["host", "sender"],
        "additionalProperties": False,
    }
    smtp_out = {
        "type": ["object", "null"],
        "properties": {
            **smtp_in["properties"],
            "password": {"type": "null"},
            "password_set": {"type": "boolean"},
        },
    }
    delivery = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "alert": {"type": ["integer", "null"]},
            "event": {"type": "string", "enum": ["fired", "resolved", "pause"]},
            "kind": {"type": "string", "enum": ["webhook", "slack", "email", "pause"]},
            "target": {"type": "string"},
            "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "attempts": {"type": "integer"},
            "next_attempt": {"type": ["string", "null"], "format": "date-time"},
            "status": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "created": {"type": "string", "format": "date-time"},
            "updated": {"type": "string", "format": "date-time"},
        },
        "required": [
            "id",
            "alert",
            "event",
            "kind",
            "target",
            "state",
            "attempts",
            "status",
            "error",
            "created",
        ],
    }
    secret = {
        "type": "object",
        "properties": {"secret": {"type": "string"}},
        "required": ["secret"],
    }
    number = {"type": "string", "pattern": "^[0-9]{1,17}$"}
    return {
        "/v1/alert-rules": {
            "get": {
                "summary": "The org's alert rules (the defaults until an admin saves some)",
                "description": "Everyone in the org reads them; only admins see notification URLs, email addresses and pause targets in full.",
                "security": read,
                "responses": _answer({"type": "array", "items": stored}, "The rules."),
            },
            "put": {
                "summary": "Replace the org's alert rules (the whole list)",
                "description": f"At most {MAX_RULES} rules. Open alerts of removed or changed rules resolve at the next judgement.",
                "security": admin,
                "requestBody": _body({"type": "array", "items": rule, "maxItems": MAX_RULES}),
                "responses": _answer(
                    {"type": "array", "items": stored}, "The stored rules.", "413", "415"
                ),
            },
        },
        "/v1/alert-rules/{rule_id}/test": {
            "post": {
                "summary": "Send a sample notification to each target of a rule",
                "description": 'The sample is marked `"event": "test"` and `"id": 0`; the pause action is never called.',
                "security": admin,
                "parameters": [
                    {
                        "name": "rule_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": _answer(
                    {
                        "type": "object",
                        "properties": {
                            "rule": {"type": "string"},
                            "timeout_s": {"type": "number"},
                            "deliveries": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "kind": {"type": "string"},
                                        "target": {"type": "string"},
                                        "ok": {"type": "boolean"},
                                        "status": {"type": ["integer", "null"]},
                                        "error": {"type": ["string", "null"]},
                                    },
                                    "required": ["kind", "target", "ok", "status", "error"],
                                },
                            },
                        },
                        "required": ["rule", "deliveries"],
                    },
                    "What each target answered.",
                    "404",
                ),
            }
        },
        "/v1/alerts": {
            "get": {
                "summary": "The org's alerts, newest first",
                "security": read,
                "parameters": [
                    {
                        "name": "campaign",
                        "in": "query",
                        "required": False,
                        "description": "Only this campaign's.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "state",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": list(STATES), "default": "all"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 1000,
                            "default": 100,
                        },
                    },
                ],
                "responses": _answer({"type": "array", "items": ALERT_SCHEMA}, "The alerts."),
            }
        },
        "/v1/alerts/{alert_id}/ack": {
            "post": {
                "summary": "Acknowledge an alert",
                "description": "Editors and admins (or an admin-scope key); the first acknowledgement stands.",
                "security": admin,
                "parameters": [
                    {"name": "alert_id", "in": "path", "required": True, "schema": number}
                ],
                "responses": _answer(ALERT_SCHEMA, "The alert.", "404"),
            }
        },
        "/v1/alert-secret": {
            "get": {
                "summary": "The org's webhook signing secret",
                "security": admin,
                "responses": _answer(secret, "The secret."),
            }
        },
        "/v1/alert-secret/rotate": {
            "post": {
                "summary": "Replace the org's webhook signing secret",
                "security": admin,
                "responses": _answer(secret, "The new secret."),
            }
        },
        "/v1/alert-smtp": {
            "get": {
                "summary": "The org's SMTP server for alert emails (null: none)",
                "security": admin,
                "responses": _answer(smtp_out, "The settings, without the password."),
            },
            "put": {
                "summary": "Set (or, with null, remove) the org's SMTP server for alert emails",
                "security": admin,
                "requestBody": _body({"oneOf": [smtp_in, {"type": "null"}]}),
                "responses": _answer(smtp_out, "The stored settings.", "413", "415"),
            },
        },
        "/v1/alert-deliveries": {
            "get": {
                "summary": "The log of alert notifications and pause calls, newest first",
                "security": admin,
                "parameters": [
                    {
                        "name": "alert",
                        "in": "query",
                        "required": False,
                        "description": "Only this alert's.",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 10**17 - 1},
                    }
                ],
                "responses": _answer({"type": "array", "items": delivery}, "The deliveries."),
            }
        },
    }
