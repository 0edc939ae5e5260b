"""An org's own bounce rules (PUT /v1/bounce-rules, `livereport bounces rules`) decide the reason
and category of that org's bounces through every door, before the defaults; other orgs keep
the defaults. Push and SMS provider codes posted as events get their reason at ingest."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from conftest import Server, cli
from livereport.bounces.org import read_rule_file
from livereport.bounces.overrides import pattern_risk

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "returns"))
from mails import dsn

RULES = [
    {
        "name": "acme-unknown",
        "reason": "Acme Unknown User",
        "category": "soft",
        "pattern": r"user unknown|does not exist",
        "note": "our MX says this for parked users",
    },
    {"name": "acme-block", "reason": "Acme Block", "category": "ignored", "status": "5.7."},
]
MAILGUN_KEY = "key-org-rules-test-0123456789"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("org-rules") / "data").start()
    cli("orgs", "create", "other", data=server.data)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keys(srv: Server) -> dict[str, str]:
    return {
        "admin": srv.key("admin"),
        "read": srv.key("read"),
        "ingest": srv.key("ingest"),
        "both": srv.key("ingest", "read"),
        "other": srv.key("ingest", "read", "admin", org="other"),
    }


@pytest.fixture(scope="module")
def rules_set(srv: Server, keys: dict[str, str]) -> dict[str, Any]:
    with srv.client(keys["admin"]) as client:
        response = client.put("/v1/bounce-rules", json={"rules": RULES})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def bounce(id_: str, campaign: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "time": int(time.time() * 1000) - 1000,
        "campaign": campaign,
        "profile": f"p-{id_}",
        "channel": "email",
        "type": "bounce",
        **extra,
    }


UNKNOWN = {
    "code": 550,
    "status": "5.1.1",
    "diagnostic": "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown",
}


def post(client: httpx.Client, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/v1/events", json=events)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    assert found["rejected"] == [], found
    return found


def reasons(client: httpx.Client, campaign: str, channel: str = "email") -> dict[str, int]:
    """Bounce reason → bounces, from the report's breakdown (which waits for nothing: the
    writer has stored the events before /v1/events answered)."""
    response = client.get(
        f"/v1/campaigns/{quote(campaign, safe='')}/breakdown",
        params={"channel": channel, "by": "bounce_reason"},
    )
    assert response.status_code == 200, response.text
    return {r["key"]: r["metrics"]["bounces"] for r in response.json()["rows"]}


def categories(client: httpx.Client, campaign: str, channel: str = "email") -> dict[str, int]:
    response = client.get(
        f"/v1/campaigns/{quote(campaign, safe='')}/totals", params={"channel": channel}
    )
    assert response.status_code == 200, response.text
    m = response.json()["metrics"]
    return {k: m[k] for k in ("hard_bounces", "soft_bounces", "ignored_bounces")}


def explain(client: httpx.Client, campaign: str, event_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/campaigns/{quote(campaign, safe='')}/bounces/{quote(event_id)}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


# --- storing the table -------------------------------------------------------------------


def test_a_table_is_stored_versioned_and_read_back(
    srv: Server, keys: dict[str, str], rules_set: dict[str, Any]
) -> None:
    assert rules_set["version"] == 1 and rules_set["rules"] == RULES
    with srv.client(keys["read"]) as client:
        got = client.get("/v1/bounce-rules").json()
    assert (got["version"], got["rules"]) == (1, RULES) and got["default_rules"] > 50
    with srv.client(keys["other"]) as client:
        assert client.get("/v1/bounce-rules").json() == {
            "version": 0,
            "rules": [],
            "default_rules": got["default_rules"],
        }
        stale = client.put("/v1/bounce-rules", json={"rules": [], "version": 3})
        assert stale.status_code == 409 and "version" in stale.json()["error"]


def test_invalid_tables_get_400_naming_row_and_field_and_store_nothing(
    srv: Server, keys: dict[str, str], rules_set: dict[str, Any]
) -> None:
    bad_tables: list[tuple[Any, list[str]]] = [
        (
            [RULES[0], {**RULES[1], "category": "maybe"}],
            ["rules[1].category", "expected one of hard, soft, ignored"],
        ),
        (
            [{**RULES[0], "pattern": "(a+)+$"}],
            ["rules[0].pattern", "repetition inside a repetition"],
        ),
        ([{**RULES[0], "pattern": ".*.*x"}], ["rules[0].pattern", "more than one unbounded"]),
        ([{**RULES[0], "pattern": r"(\w+)@\1"}], ["rules[0].pattern", "backreference"]),
        (
            [{**RULES[0], "pattern": "user (unknown"}],
            ["rules[0].pattern", "not a valid regular expression"],
        ),
        ([RULES[0], RULES[0]], ["rules[1].name", "used twice"]),
        (
            [{"name": "x", "reason": "r", "category": "hard", "code": 450}],
            ["rules[0].code", "transient"],
        ),
        ({"rules": RULES, "version": "one"}, ["version:", "integer"]),
        ({"rulez": RULES}, ["rulez: unknown field"]),
        ("not a table", ["rules: expected an array"]),
    ]
    with srv.client(keys["admin"]) as client:
        for body, words in bad_tables:
            response = client.put("/v1/bounce-rules", json=body)
            assert response.status_code == 400, (body, response.text)
            message = response.json()["error"]
            assert all(w in message for w in words), (words, message)
        not_json = client.put(
            "/v1/bounce-rules", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]
        as_text = client.put(
            "/v1/bounce-rules", content=b"[]", headers={"Content-Type": "text/plain"}
        )
        assert as_text.status_code == 415
        got = client.get("/v1/bounce-rules").json()
    assert (got["version"], got["rules"]) == (rules_set["version"], RULES)


def test_a_read_or_ingest_key_cannot_replace_the_table(
    srv: Server, keys: dict[str, str], rules_set: dict[str, Any]
) -> None:
    for scope in ("read", "ingest", "both"):
        with srv.client(keys[scope]) as client:
            response = client.put("/v1/bounce-rules", json={"rules": []})
            assert response.status_code == 403, (scope, response.text)
    with httpx.Client(base_url=srv.url) as anonymous:
        assert anonymous.get("/v1/bounce-rules").status_code == 401
    with srv.client(keys["read"]) as client:
        assert client.get("/v1/bounce-rules").json()["version"] == rules_set["version"]


# --- applying it -------------------------------------------------------------------------


def test_events_over_http_take_the_org_rule_and_other_orgs_keep_the_defaults(
    srv: Server, keys: dict[str, str], rules_set: dict[str, Any]
) -> None:
    campaign = "org-rules-http"
    events = [
        bounce("h-1", campaign, smtp=UNKNOWN),
        bounce(
            "h-2", campaign, smtp={"status": "5.7.1", "diagnostic": "550 5.7.1 message refused"}
        ),
        # The sender's own reason and category stand (SPEC §5).
        bounce("h-3", campaign, smtp=UNKNOWN, reason="Sender Says", bounce="hard"),
        # A 4.x.x failure the org rule's pattern matches: soft is allowed, so it applies.
        bounce("h-4", campaign, smtp={"status": "4.2.2", "diagnostic": "452 4.2.2 mailbox full"}),
    ]
    with srv.client(keys["both"]) as client:
        assert post(client, events)["accepted"] == 4
        assert reasons(client, campaign) == {
            "Acme Unknown User": 1,
            "Acme Block": 1,
            "Sender Says": 1,
            "Mailbox Full": 1,
        }
        assert categories(client, campaign) == {
            "hard_bounces": 1,
            "soft_bounces": 2,
            "ignored_bounces": 1,
        }
        why = explain(client, campaign, "h-1")
        assert (why["rule"], why["org_rule"], why["decided_by"]) == (
            "org:acme-unknown",
            True,
            "rules",
        )
        assert why["rules_say"] == {"reason": "Acme Unknown User", "category": "soft"}
        sender = explain(client, campaign, "h-3")
        assert (sender["rule"], sender["decided_by"]) == ("org:acme-unknown", "sender")
        assert explain(client, campaign, "h-4")["org_rule"] is False
    with srv.client(keys["other"]) as client:
        assert post(client, events[:2])["accepted"] == 2
        assert reasons(client, campaign) == {"Invalid Recipient": 1, "Mail Block": 1}
        assert categories(client, campaign) == {
            "hard_bounces": 1,
            "soft_bounces": 0,
            "ignored_bounces": 1,
        }
        why = explain(client, campaign, "h-1")
        assert (why["rule"], why["org_rule"]) == ("diagnostic:user-unknown", False)


def test_ndjson_events_take_the_org_rule_and_keep_explicit_fields(
    srv: Server, keys: dict[str, str], rules_set: dict[str, Any]
) -> None:
    campaign = "org-rules-ndjson"
    lines = [
        bounce("n-1", campaign, smtp=UNKNOWN),
        bounce("n-2", campaign, smtp=UNKNOWN, bounce="hard"),
    ]
    body = "\n".join(json.dumps(e) for e in lines) + "\n"
    with srv.client(keys["both"]) as client:
        response = client.post(
            "/v1/events", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        assert response.json()["accepted"] == 2, response.text
        assert reasons(client, campaign) == {"Acme Unknown User": 2}
        # n-2 gave its category itself: hard stays, the org rule gives the reason.
        assert categories(client, campaign) == {
            "hard_bounces": 1,
            "soft_bounces": 1,
            "ignored_bounces": 0,
        }


def _mailgun(srv: Server, org: str | None) -> str:
    args = ["webhooks", "set", "mailgun", "--secret-stdin", *(["--org", org] if org else [])]
    path = cli(*args, data=srv.data, stdin=MAILGUN_KEY + "\n").stdout.strip()
    assert path.startswith("/v1/webhooks/mailgun/wh_"), path
    return path


def _failed(id_: str, campaign: str) -> dict[str, Any]:
    data = {
        "event": "failed",
        "id": id_,
        "timestamp": time.time() - 5,
        "severity": "permanent",
        "reason": "bounce",
        "recipient": "carol@example.net",
        "delivery-status": {
            "message": "5.1.1 The email account that you tried to reach does not exist.",
            "code": 550,
            "description": "",
        },
        "message": {"headers": {"message-id": f"{id_}@mg.example"}},
        "user-variables": {"campaign": campaign, "profile": "p-1"},
    }
    stamp, token = str(int(time.time())), hashlib.sha256(id_.encode()).hexdigest()[:50]
    digest = hmac.new(MAILGUN_KEY.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": stamp, "token": token, "signature": digest},
        "event-data": data,
    }


def test_webhook_bounces_take_the_org_rule(
    srv: Server, keys: dict[str, str], rules_set: dict[str, Any]
) -> None:
    campaign = "org-rules-webhook"
    for org, key, expected in (
        (None, "both", "Acme Unknown User"),
        ("other", "other", "Invalid Recipient"),
    ):
        path = _mailgun(srv, org)
        answer = httpx.post(srv.url + path, json=_failed(f"wh-{key}", campaign), timeout=60).json()
        assert answer["accepted"] == 1, answer
        with srv.client(keys[key]) as client:
            assert reasons(client, campaign) == {expected: 1}


def test_returned_mails_take_the_org_rule(
    srv: Server, keys: dict[str, str], rules_set: dict[str, Any]
) -> None:
    campaign = "org-rules-returns"
    for key, expected in (
        ("both", ("Acme Unknown User", "soft")),
        ("other", ("Invalid Recipient", "hard")),
    ):
        raw = dsn(f"ret-{key}", campaign, "p-1")
        response = httpx.post(
            f"{srv.url}/v1/returns",
            content=raw,
            timeout=60,
            headers={"Authorization": f"Bearer {keys[key]}", "Content-Type": "message/rfc822"},
        )
        answer = response.json()
        assert answer["outcome"] == "accepted", answer
        assert (answer["reason"], answer["category"]) == expected
        assert answer["rule"].startswith("dsn+org:" if key == "both" else "dsn+diagnostic:")
        with srv.client(keys[key]) as client:
            assert reasons(client, campaign) == {expected[0]: 1}
            assert explain(client, campaign, answer["event"]["id"])["decided_by"] == "rules"


def test_a_change_from_the_command_line_applies_at_once_on_the_running_server(
    srv: Server, keys: dict[str, str], rules_set: dict[str, Any], tmp_path: Path
) -> None:
    campaign = "org-rules-cli"
    table = tmp_path / "rules.csv"
    table.write_text(
        "name,reason,category,status,code,pattern,note\nother-unknown,Other Gone,hard,5.1.1,,,\n",
        encoding="utf-8",
    )
    cli("bounces", "rules", "set", str(table), "--org", "other", data=srv.data)
    shown = json.loads(
        cli("bounces", "rules", "show", "--json", "--org", "other", data=srv.data).stdout
    )
    assert shown["rules"] == [
        {"name": "other-unknown", "reason": "Other Gone", "category": "hard", "status": "5.1.1"}
    ]
    with srv.client(keys["other"]) as client:
        assert post(client, [bounce("c-1", campaign, smtp=UNKNOWN)])["accepted"] == 1
        assert reasons(client, campaign) == {"Other Gone": 1}
        assert explain(client, campaign, "c-1")["rule"] == "org:other-unknown"
        assert client.put("/v1/bounce-rules", json=[]).json()["rules"] == []  # remove them again
        assert post(client, [bounce("c-2", campaign, smtp=UNKNOWN)])["accepted"] == 1
        assert reasons(client, campaign) == {"Other Gone": 1, "Invalid Recipient": 1}
    bad = tmp_path / "bad.csv"
    bad.write_text("name,reason,category,pattern\nx,r,soft,(a+)+\n", encoding="utf-8")
    failed = cli("bounces", "rules", "set", str(bad), "--org", "other", data=srv.data, check=False)
    assert (
        failed.returncode != 0
        and "rules[0].pattern" in failed.stderr
        and "nothing was stored" in failed.stderr
    )


def test_push_and_sms_codes_get_their_reason_at_ingest(srv: Server, keys: dict[str, str]) -> None:
    campaign = "org-rules-mobile"
    now = int(time.time() * 1000) - 1000
    base = {"time": now, "campaign": campaign}

    def ev(id_: str, channel: str, type_: str, code: str, **extra: str) -> dict[str, Any]:
        return {
            **base,
            "id": id_,
            "profile": f"p-{id_}",
            "channel": channel,
            "type": type_,
            "code": code,
            **extra,
        }

    events = [
        ev("m-1", "push", "bounce", "Unregistered", platform="ios"),
        ev("m-2", "push", "bounce", "quota_exceeded", platform="android"),
        ev("m-3", "sms", "bounce", "30005"),
        ev("m-4", "sms", "bounce", "30005", reason="Carrier said no"),
        ev("m-5", "sms", "bounce", "99999"),
        ev("m-6", "push", "error", "BadTopic"),
    ]
    with srv.client(keys["both"]) as client:
        assert post(client, events)["accepted"] == 6
        assert reasons(client, campaign, "push") == {
            "Device token unregistered": 1,
            "Sending quota exceeded": 1,
        }
        assert categories(client, campaign, "push") == {
            "hard_bounces": 1,
            "soft_bounces": 1,
            "ignored_bounces": 0,
        }
        assert reasons(client, campaign, "sms") == {
            "Unknown destination handset": 1,
            "Carrier said no": 1,
            "Undetermined": 1,
        }
        assert categories(client, campaign, "sms")["hard_bounces"] == 1
        why = explain(client, campaign, "m-3")
        assert (why["rule"], why["dead"], why["decided_by"]) == ("twilio:30005", True, "rules")
        errors = client.get(
            f"/v1/campaigns/{campaign}/breakdown", params={"channel": "push", "by": "error_reason"}
        )
        assert errors.status_code == 200, errors.text
        assert [(r["key"], r["metrics"]["errors"]) for r in errors.json()["rows"]] == [
            ("Invalid topic", 1)
        ]


# --- without a server --------------------------------------------------------------------


def test_local_ingest_applies_the_org_rules(tmp_path: Path) -> None:
    data = tmp_path / "data"
    table = tmp_path / "rules.json"
    table.write_text(json.dumps({"rules": RULES}), encoding="utf-8")
    cli("bounces", "rules", "set", str(table), data=data)
    events = tmp_path / "events.ndjson"
    events.write_text(
        json.dumps(bounce("l-1", "org-rules-local", smtp=UNKNOWN)) + "\n", encoding="utf-8"
    )
    cli("ingest", str(events), data=data)
    report = cli("report", "org-rules-local", "--tab", "email", "--json", data=data).stdout
    assert "Acme Unknown User" in report and "Invalid Recipient" not in report


def test_pattern_risk_refuses_slow_shapes_and_keeps_ordinary_ones() -> None:
    for fine in (r"user unknown", r"vip-gw\s+refused", r"[^.]{0,40}quota", r"(?:foo|bar) baz"):
        assert pattern_risk(fine) is None, fine
    for slow, words in (
        ("(a+)+", "inside a repetition"),
        ("(?:a|ab)*c", "alternation"),
        (r"\w+\s+\w+", "more than one unbounded"),
        (r"(x)\1", "backreference"),
        (".{0,100}.{0,100}x", "ways to split"),
    ):
        risk = pattern_risk(slow)
        assert risk is not None and words in risk, (slow, risk)


def test_rule_files_are_read_as_json_or_csv() -> None:
    assert read_rule_file("r.json", json.dumps(RULES).encode()) == RULES
    rows = read_rule_file("r.csv", b"\xef\xbb\xbfname,reason,category,code\nx,Y,soft,551\n")
    assert rows == [{"name": "x", "reason": "Y", "category": "soft", "code": "551"}]
    with pytest.raises(ValueError, match="unknown column 'stauts'"):
        read_rule_file("r.csv", b"name,stauts\n")
    with pytest.raises(ValueError, match="not valid JSON"):
        read_rule_file("r.json", b"[{")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_table_is_replaced_whole_and_versioned_on_both_databases(
    backend: str, tmp_path: Path
) -> None:
    from conftest import POSTGRES, new_storage
    from livereport.store.metadata import Metadata

    url = f"{POSTGRES}?options=-csearch_path%3D{new_storage()}" if backend == "postgresql" else ""
    metadata = Metadata(tmp_path / "metadata.db", url)
    try:
        _replace_and_version(metadata)
    finally:  # end its pooled / kept connections here
        metadata.close()


def _replace_and_version(metadata: Any) -> None:
    from livereport.bounces.org import org_rules

    org = metadata.create_org("acme")
    assert (metadata.bounce_rules_version(org.id), metadata.bounce_rules(org.id)) == (0, None)
    assert org_rules(metadata, org.id) == ()
    assert metadata.replace_bounce_rules(org.id, json.dumps(RULES), "test", expected=1) is None
    assert metadata.replace_bounce_rules(org.id, json.dumps(RULES), "test", expected=0) == 1
    first = org_rules(metadata, org.id)
    assert [r.name for r in first] == ["org:acme-unknown", "org:acme-block"]
    assert org_rules(metadata, org.id) is first  # compiled once per version
    assert metadata.replace_bounce_rules(org.id, json.dumps(RULES[:1]), "test", expected=0) is None
    assert metadata.replace_bounce_rules(org.id, json.dumps(RULES[:1]), "test") == 2
    assert metadata.bounce_rules(org.id) == (2, json.dumps(RULES[:1]))
    assert [r.name for r in org_rules(metadata, org.id)] == ["org:acme-unknown"]


def test_a_signed_in_viewer_reads_the_table_and_only_an_admin_replaces_it(
    srv: Server, rules_set: dict[str, Any]
) -> None:
    csrf = {"X-Requested-With": "livereport"}
    for email, role in (
        ("viewer@org-rules.example", "viewer"),
        ("admin@org-rules.example", "admin"),
    ):
        cli(
            "users",
            "create",
            email,
            "--role",
            role,
            "--password-stdin",
            data=srv.data,
            stdin="a long enough password 123\n",
        )
    with httpx.Client(base_url=srv.url, timeout=30) as viewer:
        signed = viewer.post(
            "/v1/signin",
            headers=csrf,
            json={"email": "viewer@org-rules.example", "password": "a long enough password 123"},
        )
        assert signed.status_code == 200, signed.text
        assert viewer.get("/v1/bounce-rules").json()["rules"] == RULES
        refused = viewer.put("/v1/bounce-rules", json={"rules": []}, headers=csrf)
        assert refused.status_code == 403 and "viewer" in refused.json()["error"]
    with httpx.Client(base_url=srv.url, timeout=30) as admin:
        signed = admin.post(
            "/v1/signin",
            headers=csrf,
            json={"email": "admin@org-rules.example", "password": "a long enough password 123"},
        )
        assert signed.status_code == 200, signed.text
        same = admin.put("/v1/bounce-rules", json={"rules": RULES}, headers=csrf)
        assert same.status_code == 200 and same.json()["version"] == rules_set["version"] + 1
