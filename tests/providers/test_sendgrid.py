"""SendGrid signed Event Webhook: documented events reach the report; bad signatures store nothing."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from webhook_client import breakdown, configure, fixture, totals

from conftest import Server, cli

PRIVATE = ec.generate_private_key(ec.SECP256R1())
PUBLIC = base64.b64encode(
    PRIVATE.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
).decode()


def send(url: str, items: list[dict[str, Any]], key: ec.EllipticCurvePrivateKey = PRIVATE,
         sign: bool = True) -> httpx.Response:  # fmt: skip
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
        assert {k: metrics[k] for k in ("sent", "delivered", "retries", "bounces", "excluded",
                                        "opens", "clicks", "spam_complaints", "unsubscribes")} == {
            "sent": 1, "delivered": 1, "retries": 1, "bounces": 2, "excluded": 1, "opens": 2,
            "clicks": 1, "spam_complaints": 1, "unsubscribes": 2,
        }  # fmt: skip
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
    result = cli("webhooks", "set", "sendgrid", "--secret-stdin", data=server.data,
                 stdin="not-a-key\n", check=False)  # fmt: skip
    assert result.returncode == 1
    assert "verification key" in result.stderr
