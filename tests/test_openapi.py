"""The OpenAPI document describes every route of the API, with its methods, and the events
of the live stream as they are sent."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import cast

import httpx
import jsonschema
from starlette.routing import Route

from conftest import Server, post
from livereport.config import Config
from livereport.store.base import Store
from livereport.store.metadata import Metadata
from livereport.web.app import create_app
from livereport.web.openapi import openapi_document

OPS = ("/healthz", "/readyz", "/metrics")


def test_openapi_lists_every_api_route(server: Server) -> None:
    document = httpx.get(f"{server.url}/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    for path in [
        "/v1/events",
        "/v1/campaigns",
        "/v1/campaigns/{campaign}/totals",
        "/v1/campaigns/{campaign}/breakdown",
        "/v1/campaigns/{campaign}/series",
        "/v1/campaigns/{campaign}/report",
        "/v1/catalogue",
        "/healthz",
        "/readyz",
        "/metrics",
    ]:
        assert path in document["paths"], path
    for item in document["paths"].values():
        for operation in item.values():
            assert "200" in operation["responses"]


def test_catalogue_endpoint_matches_the_report_widgets(server: Server) -> None:
    catalogue = httpx.get(f"{server.url}/v1/catalogue").json()
    assert [t["id"] for t in catalogue["tabs"]] == [
        "campaign",
        "email",
        "inapp",
        "push",
        "sms",
        "web",
        "directmail",
    ]
    assert "open_rate" in catalogue["channels"]["email"]


def test_every_route_is_documented_with_exactly_its_methods() -> None:
    """So that a 405's Allow, which lists a route's methods, lists the documented ones."""
    app = create_app(Config.load(env={}), cast(Store, None), cast(Metadata, None))
    document = openapi_document()
    served: dict[str, set[str]] = {}
    for route in app.routes:
        if isinstance(route, Route) and (route.path.startswith("/v1/") or route.path in OPS):
            served[re.sub(r":\w+}", "}", route.path)] = set(route.methods or ())
    served.pop("/v1/openapi.json")
    documented = {
        path: {m.upper() for m in item} | ({"HEAD"} if "get" in item else set())
        for path, item in document["paths"].items()
    }
    assert served == documented


def test_the_live_streams_events_are_the_documented_ones(
    server: Server, keys: dict[str, str]
) -> None:
    campaign = f"openapi-live-{uuid.uuid4().hex[:6]}"
    with server.client(keys["both"]) as client:
        post(
            client,
            [
                {
                    "id": uuid.uuid4().hex,
                    "time": datetime.now(UTC).isoformat(),
                    "campaign": campaign,
                    "type": "sent",
                    "channel": "email",
                    "profile": "p",
                }
            ],
        )
        document = client.get("/v1/openapi.json").json()
        operation = document["paths"]["/v1/campaigns/{campaign}/live"]["get"]
        one_event = operation["responses"]["200"]["content"]["text/event-stream"]["schema"]
        url = f"/v1/campaigns/{campaign}/live"
        with client.stream("GET", url, params={"tab": "email"}) as stream:
            fields: dict[str, str] = {}
            for line in stream.iter_lines():
                if line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif "data" in fields:
                    break
    jsonschema.validate(fields, one_event)
    (branch,) = [
        b for b in one_event["oneOf"] if b["properties"]["event"]["const"] == fields["event"]
    ]
    jsonschema.validate(json.loads(fields["data"]), branch["properties"]["data"]["contentSchema"])
    assert fields["event"] == "report"


def test_a_compressed_body_is_http_s_business_not_a_parameter() -> None:
    """A client that sends Content-Encoding: zstd must compress the body: not a parameter a
    generator could set on its own."""
    operation = openapi_document()["paths"]["/v1/events"]["post"]
    assert not [p for p in operation.get("parameters", []) if p["name"] == "Content-Encoding"]
    assert "Content-Encoding" in operation["description"]
