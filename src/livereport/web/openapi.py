"""The OpenAPI 3.1 document of the HTTP API, built from the catalogue's names."""

from __future__ import annotations

from typing import Any

from livereport import __version__
from livereport.report.catalogue import BUCKETS, DIMENSIONS, METRICS, SCOPES, TABS
from livereport.web.accounts import openapi_paths as account_paths
from livereport.web.bounce_rules import openapi_paths as bounce_rule_paths
from livereport.web.returns import openapi_paths as return_paths
from livereport.web.webhooks import openapi_paths as webhook_paths


def _query(name: str, description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


_CAMPAIGN = {
    "name": "campaign", "in": "path", "required": True,
    "description": "The campaign id chosen by the sender.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}  # fmt: skip
_CHANNEL = _query("channel", "A channel, or `campaign` for the campaign level.", {"type": "string", "enum": list(SCOPES)}, True)
_EXECUTION = _query("execution", "Only events of this execution.", {"type": "string", "maxLength": 64})
_ERRORS = {
    code: {"description": text, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for code, text in {
        "400": "The request is not valid; the message says what is expected.",
        "401": "No API key, or an unknown or revoked one.",
        "403": "The API key lacks the needed scope.",
        "404": "No such campaign for this org (or no such tab).",
        "429": "The API key sent more requests than its rate limit; retry after Retry-After seconds.",
    }.items()
}  # fmt: skip
_WINDOW = {
    "type": "object",
    "properties": {"from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}},
    "required": ["from", "to"],
}  # fmt: skip
_VALUE = {"type": ["number", "null"]}
_METRICS = {"type": "object", "additionalProperties": _VALUE, "description": "Metric name → value; rates are null when their denominator is 0."}


def _ok(schema: dict[str, Any], description: str = "The report.") -> dict[str, Any]:
    return {"200": {"description": description, "content": {"application/json": {"schema": schema}}}, **_ERRORS}


def _head(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "campaign": {"type": "string"}, "channel": {"type": "string"}, "execution": {"type": "string"},
            "window": _WINDOW, "as_of": {"type": "string", "format": "date-time"}, **extra,
        },
        "required": ["campaign", "channel", "window", "as_of", *extra],
    }  # fmt: skip


_ROWS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "metrics": _METRICS, "share": _VALUE},
        "required": ["key", "metrics"],
    },
}


def openapi_document() -> dict[str, Any]:
    read = [{"apiKey": ["read"]}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "livereport",
            "version": __version__,
            "description": "Live 24-hour campaign reports: send events, read totals, breakdowns, series and whole report tabs.",
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "An API key of your org (`livereport keys create`)."}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
                "IngestResult": {
                    "type": "object",
                    "properties": {
                        "accepted": {"type": "integer", "minimum": 0},
                        "duplicates": {"type": "integer", "minimum": 0},
                        "rejected": {"type": "array", "items": {"type": "object", "properties": {
                            "index": {"type": "integer"}, "id": {"type": ["string", "null"]},
                            "errors": {"type": "array", "items": {"type": "string"}},
                        }, "required": ["index", "id", "errors"]}},
                    },
                    "required": ["accepted", "duplicates", "rejected"],
                },
            },
        },
        "paths": {
            "/healthz": {"get": {
                "summary": "Liveness",
                "description": "200 while the process serves HTTP. Needs no key.",
                "security": [],
                "responses": {"200": {"description": "Alive", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "ok"}}, "required": ["status"]}}}}},
            }},
            "/readyz": {"get": {
                "summary": "Readiness",
                "description": "200 when storage answers and every migration is applied; 503 with the reason otherwise (starting, shutting down, storage unreachable, migrations missing). Needs no key.",
                "security": [],
                "responses": {
                    "200": {"description": "Ready", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "ready"}}, "required": ["status"]}}}},
                    "503": {"description": "Not ready", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string"}, "error": {"type": "string"}}, "required": ["status", "error"]}}}},
                },
            }},
            "/metrics": {"get": {
                "summary": "Prometheus metrics",
                "description": "Counters, gauges and histograms in the Prometheus text format (see docs/operations.md). Needs no key.",
                "security": [],
                "responses": {"200": {"description": "Metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }},
            "/v1/events": {"post": {
                "summary": "Send events",
                "description": "A JSON array of events, or one event per line (NDJSON); gzip or zstd bodies accepted. The answer comes once the accepted events are stored.",
                "security": [{"apiKey": ["ingest"]}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "application/x-ndjson": {"schema": {"type": "string"}},
                }},
                "responses": {
                    "200": {"description": "Every event accounted for: accepted + duplicates + rejected.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}}},
                    **_ERRORS,
                    "413": {"description": "Body or event count over the limit.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "415": {"description": "Unsupported Content-Type or Content-Encoding.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                    "503": {"description": "Saturated or storage unavailable; retry after Retry-After seconds.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                },
            }},
            "/v1/campaigns": {"get": {
                "summary": "Campaigns of your org", "security": read,
                "responses": _ok({"type": "object", "properties": {"window": _WINDOW, "as_of": {"type": "string"}, "campaigns": {"type": "array", "items": {"type": "object", "properties": {
                    "campaign": {"type": "string"}, "channels": {"type": "array", "items": {"type": "string"}},
                    "first": {"type": "string", "format": "date-time"}, "last": {"type": "string", "format": "date-time"},
                    "events_in_window": {"type": "integer"}}}}}}, "The campaigns, most recently active first."),
            }},
            "/v1/campaigns/{campaign}/totals": {"get": {
                "summary": "Every metric of a channel over the window", "security": read,
                "parameters": [_CAMPAIGN, _CHANNEL, _EXECUTION],
                "responses": _ok(_head({"metrics": _METRICS})),
            }},
            "/v1/campaigns/{campaign}/breakdown": {"get": {
                "summary": "Metrics per key of a dimension, main metric first", "security": read,
                "parameters": [_CAMPAIGN, _CHANNEL, _query("by", "The dimension.", {"type": "string", "enum": list(DIMENSIONS)}, True), _EXECUTION],
                "responses": _ok(_head({"by": {"type": "string"}, "sort": {"type": "string"}, "rows": _ROWS})),
            }},
            "/v1/campaigns/{campaign}/series": {"get": {
                "summary": "Metrics over time, in buckets aligned to UTC (zeros included)", "security": read,
                "parameters": [
                    _CAMPAIGN, _CHANNEL,
                    _query("metrics", f"Comma-separated metric names, of: {', '.join(METRICS)}.", {"type": "string"}, True),
                    _query("bucket", "Bucket size.", {"type": "string", "enum": list(BUCKETS), "default": "5m"}),
                    _EXECUTION,
                ],
                "responses": _ok(_head({"bucket": {"type": "string"}, "t": {"type": "array", "items": {"type": "string"}}, "series": {"type": "object", "additionalProperties": {"type": "array", "items": _VALUE}}})),
            }},
            "/v1/campaigns/{campaign}/report": {"get": {
                "summary": "Every widget of a report tab, with its data", "security": read,
                "parameters": [_CAMPAIGN, _query("tab", "The tab.", {"type": "string", "enum": list(TABS), "default": "campaign"}), _EXECUTION],
                "responses": _ok(_head({"tab": {"type": "string"}, "title": {"type": "string"}, "empty": {"type": "boolean"}, "executions": {"type": "array", "items": {"type": "string"}}, "widgets": {"type": "array", "items": {"type": "object"}}})),
            }},
            "/v1/catalogue": {"get": {"summary": "Metrics, dimensions, tabs and widgets", "responses": {"200": {"description": "The catalogue.", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/v1/campaigns/{campaign}/live": {"get": {
                "summary": "A tab's report as Server-Sent Events: at once, then on every change", "security": read,
                "parameters": [_CAMPAIGN, _query("tab", "The tab.", {"type": "string", "enum": list(TABS), "default": "campaign"}), _EXECUTION],
                "responses": {"200": {"description": "An event stream: `report` events carry the report JSON, `heartbeat` events the time.", "content": {"text/event-stream": {"schema": {"type": "string"}}}}, **_ERRORS},
            }},
            "/v1/campaigns/{campaign}/export.csv": {"get": {
                "summary": "A tab (each widget's title and rows) or one widget as CSV", "security": read,
                "parameters": [_CAMPAIGN, _query("tab", "The tab.", {"type": "string", "enum": list(TABS)}), _query("widget", "One widget id.", {"type": "string"}), _EXECUTION],
                "responses": {"200": {"description": "CSV; cells a spreadsheet would run as formulas start with '.", "content": {"text/csv": {"schema": {"type": "string"}}}}, **_ERRORS},
            }},
            "/v1/layouts/{tab}": {
                **{method: {
                    "summary": summary, "description": "Signed-in users only (session cookie); state changes need `X-Requested-With: livereport`.",
                    "parameters": [{"name": "tab", "in": "path", "required": True, "schema": {"type": "string", "enum": list(TABS)}}],
                    "responses": _ok({"type": "object"}, "The layout: widgets with position, size and visualisation."),
                } for method, summary in (("get", "Your layout of a tab, or the default"), ("put", "Save your layout of a tab"), ("delete", "Back to the default layout"))},
            },
            **account_paths(),
            **webhook_paths(),
            **return_paths(),
            **bounce_rule_paths(),
            "/v1/signin": {"post": {"summary": "Sign in with email and password; sets the session cookie", "responses": _ok({"type": "object"}, "Signed in.")}},
            "/v1/signout": {"post": {"summary": "End the session", "responses": _ok({"type": "object"}, "Signed out.")}},
            "/v1/me": {"get": {"summary": "The signed-in user", "responses": _ok({"type": "object"}, "The user and their org.")}},
        },
    }  # fmt: skip
