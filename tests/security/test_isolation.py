"""Tenant isolation: every route that names a campaign, tried with org B's keys and session
on org A's campaign, answers 404 exactly as for a campaign that never existed; org A's own
credentials get 200 on the same requests (so the 404s mean something). Lists, layouts and
the admin API show each org only its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import asdict
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from tenants import ADMIN_A, ADMIN_B, EDITOR_A, EDITOR_B, Tenants, event, send, start_tenants

from livereport.report.build import Reports
from livereport.store.tenant import MissingOrg, TenantStore
from livereport.web.layouts import default_layout

CAMPAIGN = "org-a/secret plan"
NEVER = "never-sent-by-anyone"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    tenants = start_tenants(tmp_path_factory.mktemp("isolation") / "data")
    try:
        yield tenants
    finally:
        tenants.server.stop()


@pytest.fixture(scope="module")
def event_ids(site: Tenants) -> dict[str, str]:
    """The ids of org a's stored events that routes name, by the route's kind of event."""
    bounce = event(
        CAMPAIGN,
        "bounce",
        smtp={
            "status": "5.1.1",
            "code": 550,
            "diagnostic": "550 5.1.1 <x@a.example>: user unknown",
        },
    )
    opened = event(CAMPAIGN, "open")
    with site.key_client("a") as a:
        result = send(a, [event(CAMPAIGN, "sent"), event(CAMPAIGN, "delivered"), opened, bounce])
        assert result["accepted"] == 4, result
    with site.key_client("b") as b:
        send(b, [event("org-b-own", "sent")])
    return {"bounces": str(bounce["id"]), "engagements": str(opened["id"])}


def _campaign_requests(
    site: Tenants, campaign: str, ids: dict[str, str]
) -> list[tuple[str, dict[str, str]]]:
    """(path, query) of every GET route of the OpenAPI document that names a campaign."""
    document = httpx.get(f"{site.url}/v1/openapi.json").json()
    found = []
    for template, item in document["paths"].items():
        if "{campaign}" not in template or "get" not in item:
            continue
        path = template.replace("{campaign}", quote(campaign, safe="/"))
        if "{event_id}" in path:  # …/bounces/{event_id}, …/engagements/{event_id}
            path = path.replace("{event_id}", ids[path.split("/")[-2]])
        query = {}
        for p in item["get"].get("parameters", []):
            if p["in"] != "query" or not p.get("required"):
                continue
            enum = p["schema"].get("enum", [])
            query[p["name"]] = {"channel": "email", "metrics": "sent"}.get(
                p["name"], "bounce_reason" if "bounce_reason" in enum else (enum or ["x"])[0]
            )
        found.append((path, query))
    assert len(found) >= 7, found  # totals, breakdown, series, report, live, export, bounces
    return found


def _get(client: httpx.Client, path: str, query: dict[str, str]) -> tuple[int, Any]:
    """Status and JSON error (if any); a live stream is closed as soon as it starts."""
    with client.stream("GET", path, params=query) as response:
        if response.headers.get("content-type", "").startswith("application/json"):
            response.read()
            return response.status_code, response.json()
        return response.status_code, None


def test_every_campaign_route_answers_404_to_another_org(
    site: Tenants, event_ids: dict[str, str]
) -> None:
    requests = _campaign_requests(site, CAMPAIGN, event_ids)
    never = dict(_campaign_requests(site, NEVER, event_ids))
    with ExitStack() as stack:
        owner = stack.enter_context(site.key_client("a"))
        owner_session = stack.enter_context(site.signed_in(EDITOR_A))
        others = {
            "B read key": stack.enter_context(site.key_client("b")),
            "B admin key": stack.enter_context(site.key_client("b_admin")),
            "B admin session": stack.enter_context(site.signed_in(ADMIN_B)),
            "B editor session": stack.enter_context(site.signed_in(EDITOR_B)),
        }
        for path, query in requests:
            assert _get(owner, path, query)[0] == 200, path
            assert _get(owner_session, path, query)[0] == 200, path
            missing_path = path.replace(quote(CAMPAIGN, safe="/"), NEVER)
            never_status, never_body = _get(others["B read key"], missing_path, never[missing_path])
            assert never_status == 404, missing_path
            for who, client in others.items():
                status, body = _get(client, path, query)
                assert status == 404, f"{who} got {status} on {path}"
                # The same answer as for a campaign nobody sent: existence is not revealed.
                assert body["error"].replace(CAMPAIGN, NEVER) == never_body["error"], (who, path)


def test_campaign_lists_show_only_the_callers_org(site: Tenants, event_ids: dict[str, str]) -> None:
    with site.key_client("a") as a, site.key_client("b") as b, site.signed_in(ADMIN_B) as b_session:
        assert CAMPAIGN in [c["campaign"] for c in a.get("/v1/campaigns").json()["campaigns"]]
        for client in (b, b_session):
            names = [c["campaign"] for c in client.get("/v1/campaigns").json()["campaigns"]]
            assert names == ["org-b-own"]


def test_layouts_belong_to_their_user(site: Tenants) -> None:
    layout = {"widgets": [asdict(p) for p in default_layout("email")[1:]]}
    with site.signed_in(EDITOR_A) as a:
        saved = a.put("/v1/layouts/email", json=layout)
        assert saved.status_code == 200, saved.text
        assert a.get("/v1/layouts/email").json()["default"] is False
    with site.signed_in(EDITOR_B) as b:
        assert b.get("/v1/layouts/email").json()["default"] is True
    with site.key_client("b") as b_key:
        assert b_key.get("/v1/layouts/email").json()["default"] is True


def test_the_admin_api_never_reaches_another_orgs_users_or_keys(site: Tenants) -> None:
    with site.signed_in(ADMIN_A) as a_admin:
        a_users = a_admin.get("/v1/admin/users").json()["users"]
        a_keys = a_admin.get("/v1/admin/keys").json()["keys"]
        a_admin.post("/v1/admin/keys", json={"scopes": ["read"], "name": "a-only"})
    editor_a = next(u for u in a_users if u["email"] == EDITOR_A[0])
    with site.key_client("b_admin") as b_admin, site.signed_in(ADMIN_B) as b_session:
        for client in (b_admin, b_session):
            attempts = [
                client.patch(f"/v1/admin/users/{editor_a['id']}", json={"role": "viewer"}),
                client.patch(f"/v1/admin/users/{editor_a['id']}", json={"disabled": True}),
                client.delete(f"/v1/admin/keys/{a_keys[0]['id']}"),
            ]
            assert [r.status_code for r in attempts] == [404, 404, 404]
            emails = {u["email"] for u in client.get("/v1/admin/users").json()["users"]}
            assert emails == {ADMIN_B[0], EDITOR_B[0]}
            names = {k["name"] for k in client.get("/v1/admin/keys").json()["keys"]}
            assert "a-only" not in names
            audit = client.get("/v1/admin/audit").json()["entries"]
            assert not any(ADMIN_A[0] in e["actor"] for e in audit)
    with site.signed_in(ADMIN_A) as a_admin:
        after = next(
            u for u in a_admin.get("/v1/admin/users").json()["users"] if u["id"] == editor_a["id"]
        )
        assert after["role"] == "editor" and after["disabled"] is False
        assert a_admin.get("/v1/admin/keys").json()["keys"][0]["revoked"] is None


class _Unreachable:
    """Stands where the engine would be: a refused query must never get here."""

    database = "livereport"
    cluster = ""

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        raise AssertionError(f"reached the engine: {sql}")

    def insert_events(self, rows: Any, received: int) -> None:
        raise AssertionError("reached the engine")

    def iter_event_keys(self, since: int) -> Iterator[tuple[int, str]]:
        raise AssertionError("reached the engine")

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT campaign FROM {db}.campaigns", None),
        ("SELECT campaign FROM {db}.campaigns WHERE org = %(org)s", {}),
        ("SELECT campaign FROM {db}.campaigns WHERE org = %(org)s", {"org": None}),
        ("SELECT campaign FROM {db}.campaigns WHERE org = %(org)s", {"org": "1"}),
        ("SELECT campaign FROM {db}.campaigns WHERE org = %(org)s", {"org": 0}),
        ("SELECT campaign FROM {db}.campaigns WHERE org = %(org)s", {"org": True}),
        (
            "SELECT sum(events) FROM {db}.minute_counts WHERE campaign = %(campaign)s",
            {"org": 1, "campaign": "c"},
        ),
        ("SELECT * FROM {db}.events", {"org": 1}),
    ],
)
def test_the_report_layer_refuses_a_query_without_an_org(sql: str, params: Any) -> None:
    with pytest.raises(MissingOrg):
        TenantStore(_Unreachable()).execute(sql, params)


def test_reports_for_no_org_never_reach_the_engine() -> None:
    reports = Reports(TenantStore(_Unreachable()))
    for ask in (
        lambda: reports.campaigns(0),
        lambda: reports.totals(0, CAMPAIGN, "email"),
        lambda: reports.report(0, CAMPAIGN, "campaign"),
    ):
        with pytest.raises(MissingOrg):
            ask()
