"""The OpenAPI 3.1 document of the HTTP API, built from the catalogue's names and the event
contract's structs (events.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from livereport import __version__
from livereport.events import (
    IP_PATTERN,
    MATRIX,
    PLATFORM_ALIASES,
    SMTP_STATUS,
    Bounce,
    Channel,
    EventType,
    IncomingEvent,
    Interaction,
    Platform,
)
from livereport.ingest.decode import JSON_TYPES, NDJSON_TYPES
from livereport.report import overview
from livereport.report.catalogue import (
    BUCKETS,
    DEFAULT_PERIOD,
    DIMENSIONS,
    ENGAGEMENTS,
    METRICS,
    OVERVIEW_METRICS,
    OVERVIEW_SORTS,
    SCOPES,
    STATUSES,
    TABS,
    VARIANT_RATES,
    Format,
    Kind,
    Vis,
    variant_channels,
    widgets_of,
)
from livereport.report.catalogue import PERIODS as PRESETS
from livereport.report.variants import Verdict
from livereport.web.accounts import openapi_paths as account_paths
from livereport.web.alerts import ALERT_SCHEMA
from livereport.web.alerts import openapi_paths as alert_paths
from livereport.web.bounce_rules import openapi_paths as bounce_rule_paths
from livereport.web.layouts import openapi_paths as layout_paths
from livereport.web.live import stream_event_schema
from livereport.web.machine_rules import openapi_paths as machine_rule_paths
from livereport.web.returns import openapi_paths as return_paths
from livereport.web.session import COOKIE, USER_SETTINGS
from livereport.web.webhooks import openapi_paths as webhook_paths


def _query(
    name: str, description: str, schema: dict[str, Any], required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema,
    }


_CAMPAIGN = {
    "name": "campaign",
    "in": "path",
    "required": True,
    "description": "The campaign id chosen by the sender.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}
_CSRF = {
    "name": "X-Requested-With",
    "in": "header",
    "required": True,
    "description": "Proves the request comes from a page of this site, not another one (CSRF).",
    "schema": {"type": "string", "const": "livereport"},
}
_CHANNEL = _query(
    "channel",
    "A channel, or `campaign` for the campaign level.",
    {"type": "string", "enum": list(SCOPES)},
    True,
)
_EXECUTION = _query(
    "execution",
    "Only events of this execution: one the campaign has events of in the window (the "
    "report's `executions`), else 400 listing them. Empty: every execution.",
    {"type": "string", "maxLength": 64},
)
_ERRORS = {
    code: {
        "description": text,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    for code, text in {
        "400": "The request is not valid; the message says what is expected.",
        "401": "No API key, or an unknown or revoked one.",
        "403": "The API key lacks the needed scope.",
        "404": "No such campaign for this org (or no such tab).",
        "429": "The API key sent more requests than its rate limit; retry after Retry-After seconds.",
    }.items()
}
_WINDOW = {
    "type": "object",
    "properties": {
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
    },
    "required": ["from", "to"],
}
_TAB = _query("tab", "The tab.", {"type": "string", "enum": list(TABS), "default": "campaign"})
_PERIOD = [
    _query(
        "period",
        "A preset period ending now: the last hour, 24 hours (the default, the live window), 7 or 30 days, or the campaign's whole life (within the retention). Not with from/to.",
        {"type": "string", "enum": list(PRESETS), "default": DEFAULT_PERIOD},
    ),
    _query(
        "from",
        "The start of a custom period: RFC 3339 with a UTC offset, a whole minute, within the retention. Not with period.",
        {"type": "string", "format": "date-time"},
    ),
    _query(
        "to",
        "The end of a custom period (excluded), as from; at most the end of the current minute. Without it: until now (live). Needs from.",
        {"type": "string", "format": "date-time"},
    ),
]
_TZ = _query(
    "tz",
    "The time zone whose midnights start the day buckets (`1d`) of series: an IANA name such as Europe/Paris. Days across a DST change last 23 or 25 hours. Other buckets, and every time of the answer, stay in UTC.",
    {"type": "string", "default": "UTC", "maxLength": 64},
)
_ENGAGEMENT = _query(
    "engagement",
    "Which opens and clicks count: `all` (the default), only those of people (`human`) or only those of machines (`machine`: privacy proxies, security scanners). It changes opens, unique_opens, clicks, unique_clicks and every rate built on them; every other metric, and the human_/machine_ metrics, stay the same.",
    {"type": "string", "enum": list(ENGAGEMENTS), "default": "all"},
)
_ALL_ENGAGEMENT = _query(
    "engagement",
    "Only `all`: the overview and the org totals count every open and click; a campaign's report (totals, report, series…) can count human or machine ones.",
    {"type": "string", "enum": ["all"], "default": "all"},
)
_COMPARE = _query(
    "compare",
    "`previous`: add the values of the period of the same length just before (totals: `previous`; KPI widgets: `data.previous`).",
    {"type": "string", "enum": ["previous"]},
)
_VALUE = {"type": ["number", "null"]}
_METRICS = {
    "type": "object",
    "additionalProperties": _VALUE,
    "description": "Metric name → value; rates are null when their denominator is 0.",
}
_OVERVIEW = [
    _query(
        "q",
        "Only campaigns whose id contains this text (case-insensitive).",
        {"type": "string", "maxLength": overview.MAX_QUERY},
    ),
    _query(
        "channel",
        "Only campaigns with events on this channel.",
        {"type": "string", "enum": [c.value for c in Channel]},
    ),
    _query(
        "status",
        "Only campaigns of this status: `sending` (messages sent or shown in the last 15 minutes), `finished` (none sent since, but events in the last hour) or `quiet` (no event in the last hour).",
        {"type": "string", "enum": list(STATUSES)},
    ),
    _query(
        "sort",
        "What the campaigns are sorted by.",
        {"type": "string", "enum": list(OVERVIEW_SORTS), "default": overview.DEFAULT_SORT},
    ),
    _query(
        "order",
        "`desc` (the default; `asc` when sorting by campaign) or `asc`. Campaigns without a value of the rate sorted by come last either way.",
        {"type": "string", "enum": list(overview.ORDERS)},
    ),
    _query(
        "limit",
        "Campaigns per page.",
        {
            "type": "integer",
            "minimum": 1,
            "maximum": overview.MAX_LIMIT,
            "default": overview.DEFAULT_LIMIT,
        },
    ),
    _query(
        "offset",
        "Campaigns to skip, for the next pages.",
        {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 0},
    ),
]
_MOMENT = {"type": "string", "format": "date-time"}
_OVERVIEW_SCHEMA = {
    "type": "object",
    "properties": {
        "window": _WINDOW,
        "as_of": _MOMENT,
        "period": {"type": "string", "enum": [*PRESETS, "custom"]},
        "from": _MOMENT,
        "to": _MOMENT,
        "live": {"type": "boolean"},
        "sparkline_step": {
            "type": "integer",
            "description": "Seconds per point of the sparklines.",
        },
        "sort": {"type": "string"},
        "order": {"type": "string"},
        "offset": {"type": "integer"},
        "limit": {"type": "integer"},
        "total": {"type": "integer", "description": "Campaigns that pass the filters."},
        "campaigns_total": {"type": "integer", "description": "Campaigns of the org."},
        "statuses": {"type": "object", "additionalProperties": {"type": "integer"}},
        "campaigns": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "campaign": {"type": "string"},
                    "channels": {"type": "array", "items": {"type": "string"}},
                    "first": _MOMENT,
                    "last": _MOMENT,
                    "status": {"type": "string", "enum": list(STATUSES)},
                    "events_in_window": {
                        "type": "integer",
                        "description": "Events of the campaign in the period.",
                    },
                    "metrics": {
                        "type": "object",
                        "properties": {name: _VALUE for name in OVERVIEW_METRICS},
                        "description": "Sent and delivered, and rates that are null when their denominator is 0.",
                    },
                    "sparkline": {
                        "type": "array",
                        "items": {"type": "integer"},
                        "description": "Events per sparkline_step seconds from the period's start.",
                    },
                    "open_alerts": {"type": "integer"},
                    "alert_severity": {"type": ["string", "null"]},
                },
                "required": [
                    "campaign",
                    "channels",
                    "first",
                    "last",
                    "status",
                    "events_in_window",
                    "metrics",
                    "sparkline",
                ],
            },
        },
    },
    "required": [
        "window",
        "as_of",
        "period",
        "from",
        "to",
        "live",
        "total",
        "campaigns_total",
        "statuses",
        "campaigns",
    ],
}
_CHANNEL_TOTALS = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {"metrics": _METRICS},
        "required": ["metrics"],
    },
    "description": "Channel (and `campaign` for the campaign level) → its metrics over all campaigns.",
}
_ORG_TOTALS_SCHEMA = {
    "type": "object",
    "properties": {
        "window": _WINDOW,
        "as_of": _MOMENT,
        "period": {"type": "string", "enum": [*PRESETS, "custom"]},
        "from": _MOMENT,
        "to": _MOMENT,
        "live": {"type": "boolean"},
        "channels": _CHANNEL_TOTALS,
        "previous": {
            "type": "object",
            "properties": {"from": _MOMENT, "to": _MOMENT, "channels": _CHANNEL_TOTALS},
        },
        "top": {
            "type": "object",
            "properties": {
                "metric": {"type": "string"},
                "channel": {"type": "string"},
                "min_volume": {"type": "integer"},
                "campaigns": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "campaign": {"type": "string"},
                            "value": {"type": "number"},
                            "volume": {
                                "type": ["number", "null"],
                                "description": "The rate's denominator, or the value of a count.",
                            },
                        },
                        "required": ["campaign", "value", "volume"],
                    },
                },
            },
            "required": ["metric", "channel", "min_volume", "campaigns"],
        },
    },
    "required": ["window", "as_of", "period", "from", "to", "live", "channels", "top"],
}
_ORG_TOTALS = [
    _query(
        "channel",
        "The channel (or `campaign`) whose campaigns are ranked.",
        {"type": "string", "enum": list(SCOPES), "default": "email"},
    ),
    _query(
        "top",
        "The metric the campaigns are ranked by (one of the channel's).",
        {"type": "string", "enum": list(METRICS), "default": "sent"},
    ),
    _query(
        "limit",
        "How many campaigns are ranked.",
        {
            "type": "integer",
            "minimum": 1,
            "maximum": overview.MAX_TOP,
            "default": overview.DEFAULT_TOP,
        },
    ),
    _query(
        "min_volume",
        "A rate ranks only campaigns whose denominator reaches this.",
        {"type": "integer", "minimum": 0, "maximum": 10**9, "default": overview.DEFAULT_MIN_VOLUME},
    ),
]


def _with_previous(schema: dict[str, Any]) -> dict[str, Any]:
    """Totals with ``compare=previous``: the metrics of the period just before."""
    moment = {"type": "string", "format": "date-time"}
    complete = {
        "type": "boolean",
        "description": "False when the period starts before the retention: its events are partly gone.",
    }
    previous = {
        "type": "object",
        "properties": {"from": moment, "to": moment, "complete": complete, "metrics": _METRICS},
        "required": ["from", "to", "complete", "metrics"],
    }
    return {**schema, "properties": {**schema["properties"], "previous": previous}}


_LIFT = {
    "type": ["object", "null"],
    "description": "Against the control (null for the control itself): the difference of the rates (`absolute`, a fraction) and that difference over the control's rate (`relative`), each with its always-valid interval (`_low`, `_high`; null without information yet), the always-valid p-value and the verdict.",
    "properties": {
        **{
            name: _VALUE
            for name in (
                "absolute",
                "absolute_low",
                "absolute_high",
                "relative",
                "relative_low",
                "relative_high",
            )
        },
        "p_value": {"type": "number", "minimum": 0, "maximum": 1},
        "verdict": {"type": "string", "enum": [v.value for v in Verdict]},
    },
    "required": [
        "absolute",
        "absolute_low",
        "absolute_high",
        "relative",
        "relative_low",
        "relative_high",
        "p_value",
        "verdict",
    ],
}
_VARIANTS_EXTRA = {
    "metric": {"type": "string", "enum": list(VARIANT_RATES)},
    "exposures": {
        "type": "string",
        "description": "The metric counted as exposures: the rate's denominator.",
    },
    "successes": {
        "type": "string",
        "description": "The metric counted as successes: the rate's numerator.",
    },
    "control": {"type": ["string", "null"]},
    "winner": {
        "type": ["string", "null"],
        "description": "The variant to act on: the control when every other is `worse`, or the one `better` variant when every other is `worse`; else null.",
    },
    "method": {"const": "msprt"},
    "alpha": {"type": "number"},
    "tau": {"type": "number"},
    "min_exposures": {"type": "integer"},
    "min_successes": {"type": "integer"},
    "min_failures": {"type": "integer"},
    "variants": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "variant": {"type": "string"},
                "control": {"type": "boolean"},
                "exposures": {"type": "integer", "minimum": 0},
                "successes": {"type": "integer", "minimum": 0},
                "rate": _VALUE,
                "lift": _LIFT,
                "metrics": _METRICS,
            },
            "required": ["variant", "control", "exposures", "successes", "rate", "lift", "metrics"],
        },
    },
}


def _names(names: Iterable[str]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string", "enum": list(names)}}


def _by_name(names: Iterable[str], schema: dict[str, Any]) -> dict[str, Any]:
    """An object whose keys are ``names`` (all of them), each value ``schema``."""
    names = list(names)
    return {
        "type": "object",
        "properties": {name: schema for name in names},
        "required": list(names),
        "additionalProperties": False,
    }


_COLOUR = {"type": "string", "pattern": "^#[0-9a-f]{6}$"}
_WIDGET = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "help": {"type": "string"},
        "kind": {"type": "string", "enum": [k.value for k in Kind]},
        "metrics": _names(METRICS),
        "dimension": {"type": ["string", "null"], "enum": [*DIMENSIONS, None]},
        "visualisation": {"type": "string", "enum": [v.value for v in Vis]},
        "visualisations": _names(v.value for v in Vis),
        "size": {
            "type": "object",
            "properties": {"w": {"type": "integer"}, "h": {"type": "integer"}},
            "description": "The default width (of 12 columns) and height (rows) on the dashboard.",
        },
    },
}
#: GET /v1/catalogue: everything the dashboard names, colours and lists comes from here.
CATALOGUE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "metrics": _by_name(
            METRICS,
            {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "help": {"type": "string"},
                    "format": {"type": "string", "enum": [f.value for f in Format]},
                    "ratio": {
                        "type": ["array", "null"],
                        "items": {"type": "string", "enum": list(METRICS)},
                        "minItems": 2,
                        "maxItems": 2,
                        "description": "A rate's numerator and denominator; null for a count.",
                    },
                    "colour": {
                        **_COLOUR,
                        "type": ["string", "null"],
                        "description": "Its colour in the dashboard's charts; null: one by rank.",
                    },
                    "lower_is_better": {
                        "type": "boolean",
                        "description": "A rate where less is better (bounces, complaints).",
                    },
                    "split": {
                        "type": "boolean",
                        "description": (
                            "Read from the human/machine split of opens and clicks: the "
                            "reports give it; the overview, org totals and alerts do not."
                        ),
                    },
                },
                "required": [
                    "label",
                    "help",
                    "format",
                    "ratio",
                    "colour",
                    "lower_is_better",
                    "split",
                ],
            },
        ),
        "channels": _by_name(SCOPES, {**_names(METRICS), "description": "Its metrics."}),
        "dimensions": _by_name(
            DIMENSIONS,
            {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "colours": {
                        "type": "object",
                        "additionalProperties": _COLOUR,
                        "description": "The colour of each key known beforehand (a bounce category).",
                    },
                },
                "required": ["label", "colours"],
            },
        ),
        "tabs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "enum": list(TABS)},
                    "title": {"type": "string"},
                    "widgets": {"type": "array", "items": _WIDGET},
                },
                "required": ["id", "title", "widgets"],
            },
        },
        "visualisations": _by_name(
            [v.value for v in Vis], {"type": "string", "description": "Its name."}
        ),
        "periods": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "enum": list(PRESETS)},
                    "label": {"type": "string", "description": "Its name in a picker or title."},
                    "phrase": {"type": "string", "description": "Its name in a sentence."},
                    "seconds": {
                        "type": ["integer", "null"],
                        "description": "Its length; null for the campaign's whole life.",
                    },
                },
                "required": ["id", "label", "phrase", "seconds"],
            },
            "description": "The preset periods (`period=`), in order.",
        },
        "default_period": {"type": "string", "enum": list(PRESETS)},
        "buckets": _names(BUCKETS),
        "bucket_seconds": _by_name(BUCKETS, {"type": "integer"}),
        "engagement": {
            "type": "object",
            "properties": {
                "values": _names(ENGAGEMENTS),
                "default": {"type": "string", "enum": list(ENGAGEMENTS)},
                "channels": {
                    **_names(SCOPES),
                    "description": "The channels whose opens or clicks are split into people's and machines'.",
                },
            },
            "required": ["values", "default", "channels"],
        },
        "variant_rates": {
            "type": "object",
            "properties": {c: _names(VARIANT_RATES) for c in variant_channels()},
            "additionalProperties": False,
            "description": "Each channel's rates its variants may be compared on; the first is the default.",
        },
        "overview": {
            "type": "object",
            "properties": {
                "metrics": _names(OVERVIEW_METRICS),
                "sorts": _names(OVERVIEW_SORTS),
                "statuses": _names(STATUSES),
            },
            "required": ["metrics", "sorts", "statuses"],
            "description": "The campaign overview's numbers (GET /v1/campaigns), sorts and statuses.",
        },
    },
    "required": [
        "metrics",
        "channels",
        "dimensions",
        "tabs",
        "visualisations",
        "periods",
        "default_period",
        "buckets",
        "bucket_seconds",
        "engagement",
        "variant_rates",
        "overview",
    ],
}


def _ok(schema: dict[str, Any], description: str = "The report.") -> dict[str, Any]:
    return {
        "200": {"description": description, "content": {"application/json": {"schema": schema}}},
        **_ERRORS,
    }


def _head(extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "campaign": {"type": "string"},
            "channel": {"type": "string"},
            "execution": {"type": "string"},
            "window": _WINDOW,
            "as_of": {"type": "string", "format": "date-time"},
            "period": {"type": "string", "enum": [*PRESETS, "custom"]},
            "from": {"type": "string", "format": "date-time"},
            "to": {"type": "string", "format": "date-time"},
            "live": {"type": "boolean", "description": "Whether the period includes now."},
            "engagement": {
                "type": "string",
                "enum": list(ENGAGEMENTS),
                "description": "The opens and clicks counted.",
            },
            **extra,
        },
        "required": [
            "campaign",
            "channel",
            "window",
            "as_of",
            "period",
            "from",
            "to",
            "live",
            "engagement",
            *extra,
        ],
    }


_REPORT = _head(
    {
        "tab": {"type": "string", "enum": list(TABS)},
        "title": {"type": "string"},
        "empty": {"type": "boolean"},
        "executions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The campaign's named executions with events in the window.",
        },
        "widgets": {"type": "array", "items": {"type": "object"}},
    }
)
_ROWS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "metrics": _METRICS, "share": _VALUE},
        "required": ["key", "metrics"],
    },
}


_REF = "#/components/schemas/{name}"
#: What each field of an event means; the types and limits come from the struct itself.
_FIELD_HELP = {
    "id": "Your unique id of the event. An id the org already sent (within the retention) is "
    "counted once, as a duplicate. No control characters.",
    "time": "When the event happened: RFC 3339 with a UTC offset (2026-11-26T10:15:30.123Z), "
    "or integer epoch milliseconds. Refused when more than 5 minutes ahead of the "
    "server's clock or older than the retention period (30 days by default).",
    "campaign": "Your campaign id.",
    "type": "What happened. Each channel accepts only some types (the matrix is in allOf).",
    "profile": "Your id of the person the event is about.",
    "channel": "The channel the event is about; required by every type but `entered` "
    "(campaign-level), which ignores it.",
    "execution": "One run of a recurring campaign.",
    "variant": "The variant (A/B test) of the message.",
    "reason": "Why a profile was excluded, a message bounced or failed. Without one, excluded "
    "and error events get `Undetermined`; a bounce gets its reason from `smtp` or "
    "`code` by the bounce rules.",
    "code": "A provider's failure code (Twilio for SMS, APNs or FCM for push): with no "
    "`reason`, a push or SMS bounce or error takes the code's reason.",
    "bounce": "A bounce's category; without it, the bounce rules decide from the reason or SMTP "
    "data (else `ignored`).",
    "smtp": "What the receiving mail server answered; qualifies an email bounce.",
    "recipient": "An email address (only its domain is kept) or a phone number (not kept).",
    "recipient_domain": "The recipient's domain, when you do not send `recipient`; kept "
    "lower-cased and IDNA-normalised.",
    "platform": "The push platform; `apns` and `fcm` (any case) are read as ios and android.",
    "interaction": "The kind of an in-app or web interaction.",
    "element": "The element shown or interacted with (in-app, web).",
    "url": "The link clicked.",
    "machine": "True when a machine, not a person, opened or clicked (a mail scanner, a proxy).",
    "user_agent": "The user agent of an open or click; not kept, but one of a known machine "
    "(proxy, scanner, bot) makes `machine` true.",
    "ip": "The client address of an open or click (IPv4 or IPv6); not kept, but used to "
    "recognise machine traffic such as a mail privacy proxy.",
}
_SMTP_HELP = {
    "status": "The enhanced status code (RFC 3463), e.g. 5.1.1.",
    "code": "The SMTP reply code, e.g. 550.",
    "diagnostic": "The server's diagnostic text; addresses in it are reduced to their domain.",
}
#: The fields whose values events.py checks against an enum after decoding.
_CHOICES: dict[str, list[str]] = {
    "type": [t.value for t in EventType],
    "channel": [c.value for c in Channel],
    "bounce": [b.value for b in Bounce],
    "platform": [p.value for p in Platform] + list(PLATFORM_ALIASES),
    "interaction": [i.value for i in Interaction],
}


def _strings(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The string branches of a property's schema (itself, or those of its anyOf)."""
    return [s for s in schema.get("anyOf", [schema]) if s.get("type") == "string"]


def _ecma(schema: dict[str, Any]) -> None:
    """JSON Schema patterns are ECMA-262: Python's end-of-text ``\\Z`` is ``$`` there."""
    for branch in _strings(schema):
        if branch.get("pattern", "").endswith("\\Z"):
            branch["pattern"] = branch["pattern"][:-2] + "$"


def event_schemas() -> dict[str, Any]:
    """The schemas of an incoming event (``Event``, ``Smtp``), generated from the msgspec struct
    the ingest decoder uses, so that types, required fields and lengths cannot drift from it;
    the checks events.py makes after decoding (enumerated values, the channel × type matrix,
    the SMTP status's form) are added from the same module."""
    _, found = msgspec.json.schema_components([IncomingEvent], ref_template=_REF)
    event: dict[str, Any] = found.pop("IncomingEvent")
    smtp: dict[str, Any] = found.pop("Smtp")
    assert not found, f"unexpected structs in the event schema: {list(found)}"
    event["title"] = "Event"
    event["description"] = (
        "One event as a sender writes it. Fields not listed are ignored. An event that breaks "
        "a rule is rejected alone, with a message per field; see docs/events.md."
    )
    _strings(event["properties"]["ip"])[0]["pattern"] = IP_PATTERN
    for name, prop in event["properties"].items():
        _ecma(prop)
        prop["description"] = _FIELD_HELP[name]
        for branch in _strings(prop):
            if name in _CHOICES:
                branch["enum"] = _CHOICES[name]
            elif name == "time":
                branch["format"] = "date-time"
    event["properties"]["time"]["anyOf"][1]["description"] = "Epoch milliseconds."
    for name, prop in smtp["properties"].items():
        prop["description"] = _SMTP_HELP[name]
    _strings(smtp["properties"]["status"])[0]["pattern"] = SMTP_STATUS.pattern
    smtp["description"] = "The SMTP answer of a bounce."
    # The matrix: a type that is not campaign-level needs one of its channels.
    event["allOf"] = [
        {
            "if": {"properties": {"type": {"const": kind.value}}, "required": ["type"]},
            "then": {
                "properties": {"channel": {"enum": [c.value for c in Channel if c in chans]}},
                "required": ["channel"],
            },
        }
        for kind, chans in MATRIX.items()
        if chans
    ]
    return {"Event": event, "Smtp": smtp}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ingest_result() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Every event sent is accounted for: accepted + duplicates + len(rejected) = events sent.",
        "properties": {
            "accepted": {
                "type": "integer",
                "minimum": 0,
                "description": "Events stored by this request.",
            },
            "duplicates": {
                "type": "integer",
                "minimum": 0,
                "description": "Events whose id the org sent before (or earlier in this request): counted once, not stored again.",
            },
            "rejected": {
                "type": "array",
                "description": "Events that break the contract, by index in the body; the others are stored anyway.",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Position of the event in the body (NDJSON: counting non-blank lines), from 0.",
                        },
                        "id": {
                            "type": ["string", "null"],
                            "description": "The event's id, when it has a readable one.",
                        },
                        "errors": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": 'One message per problem: "field: what is wrong; what is expected".',
                        },
                    },
                    "required": ["index", "id", "errors"],
                },
            },
        },
        "required": ["accepted", "duplicates", "rejected"],
    }


def _events_operation() -> dict[str, Any]:
    """POST /v1/events: the request body is an array of Event (or Event per line)."""
    ndjson = {
        "schema": {
            "type": "string",
            "description": "One JSON Event per line; blank lines are skipped.",
        },
    }
    return {
        "summary": "Send events",
        "description": (
            "A JSON array of events, or one event per line (NDJSON). A body may be compressed, "
            "saying so in `Content-Encoding: gzip` or `zstd` (HTTP's own header: the body "
            "must then be compressed that way). At most LIVEREPORT_MAX_BODY_BYTES (10 MiB) as "
            "sent and decoded, and LIVEREPORT_MAX_EVENTS_PER_REQUEST (10,000) events. The "
            "answer comes once the accepted events are stored. Events are checked one by one: "
            "an item that is not a valid Event is rejected alone, and the request is still "
            "answered 200, with the rejected items listed by index (IngestResult.rejected); "
            "only a body that cannot be read as a whole gets a 4xx. The contract, with "
            "examples: docs/events.md."
        ),
        "security": [{"apiKey": ["ingest"]}],
        "requestBody": {
            "required": True,
            "description": "Events; an item that is not a valid Event is answered in `rejected` (200), not refused with the request.",
            "content": {
                **{
                    media: {
                        "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}
                    }
                    for media in sorted(JSON_TYPES)
                },
                **{media: ndjson for media in sorted(NDJSON_TYPES)},
            },
        },
        "responses": {
            "200": {
                "description": "Every event accounted for: accepted + duplicates + rejected. Also the answer when some or all items are not valid Events: those are listed in `rejected`, each with a message per bad field, and the others are stored.",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/IngestResult"}}
                },
            },
            "400": _error(
                "The body as a whole cannot be read: not JSON, not an array, not UTF-8, nested too deeply, or not valid gzip / zstd."
            ),
            "401": _error("No API key, or an unknown, expired or revoked one."),
            "403": _error("The API key lacks the ingest scope."),
            "413": _error(
                "Body (as sent or decoded) or event count over the limit; split the request."
            ),
            "415": _error("Unsupported Content-Type or Content-Encoding."),
            "429": _error(
                "The API key sent more requests than its rate limit; retry after Retry-After seconds."
            ),
            "503": _error(
                "Saturated or storage unavailable; retry the same request after Retry-After seconds (what it stored, if anything, comes back as duplicates)."
            ),
        },
    }


def _session_paths() -> dict[str, Any]:
    """Sign-in, sign-out and who is signed in (web/session.py)."""
    settings = {
        "type": "object",
        "description": "What the user's dashboard remembers, in every browser.",
        "properties": {
            name: {"type": "string", "enum": list(values), "default": values[0]}
            for name, values in USER_SETTINGS.items()
        },
        "required": list(USER_SETTINGS),
    }
    me = {
        "type": "object",
        "properties": {
            "email": {"type": "string"},
            "role": {"type": "string", "enum": ["admin", "editor", "viewer"]},
            "org_id": {"type": "integer"},
            "can_modify": {"type": "boolean"},
            "expires": {
                "type": "number",
                "description": "When the session ends unless used again (epoch seconds).",
            },
            "settings": settings,
        },
        "required": ["email", "role", "org_id", "can_modify", "expires", "settings"],
    }
    signed_in = {
        "description": "Signed in: the session cookie is set.",
        "content": {"application/json": {"schema": me}},
    }
    return {
        "/v1/signin": {
            "post": {
                "summary": "Sign in with email and password; sets the session cookie",
                "description": "Wrong passwords are counted per email and per address: too many are answered 429 for a while, and enough in a row lock the account.",
                "security": [],
                "parameters": [_CSRF],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "email": {"type": "string"},
                                    "password": {"type": "string"},
                                },
                                "required": ["email", "password"],
                            }
                        }
                    },
                },
                "responses": {
                    "200": signed_in,
                    "400": _error("The body is not {email, password} as JSON (at most 4 KB)."),
                    "401": _error("The email or the password is wrong."),
                    "403": _error("The X-Requested-With header is missing."),
                    "429": _error(
                        "Too many failed sign-ins for this email or from this address, or the account is locked; retry after Retry-After seconds."
                    ),
                },
            }
        },
        "/v1/signout": {
            "post": {
                "summary": "End the session (if any) and clear its cookie",
                "description": "With a session cookie, needs `X-Requested-With: livereport`.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Signed out.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"signed_out": {"const": True}},
                                    "required": ["signed_out"],
                                }
                            }
                        },
                    },
                    "403": _error("A session cookie without the X-Requested-With header."),
                },
            }
        },
        "/v1/me": {
            "get": {
                "summary": "The signed-in user",
                "security": [{"session": []}],
                "responses": {
                    "200": {**signed_in, "description": "The user of the session."},
                    "401": _error("Not signed in, or the session ended."),
                },
            }
        },
        "/v1/me/settings": {
            "put": {
                "summary": "Remember dashboard choices for the signed-in user",
                "description": "Any role, session cookie only (an API key has no settings: 403). The body names one or more settings: `engagement` is the tabs' choice of all, human or machine opens and clicks. Unknown names and values are a 400.",
                "security": [{"session": []}],
                "parameters": [
                    {
                        "name": "X-Requested-With",
                        "in": "header",
                        "required": True,
                        "description": "Proves the request comes from the dashboard's own pages (CSRF).",
                        "schema": {"type": "string", "const": "livereport"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                **settings,
                                "required": [],
                                "minProperties": 1,
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "Every setting, as now stored.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"settings": settings},
                                    "required": ["settings"],
                                }
                            }
                        },
                    },
                    "400": _error("An unknown setting or value."),
                    "401": _error("The session ended."),
                    "403": _error("No session cookie, or the X-Requested-With header is missing."),
                },
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    read = [{"apiKey": ["read"]}, {"session": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "livereport",
            "version": __version__,
            "description": "Live 24-hour campaign reports: send events, read totals, breakdowns, series and whole report tabs.",
        },
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key of your org (`livereport keys create`).",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": COOKIE,
                    "description": "A signed-in user's session (POST /v1/signin): reads, and admin routes for admins; state changes also need `X-Requested-With: livereport`.",
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                },
                "IngestResult": _ingest_result(),
                **event_schemas(),
            },
        },
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "description": "200 while the process serves HTTP. Needs no key.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Alive",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"status": {"const": "ok"}},
                                        "required": ["status"],
                                    }
                                }
                            },
                        }
                    },
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness",
                    "description": "200 when storage answers and every migration is applied; 503 with the reason otherwise (starting, shutting down, storage unreachable, migrations missing). Needs no key.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Ready",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"status": {"const": "ready"}},
                                        "required": ["status"],
                                    }
                                }
                            },
                        },
                        "503": {
                            "description": "Not ready",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "status": {"type": "string"},
                                            "error": {"type": "string"},
                                        },
                                        "required": ["status", "error"],
                                    }
                                }
                            },
                        },
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "description": "Counters, gauges and histograms in the Prometheus text format (see docs/operations.md). Needs no key.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "Metrics",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/v1/events": {"post": _events_operation()},
            "/v1/campaigns": {
                "get": {
                    "summary": "The campaign overview: every campaign's numbers over a period",
                    "description": "Per campaign: its channels, first and last event, status, events, sent, delivered and the delivery, open, click, bounce and complaint rates over the period (sums over its channels; the open and click rates only over channels that report opens or clicks), and a sparkline of its events. Filtered, sorted and paged; `total` counts the campaigns that pass the filters, `statuses` those of each status before the status filter.",
                    "security": read,
                    "parameters": [*_PERIOD, *_OVERVIEW, _ALL_ENGAGEMENT],
                    "responses": _ok(_OVERVIEW_SCHEMA, "One page of campaigns."),
                }
            },
            "/v1/totals": {
                "get": {
                    "summary": "The org's totals per channel, and its leading campaigns",
                    "description": "Every channel's metrics over all campaigns of the org (distinct profiles counted once across campaigns), and the campaigns with the highest value of one metric on one channel.",
                    "security": read,
                    "parameters": [*_PERIOD, _COMPARE, *_ORG_TOTALS, _ALL_ENGAGEMENT],
                    "responses": _ok(_ORG_TOTALS_SCHEMA, "The org's totals."),
                }
            },
            "/v1/campaigns/{campaign}/totals": {
                "get": {
                    "summary": "Every metric of a channel over the window",
                    "security": read,
                    "parameters": [
                        _CAMPAIGN,
                        _CHANNEL,
                        _EXECUTION,
                        *_PERIOD,
                        _COMPARE,
                        _ENGAGEMENT,
                    ],
                    "responses": _ok(_with_previous(_head({"metrics": _METRICS}))),
                }
            },
            "/v1/campaigns/{campaign}/breakdown": {
                "get": {
                    "summary": "Metrics per key of a dimension, main metric first",
                    "security": read,
                    "parameters": [
                        _CAMPAIGN,
                        _CHANNEL,
                        _query(
                            "by",
                            "The dimension.",
                            {"type": "string", "enum": list(DIMENSIONS)},
                            True,
                        ),
                        _EXECUTION,
                        *_PERIOD,
                        _ENGAGEMENT,
                    ],
                    "responses": _ok(
                        _head({"by": {"type": "string"}, "sort": {"type": "string"}, "rows": _ROWS})
                    ),
                }
            },
            "/v1/campaigns/{campaign}/series": {
                "get": {
                    "summary": "Metrics over time, in buckets aligned to UTC (zeros included)",
                    "security": read,
                    "parameters": [
                        _CAMPAIGN,
                        _CHANNEL,
                        {
                            **_query(
                                "metrics",
                                "Metric names, comma-separated (sent,delivered); each must be one of the channel's (GET /v1/catalogue `channels`), else 400.",
                                {
                                    "type": "array",
                                    "items": {"type": "string", "enum": list(METRICS)},
                                    "minItems": 1,
                                },
                                True,
                            ),
                            "style": "form",
                            "explode": False,
                        },
                        _query(
                            "bucket",
                            "Bucket size; by default 5m for the last 24 hours, else by the period's length (1m up to 2 hours, 5m up to 2 days, 1h up to 8 days, 6h up to 31 days, then 1d). At most 2,000 buckets.",
                            {"type": "string", "enum": list(BUCKETS)},
                        ),
                        _EXECUTION,
                        *_PERIOD,
                        _TZ,
                        _ENGAGEMENT,
                    ],
                    "responses": _ok(
                        _head(
                            {
                                "bucket": {"type": "string"},
                                "t": {"type": "array", "items": {"type": "string"}},
                                "series": {
                                    "type": "object",
                                    "additionalProperties": {"type": "array", "items": _VALUE},
                                },
                            }
                        )
                    ),
                }
            },
            "/v1/campaigns/{campaign}/variants": {
                "get": {
                    "summary": "The campaign's variants compared on one rate, live: lift, interval and verdict against the control",
                    "description": "Per variant of the channel (events without a variant are left out): its funnel (`metrics`), its rate, and, for every variant but the control, the lift against the control with an interval and a verdict from an always-valid sequential test (mSPRT), so that the answer may be read at any moment, however often. No variant is called `better` or `worse` before each has `min_exposures` exposures, `min_successes` successes and `min_failures` exposures without success. By default the period is the campaign's whole life: the guarantee holds for counts that only grow, which a sliding 24 hours of a longer campaign is not.",
                    "security": read,
                    "parameters": [
                        _CAMPAIGN,
                        _query(
                            "channel",
                            "The channel whose variants are compared: one with a rate.",
                            {"type": "string", "enum": variant_channels()},
                            True,
                        ),
                        _query(
                            "metric",
                            "The rate compared; by default the channel's first of open_rate, click_rate, delivery_rate, error_rate. It must be one of the channel's.",
                            {"type": "string", "enum": list(VARIANT_RATES)},
                        ),
                        _query(
                            "control",
                            "The variant the others are compared with; by default the first by name.",
                            {"type": "string", "maxLength": 128},
                        ),
                        _EXECUTION,
                        {
                            **_PERIOD[0],
                            "description": "A preset period ending now; by default the campaign's whole life (`life`). Not with from/to.",
                            "schema": {"type": "string", "enum": list(PRESETS), "default": "life"},
                        },
                        *_PERIOD[1:],
                        _ENGAGEMENT,
                    ],
                    "responses": _ok(_head(_VARIANTS_EXTRA), "The comparison."),
                }
            },
            "/v1/campaigns/{campaign}/report": {
                "get": {
                    "summary": "Every widget of a report tab, with its data",
                    "security": read,
                    "parameters": [
                        _CAMPAIGN,
                        _TAB,
                        _EXECUTION,
                        *_PERIOD,
                        _COMPARE,
                        _TZ,
                        _ENGAGEMENT,
                    ],
                    "responses": _ok(_REPORT),
                }
            },
            "/v1/catalogue": {
                "get": {
                    "summary": "Metrics, dimensions, tabs and widgets",
                    "description": "Everything the dashboard names, colours and lists: it keeps no copy of its own (docs/reference.md).",
                    "responses": {
                        "200": {
                            "description": "The catalogue.",
                            "content": {"application/json": {"schema": CATALOGUE_SCHEMA}},
                        }
                    },
                }
            },
            "/v1/campaigns/{campaign}/live": {
                "get": {
                    "summary": "A tab's report as Server-Sent Events: at once, then on every change",
                    "security": read,
                    "description": "The stream does not end by itself; an error before it starts (unknown campaign or tab, bad execution) is a plain JSON answer.",
                    "parameters": [
                        _CAMPAIGN,
                        _TAB,
                        _EXECUTION,
                        *_PERIOD,
                        _COMPARE,
                        _TZ,
                        _ENGAGEMENT,
                    ],
                    "responses": {
                        "200": {
                            "description": "An event stream (text/event-stream). OpenAPI 3.1 has no keyword for the items of a stream, so, as OpenAPI 3.2's `itemSchema` does, `schema` describes one event: its SSE fields, `event` and `data` (JSON).",
                            "content": {
                                "text/event-stream": {
                                    "schema": stream_event_schema(_REPORT, ALERT_SCHEMA)
                                }
                            },
                        },
                        **_ERRORS,
                    },
                }
            },
            "/v1/campaigns/{campaign}/export.csv": {
                "get": {
                    "summary": "A tab (each widget's title and rows) or one widget as CSV",
                    "security": read,
                    "parameters": [
                        _CAMPAIGN,
                        _query("tab", "The tab.", {"type": "string", "enum": list(TABS)}),
                        _query(
                            "widget",
                            "One widget, of the tab (without `tab`: of the tab its id starts with).",
                            {"type": "string", "enum": [w.id for t in TABS for w in widgets_of(t)]},
                        ),
                        _EXECUTION,
                        *_PERIOD,
                        _TZ,
                        _ENGAGEMENT,
                    ],
                    "responses": {
                        "200": {
                            "description": "CSV; cells a spreadsheet would run as formulas start with '.",
                            "content": {"text/csv": {"schema": {"type": "string"}}},
                        },
                        **_ERRORS,
                    },
                }
            },
            **layout_paths(),
            **account_paths(),
            **webhook_paths(),
            **return_paths(),
            **bounce_rule_paths(),
            **machine_rule_paths(),
            **alert_paths(),
            **_session_paths(),
        },
    }
