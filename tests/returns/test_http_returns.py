"""POST /v1/returns: a raw returned mail becomes one event (bounce, complaint, retry), once;
returns without campaign and profile are kept and listed for admins; every stored bounce
can be explained by GET /v1/campaigns/{campaign}/bounces/{event_id}."""

from __future__ import annotations

import gzip
import time
from typing import Any
from urllib.parse import quote

import httpx
from mails import arf, auto_reply, dsn, ordinary

from conftest import Server, post
from livereport.bounces.attribution import verp_address

RFC822 = {"Content-Type": "message/rfc822"}


def send(server: Server, key: str, raw: bytes, headers: dict[str, str] = RFC822) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/returns",
        content=raw,
        headers={"Authorization": f"Bearer {key}", **headers},
        timeout=60,
    )


def taken(server: Server, key: str, raw: bytes) -> dict[str, Any]:
    response = send(server, key, raw)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def totals(client: httpx.Client, campaign: str) -> dict[str, Any]:
    response = client.get(
        f"/v1/campaigns/{quote(campaign, safe='')}/totals", params={"channel": "email"}
    )
    assert response.status_code == 200, response.text
    metrics: dict[str, Any] = response.json()["metrics"]
    return metrics


def test_a_returned_mail_is_one_bounce_and_a_resent_one_a_duplicate(
    server: Server, keys: dict[str, str]
) -> None:
    first = taken(server, keys["ingest"], dsn("rt-1", "rt-bounce", "p-1"))
    assert first["outcome"] == "accepted"
    assert (first["kind"], first["category"], first["reason"]) == (
        "bounce",
        "hard",
        "Invalid Recipient",
    )
    assert (first["campaign"], first["profile"], first["attributed_by"]) == (
        "rt-bounce",
        "p-1",
        "headers",
    )
    assert first["event"]["type"] == "bounce" and first["event"]["id"].startswith("return:")
    again = taken(server, keys["ingest"], dsn("rt-1", "rt-bounce", "p-1"))
    assert again["outcome"] == "duplicate" and again["event"]["id"] == first["event"]["id"]
    with server.client(keys["read"]) as client:
        metrics = totals(client, "rt-bounce")
        assert (metrics["bounces"], metrics["hard_bounces"]) == (1, 1)
        rows = client.get(
            "/v1/campaigns/rt-bounce/breakdown", params={"channel": "email", "by": "bounce_reason"}
        ).json()["rows"]
        assert [(r["key"], r["metrics"]["bounces"]) for r in rows] == [("Invalid Recipient", 1)]


def test_auto_replies_complaints_and_delays_become_their_events(
    server: Server, keys: dict[str, str]
) -> None:
    verp = f"<{verp_address('rt-kinds', 'p 2', 'bounce.shop.example')}>"
    assert taken(server, keys["ingest"], auto_reply("rt-ar", verp))["attributed_by"] == "verp"
    assert taken(server, keys["ingest"], arf("rt-arf", "rt-kinds", "p-3"))["outcome"] == "accepted"
    delay = dsn(
        "rt-delay",
        "rt-kinds",
        "p-4",
        action="delayed",
        status="4.2.2",
        diagnostic="smtp; 452 4.2.2 Mailbox full",
    )
    assert taken(server, keys["ingest"], delay)["event"]["type"] == "retry"
    with server.client(keys["read"]) as client:
        metrics = totals(client, "rt-kinds")
        assert (metrics["bounces"], metrics["ignored_bounces"]) == (1, 1)  # the auto-reply
        assert (metrics["spam_complaints"], metrics["retries"]) == (1, 1)


def test_unattributed_returns_are_kept_and_listed_for_admins(fresh_server: Server) -> None:
    ingest, admin, read = (fresh_server.key(s) for s in ("ingest", "admin", "read"))
    kept = taken(
        fresh_server,
        ingest,
        dsn("rt-lost", status="5.2.2", diagnostic="smtp; 552 5.2.2 Mailbox full"),
    )
    assert kept["outcome"] == "kept" and "no campaign and profile" in kept["why"]
    assert taken(fresh_server, ingest, dsn("rt-lost", status="5.2.2"))["outcome"] == "kept-already"
    assert taken(fresh_server, ingest, ordinary("rt-lunch"))["outcome"] == "kept"
    with fresh_server.client(admin) as client:
        listed = client.get("/v1/returns/unattributed").json()["returns"]
        assert [(r["kind"], r["reason"]) for r in listed] == [
            ("other", None),
            ("bounce", "Mailbox Full"),
        ]
        assert listed[1]["subject"] == "Undelivered Mail Returned to Sender"
        assert (
            client.get("/v1/returns/unattributed", params={"limit": "1"}).json()["returns"][0][
                "kind"
            ]
            == "other"
        )
        older = client.get("/v1/returns/unattributed", params={"before": str(listed[0]["id"])})
        assert [r["kind"] for r in older.json()["returns"]] == ["bounce"]
        bad = client.get("/v1/returns/unattributed", params={"limit": "0"})
        assert bad.status_code == 400 and "limit" in bad.json()["error"]
    with fresh_server.client(read) as client:
        assert client.get("/v1/returns/unattributed").status_code == 403


def test_a_gzip_encoded_return_is_read(server: Server, keys: dict[str, str]) -> None:
    body = gzip.compress(dsn("rt-gz", "rt-gzip", "p-1"))
    response = send(server, keys["ingest"], body, {**RFC822, "Content-Encoding": "gzip"})
    assert response.status_code == 200 and response.json()["outcome"] == "accepted"


def test_bad_requests_say_what_is_expected(server: Server, keys: dict[str, str]) -> None:
    wrong = send(server, keys["ingest"], dsn("rt-bad"), {"Content-Type": "application/json"})
    assert wrong.status_code == 415 and "message/rfc822" in wrong.json()["error"]
    empty = send(server, keys["ingest"], b"  \r\n")
    assert empty.status_code == 400 and "RFC 5322" in empty.json()["error"]
    assert send(server, keys["read"], dsn("rt-bad")).status_code == 403
    assert send(server, "lr_unknown", dsn("rt-bad")).status_code == 401


def test_any_stored_bounce_is_explained(server: Server, keys: dict[str, str]) -> None:
    event_id = taken(server, keys["ingest"], dsn("rt-why", "rt-why", "p-1"))["event"]["id"]
    now = int(time.time() * 1000)
    with server.client(keys["both"]) as client:
        assert (
            post(
                client,
                [
                    {
                        "id": "rt-why-given",
                        "time": now,
                        "campaign": "rt-why",
                        "channel": "email",
                        "type": "bounce",
                        "profile": "p-2",
                        "reason": "Mail Block",
                        "bounce": "ignored",
                        "smtp": {
                            "code": 550,
                            "diagnostic": "550 5.7.1 Message rejected as spam by Content Filtering",
                        },
                    },
                    {
                        "id": "rt-why-sms",
                        "time": now,
                        "campaign": "rt-why",
                        "channel": "sms",
                        "type": "bounce",
                        "profile": "p-3",
                        "code": "30005",
                        "reason": "Unknown destination handset",
                        "bounce": "hard",
                    },
                    {
                        "id": "rt-why-sent",
                        "time": now,
                        "campaign": "rt-why",
                        "channel": "email",
                        "type": "sent",
                        "profile": "p-4",
                    },
                ],
            )["accepted"]
            == 3
        )
    with server.client(keys["read"]) as client:
        found = client.get(f"/v1/campaigns/rt-why/bounces/{event_id}").json()
        assert (found["category"], found["reason"], found["status"]) == (
            "hard",
            "Invalid Recipient",
            "5.1.1",
        )
        assert found["rule"] == "diagnostic:user-unknown" and found["decided_by"] == "rules"
        given = client.get("/v1/campaigns/rt-why/bounces/rt-why-given").json()
        assert (given["reason"], given["decided_by"]) == ("Mail Block", "sender")
        assert given["rules_say"]["reason"] == "Spam Content"
        sms = client.get("/v1/campaigns/rt-why/bounces/rt-why-sms").json()
        assert (sms["rule"], sms["dead"], sms["decided_by"]) == ("twilio:30005", True, "rules")
        assert client.get("/v1/campaigns/rt-why/bounces/rt-why-sent").status_code == 404
        assert client.get("/v1/campaigns/other/bounces/rt-why-sms").status_code == 404
    other_org_key = server.key("read", org=_other_org(server))
    with server.client(other_org_key) as client:
        assert client.get(f"/v1/campaigns/rt-why/bounces/{event_id}").status_code == 404
    assert httpx.get(f"{server.url}/v1/campaigns/rt-why/bounces/{event_id}").status_code == 401


def _other_org(server: Server) -> str:
    from conftest import cli

    result = cli("orgs", "create", "returns-other-org", data=server.data, check=False)
    assert result.returncode == 0 or "already exists" in result.stderr
    return "returns-other-org"
