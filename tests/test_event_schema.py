"""The event schema of /v1/openapi.json is the contract the server applies (events.py): the
same fields, types, limits and choices, and on a real server the same verdict on every
sample; and the examples of docs/events.md and the README work as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from jsonschema import Draft202012Validator

from conftest import Server, start_app
from livereport.events import (
    MATRIX,
    PLATFORM_ALIASES,
    Bounce,
    Channel,
    EventType,
    IncomingEvent,
    Interaction,
    Platform,
)

ROOT = Path(__file__).resolve().parent.parent
MI = msgspec.inspect
#: The JSON type of each msgspec type an event field may have.
JSON_TYPE = {
    MI.StrType: "string",
    MI.IntType: "integer",
    MI.BoolType: "boolean",
    MI.NoneType: "null",
    MI.StructType: "object",
}
CHOICES: dict[str, set[str]] = {
    "type": {t.value for t in EventType},
    "channel": {c.value for c in Channel},
    "bounce": {b.value for b in Bounce},
    "platform": {p.value for p in Platform} | set(PLATFORM_ALIASES),
    "interaction": {i.value for i in Interaction},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server of this module's own: the examples use fixed ids."""
    srv = start_app(tmp_path_factory.mktemp("event-schema") / "data")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def document(site: Server) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"{site.url}/v1/openapi.json").json()
    return found


@pytest.fixture(scope="module")
def validator(document: dict[str, Any]) -> Draft202012Validator:
    """Validates one event by the served Event schema (its $refs resolved in the document)."""
    schema = {"$ref": "#/components/schemas/Event", "components": document["components"]}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _branches(prop: dict[str, Any], document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A property's schema by JSON type (a $ref is the object it points at)."""
    found = {}
    for branch in prop.get("anyOf", [prop]):
        if "$ref" in branch:
            branch = document["components"]["schemas"][branch["$ref"].rsplit("/", 1)[1]]
        found[branch["type"]] = branch
    return found


def _check_struct(struct: MI.StructType, schema: dict[str, Any], document: dict[str, Any]) -> None:
    """Every field of the struct is a property of the schema with its types and limits."""
    assert set(schema["properties"]) == {f.encode_name for f in struct.fields}
    assert set(schema["required"]) == {f.encode_name for f in struct.fields if f.required}
    for f in struct.fields:
        prop = schema["properties"][f.encode_name]
        assert prop.get("description"), f"{f.name} has no description"
        types = f.type.types if isinstance(f.type, MI.UnionType) else (f.type,)
        branches = _branches(prop, document)
        assert set(branches) == {JSON_TYPE[type(t)] for t in types}, f.name
        for t in types:
            branch = branches[JSON_TYPE[type(t)]]
            if isinstance(t, MI.StrType):
                assert branch.get("maxLength") == t.max_length, f.name
                assert branch.get("minLength") == t.min_length, f.name
                assert t.pattern is None or "pattern" in branch, f.name
                if f.name in CHOICES:
                    assert set(branch["enum"]) == CHOICES[f.name], f.name
            elif isinstance(t, MI.IntType):
                assert (branch.get("minimum"), branch.get("maximum")) == (t.ge, t.le), f.name
            elif isinstance(t, MI.StructType):
                _check_struct(t, branch, document)


def test_the_event_schema_has_every_field_of_the_struct(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    incoming = MI.type_info(IncomingEvent)
    assert isinstance(incoming, MI.StructType)
    _check_struct(incoming, schemas["Event"], document)
    body = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["items"] == {"$ref": "#/components/schemas/Event"}
    assert "application/x-ndjson" in body


def test_the_event_schema_states_the_channel_matrix(document: dict[str, Any]) -> None:
    matrix = {
        rule["if"]["properties"]["type"]["const"]: set(
            rule["then"]["properties"]["channel"]["enum"]
        )
        for rule in document["components"]["schemas"]["Event"]["allOf"]
    }
    assert matrix == {t.value: {c.value for c in chans} for t, chans in MATRIX.items() if chans}


def test_the_answers_of_post_events_are_described(document: dict[str, Any]) -> None:
    responses = document["paths"]["/v1/events"]["post"]["responses"]
    assert {"200", "400", "401", "403", "413", "415", "429", "503"} <= set(responses)
    result = document["components"]["schemas"]["IngestResult"]
    assert set(result["required"]) == {"accepted", "duplicates", "rejected"}
    assert set(result["properties"]["rejected"]["items"]["required"]) == {"index", "id", "errors"}


def _samples() -> list[tuple[dict[str, Any], str | None]]:
    """Events, each with the field a server should name when it refuses it (None: none)."""
    now = datetime.now(UTC).isoformat()
    run = uuid.uuid4().hex[:8]
    count = iter(range(10**6))

    def ev(**fields: Any) -> dict[str, Any]:
        base = {
            "id": f"schema-{run}-{next(count)}",
            "time": now,
            "campaign": f"schema-{run}",
            "channel": "email",
            "type": "sent",
            "profile": "p-1",
        }
        return {k: v for k, v in {**base, **fields}.items() if v is not None}

    found: list[tuple[dict[str, Any], str | None]] = []
    # Every type on every channel (and on none, on an unknown one): the matrix. (`entered`
    # ignores its channel, even an unknown one, which the schema does not allow.)
    for kind in [*CHOICES["type"], "opened"]:
        for channel in [*CHOICES["channel"], None, "fax"]:
            if (kind, channel) != ("entered", "fax"):
                known = kind != "opened"
                at_fault = "channel" if known and channel in (None, "fax") else "type"
                found.append((ev(type=kind, channel=channel), at_fault))
    # Every choice of every enumerated field, and a value outside them.
    for name in ("bounce", "platform", "interaction"):
        found += [(ev(**{name: value}), None) for value in CHOICES[name]]
        found.append((ev(**{name: "nope"}), name))
    # Every required field missing; strings at their longest, then one character longer.
    found += [(ev(**{name: None}), name) for name in ("id", "time", "campaign", "type", "profile")]
    for name, longest in [
        ("id", 128),
        ("campaign", 128),
        ("profile", 256),
        ("execution", 64),
        ("variant", 64),
        ("reason", 256),
        ("code", 64),
        ("element", 256),
        ("url", 2048),
        ("user_agent", 512),
    ]:
        found.append((ev(**{name: "é" * longest}), None))
        found.append((ev(**{name: "é" * (longest + 1)}), name))
    found += [
        (ev(id="a\x01b"), "id"),
        (ev(campaign=""), "campaign"),
        (ev(time=int(datetime.now(UTC).timestamp() * 1000)), None),
        (ev(time=1.5), "time"),
        (ev(machine=True, recipient="ana@example.com", execution=None), None),
        (ev(machine="yes"), "machine"),
        (
            ev(type="bounce", smtp={"status": "5.1.1", "code": 550, "diagnostic": "user unknown"}),
            None,
        ),
        (ev(type="bounce", smtp={"status": "550"}), "smtp.status"),
        (ev(type="bounce", smtp={"code": 600}), "smtp.code"),
        (ev(type="bounce", smtp={"code": "550"}), "smtp.code"),
        (ev(type="entered", channel=None), None),
        # The client's address of an open or click: IPv4 or IPv6 in any written form.
        (ev(type="open", ip="192.0.2.7"), None),
        (ev(type="click", url="https://x.example/", ip="2001:db8::7"), None),
        (ev(type="open", ip="::ffff:192.0.2.7"), None),
        (ev(type="open", ip="2001:0db8:0000:0000:0000:ff00:0042:8329"), None),
        (ev(type="open", ip="1:2:3:4:5:6:7::"), None),
        (ev(type="open", ip="not-an-ip"), "ip"),
        (ev(type="open", ip="256.1.1.1"), "ip"),
        (ev(type="open", ip="01.2.3.4"), "ip"),
        (ev(type="open", ip="1:2:3:4::5:6:7:8"), "ip"),
        (ev(type="open", ip="fe80::1%eth0"), "ip"),
        (ev(type="open", ip="1" * 46), "ip"),
        (ev(type="open", ip=7), "ip"),
    ]
    return found


def test_the_server_accepts_what_the_schema_allows_and_no_more(
    site: Server, validator: Draft202012Validator
) -> None:
    samples = _samples()
    verdicts = [validator.is_valid(e) for e, _ in samples]
    assert sum(verdicts) > 50 and len(samples) - sum(verdicts) > 50  # many of each
    with site.client(site.key("ingest")) as client:
        answer = client.post("/v1/events", json=[e for e, _ in samples]).json()
    refused = {r["index"]: r["errors"] for r in answer["rejected"]}
    for index, ((event, field), valid) in enumerate(zip(samples, verdicts, strict=True)):
        assert (index not in refused) == valid, (event, refused.get(index))
        if not valid and field is not None:
            assert any(e.startswith(f"{field}:") for e in refused[index]), (field, refused[index])
    assert answer["accepted"] == sum(verdicts)


def _expected_answers(script: str) -> list[Any]:
    return [json.loads(line[2:]) for line in script.splitlines() if line.startswith("# {")]


def _run(script: str, env: dict[str, str]) -> list[Any]:
    """Run a shell snippet as a user would paste it; its answers, one JSON document a line."""
    for tool in ("bash", "curl", "gzip"):  # what the README expects a user to have
        assert shutil.which(tool) is not None, (
            f"{tool} is not installed; the README's examples need it"
        )
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", markdown, re.S)


def test_the_readme_example_works_as_written(site: Server) -> None:
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("\n## Sending events", 1)[1]
    script = _shell_blocks(section)[0]
    assert not re.search(r"\d{4}-\d\d-\d\dT", script), "a fixed time leaves the window"
    script = script.replace("http://127.0.0.1:8000", site.url)
    if not (ROOT / ".venv" / "bin" / "livereport").exists():
        script = script.replace(".venv/bin/livereport", f"{sys.executable} -m livereport")
    expected = _expected_answers(script)
    assert expected == [{"accepted": 1, "duplicates": 0, "rejected": []}]
    assert _run(script, {"LIVEREPORT_DATA": str(site.data)}) == expected


def test_the_examples_of_the_event_page_work_as_written(site: Server) -> None:
    page = (ROOT / "docs" / "events.md").read_text(encoding="utf-8").split("\n## Examples", 1)[1]
    script = "\n".join(_shell_blocks(page)).replace("http://127.0.0.1:8000", site.url)
    expected = _expected_answers(script)
    assert len(expected) >= 7  # one per channel and the campaign level, at least
    assert _run(script, {"KEY": site.key("ingest")}) == expected
