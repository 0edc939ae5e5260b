"""The machine detection rules of an org over HTTP (SPEC §11, docs/machine-detection.md).

GET /v1/machine-rules (read scope): every rule, in the order they are tried, with its label,
what it looks at and whether the org has it on. PUT /v1/machine-rules (admin scope):
``{"disabled": [names]}`` turns those rules off and every other on; an unknown name is refused
with the names that exist, and nothing is stored. GET
/v1/campaigns/{campaign}/engagements/{event_id} (read scope): whether a stored open or click is
a machine's, and the rule that decided.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from livereport.errors import BadRequest, NotFound
from livereport.ingest import machine
from livereport.store.base import iso_ms, stored_event
from livereport.store.metadata import Metadata, Scope
from livereport.web.auth import authenticate_caller
from livereport.web.params import services_of
from livereport.web.rule_tables import access_errors, error_answer, json_body, json_response
from livereport.web.session import client_address

MAX_BODY = 64_000


def rules_json(version: int, disabled: tuple[str, ...]) -> dict[str, Any]:
    """The answer of both methods: every rule with whether it is on for the org."""
    off = set(disabled)
    return {
        "version": version,
        "rules": [
            {
                "name": rule.name,
                "label": rule.label,
                "help": rule.help,
                "needs": rule.needs,
                "can_turn_off": rule.can_turn_off,
                "enabled": rule.name not in off,
            }
            for rule in machine.RULES
        ],
    }


async def get_machine_rules(request: Request) -> Response:
    s = services_of(request)
    org = authenticate_caller(request, s.metadata, Scope.READ).org_id
    version, disabled = await run_in_threadpool(s.metadata.disabled_machine_rules, org)
    return json_response(rules_json(version, disabled))


def read_disabled(body: bytes) -> tuple[str, ...]:
    """The rule names of a PUT body, checked; BadRequest naming what is wrong."""
    expected = 'expected {"disabled": ["link_burst", …]} (an empty array turns every rule on)'
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"the body is not valid JSON ({exc}); {expected}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"the body is not a JSON object; {expected}")
    unknown = sorted(set(value) - {"disabled"})
    if unknown:
        raise BadRequest(f"{unknown[0][:64]}: unknown field; {expected}")
    names = value.get("disabled")
    if not isinstance(names, list):
        raise BadRequest(f"disabled: expected an array of rule names; {expected}")
    try:
        return machine.check_disabled(names)
    except ValueError as exc:
        raise BadRequest(f"disabled: {exc}; nothing was stored") from None


def _store(metadata: Metadata, org: int, names: tuple[str, ...], actor: str) -> int:
    version = metadata.set_disabled_machine_rules(org, names, actor)
    machine.forget(metadata, org)  # this node applies the change to the next batch
    return version


async def put_machine_rules(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    names = read_disabled(await json_body(request, MAX_BODY))
    version = await run_in_threadpool(_store, s.metadata, caller.org_id, names, caller.actor)
    target = "disabled: " + (", ".join(names) or "none")
    await run_in_threadpool(
        s.metadata.audit,
        caller.org_id,
        caller.actor,
        "machine_rules.set",
        target,
        client_address(request),
    )
    return json_response(rules_json(version, names))


async def get_engagement(request: Request) -> Response:
    s = services_of(request)
    org = authenticate_caller(request, s.metadata, Scope.READ).org_id
    campaign, event_id = request.path_params["campaign"], request.path_params["event_id"]
    row = await run_in_threadpool(
        stored_event,
        s.store,
        org,
        campaign,
        event_id,
        ("channel", "type", "machine", "machine_rule"),
    )
    if row is None:
        raise NotFound(f"campaign {campaign[:128]!r} has no event {event_id[:128]!r} in your org")
    return json_response(engagement_json(campaign, event_id, *row))


def engagement_json(
    campaign: str, event_id: str, channel: str, type_: str, is_machine: int, rule: str, ms: int
) -> dict[str, Any]:
    """Who made a stored open or click: a person, or a machine and the rule that said so."""
    if type_ not in ("open", "click"):
        raise NotFound(
            f"event {event_id[:128]!r} of campaign {campaign[:128]!r} is a {type_} event; "
            "only opens and clicks are a person's or a machine's"
        )
    found = machine.BY_NAME.get(rule)
    return {
        "id": event_id,
        "campaign": campaign,
        "channel": channel,
        "type": type_,
        "time": iso_ms(ms),
        "machine": bool(is_machine),
        # Events stored before machine_rule existed keep their flag and no rule.
        "rule": rule or None,
        "label": found.label if found else None,
        "help": found.help if found else None,
    }


def openapi_paths() -> dict[str, Any]:
    """This module's route for the OpenAPI document (web/openapi.py)."""
    rule = {
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "enum": list(machine.NAMES),
                "description": "What a machine open or click keeps as its machine_rule.",
            },
            "label": {"type": "string"},
            "help": {"type": "string", "description": "What the rule decides, and on what."},
            "needs": {
                "type": "string",
                "description": "What the events must carry for the rule to decide.",
            },
            "can_turn_off": {
                "type": "boolean",
                "description": "False for flagged: the sender's or provider's own word.",
            },
            "enabled": {"type": "boolean", "description": "Whether the rule is on for the org."},
        },
        "required": ["name", "label", "help", "needs", "can_turn_off", "enabled"],
    }
    table = {
        "type": "object",
        "properties": {
            "version": {
                "type": "integer",
                "description": "Bumped by every PUT; 0 when the org never changed its rules.",
            },
            "rules": {
                "type": "array",
                "items": rule,
                "description": "In the order they are tried: the first that decides names itself on the event.",
            },
        },
        "required": ["version", "rules"],
    }
    explained = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "campaign": {"type": "string"},
            "channel": {"type": "string"},
            "type": {"type": "string", "enum": ["open", "click"]},
            "time": {"type": "string", "format": "date-time"},
            "machine": {"type": "boolean", "description": "A machine made it, not a person."},
            "rule": {
                "type": ["string", "null"],
                "enum": [*machine.NAMES, None],
                "description": "The rule that decided; null for a person's, or for a machine's stored before rules were kept.",
            },
            "label": {"type": ["string", "null"]},
            "help": {"type": ["string", "null"]},
        },
        "required": [
            "id",
            "campaign",
            "channel",
            "type",
            "time",
            "machine",
            "rule",
            "label",
            "help",
        ],
    }
    path_id = {"type": "string", "minLength": 1, "maxLength": 128}
    return {
        "/v1/campaigns/{campaign}/engagements/{event_id}": {
            "get": {
                "summary": "Whether a stored open or click is a machine's, and which rule decided",
                "security": [{"apiKey": ["read"]}, {"session": []}],
                "parameters": [
                    {"name": "campaign", "in": "path", "required": True, "schema": path_id},
                    {"name": "event_id", "in": "path", "required": True, "schema": path_id},
                ],
                "responses": {
                    "200": {
                        "description": "The verdict.",
                        "content": {"application/json": {"schema": explained}},
                    },
                    "401": error_answer("No API key or session, or an unknown or revoked one."),
                    "404": error_answer(
                        "The campaign has no such event in the org, or it is neither an open nor a click."
                    ),
                },
            }
        },
        "/v1/machine-rules": {
            "get": {
                "summary": "The machine detection rules and which the org has on",
                "description": "Every open and click is a person's or a machine's; a machine's keeps the name of the first rule that decided (docs/machine-detection.md).",
                "security": [{"apiKey": ["read"]}, {"session": []}],
                "responses": {
                    "200": {
                        "description": "Every rule.",
                        "content": {"application/json": {"schema": table}},
                    },
                    **access_errors(),
                },
            },
            "put": {
                "summary": "Turn machine detection rules off (and every other on)",
                "description": "Applies to opens and clicks stored afterwards, on the node that saved it at once and on the others within a second; stored events keep their verdict. flagged cannot be turned off.",
                "security": [{"apiKey": ["admin"]}, {"session": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "disabled": {
                                        "type": "array",
                                        "items": {
                                            "type": "string",
                                            "enum": [
                                                n for n in machine.NAMES if n not in machine.FIXED
                                            ],
                                        },
                                        "description": "The rules to turn off; an empty array turns every rule on.",
                                    }
                                },
                                "required": ["disabled"],
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Every rule, as now stored.",
                        "content": {"application/json": {"schema": table}},
                    },
                    "400": error_answer(
                        "Not a valid body, or a name that is no rule (the message lists those that are) or cannot be turned off; nothing was stored."
                    ),
                    **access_errors(),
                    "413": error_answer("The body is over 64 kB."),
                    "415": error_answer("The Content-Type is not application/json."),
                },
            },
        },
    }
