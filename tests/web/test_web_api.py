"""The dashboard's API, over HTTP: sessions and CSRF, layouts and their validation, CSV exports,
the live event stream, and the pages' guards.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from dashboard import EDITOR, OTHER, VIEWER, create_users, event

from conftest import Server, next_report, post, start_app
from livereport.store.metadata import Metadata
from livereport.web.layouts import default_layout
from livereport.web.session import (
    ABSOLUTE_TIMEOUT_S,
    COOKIE,
    IDLE_TIMEOUT_S,
    TOUCH_EVERY_S,
    find_session,
    start_session,
)

CSRF = {"X-Requested-With": "livereport"}
CAMPAIGN = "api-web"
TRICKY = ['=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)", "\tindent", "\rreturn"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_app(tmp_path_factory.mktemp("webapi") / "data")
    create_users(server)
    with server.client(server.key("ingest")) as client:
        post(client, [event(CAMPAIGN, "sent"), event(CAMPAIGN, "delivered")])
        post(client, [event(CAMPAIGN, "excluded", reason=r) for r in TRICKY])
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def signed_in(srv: Server, user: tuple[str, str] = EDITOR) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        response = client.post(
            "/v1/signin", json={"email": user[0], "password": user[1]}, headers=CSRF
        )
        assert response.status_code == 200, response.text
        yield client


# sessions


def test_sign_in_sets_a_private_session_cookie(srv: Server) -> None:
    response = httpx.post(
        f"{srv.url}/v1/signin", json={"email": EDITOR[0], "password": EDITOR[1]}, headers=CSRF
    )
    assert response.status_code == 200
    assert response.json()["email"] == EDITOR[0] and response.json()["role"] == "editor"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it


def test_wrong_password_or_unknown_email_is_refused_alike(srv: Server) -> None:
    for email, password in ((EDITOR[0], "wrong password"), ("nobody@example.com", "whatever12")):
        response = httpx.post(
            f"{srv.url}/v1/signin", json={"email": email, "password": password}, headers=CSRF
        )
        assert response.status_code == 401
        assert response.json() == {"error": "the email or the password is wrong"}
        assert COOKIE not in response.cookies


def test_a_session_reads_the_api_of_its_org(srv: Server) -> None:
    with signed_in(srv) as client:
        assert client.get("/v1/me").json()["email"] == EDITOR[0]
        campaigns = client.get("/v1/campaigns").json()["campaigns"]
        assert CAMPAIGN in [c["campaign"] for c in campaigns]
        report = client.get(f"/v1/campaigns/{CAMPAIGN}/report", params={"tab": "email"})
        assert report.status_code == 200 and report.json()["tab"] == "email"
        # a session never ingests: that takes an API key
        assert client.post("/v1/events", json=[], headers=CSRF).status_code == 401


def test_sign_out_ends_the_session(srv: Server) -> None:
    with signed_in(srv) as client:
        token = client.cookies[COOKIE]
        assert client.post("/v1/signout", headers=CSRF).status_code == 200
        stale = httpx.get(f"{srv.url}/v1/campaigns", cookies={COOKIE: token})
        assert stale.status_code == 401
        assert "sign in again" in stale.json()["error"]


def test_without_credentials_the_api_answers_as_before(srv: Server) -> None:
    response = httpx.get(f"{srv.url}/v1/campaigns")
    assert response.status_code == 401
    assert response.json()["error"] == (
        "no credential: the Authorization header and the livereport_session cookie are both "
        "missing; send an API key as 'Authorization: Bearer <key>', or sign in at /signin for "
        "the cookie"
    )
    key = srv.key("read")
    keyed = httpx.get(f"{srv.url}/v1/campaigns", headers={"Authorization": f"Bearer {key}"})
    assert keyed.status_code == 200


def test_state_changes_with_the_cookie_need_the_csrf_header(srv: Server) -> None:
    body = {"widgets": []}
    with signed_in(srv) as client:
        refused = client.put("/v1/layouts/web", json=body)
        assert refused.status_code == 403
        assert "X-Requested-With: livereport" in refused.json()["error"]
        assert client.delete("/v1/layouts/web").status_code == 403
        assert client.post("/v1/signout").status_code == 403
        assert client.put("/v1/layouts/web", json=body, headers=CSRF).status_code == 200
    forged = httpx.post(f"{srv.url}/v1/signin", json={"email": EDITOR[0], "password": EDITOR[1]})
    assert forged.status_code == 403


def test_sessions_expire_when_idle_and_in_any_case(tmp_path: Path) -> None:
    metadata = Metadata(tmp_path / "meta.sqlite3")
    user = metadata.create_user(
        metadata.create_org("o"), "a@example.com", "viewer", "long enough pw"
    )
    token, _ = start_session(metadata, user, now=1000.0)
    assert find_session(metadata, token, now=1000.0 + IDLE_TIMEOUT_S - 1) is not None
    assert find_session(metadata, token, now=1000.0 + 2 * IDLE_TIMEOUT_S) is None
    assert find_session(metadata, token, now=1000.0) is None  # an expired session is gone
    token, _ = start_session(metadata, user, now=0.0)
    now = 0.0
    while now < ABSOLUTE_TIMEOUT_S - IDLE_TIMEOUT_S:  # used all along: still ends at last
        now += IDLE_TIMEOUT_S / 2
        assert find_session(metadata, token, now=now) is not None
    assert find_session(metadata, token, now=ABSOLUTE_TIMEOUT_S + TOUCH_EVERY_S) is None


def test_repeated_failed_sign_ins_are_slowed_down(fresh_server: Server) -> None:
    codes = [
        httpx.post(
            f"{fresh_server.url}/v1/signin",
            json={"email": "admin@localhost", "password": f"guess-{i}"},
            headers=CSRF,
        ).status_code
        for i in range(12)
    ]
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]


# layouts


def test_layout_defaults_come_from_the_catalogue(srv: Server) -> None:
    with signed_in(srv, OTHER) as client:
        layout = client.get("/v1/layouts/email").json()
    assert layout["default"] is True and layout["removed"] == []
    assert layout["widgets"][0] == {
        "id": "email.sending_performance",
        "x": 0,
        "y": 0,
        "w": 12,
        "h": 4,
        "visualisation": "bars",
    }
    assert [w["id"] for w in layout["widgets"]] == [p.id for p in default_layout("email")]


def test_a_saved_layout_is_the_users_own(srv: Server) -> None:
    widgets = [
        {"id": "sms.statistics", "x": 0, "y": 0, "w": 12, "h": 3, "visualisation": "table"},
        {"id": "sms.bounce_reasons", "x": 0, "y": 3, "w": 4, "h": 5, "visualisation": "table"},
    ]
    with signed_in(srv) as client:
        saved = client.put("/v1/layouts/sms", json={"widgets": widgets}, headers=CSRF)
        assert saved.status_code == 200, saved.text
        assert saved.json()["widgets"] == widgets
        assert "sms.error_reasons" in saved.json()["removed"]
        again = client.get("/v1/layouts/sms").json()
        assert again["default"] is False and again["widgets"] == widgets
        with signed_in(srv, OTHER) as other:
            assert other.get("/v1/layouts/sms").json()["default"] is True
        reset = client.delete("/v1/layouts/sms", headers=CSRF)
        assert reset.json()["default"] is True
        assert client.get("/v1/layouts/sms").json()["default"] is True


@pytest.mark.parametrize(
    ("widgets", "message"),
    [
        (
            [{"id": "email.nope", "x": 0, "y": 0, "w": 6, "h": 4}],
            "'email.nope' is not a widget of the Email tab",
        ),
        (
            [{"id": "sms.statistics", "x": 0, "y": 0, "w": 6, "h": 4}],
            "'sms.statistics' is not a widget of the Email tab",
        ),
        (
            [
                {"id": "email.statistics", "x": 0, "y": 0, "w": 6, "h": 4},
                {"id": "email.statistics", "x": 6, "y": 0, "w": 6, "h": 4},
            ],
            "appears twice",
        ),
        (
            [{"id": "email.statistics", "x": 0, "y": 0, "w": 13, "h": 4}],
            "widgets[0].w: 13 is out of range; expected 2 to 12",
        ),
        (
            [{"id": "email.statistics", "x": 0, "y": 0, "w": 6, "h": 40}],
            "widgets[0].h: 40 is out of range",
        ),
        (
            [{"id": "email.statistics", "x": -1, "y": 0, "w": 6, "h": 4}],
            "widgets[0].x: -1 is out of range",
        ),
        ([{"id": "email.statistics", "x": 8, "y": 0, "w": 6, "h": 4}], "past the 12 columns"),
        (
            [{"id": "email.statistics", "x": 0, "y": 0, "w": 6.5, "h": 4}],
            "widgets[0].w: expected a whole number",
        ),
        (
            [{"id": "email.statistics", "x": 0, "y": 0, "w": 6, "h": 4, "visualisation": "donut"}],
            "'donut' is not available for email.statistics; expected one of table",
        ),
        (
            [
                {"id": "email.statistics", "x": 0, "y": 0, "w": 6, "h": 4},
                {"id": "email.error_reasons", "x": 3, "y": 2, "w": 6, "h": 4},
            ],
            "email.error_reasons overlaps email.statistics",
        ),
        ("not a list", 'expected {"widgets"'),
    ],
)
def test_a_layout_that_does_not_fit_is_refused_with_the_reason(
    srv: Server, widgets: Any, message: str
) -> None:
    with signed_in(srv) as client:
        response = client.put("/v1/layouts/email", json={"widgets": widgets}, headers=CSRF)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_layouts_of_unknown_tabs_viewers_and_keys(srv: Server) -> None:
    body = {"widgets": []}
    with signed_in(srv) as client:
        assert client.get("/v1/layouts/fax").status_code == 404
        assert (
            client.put("/v1/layouts/email", content=b"{not json", headers=CSRF).status_code == 400
        )
    with signed_in(srv, VIEWER) as viewer:
        assert viewer.get("/v1/layouts/email").status_code == 200
        refused = viewer.put("/v1/layouts/email", json=body, headers=CSRF)
        assert refused.status_code == 403 and "viewer" in refused.json()["error"]
    with srv.client(srv.key("read")) as keyed:
        assert keyed.get("/v1/layouts/email").json()["default"] is True
        assert keyed.put("/v1/layouts/email", json=body).status_code == 403


# exports


def _csv(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))


def test_export_neutralises_cells_a_spreadsheet_would_run(srv: Server) -> None:
    with signed_in(srv) as client:
        rows = _csv(
            client.get(
                f"/v1/campaigns/{CAMPAIGN}/export.csv", params={"widget": "email.excluded_reasons"}
            )
        )
    assert rows[0] == ["Exclusion reason", "Excluded", "Share"]
    keys = {row[0] for row in rows[1:-1]}
    assert keys == {"'" + reason for reason in TRICKY}
    assert all(row[1] == "1" for row in rows[1:-1])  # numbers stay numbers
    assert rows[-1] == ["Total", "6", "1.0000"]


def test_export_of_a_whole_tab(srv: Server) -> None:
    with signed_in(srv) as client:
        response = client.get(f"/v1/campaigns/{CAMPAIGN}/export.csv", params={"tab": "email"})
        report = client.get(f"/v1/campaigns/{CAMPAIGN}/report", params={"tab": "email"}).json()
    assert f'filename="{CAMPAIGN}-email.csv"' in response.headers["content-disposition"]
    rows = _csv(response)
    assert rows[:3] == [["Campaign", CAMPAIGN], ["Tab", "Email"], ["Execution", "all"]]
    for widget in report["widgets"]:
        assert [widget["title"]] in rows
    kpi = rows.index(["Email sending performance"])
    assert rows[kpi + 1] == ["Metric", "Value"]
    assert rows[kpi + 2][0] == "Targeted"
    assert rows[kpi + 3] == ["Delivered", "1"]


def test_export_of_an_unknown_widget_or_campaign(srv: Server) -> None:
    with signed_in(srv) as client:
        missing = client.get(
            f"/v1/campaigns/{CAMPAIGN}/export.csv", params={"widget": "email.nothing"}
        )
        assert missing.status_code == 400 and "email.statistics" in missing.json()["error"]
        assert client.get("/v1/campaigns/never-sent/export.csv").status_code == 404
    assert httpx.get(f"{srv.url}/v1/campaigns/{CAMPAIGN}/export.csv").status_code == 401


# the live stream


def test_the_live_stream_sends_the_report_then_each_change(srv: Server) -> None:
    campaign = "live-api"
    key = srv.key("ingest", "read")
    with srv.client(key) as client:
        post(client, [event(campaign, "delivered")])
    url = f"{srv.url}/v1/campaigns/{campaign}/live"
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream("GET", url, params={"tab": "email"}, headers=headers, timeout=20) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        first = next_report(lines)
        assert first["tab"] == "email"
        assert first["widgets"][0]["data"]["metrics"]["delivered"] == 1
        started = time.monotonic()
        with srv.client(key) as client:
            post(client, [event(campaign, "delivered"), event(campaign, "delivered")])
        report = next_report(lines)
        while report["widgets"][0]["data"]["metrics"]["delivered"] != 3:
            report = next_report(lines)
        assert time.monotonic() - started < 5


def test_the_live_stream_refuses_before_streaming(srv: Server) -> None:
    with signed_in(srv) as client:
        unknown = client.get("/v1/campaigns/never-sent/live", params={"tab": "email"})
        assert unknown.status_code == 404 and unknown.json()["error"].startswith("campaign")
        bad_tab = client.get(f"/v1/campaigns/{CAMPAIGN}/live", params={"tab": "fax"})
        assert bad_tab.status_code == 404
    assert httpx.get(f"{srv.url}/v1/campaigns/{CAMPAIGN}/live").status_code == 401


# pages


def test_pages_need_a_session_and_forbid_other_hosts(srv: Server) -> None:
    anonymous = httpx.get(f"{srv.url}/campaigns/{CAMPAIGN}?tab=sms")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/signin?next=%2Fcampaigns%2F{CAMPAIGN}%3Ftab%3Dsms"
    assert httpx.get(f"{srv.url}/signin").status_code == 200
    with signed_in(srv) as client:
        page = client.get(f"/campaigns/{CAMPAIGN}")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        back = client.get("/signin", params={"next": "//evil.example/"})
        assert back.status_code == 303 and back.headers["location"] == "/campaigns"
        inside = client.get("/signin", params={"next": "/campaigns/x?tab=web"})
        assert inside.headers["location"] == "/campaigns/x?tab=web"


def test_the_libraries_are_served_by_the_app(srv: Server) -> None:
    for path in [
        "/static/vendor/chart.umd.min.js",
        "/static/vendor/gridstack-all.js",
        "/static/vendor/gridstack.min.css",
        "/static/js/report.js",
        "/favicon.ico",
    ]:
        assert httpx.get(f"{srv.url}{path}").status_code == 200, path
