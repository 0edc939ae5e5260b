"""A hypothesis-driven run over the OpenAPI document (what schemathesis does): every
operation is called with generated path and query values, bodies and credentials. No
answer is a 5xx; each has a documented status, the documented media type, and JSON that
matches the documented schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from tenants import ADMIN_A, CSRF, Tenants, event, send, start_tenants

CAMPAIGN = "run/over the api"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    env = {"LIVEREPORT_KEY_REQUESTS_PER_S": "0", "LIVEREPORT_SIGNIN_MAX_FAILURES": "100000"}
    tenants = start_tenants(tmp_path_factory.mktemp("openapi") / "data", env)
    with tenants.key_client("a") as client:
        send(client, [event(CAMPAIGN, t) for t in ("sent", "delivered", "open", "click")])
    try:
        yield tenants
    finally:
        tenants.server.stop()


@pytest.fixture(scope="module")
def document(site: Tenants) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{site.url}/v1/openapi.json").json()
    return found


def _resolve(node: Any, root: dict[str, Any]) -> Any:
    """The schema with its local ``$ref``s replaced by what they point at."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(target, root)
        return {k: _resolve(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, root) for v in node]
    return node


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, _resolve(operation, document))
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _value(schema: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
    """Values for a schema (and a property name): mostly valid ones, sometimes anything."""
    anything = st.text(max_size=30) | st.integers() | st.none() | st.booleans()
    if "enum" in schema:
        valid: st.SearchStrategy[Any] = st.sampled_from(schema["enum"])
    elif schema.get("type") == "integer":
        valid = st.integers(schema.get("minimum", -(10**6)), schema.get("maximum", 10**6))
    elif schema.get("type") == "boolean":
        valid = st.booleans()
    elif schema.get("type") == "array":
        valid = st.lists(_value(schema.get("items", {})), max_size=3)
    elif schema.get("type") == "object":
        valid = st.fixed_dictionaries(
            {
                name: _value(sub, name)
                for name, sub in schema.get("properties", {}).items()
                if name in schema.get("required", [])
            },
            optional={
                name: _value(sub, name)
                for name, sub in schema.get("properties", {}).items()
                if name not in schema.get("required", [])
            },
        )
    elif name.endswith("email"):
        valid = st.emails()
    else:
        valid = st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 40))
    return st.one_of(valid, valid, valid, anything)


def _path_value(name: str, schema: dict[str, Any]) -> st.SearchStrategy[str]:
    known = {
        "campaign": [CAMPAIGN, "unknown-campaign"],
        "tab": ["campaign", "email", "nope"],
        "provider": ["mailgun", "ses", "nope"],
    }.get(name, ["999"])
    # No real user or key id: the run must not disable its own admin or revoke its own keys.
    return (
        st.sampled_from(known[:1])
        | st.sampled_from(known)
        | st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20)
    )


@st.composite
def calls(draw: st.DrawFn, operations: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    method, template, operation = draw(st.sampled_from(operations))
    path, query = template, {}
    for p in operation.get("parameters", []):
        if p["in"] == "path":
            path = path.replace(
                "{" + p["name"] + "}", quote(draw(_path_value(p["name"], p["schema"])), safe="")
            )
        elif p["in"] == "query" and (p.get("required") or draw(st.booleans())):
            value = (
                draw(st.sampled_from(["sent", "delivered,open_rate"]))
                if p["name"] == "metrics" and draw(st.integers(0, 3))
                else draw(_value(p["schema"]))
            )
            # Now and then a required one is missing (hypothesis prefers 0: "present").
            if value is not None and draw(st.integers(0, 9)) < 9:
                query[p["name"]] = str(value).lower() if isinstance(value, bool) else str(value)
    body, media = None, None
    content = (operation.get("requestBody") or {}).get("content", {})
    if content:
        media = draw(st.sampled_from(sorted(content)))
        schema = content[media].get("schema", {})
        if media == "application/json" and schema:
            body = json.dumps(draw(_value(schema))).encode()
        else:
            body = draw(st.binary(max_size=300))
    elif method in ("post", "put"):
        media, body = "application/json", json.dumps(draw(_value({"type": "object"}))).encode()
    credential = draw(
        st.sampled_from(["a_admin"] * 3 + ["session"] * 3 + ["none", "a", "b", "bogus"])
    )
    return {
        "method": method,
        "template": template,
        "path": path,
        "query": query,
        "body": body,
        "media": media,
        "credential": credential,
    }


def _check(call: dict[str, Any], operation: dict[str, Any], response: httpx.Response) -> None:
    where = f"{call['method'].upper()} {call['path']} {call['query']} → {response.status_code}"
    assert response.status_code < 500, f"{where}: {response.text[:300]}"
    documented = operation["responses"].get(str(response.status_code)) or operation[
        "responses"
    ].get("default")
    assert documented is not None, f"{where}: status not in the document"
    media = response.headers.get("content-type", "").split(";")[0].strip()
    content = documented.get("content")
    if not content:
        return
    assert media in content, f"{where}: {media} is not one of {list(content)}"
    schema = content[media].get("schema")
    if media == "application/json" and schema:
        errors = list(Draft202012Validator(schema).iter_errors(response.json()))
        assert not errors, f"{where}: {errors[0].message} at {list(errors[0].path)}"


def test_every_operation_answers_as_documented(site: Tenants, document: dict[str, Any]) -> None:
    operations = _operations(document)
    headers = {
        "none": {},
        "bogus": {"Authorization": "Bearer lr_not-a-key"},
        **{name: {"Authorization": f"Bearer {site.keys[name]}"} for name in ("a", "a_admin", "b")},
    }
    with site.signed_in(ADMIN_A) as session, httpx.Client(base_url=site.url, timeout=60) as plain:
        # derandomize: the same calls on every run, so CI stays reproducible.
        @settings(
            max_examples=600,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(calls(operations))
        def run(call: dict[str, Any]) -> None:
            if call["template"] == "/v1/signout" and call["credential"] == "session":
                call["credential"] = "none"  # signing out would end the run's session
            client = session if call["credential"] == "session" else plain
            extra = {} if call["credential"] == "session" else headers[call["credential"]]
            if call["media"]:
                extra = {**extra, "Content-Type": call["media"]}
            if call["credential"] == "session" and call["method"] != "get":
                extra = {**extra, **CSRF}
            request = client.build_request(
                call["method"].upper(),
                call["path"],
                params=call["query"],
                content=call["body"],
                headers=extra,
            )
            response = client.send(request, stream=True)
            try:
                if response.headers.get("content-type", "").startswith("text/event-stream"):
                    response.close()  # a live stream: its start is what can be checked
                else:
                    response.read()
                _check(call, dict(operations_by[(call["method"], call["template"])]), response)
                seen.setdefault((call["method"], call["template"]), set()).add(response.status_code)
            finally:
                response.close()

        operations_by = {(m, t): op for m, t, op in operations}
        seen: dict[tuple[str, str], set[int]] = {}
        run()
    # The run reached every operation, and got past the guards of most of them.
    assert set(seen) == set(operations_by), set(operations_by) - set(seen)
    succeeded = [op for op, statuses in seen.items() if any(s < 300 for s in statuses)]
    assert len(succeeded) >= len(seen) // 2, sorted(set(seen) - set(succeeded))
