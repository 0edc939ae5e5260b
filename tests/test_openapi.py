"""The OpenAPI document describes every route of the API."""

from __future__ import annotations

import httpx

from conftest import Server


def test_openapi_lists_every_api_route(server: Server) -> None:
    document = httpx.get(f"{server.url}/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    for path in ["/v1/events", "/v1/campaigns", "/v1/campaigns/{campaign}/totals",
                 "/v1/campaigns/{campaign}/breakdown", "/v1/campaigns/{campaign}/series",
                 "/v1/campaigns/{campaign}/report", "/v1/catalogue",
                 "/healthz", "/readyz", "/metrics"]:  # fmt: skip
        assert path in document["paths"], path
    for item in document["paths"].values():
        for operation in item.values():
            assert "200" in operation["responses"]


def test_catalogue_endpoint_matches_the_report_widgets(server: Server) -> None:
    catalogue = httpx.get(f"{server.url}/v1/catalogue").json()
    assert [t["id"] for t in catalogue["tabs"]] == [
        "campaign", "email", "inapp", "push", "sms", "web", "directmail",
    ]  # fmt: skip
    assert "open_rate" in catalogue["channels"]["email"]
