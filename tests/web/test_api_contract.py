"""The API keeps to its OpenAPI document, case by case (issue 16): what the document says is
valid is taken, what it says is not is refused with a message that names the field, and each
error names what the caller must change (a missing header, an unknown parameter or
execution). tests/web/test_schemathesis.py runs a generic client over the same ground.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from conftest import Server, post, start_app

CAMPAIGN = "contract"
EXECUTIONS = ("morning", "evening")
CSRF = {"X-Requested-With": "livereport"}


def event(type_: str = "sent", channel: str | None = "email", **fields: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(),
        "campaign": CAMPAIGN,
        "type": type_,
        "profile": f"p-{uuid.uuid4().hex[:8]}",
        **({"channel": channel} if channel else {}),
        **fields,
    }


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_app(tmp_path_factory.mktemp("contract") / "data")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin(srv: Server) -> Iterator[httpx.Client]:
    with srv.client(srv.key("admin", "read", "ingest")) as client:
        post(client, [event(execution=e) for e in EXECUTIONS] + [event("entered", None)])
        yield client


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    message: str = response.json()["error"]
    return message


def email() -> str:
    return f"u-{uuid.uuid4().hex[:10]}@example.com"


# query parameters


def test_an_unknown_query_parameter_is_named_with_the_accepted_ones(admin: httpx.Client) -> None:
    typo = admin.get(
        f"/v1/campaigns/{CAMPAIGN}/totals", params={"channel": "email", "chanel": "sms"}
    )
    assert error(typo, 400) == (
        "chanel: unknown query parameter; expected only channel, compare, engagement, execution, from, "
        "period, to (see /v1/openapi.json)"
    )
    none = admin.get("/v1/catalogue", params={"page": "2"})
    assert error(none, 400).startswith("page: unknown query parameter; expected none")


def test_every_documented_route_takes_exactly_its_documented_query_parameters(
    admin: httpx.Client,
) -> None:
    document = admin.get("/v1/openapi.json").json()
    for path, item in document["paths"].items():
        if (
            "{" in path.replace("{campaign}", "")
            or not path.startswith("/v1/")
            or "webhooks" in path
        ):
            continue  # ids to make up; the webhook's query is the provider's; probes
        for method, operation in item.items():
            names = sorted(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
            url = path.replace("{campaign}", CAMPAIGN)
            answer = admin.request(method.upper(), url, params={"zz": "1"})
            takes = f"expected only {', '.join(names)}" if names else "expected none"
            assert answer.status_code == 400, (method, path, answer.text)
            assert takes in answer.json()["error"], (method, path, answer.text)


def test_an_empty_value_is_not_a_missing_one(admin: httpx.Client) -> None:
    base = f"/v1/campaigns/{CAMPAIGN}"
    bucket = admin.get(
        f"{base}/series", params={"channel": "email", "metrics": "sent", "bucket": ""}
    )
    assert "bucket: '' is unknown" in error(bucket, 400)
    assert error(admin.get(f"{base}/report", params={"tab": ""}), 404).startswith("tab ''")
    assert error(admin.get("/v1/returns/unattributed", params={"limit": ""}), 400).startswith(
        "limit:"
    )


def test_metrics_are_names_between_single_commas(admin: httpx.Client) -> None:
    base = f"/v1/campaigns/{CAMPAIGN}/series"
    for listed in ["", "sent,", ",sent", "sent,,delivered"]:
        refused = admin.get(base, params={"channel": "email", "metrics": listed})
        assert error(refused, 400).startswith("metrics:"), listed
    taken = admin.get(base, params={"channel": "email", "metrics": "sent,delivered"})
    assert taken.status_code == 200 and set(taken.json()["series"]) == {"sent", "delivered"}


# executions


@pytest.mark.parametrize(
    ("what", "params"),
    [
        ("totals", {"channel": "email"}),
        ("breakdown", {"channel": "email", "by": "recipient_domain"}),
        ("series", {"channel": "email", "metrics": "sent"}),
        ("report", {"tab": "email"}),
        ("export.csv", {"tab": "email"}),
        ("live", {"tab": "email"}),
    ],
)
def test_an_unknown_execution_is_refused_with_the_known_ones(
    admin: httpx.Client, what: str, params: dict[str, str]
) -> None:
    url = f"/v1/campaigns/{CAMPAIGN}/{what}"
    message = error(admin.get(url, params={**params, "execution": "noon"}), 400)
    assert message.startswith("execution: 'noon' has no events"), message
    assert "expected one of: evening, morning" in message
    if what != "live":  # a known one streams: not read here
        assert admin.get(url, params={**params, "execution": "evening"}).status_code == 200


# methods


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v1/layouts/email", {"GET", "HEAD", "PUT", "DELETE"}),
        ("/v1/bounce-rules", {"GET", "HEAD", "PUT"}),
        ("/v1/admin/users", {"GET", "HEAD", "POST"}),
        ("/v1/admin/keys", {"GET", "HEAD", "POST"}),
    ],
)
def test_allow_lists_every_method_of_a_path(srv: Server, path: str, methods: set[str]) -> None:
    response = httpx.options(f"{srv.url}{path}")
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == methods


# admin bodies


def test_a_user_change_needs_a_field_and_takes_what_it_says(admin: httpx.Client) -> None:
    user = admin.post(
        "/v1/admin/users", json={"email": email(), "role": "viewer", "password": "p" * 12}
    )
    url = f"/v1/admin/users/{user.json()['id']}"
    assert error(admin.patch(url, json={}), 400).startswith("nothing to change")
    assert admin.patch(url, json={"unlock": False}).status_code == 200
    assert error(admin.patch(url, json={"role": None}), 400).startswith(
        "Expected `str`, got `null`"
    )
    assert admin.patch(url, json={"role": "editor"}).json()["role"] == "editor"


def test_an_email_taken_is_a_conflict(admin: httpx.Client) -> None:
    taken = email()
    body = {"email": taken, "role": "viewer", "password": "p" * 12}
    assert admin.post("/v1/admin/users", json=body).status_code == 200
    assert "already exists" in error(admin.post("/v1/admin/users", json=body), 409)
    again = {"email": taken.upper(), "role": "viewer"}
    assert "already exists" in error(admin.post("/v1/admin/invites", json=again), 409)
    org = {"name": f"org-{uuid.uuid4().hex[:6]}", "admin_email": taken, "admin_password": "p" * 12}
    assert "already exists" in error(admin.post("/v1/admin/orgs", json=org), 409)


def test_an_org_name_taken_is_a_conflict_and_a_blank_one_is_refused(admin: httpx.Client) -> None:
    name = f"org-{uuid.uuid4().hex[:6]}"
    first = {"name": name, "admin_email": email(), "admin_password": "p" * 12}
    assert admin.post("/v1/admin/orgs", json=first).status_code == 200
    second = {**first, "admin_email": email()}
    assert "already exists" in error(admin.post("/v1/admin/orgs", json=second), 409)
    blank = {**first, "name": "\u3000 ", "admin_email": email()}
    assert error(admin.post("/v1/admin/orgs", json=blank), 400).startswith("name:")


@pytest.mark.parametrize(
    "address",
    [
        "ana",
        "ana@",
        "@example.com",
        "a na@example.com",
        "ana@exa\u00a0mple.com",
        "ana@example.com\n",
        "a@b@c",
    ],
)
def test_an_email_address_is_one_the_document_describes(admin: httpx.Client, address: str) -> None:
    body = {"email": address, "role": "viewer", "password": "p" * 12}
    assert error(admin.post("/v1/admin/users", json=body), 400).startswith("email:")


def test_whole_numbers_may_be_written_as_json_floats(admin: httpx.Client) -> None:
    """JSON Schema counts 30.0 as an integer: so does the API; 30.5 or null are not."""
    keys = "/v1/admin/keys"
    assert admin.post(keys, json={"scopes": ["read"], "expires_in_days": 30.0}).status_code == 200
    assert "expires_in_days" in error(
        admin.post(keys, json={"scopes": ["read"], "expires_in_days": 30.5}), 400
    )
    assert error(admin.post(keys, json={"scopes": ["read"], "expires_in_days": None}), 400)
    invite = {"email": email(), "role": "viewer", "days": 7.0}
    assert admin.post("/v1/admin/invites", json=invite).status_code == 200
    rules = [{"name": "full", "reason": "Mailbox full", "category": "soft", "code": 552.0}]
    table = admin.put("/v1/bounce-rules", json={"rules": rules, "version": 0.0})
    assert table.status_code == 200, table.text
    assert table.json()["rules"][0]["code"] == 552


def test_a_password_reset_takes_a_password_or_none_not_null(admin: httpx.Client) -> None:
    user = admin.post(
        "/v1/admin/users", json={"email": email(), "role": "viewer", "password": "p" * 12}
    )
    url = f"/v1/admin/users/{user.json()['id']}/password"
    assert error(admin.post(url, json={"password": None}), 400).startswith("Expected `str`")
    assert admin.post(url, json={}).json()["generated"] is True


def test_an_invitation_whose_email_was_taken_since_is_a_conflict(admin: httpx.Client) -> None:
    invited = email()
    token = admin.post("/v1/admin/invites", json={"email": invited, "role": "viewer"}).json()[
        "token"
    ]
    made = admin.post(
        "/v1/admin/users", json={"email": invited, "role": "viewer", "password": "p" * 12}
    )
    assert made.status_code == 200
    accepted = admin.post("/v1/invites/accept", json={"token": token, "password": "q" * 12})
    assert "already exists" in error(accepted, 409)


# credentials


def test_sign_in_names_the_missing_header(srv: Server) -> None:
    body = {"email": "nobody@example.com", "password": "whatever-1"}
    refused = httpx.post(f"{srv.url}/v1/signin", json=body)
    message = error(refused, 403)
    assert message.startswith("the X-Requested-With header is missing;"), message
    assert "X-Requested-With: livereport" in message
    wrong = httpx.post(f"{srv.url}/v1/signin", json=body, headers={"X-Requested-With": "xhr"})
    assert error(wrong, 403).startswith("the X-Requested-With header is 'xhr', not 'livereport'")


def test_a_missing_or_malformed_authorization_is_named(srv: Server) -> None:
    events = f"{srv.url}/v1/events"
    missing = httpx.post(events, json=[])
    assert error(missing, 401).startswith("the Authorization header is missing;")
    basic = httpx.post(events, json=[], headers={"Authorization": "Basic YTpi"})
    assert error(basic, 401).startswith("the Authorization header is not a bearer key;")
    reading = httpx.get(f"{srv.url}/v1/campaigns")
    message = error(reading, 401)
    assert "Authorization header" in message and "livereport_session cookie" in message
