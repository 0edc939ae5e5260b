"""A real OpenAPI client against a real served instance (issue 16): schemathesis reads
/v1/openapi.json, makes requests of every operation from it, valid ones and invalid ones, with
every check it has, and each answer must be what the document promises: a request valid by
the document is not refused, an invalid one is, the status, the headers and the body are the
documented ones, and `Allow` lists the documented methods.

A fixed seed and a bounded number of examples make the run the same every time, in a couple of
minutes. What a client cannot learn from a document alone, this test tells it, as any client
of the API would be told: ids that exist (a campaign with events, an execution of it, a
bounce, a user and a key to change), and the few limits of the document (docs/api.md,
"What the document cannot say"), each excluded below with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conftest import Server, post, start_app

SEED = 16
EXAMPLES = 50
#: A run takes one to three minutes; far more means something hangs (a stream read too long).
TIMEOUT_S = 900
CAMPAIGN = "st-campaign"
EXECUTIONS = ("run-1", "run-2")
HOOKS = Path(__file__).resolve().parent / "schemathesis_hooks.py"

#: Checks switched off for one operation, each for a limit of what OpenAPI 3.1 can say
#: (docs/api.md, "What the document cannot say"), never for a problem of the API.
LIMITS = [
    # A valid request may be refused for a value that depends on another parameter, which
    # a document cannot relate: metrics of the channel, a dimension of the channel, a widget
    # of the tab.
    ("GET", "/v1/campaigns/{campaign}/series", "positive_data_acceptance"),
    ("GET", "/v1/campaigns/{campaign}/breakdown", "positive_data_acceptance"),
    ("GET", "/v1/campaigns/{campaign}/export.csv", "positive_data_acceptance"),
    # A compared rate must be one of the channel's, and a control one of the campaign's
    # variants in the period.
    ("GET", "/v1/campaigns/{campaign}/variants", "positive_data_acceptance"),
    # A period is `period` or `from` (with `to` after it), whole minutes within the
    # retention and not in the future: relations between parameters and the clock.
    ("GET", "/v1/campaigns/{campaign}/totals", "positive_data_acceptance"),
    ("GET", "/v1/campaigns/{campaign}/report", "positive_data_acceptance"),
    ("GET", "/v1/campaigns/{campaign}/live", "positive_data_acceptance"),
    ("GET", "/v1/campaigns", "positive_data_acceptance"),
    ("GET", "/v1/totals", "positive_data_acceptance"),
    # Rule names are unique within a table, and a pattern must be a regular expression that
    # runs fast: JSON Schema has no keyword for either.
    ("PUT", "/v1/bounce-rules", "positive_data_acceptance"),
    # An alert rule's metric must apply to its channel and its dimension to its metric, ids
    # are unique, and targets must be http(s) URLs or addresses outside private networks
    # (as must an SMTP server): relations and lookups a schema cannot state.
    ("PUT", "/v1/alert-rules", "positive_data_acceptance"),
    ("PUT", "/v1/alert-smtp", "positive_data_acceptance"),
]


def _seed(server: Server, key: str) -> dict[str, str]:
    """Events of a campaign (two executions, a bounce), a user and a spare key: the values
    the client is given for the path and query parameters that name something that exists."""
    now = datetime.now(UTC).isoformat()

    def event(type_: str, channel: str | None, **fields: Any) -> dict[str, Any]:
        return {
            "id": uuid.uuid4().hex,
            "time": now,
            "campaign": CAMPAIGN,
            "type": type_,
            "profile": f"p-{uuid.uuid4().hex[:6]}",
            **({"channel": channel} if channel else {}),
            **fields,
        }

    bounce = event(
        "bounce",
        "email",
        execution=EXECUTIONS[0],
        smtp={"status": "5.1.1", "code": 550, "diagnostic": "no such user"},
    )
    with server.client(key) as client:
        events = [
            event("entered", None, execution=EXECUTIONS[0]),
            event("sent", "email", execution=EXECUTIONS[0], variant="A"),
            event("delivered", "email", execution=EXECUTIONS[1], variant="B"),
            event("sent", "sms", execution=EXECUTIONS[0]),
            event("impression", "inapp"),
            bounce,
        ]
        assert post(client, events)["accepted"] == len(events)
        user = client.post(
            "/v1/admin/users",
            json={
                "email": "st-user@example.com",
                "role": "viewer",
                "password": "st-password-1",
            },
        )
        spare = client.post("/v1/admin/keys", json={"scopes": ["read"], "name": "st-spare"})
    assert user.status_code == 200 and spare.status_code == 200, (user.text, spare.text)
    return {"bounce": bounce["id"], "user": str(user.json()["id"]), "key": str(spare.json()["id"])}


def _config(ids: dict[str, str]) -> str:
    """schemathesis.toml: the existing ids, the stream's length, the limits."""
    campaign_paths = "^/v1/campaigns/\\\\{campaign\\\\}/(totals|breakdown|series|variants|report|live|export\\\\.csv)$"
    text = f"""
[generation]
database = "none"

[[operations]]
include-path-regex = "{campaign_paths}"
parameters = {{ campaign = "{CAMPAIGN}", execution = "{EXECUTIONS[0]}" }}

[[operations]]
include-path = "/v1/campaigns/{{campaign}}/bounces/{{event_id}}"
parameters = {{ campaign = "{CAMPAIGN}", event_id = "{ids["bounce"]}" }}

[[operations]]
include-path-regex = "^/v1/admin/users/\\\\{{user_id\\\\}}"
parameters = {{ user_id = "{ids["user"]}" }}

# Not the key this run uses: revoking that one would end the run. The fixed id also replaces
# the one a stateful link from POST /v1/admin/keys carries, so the check that the key just
# made can be revoked would revoke the spare key again (404): that check is off here.
[[operations]]
include-path = "/v1/admin/keys/{{key_id}}"
parameters = {{ key_id = "{ids["key"]}" }}
phases.stateful.checks.ensure_resource_availability.enabled = false

# The stream does not end: read its first event (the report), no more.
[[operations]]
include-path = "/v1/campaigns/{{campaign}}/live"
max-stream-events = 1

# Events are checked one by one: an invalid item is answered 200 with the item in
# `rejected`, and the others are stored (the document says so); only a body that cannot be
# read as a whole is refused.
[[operations]]
include-name = "POST /v1/events"
checks.negative_data_rejection.expected-statuses = [200, 400, 413, 415]
"""
    for method, path, check in LIMITS:
        text += f"""
[[operations]]
include-name = "{method} {path}"
checks.{check}.enabled = false
"""
    return text


def test_schemathesis_finds_no_difference_between_the_document_and_the_api(
    tmp_path: Path,
) -> None:
    # Rate limits and sign-in throttles would answer 429 to most of a fast client's requests
    # and hide the rest of the API from it.
    server = start_app(
        tmp_path / "data",
        {
            "LIVEREPORT_KEY_REQUESTS_PER_S": "0",
            "LIVEREPORT_SIGNIN_MAX_FAILURES": "100000",
            "LIVEREPORT_SIGNIN_LOCK_AFTER": "100000",
        },
    )
    try:
        key = server.key("admin", "read", "ingest")
        ids = _seed(server, key)
        config = tmp_path / "schemathesis.toml"
        config.write_text(_config(ids))
        st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
        hooks_path = os.pathsep.join(
            p for p in (str(HOOKS.parent), os.environ.get("PYTHONPATH", "")) if p
        )
        # Every check runs: that is schemathesis's default (`--checks all` on the command line
        # would also override the per-operation settings of the config file).
        result = subprocess.run(
            [
                st,
                "--config-file",
                str(config),
                "run",
                f"{server.url}/v1/openapi.json",
                "--seed",
                str(SEED),
                "--max-examples",
                str(EXAMPLES),
                "--workers",
                "1",
                "--no-color",
                "-H",
                f"Authorization: Bearer {key}",
                "-H",
                "X-Requested-With: livereport",
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": HOOKS.stem, "PYTHONPATH": hooks_path},
        )
        # The run's own key still works: the run was not cut short by a revocation.
        with server.client(key) as client:
            assert client.get("/v1/campaigns").status_code == 200
    finally:
        server.stop()
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    # Warnings may stay (operations only a browser session reaches answer 401 or 403 here).
    assert "FAILURES" not in report and "ERRORS" not in report, report
