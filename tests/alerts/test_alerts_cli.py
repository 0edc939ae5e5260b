"""`livereport alerts …` in child processes: through a running server's API (--url and an
admin key, or the server found in the data directory), and on a data directory no server
runs on; the same rules, alerts and secret either way."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from alerts.alert_receivers import Receiver, http_receiver, wait_for
from conftest import Server, cli, post

PRIVATE = {"LIVEREPORT_ALERT_PRIVATE_TARGETS": "1"}


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with http_receiver() as found:
        yield found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("alerts-cli") / "data", env=dict(PRIVATE)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def admin_key(served: Server) -> str:
    return served.key("ingest", "read", "admin")


@pytest.fixture(scope="module")
def admin(served: Server, admin_key: str) -> Iterator[httpx.Client]:
    with served.client(admin_key) as client:
        yield client


def alerts(
    *args: str, srv: Server, key: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`livereport alerts ARGS` through the server's API with ``key``, else on its data
    directory (through the server found there, or its metadata)."""
    remote = ("--url", srv.url, "--key", key) if key else ()
    return cli("alerts", *args, *remote, data=srv.data, check=check)


def errors(campaign: str, n: int) -> list[dict[str, Any]]:
    when = (datetime.now(UTC) - timedelta(seconds=5)).isoformat().replace("+00:00", "Z")
    return [
        {
            "id": f"{campaign}-{i}",
            "time": when,
            "campaign": campaign,
            "type": "error",
            "channel": "email",
            "profile": f"p-{i}",
            "reason": "Template failed",
        }
        for i in range(n)
    ]


def error_rule(rule_id: str, campaign: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": rule_id,
        "metric": "errors",
        "channel": "email",
        "above": 2,
        "span_minutes": 5,
        "min_volume": 0,
        "severity": "warning",
        "campaign": campaign,
        **extra,
    }


def write(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def fits(text: str, width: int = 80) -> None:
    assert "…" not in text, text
    assert max(len(line) for line in text.splitlines()) <= width, text


def firing(client: httpx.Client, campaign: str, count: int = 1) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = client.get(
            "/v1/alerts", params={"campaign": campaign, "state": "firing"}
        ).json()
        return listed if len(listed) >= count else []

    result: list[dict[str, Any]] = wait_for(found, f"{count} alerts of {campaign}")
    return result


def delivered(srv: Server, alert_id: int, key: str | None) -> list[dict[str, Any]]:
    """The alert's delivered notifications, as `alerts deliveries --json` lists them."""
    log = json.loads(
        alerts("deliveries", "--alert", str(alert_id), "--json", srv=srv, key=key).stdout
    )
    return [d for d in log if d["state"] == "delivered"]


def test_rules_set_and_show_round_trip(
    served: Server, admin_key: str, admin: httpx.Client, receiver: Receiver, tmp_path: Path
) -> None:
    rules = [
        {
            "id": "bounces",
            "metric": "hard_bounce_rate",
            "channel": "email",
            "above": 0.05,
            "span_minutes": 15,
            "min_volume": 200,
            "severity": "critical",
            "notify": [
                {"webhook": f"{receiver.url}/hook"},
                {"slack": f"{receiver.url}/slack"},
                {"email": "ops@example.com"},
            ],
            "pause": {"url": f"{receiver.url}/pause", "secret": "p" * 20},
        },
        {
            "id": "domains",
            "metric": "bounce_rate",
            "channel": "email",
            "above": 0.2,
            "dimension": "recipient_domain",
            "span_minutes": 15,
            "min_volume": 100,
            "severity": "warning",
            "baseline_minutes": 60,
        },
    ]
    alerts("rules", "set", str(write(tmp_path / "rules.json", rules)), srv=served, key=admin_key)
    shown = json.loads(alerts("rules", "show", "--json", srv=served, key=admin_key).stdout)
    assert shown == admin.get("/v1/alert-rules").json()
    assert [r["id"] for r in shown] == ["bounces", "domains"]
    assert shown[0]["notify"] == rules[0]["notify"] and shown[0]["pause"] == rules[0]["pause"]

    # What `show --json` prints, `set` takes back unchanged; on the metadata too.
    again = write(tmp_path / "shown.json", shown)
    alerts("rules", "set", str(again), srv=served)
    assert json.loads(alerts("rules", "show", "--json", srv=served).stdout) == shown
    assert admin.get("/v1/alert-rules").json() == shown

    table = alerts("rules", "show", srv=served)
    fits(table.stdout)
    assert "bounces" in table.stdout and "above 5%" in table.stdout
    assert "2 alert rules" in table.stderr


def test_a_bad_rules_file_fails_with_the_api_message(
    served: Server, admin_key: str, admin: httpx.Client, tmp_path: Path
) -> None:
    before = admin.get("/v1/alert-rules").json()
    bad = write(
        tmp_path / "bad.json",
        [{"id": "bad", "metric": "bounce_rate", "channel": "email", "above": 1.5}],
    )
    api = admin.put("/v1/alert-rules", json=json.loads(bad.read_text())).json()["error"]
    for key in (admin_key, None):
        failed = alerts("rules", "set", str(bad), srv=served, key=key, check=False)
        assert failed.returncode == 1, failed.stderr
        assert failed.stderr.strip() == f"livereport: {api}"
        assert "rule 0 ('bad')" in api and "could never be exceeded" in api
    not_json = tmp_path / "not.json"
    not_json.write_text("[{", encoding="utf-8")
    failed = alerts("rules", "set", str(not_json), srv=served, check=False)
    assert failed.returncode == 1 and "expected a JSON list of alert rules" in failed.stderr
    assert admin.get("/v1/alert-rules").json() == before
    usage = alerts("rules", "show", "--org", "default", srv=served, key=admin_key, check=False)
    assert usage.returncode == 2 and "leave --org out" in usage.stderr


def test_list_and_acknowledge_alerts(
    served: Server, admin_key: str, admin: httpx.Client, receiver: Receiver
) -> None:
    campaign = f"cli-ack-{secrets.token_hex(3)}"
    hook = f"/hook/{campaign}"
    assert (
        admin.put(
            "/v1/alert-rules",
            json=[
                error_rule("errors-a", campaign, notify=[{"webhook": receiver.url + hook}]),
                error_rule("errors-b", campaign, above=1, severity="critical"),
            ],
        ).status_code
        == 200
    )
    post(admin, errors(campaign, 3))
    api = sorted(firing(admin, campaign, 2), key=lambda a: a["rule"])

    # Listing reads through the server running on the data directory (with its local key).
    listed = json.loads(alerts("list", "--campaign", campaign, "--json", srv=served).stdout)
    assert sorted(listed, key=lambda a: a["rule"]) == api
    assert (
        json.loads(
            alerts(
                "list", "--campaign", campaign, "--state", "resolved", "--json", srv=served
            ).stdout
        )
        == []
    )
    table = alerts("list", "--campaign", campaign, srv=served).stdout
    fits(table)
    assert "errors-a" in table and "warning" in table and "firing" in table

    # Through the API an admin key acknowledges; on the metadata, the command line does.
    first, second = api
    acked = alerts("ack", str(first["id"]), srv=served, key=admin_key).stdout
    assert f"alert {first['id']}" in acked and "acknowledged by key " in acked
    assert "acknowledged by cli" in alerts("ack", str(second["id"]), srv=served).stdout
    by = {
        a["rule"]: a["acknowledged_by"]
        for a in admin.get("/v1/alerts", params={"campaign": campaign}).json()
    }
    assert by["errors-a"].startswith("key ") and by["errors-b"] == "cli"
    audit = admin.get("/v1/admin/audit").json()
    entries = audit["entries"] if isinstance(audit, dict) else audit
    assert any(
        e["action"] == "alert.ack" and e["target"] == f"alert {second['id']}" for e in entries
    )
    missing = alerts("ack", "999999", srv=served, key=admin_key, check=False)
    assert missing.returncode == 1 and "no alert 999999" in missing.stderr

    # The notification of errors-a is in the delivery log, either way.
    wait_for(lambda: receiver.at(hook), "the webhook of errors-a")
    for key in (admin_key, None):
        log = wait_for(
            lambda key=key: delivered(served, first["id"], key), "the delivered notification"
        )
        assert (log[0]["event"], log[0]["kind"], log[0]["target"]) == (
            "fired",
            "webhook",
            receiver.url + hook,
        )
    fits(alerts("deliveries", srv=served).stdout)


def test_secret_prints_the_api_secret(served: Server, admin_key: str, admin: httpx.Client) -> None:
    secret = admin.get("/v1/alert-secret").json()["secret"]
    assert alerts("secret", srv=served).stdout == secret + "\n"
    assert alerts("secret", srv=served, key=admin_key).stdout == secret + "\n"
    rotated = alerts("secret", "--rotate", srv=served, key=admin_key).stdout.strip()
    assert rotated != secret and admin.get("/v1/alert-secret").json()["secret"] == rotated
    local = alerts("secret", "--rotate", srv=served).stdout.strip()
    assert local != rotated and admin.get("/v1/alert-secret").json()["secret"] == local
    refused = alerts("secret", srv=served, key=served.key("read"), check=False)
    assert refused.returncode == 1 and "key refused" in refused.stderr


def test_the_test_command_sends_a_sample_to_each_target(
    served: Server, admin_key: str, admin: httpx.Client, receiver: Receiver
) -> None:
    campaign = f"cli-sample-{secrets.token_hex(3)}"
    ok, failing = f"/sample/{campaign}", f"/fail-99/{campaign}"
    assert (
        admin.put(
            "/v1/alert-rules",
            json=[
                error_rule("sample", campaign, notify=[{"webhook": receiver.url + ok}]),
                error_rule(
                    "mixed",
                    campaign,
                    notify=[{"webhook": receiver.url + ok}, {"webhook": receiver.url + failing}],
                ),
            ],
        ).status_code
        == 200
    )
    secret = admin.get("/v1/alert-secret").json()["secret"]
    for key in (admin_key, None):
        sent = alerts("test", "sample", srv=served, key=key)
        assert "ok" in sent.stdout and "200" in sent.stdout
        mixed = alerts("test", "mixed", srv=served, key=key, check=False)
        assert mixed.returncode == 1 and "1 of 2 targets of rule mixed failed" in mixed.stderr
        assert "failed" in mixed.stdout and "503" in mixed.stdout
        fits(mixed.stdout)
    got = receiver.at(ok)
    assert len(got) == 4
    for request in got:
        body = json.loads(request.body)
        assert body["event"] == "test" and body["rule"] in ("sample", "mixed")
        signature = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-livereport-signature"] == signature
    unknown = alerts("test", "nope", srv=served, check=False)
    assert unknown.returncode == 1 and "no rule 'nope'" in unknown.stderr


def test_smtp_set_show_and_clear(
    served: Server, admin_key: str, admin: httpx.Client, tmp_path: Path
) -> None:
    smtp = {
        "host": "127.0.0.1",
        "port": 2525,
        "security": "none",
        "sender": "alerts@example.com",
        "username": "u",
        "password": "secret-password",
    }
    for key in (admin_key, None):
        alerts("smtp", "set", str(write(tmp_path / "smtp.json", smtp)), srv=served, key=key)
        shown = json.loads(alerts("smtp", "show", srv=served, key=key).stdout)
        assert shown == admin.get("/v1/alert-smtp").json()
        assert shown["host"] == "127.0.0.1" and shown["password"] is None and shown["password_set"]
        alerts("smtp", "clear", srv=served, key=key)
        assert admin.get("/v1/alert-smtp").json() is None
        assert alerts("smtp", "show", srv=served, key=key).stdout.strip() == "null"
    bad = alerts(
        "smtp",
        "set",
        str(write(tmp_path / "bad.json", {**smtp, "port": 0})),
        srv=served,
        check=False,
    )
    assert bad.returncode == 1 and "port" in bad.stderr


def test_every_command_works_on_a_data_directory_without_a_server(
    tmp_path: Path, receiver: Receiver
) -> None:
    srv = Server(tmp_path / "data", env=dict(PRIVATE)).start()
    campaign = f"cli-local-{secrets.token_hex(3)}"
    hook = f"/local/{campaign}"
    rules = [error_rule("local", campaign, notify=[{"webhook": receiver.url + hook}])]
    with srv.client(srv.key("ingest", "read", "admin")) as client:
        assert client.put("/v1/alert-rules", json=rules).status_code == 200
        post(client, errors(campaign, 3))
        alert = firing(client, campaign)[0]
        secret = client.get("/v1/alert-secret").json()["secret"]
    wait_for(lambda: receiver.at(hook), "the webhook")
    srv.stop()

    listed = json.loads(alerts("list", "--json", srv=srv).stdout)
    assert [a["id"] for a in listed] == [alert["id"]] and listed[0]["value"] == 3
    fits(alerts("list", "--state", "firing", srv=srv).stdout)
    assert "acknowledged by cli" in alerts("ack", str(alert["id"]), srv=srv).stdout
    assert json.loads(alerts("list", "--json", srv=srv).stdout)[0]["acknowledged_by"] == "cli"
    assert "alert.ack" in cli("audit", "list", data=srv.data).stdout

    shown = json.loads(alerts("rules", "show", "--json", srv=srv).stdout)
    assert [r["id"] for r in shown] == ["local"]
    changed = [*shown, error_rule("more", campaign, above=10)]
    alerts("rules", "set", str(write(tmp_path / "rules.json", changed)), srv=srv)
    assert [r["id"] for r in json.loads(alerts("rules", "show", "--json", srv=srv).stdout)] == [
        "local",
        "more",
    ]
    bad = write(
        tmp_path / "bad.json",
        [{"id": "bad", "metric": "bounce_ratio", "channel": "email", "above": 0.1}],
    )
    failed = alerts("rules", "set", str(bad), srv=srv, check=False)
    assert (
        failed.returncode == 1
        and "rule 0 ('bad'): metric: 'bounce_ratio' is not a metric" in failed.stderr
    )

    assert alerts("secret", srv=srv).stdout.strip() == secret
    alerts("test", "local", srv=srv)
    sample = [
        json.loads(r.body) for r in receiver.at(hook) if json.loads(r.body)["event"] == "test"
    ]
    assert len(sample) == 1 and sample[0]["id"] == 0
    log = json.loads(alerts("deliveries", "--json", srv=srv).stdout)
    assert [(d["alert"], d["event"], d["state"]) for d in log] == [
        (alert["id"], "fired", "delivered")
    ]

    # A data directory that holds no instance is named, not made.
    missing = cli("alerts", "list", data=tmp_path / "nothing", check=False)
    assert missing.returncode == 1 and "holds no livereport instance" in missing.stderr
    assert not (tmp_path / "nothing").exists()
