"""An org's own bounce rules over HTTP (SPEC §5, docs/bounces.md).

GET /v1/bounce-rules (read scope): the org's table, its version, and how many default rules
follow it. PUT /v1/bounce-rules (admin scope): replace the whole table; a body that breaks any
row is refused with every problem named by row and field, and nothing is stored.
POST /v1/bounce-rules/reclassify (admin scope): apply the table to the email bounces already
stored in the live window (returns/reclassify.py), or with ``dry_run`` say what would change.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from livereport.bounces.org import rows_json
from livereport.bounces.overrides import MAX_PATTERN, MAX_RULES, parse_rules
from livereport.bounces.rules import DEFAULT_RULES
from livereport.errors import BadRequest, LivereportError, UnsupportedMediaType
from livereport.ingest.decode import read_body
from livereport.report.build import Reports
from livereport.returns.reclassify import journal_of, reclassify
from livereport.store.metadata import Scope
from livereport.web.auth import authenticate_caller
from livereport.web.params import NOT_BLANK, SPACE, services_of
from livereport.web.rule_tables import (
    access_errors,
    error_answer,
    json_body,
    json_response,
    media_type,
)
from livereport.web.session import client_address

MAX_BODY = 1_000_000


class VersionConflict(LivereportError):
    status = 409


def table_json(version: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"version": version, "rules": rows, "default_rules": len(DEFAULT_RULES)}


async def get_bounce_rules(request: Request) -> Response:
    s = services_of(request)
    org = authenticate_caller(request, s.metadata, Scope.READ).org_id
    stored = await run_in_threadpool(s.metadata.bounce_rules, org)
    if stored is None:
        return json_response(table_json(0, []))
    version, text = stored
    return json_response(table_json(version, json.loads(text)))


def _whole_numbers(value: Any) -> Any:
    """The body with whole floats made integers (a version, a rule's code): JSON Schema counts
    550.0 as an integer, so the API does too."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def read_table(body: bytes) -> tuple[list[dict[str, Any]], int | None]:
    """The rows and the expected version of a PUT body; BadRequest naming what is wrong."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(
            f"the body is not valid JSON ({exc}); expected "
            '{"rules": [{"name": …, "reason": …, "category": …, …}], "version": n}'
        ) from None
    value = _whole_numbers(value)
    expected: int | None = None
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"rules", "version"})
        if unknown:
            raise BadRequest(f"{unknown[0]}: unknown field; expected rules and optionally version")
        version = value.get("version")
        if version is not None and (
            not isinstance(version, int) or isinstance(version, bool) or version < 0
        ):
            raise BadRequest(
                f"version: {version!r} is not valid; expected the integer version "
                "you read (0: no table yet), or leave it out"
            )
        expected = version
        value = value.get("rules")
    if not isinstance(value, list):
        raise BadRequest(
            "rules: expected an array of rule objects (an empty array removes the org's rules)"
        )
    try:
        rules = parse_rules(value)
    except ValueError as exc:
        raise BadRequest(f"{exc}; nothing was stored") from None
    return rows_json(rules), expected


async def put_bounce_rules(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    body = await json_body(request, MAX_BODY)
    rows, expected = await run_in_threadpool(read_table, body)
    version = await run_in_threadpool(
        s.metadata.replace_bounce_rules, caller.org_id, json.dumps(rows), caller.actor, expected
    )
    if version is None:
        raise VersionConflict(
            f"version: the table changed since version {expected}; read it again "
            "(GET /v1/bounce-rules) and send your change with the new version"
        )
    return json_response(table_json(version, rows))


def read_options(body: bytes, media: str) -> bool:
    """``dry_run`` of a reclassify body (none: false); BadRequest naming what is wrong."""
    if not body.strip():
        return False
    if media != "application/json":
        raise UnsupportedMediaType(
            f"Content-Type {media or '(none)'!r} is not accepted; send application/json "
            '({"dry_run": true}) or no body'
        )
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(
            f'the body is not valid JSON ({exc}); expected {{"dry_run": true}} '
            'or {"dry_run": false}, or no body'
        ) from None
    if not isinstance(value, dict):
        raise BadRequest('the body is not an object; expected {"dry_run": true} or no body')
    unknown = sorted(set(value) - {"dry_run"})
    if unknown:
        raise BadRequest(f"{unknown[0]}: unknown field; expected only dry_run")
    dry_run = value.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadRequest(f"dry_run: {dry_run!r} is not valid; expected true or false")
    return dry_run


async def post_reclassify(request: Request) -> Response:
    s = services_of(request)
    caller = authenticate_caller(request, s.metadata, Scope.ADMIN)
    body = await read_body(request.stream(), request.headers.get("content-encoding"), MAX_BODY)
    dry_run = read_options(body, media_type(request))
    outcome = await run_in_threadpool(
        reclassify,
        s.store,
        s.metadata,
        caller.org_id,
        dry_run=dry_run,
        journal=journal_of(s.config.data, s.config.clickhouse),
    )
    if not dry_run:
        if outcome["changed"]:
            # The tab cache keys tabs by the campaign's event count, which a reclassification
            # leaves as it is: start an empty one (report/build.py).
            s.reports = Reports(
                s.reports.store, cache=s.reports.cache, retention_days=s.reports.retention_days
            )
        target = (
            f"{outcome['changed']} bounces of {outcome['campaigns']} campaigns "
            f"(rules version {outcome['rules_version']})"
        )
        await run_in_threadpool(
            s.metadata.audit,
            caller.org_id,
            caller.actor,
            "bounces.reclassify",
            target,
            client_address(request),
        )
    return json_response(outcome)


def openapi_paths() -> dict[str, Any]:
    """This module's route for the OpenAPI document (web/openapi.py)."""
    # The texts: no control characters, not blank (spaces around are dropped).
    allowed = "[^\\u0000-\\u001f\\u007f]"
    kept = "[^\\u0000-\\u001f\\u007f" + NOT_BLANK[2:]
    text = f"^{allowed}*{kept}{allowed}*$"
    status = f"^{SPACE}*[45](?:\\.(?:[0-9]{{1,3}}(?:\\.(?:[0-9]{{1,3}})?)?)?)?{SPACE}*$"
    row = {
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "maxLength": 64,
                "pattern": text,
                "description": "Unique in the table; explanations name the rule org:<name>.",
            },
            "reason": {
                "type": "string",
                "maxLength": 64,
                "pattern": text,
                "description": "The reason a matching bounce gets (free text).",
            },
            "category": {
                "type": "string",
                "enum": ["hard", "soft", "ignored"],
                "description": "Read in any case, spaces around ignored.",
            },
            "status": {
                "type": ["string", "null"],
                "pattern": f"^$|{status}",
                "description": "Enhanced status code or prefix of class 4 or 5: 5.1.1, 5.1. or 4. Empty or null: not a condition.",
            },
            "code": {
                "type": ["integer", "null"],
                "minimum": 400,
                "maximum": 599,
                "description": "SMTP reply code (a string of its digits is read too). Null: not a condition.",
            },
            "pattern": {
                "type": ["string", "null"],
                "maxLength": MAX_PATTERN,
                "format": "regex",
                "description": "Case-insensitive Python regular expression searched in the diagnostic text; no backreferences, nested or alternated repetitions, at most one unbounded repetition, and fast on 1000-character texts. Empty or null: not a condition.",
            },
            "note": {"type": ["string", "null"], "maxLength": 256, "pattern": f"^$|{text}"},
        },
        "required": ["name", "reason", "category"],
        "additionalProperties": False,
        # At least one condition, and a hard rule never applies to a transient (4xx) failure.
        "anyOf": [
            {"properties": {"status": {"type": "string", "minLength": 1}}, "required": ["status"]},
            {"properties": {"code": {"type": "integer"}}, "required": ["code"]},
            {
                "properties": {"pattern": {"type": "string", "minLength": 1}},
                "required": ["pattern"],
            },
        ],
        "if": {"properties": {"category": {"const": "hard"}}, "required": ["category"]},
        "then": {
            "properties": {
                "status": {"not": {"type": "string", "pattern": f"^{SPACE}*4"}},
                "code": {"minimum": 500},
            }
        },
        "description": "A rule applies when every condition it sets (status, code, pattern; at least one) holds. A hard rule never applies to a 4.x.x / 4xx failure. Names are unique in a table.",
    }
    rows = {"type": "array", "items": row, "maxItems": MAX_RULES}
    table = {
        "type": "object",
        "properties": {
            "version": {
                "type": "integer",
                "description": "Bumped by every replace; 0 when the org has no table.",
            },
            "rules": {"type": "array", "items": row},
            "default_rules": {
                "type": "integer",
                "description": "How many default rules follow the org's (docs/reference.md).",
            },
        },
        "required": ["version", "rules", "default_rules"],
    }
    pair = {
        "type": "object",
        "properties": {"reason": {"type": "string"}, "category": {"type": "string"}},
    }
    outcome = {
        "type": "object",
        "properties": {
            "dry_run": {"type": "boolean"},
            "window": {
                "type": "object",
                "properties": {
                    "from": {"type": "string", "format": "date-time"},
                    "to": {"type": "string", "format": "date-time"},
                },
            },
            "rules_version": {
                "type": "integer",
                "description": "The version of the org's table applied (0: none, only the defaults).",
            },
            "bounces": {"type": "integer", "description": "Email bounces of the window."},
            "examined": {
                "type": "integer",
                "description": "Those with SMTP data, which the rules decide.",
            },
            "changed": {"type": "integer"},
            "unchanged": {"type": "integer", "description": "Already what the rules say."},
            "kept": {
                "type": "integer",
                "description": "Reason or category given by the sender: kept.",
            },
            "campaigns": {"type": "integer", "description": "Campaigns with a changed bounce."},
            "counts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "reason": {"type": "string"},
                        "category": {"type": "string"},
                        "before": {"type": "integer"},
                        "after": {"type": "integer"},
                    },
                },
            },
            "changes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"from": pair, "to": pair, "bounces": {"type": "integer"}},
                },
            },
            "pending": {
                "type": "boolean",
                "description": "ClickHouse still updates the stored events (the reports already show the change).",
            },
        },
        "required": [
            "dry_run",
            "window",
            "rules_version",
            "bounces",
            "examined",
            "changed",
            "unchanged",
            "kept",
            "campaigns",
            "counts",
            "changes",
            "pending",
        ],
    }
    return {
        "/v1/bounce-rules": {
            "get": {
                "summary": "The org's own bounce qualification rules",
                "description": "Rules tried in order before the default table; the first that matches a bounce's SMTP data decides its reason and category, unless the sender gave them.",
                "security": [{"apiKey": ["read"]}, {"session": []}],
                "responses": {
                    "200": {
                        "description": "The table.",
                        "content": {"application/json": {"schema": table}},
                    },
                    **access_errors(),
                },
            },
            "put": {
                "summary": "Replace the org's bounce rules (whole table)",
                "description": f"At most {MAX_RULES} rows. An empty array removes the org's rules. With `version`, the replace happens only if the stored table is still that version (else 409). Takes effect at once on every node for bounces arriving afterwards; stored events keep their reason until POST /v1/bounce-rules/reclassify.",
                "security": [{"apiKey": ["admin"]}, {"session": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {
                                        "type": "object",
                                        "properties": {
                                            "rules": rows,
                                            "version": {
                                                "type": ["integer", "null"],
                                                "minimum": 0,
                                                "description": "The version you read (0: no table yet); null or left out: replace whatever is there.",
                                            },
                                        },
                                        "required": ["rules"],
                                        "additionalProperties": False,
                                    },
                                    rows,
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "The stored table and its new version.",
                        "content": {"application/json": {"schema": table}},
                    },
                    "400": error_answer(
                        "A row is not valid: every problem is named as rules[i].field; nothing was stored."
                    ),
                    **access_errors(),
                    "409": error_answer("The table changed since the version sent."),
                    "413": error_answer("The body is over 1 MB."),
                    "415": error_answer("The Content-Type is not application/json."),
                },
            },
        },
        "/v1/bounce-rules/reclassify": {
            "post": {
                "summary": "Apply the org's bounce rules to the email bounces of the live window",
                "description": "Stored email bounces with SMTP data, dated from the start of the 24-hour window on, whose reason and category are what the default rules give take what the org's rules (first) and the defaults say now; a reason or category the sender gave is kept. The report rollups change with them, so every report stays exact. With `dry_run`, nothing changes. One at a time per org (409 while one runs).",
                "security": [{"apiKey": ["admin"]}, {"session": []}],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"dry_run": {"type": "boolean", "default": False}},
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "The counts before and after.",
                        "content": {"application/json": {"schema": outcome}},
                    },
                    "400": error_answer(
                        "The body is not valid; the message says what is expected."
                    ),
                    **access_errors(),
                    "409": error_answer(
                        "A reclassification of the org, or an earlier change of the stored events, is still running."
                    ),
                    "415": error_answer("A body whose Content-Type is not application/json."),
                    "503": error_answer("Storage unavailable; the message says what was changed."),
                },
            },
        },
    }
