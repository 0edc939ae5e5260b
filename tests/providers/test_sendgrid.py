"""SendGrid signed Event Webhook: documented events reach the report; bad signatures store nothing."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from webhook_client import breakdown, configure, fixture, totals

from conftest import Server, cli
from livereport.bounces.qualify import qualify
from livereport.errors import BadRequest
from livereport.providers import Fields
from livereport.providers.base import Delivery
from livereport.providers.sendgrid import SENDGRID

PRIVATE = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(
    PRIVATE.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def send(
    url: str,
    items: list[dict[str, Any]],
    key: ec.EllipticCurvePrivateKey = PRIVATE,
    sign: bool = True,
) -> httpx.Response:
    body = json.dumps(items).encode()
    timestamp = str(int(time.time()))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {"Content-Type": "application/json"}
    if sign:
        headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(signature).decode()
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = timestamp
    return httpx.post(url, content=body, headers=headers)


def events(campaign: str, start: float | None = None) -> list[dict[str, Any]]:
    """The fixture's events for ``campaign``, one a second from ``start`` (a minute ago)."""
    start = int(time.time() - 60 if start is None else start)
    found = fixture("sendgrid_events.json")
    for age, item in enumerate(found):
        item["timestamp"] = start + age
        item["sg_event_id"] = f"{campaign}-{item['sg_event_id']}"  # one org: ids stay apart
        if "campaign" in item:
            item["campaign"] = campaign
    return found


def test_documented_events_reach_the_email_report(server: Server, keys: dict[str, str]) -> None:
    url = server.url + configure(server, "sendgrid", PUBLIC)
    response = send(url, events("sg-doc"))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["accepted"], answer["ignored"], answer["unknown"]) == (12, 1, 1)
    assert answer["rejected"] == []
    with server.client(keys["read"]) as client:
        metrics = totals(client, "sg-doc", "email")
        assert {
            k: metrics[k]
            for k in (
                "sent",
                "delivered",
                "retries",
                "bounces",
                "excluded",
                "opens",
                "clicks",
                "spam_complaints",
                "unsubscribes",
            )
        } == {
            "sent": 1,
            "delivered": 1,
            "retries": 1,
            "bounces": 2,
            "excluded": 1,
            "opens": 2,
            "clicks": 1,
            "spam_complaints": 1,
            "unsubscribes": 2,
        }
        reasons = breakdown(client, "sg-doc", "email", "bounce_reason")["rows"]
        assert sorted(r["key"] for r in reasons) == ["Invalid Recipient", "Spam Block"]
        exclusions = breakdown(client, "sg-doc", "email", "exclusion_reason")["rows"]
        assert [r["key"] for r in exclusions] == ["Bounced Address"]


def test_a_forged_or_missing_signature_stores_nothing(server: Server, keys: dict[str, str]) -> None:
    url = server.url + configure(server, "sendgrid", PUBLIC)
    processed, deferred, delivered = events("sg-forged")[:3]
    assert send(url, [processed]).json()["accepted"] == 1
    assert send(url, [delivered], key=ec.generate_private_key(ec.SECP256R1())).status_code == 401
    assert send(url, [delivered], sign=False).status_code == 401
    sent = send(url, [deferred]).request.headers
    good = {k: v for k, v in sent.items() if k.lower().startswith("x-twilio-email-event-webhook")}
    tampered = httpx.post(url, content=json.dumps([delivered]).encode(), headers=good)
    assert tampered.status_code == 401
    with server.client(keys["read"]) as client:
        metrics = totals(client, "sg-forged", "email")
        assert (metrics["sent"], metrics["retries"], metrics["delivered"]) == (1, 1, 0)


def test_a_replayed_delivery_is_a_duplicate(server: Server) -> None:
    url = server.url + configure(server, "sendgrid", PUBLIC)
    batch = events("sg-replay")[:3]
    assert send(url, batch).json()["accepted"] == 3
    again = send(url, batch).json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)


def test_a_key_that_is_not_a_verification_key_is_refused_by_the_cli(server: Server) -> None:
    result = cli(
        "webhooks",
        "set",
        "sendgrid",
        "--secret-stdin",
        data=server.data,
        stdin="not-a-key\n",
        check=False,
    )
    assert result.returncode == 1
    assert "verification key" in result.stderr


# --- blocks: SendGrid's temporary rejections, hard only when the address does not exist ---


def parse(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = json.dumps(items).encode()
    delivery = Delivery("https://x/", {}, body, datetime.now(UTC))
    return SENDGRID.parse(delivery, Fields()).events


@pytest.mark.parametrize(
    ("index", "given", "rules_say"),
    [
        (0, "ignored", "Spam Block"),  # block list: about the sender, not the address
        (1, None, "Invalid Recipient"),  # 5.1.1 does not exist: the rules decide, hard
        (2, "soft", "Recipient Refused"),  # disabled mailbox: hard by the rules, soft as a block
        (3, "ignored", "Mail Block"),  # no MX, no status (SendGrid sends none then)
        (4, None, "Recipient Refused"),  # type bounce: as before, the rules decide (hard)
    ],
)
def test_a_block_is_never_hard_unless_the_address_does_not_exist(
    index: int, given: str | None, rules_say: str
) -> None:
    (event,) = parse([fixture("sendgrid_blocks.json")[index]])
    assert event.get("bounce") == given
    smtp = event["smtp"]
    found = qualify(status=smtp.get("status"), code=smtp.get("code"), diagnostic=smtp["diagnostic"])
    assert found.reason == rules_say


def test_a_block_sendgrid_classes_as_invalid_address_is_left_to_the_rules() -> None:
    item = {**fixture("sendgrid_blocks.json")[0], "bounce_classification": "Invalid Address"}
    assert "bounce" not in parse([item])[0]


def test_a_bounce_type_that_is_not_text_is_a_bad_request() -> None:
    item = {**fixture("sendgrid_blocks.json")[0], "type": 7}
    with pytest.raises(BadRequest, match=r"a bounce's type: expected 'bounce' or 'blocked'"):
        parse([item])


def test_blocks_count_as_hard_only_for_addresses_that_do_not_exist(
    server: Server, keys: dict[str, str]
) -> None:
    url = server.url + configure(server, "sendgrid", PUBLIC)
    items = fixture("sendgrid_blocks.json")
    for item in items:
        item.update(timestamp=int(time.time()) - 30, campaign="sg-blocks")
        item["sg_event_id"] = f"sg-blocks-{item['sg_event_id']}"
    answer = send(url, items).json()
    assert (answer["accepted"], answer["rejected"]) == (5, [])
    with server.client(keys["read"]) as client:
        metrics = totals(client, "sg-blocks", "email")
        assert {k: metrics[k] for k in ("bounces", "hard_bounces", "soft_bounces")} == {
            "bounces": 5,
            "hard_bounces": 2,
            "soft_bounces": 1,
        }


def test_an_org_rule_renames_a_block_but_cannot_make_it_hard(server: Server) -> None:
    server.create_org("sg-rules-org")
    url = server.url + configure(server, "sendgrid", PUBLIC, "--org", "sg-rules-org")
    rule = {
        "name": "listed",
        "reason": "Listed Sender",
        "category": "hard",
        "pattern": "block list",
    }
    with server.client(server.key("admin", "read", org="sg-rules-org")) as client:
        assert client.put("/v1/bounce-rules", json={"rules": [rule]}).status_code == 200
        item = {
            **fixture("sendgrid_blocks.json")[0],
            "timestamp": int(time.time()) - 30,
            "campaign": "sg-rules",
            "sg_event_id": "sg-rules-block-1",
        }
        assert send(url, [item]).json()["accepted"] == 1
        metrics = totals(client, "sg-rules", "email")
        assert (metrics["bounces"], metrics["hard_bounces"]) == (1, 0)
        reasons = breakdown(client, "sg-rules", "email", "bounce_reason")["rows"]
        assert [r["key"] for r in reasons] == ["Listed Sender"]
