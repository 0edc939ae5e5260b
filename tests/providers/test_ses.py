"""Amazon SES through SNS: notifications and event publishing reach the report; the SNS
signature is checked against the pinned certificate; subscriptions are kept for an admin."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from webhook_client import breakdown, configure, fixture, totals

from conftest import Server, cli
from livereport.errors import BadRequest
from livereport.providers import Fields, Parsed
from livereport.providers.base import Delivery
from livereport.providers.ses import SES


def _certificate() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.us-east-1.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM).decode()


KEY, CERT = _certificate()
OTHER_KEY, _ = _certificate()
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"


def envelope(
    message: dict[str, Any] | None,
    key: rsa.RSAPrivateKey = KEY,
    version: str = "1",
    kind: str = "Notification",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Type": kind,
        "MessageId": f"sns-{time.time_ns()}",
        "TopicArn": TOPIC,
        "Timestamp": datetime.now(UTC).isoformat(),
        "SignatureVersion": version,
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem",
    }
    if kind == "Notification":
        body["Message"] = json.dumps(message)
        keys = ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]
    else:
        body.update(
            Message="You have chosen to subscribe to the topic.",
            Token="2336412f37fb687f5d51e6e2425c464de12884",
            SubscribeURL=f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=2336412f37fb",
        )
        keys = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    signed = "".join(f"{k}\n{body[k]}\n" for k in keys).encode()
    digest = hashes.SHA256() if version == "2" else hashes.SHA1()
    body["Signature"] = base64.b64encode(key.sign(signed, padding.PKCS1v15(), digest)).decode()
    return body


def _now_times(value: Any, when: str) -> Any:
    if isinstance(value, dict):
        return {k: when if k == "timestamp" else _now_times(v, when) for k, v in value.items()}
    if isinstance(value, list):
        return [_now_times(v, when) for v in value]
    return value


def messages(
    campaign: str, start: datetime | None = None, name: str = "ses_messages.json"
) -> list[dict[str, Any]]:
    start = start or datetime.now(UTC) - timedelta(minutes=1)
    found = []
    for age, message in enumerate(fixture(name)):
        message = _now_times(message, (start + timedelta(seconds=age)).isoformat())
        if "mail" in message:
            message["mail"]["messageId"] = f"{campaign}-{message['mail']['messageId']}"
            if "tags" in message["mail"]:  # event publishing
                message["mail"]["tags"]["campaign"] = [campaign]
            for header in message["mail"].get("headers", []):  # notifications: no tags
                header["value"] = header["value"].replace("CAMPAIGN", campaign)
            if "source" in message["mail"]:
                message["mail"]["source"] = message["mail"]["source"].replace("CAMPAIGN", campaign)
        found.append(message)
    return found


def test_documented_messages_reach_the_email_report(server: Server, keys: dict[str, str]) -> None:
    url = server.url + configure(server, "ses", CERT)
    answers = [
        httpx.post(url, json=envelope(m, version=str(1 + i % 2))).json()
        for i, m in enumerate(messages("ses-doc"))
    ]
    assert sum(a["accepted"] for a in answers) == 11
    assert sum(a["ignored"] for a in answers) == 1  # the subscription-succeeded notice
    assert sum(a["unknown"] for a in answers) == 0
    with server.client(keys["read"]) as client:
        metrics = totals(client, "ses-doc", "email")
        assert {
            k: metrics[k]
            for k in (
                "sent",
                "delivered",
                "bounces",
                "hard_bounces",
                "soft_bounces",
                "spam_complaints",
                "opens",
                "clicks",
                "errors",
                "retries",
                "unsubscribes",
            )
        } == {
            "sent": 1,
            "delivered": 1,
            "bounces": 2,
            "hard_bounces": 1,
            "soft_bounces": 1,
            "spam_complaints": 1,
            "opens": 1,
            "clicks": 1,
            "errors": 2,
            "retries": 1,
            "unsubscribes": 1,
        }
        reasons = breakdown(client, "ses-doc", "email", "bounce_reason")["rows"]
        assert sorted(r["key"] for r in reasons) == ["Invalid Recipient", "Mailbox Full"]


def test_a_forged_or_unsigned_message_stores_nothing(server: Server, keys: dict[str, str]) -> None:
    url = server.url + configure(server, "ses", CERT)
    send, delivery = messages("ses-forged")[:2]
    assert httpx.post(url, json=envelope(send)).json()["accepted"] == 1
    assert httpx.post(url, json=envelope(delivery, key=OTHER_KEY)).status_code == 401
    unsigned = envelope(delivery)
    del unsigned["Signature"]
    assert httpx.post(url, json=unsigned).status_code == 401
    tampered = envelope(send)
    tampered["Message"] = json.dumps(delivery)
    assert httpx.post(url, json=tampered).status_code == 401
    with server.client(keys["read"]) as client:
        metrics = totals(client, "ses-forged", "email")
        assert (metrics["sent"], metrics["delivered"]) == (1, 0)


def test_a_redelivered_message_is_a_duplicate(server: Server) -> None:
    url = server.url + configure(server, "ses", CERT)
    bounce = messages("ses-replay")[2]
    assert httpx.post(url, json=envelope(bounce)).json()["accepted"] == 1
    again = httpx.post(url, json=envelope(bounce)).json()  # SNS retries with the same content
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_a_subscription_confirmation_is_kept_for_an_admin(server: Server) -> None:
    url = server.url + configure(server, "ses", CERT)
    answer = httpx.post(url, json=envelope(None, kind="SubscriptionConfirmation")).json()
    assert (answer["accepted"], answer["ignored"]) == (0, 1)
    notes = cli("webhooks", "notes", data=server.data).stdout
    assert "ses" in notes and "Action=ConfirmSubscription" in notes
    forged = envelope(None, key=OTHER_KEY, kind="SubscriptionConfirmation")
    assert httpx.post(url, json=forged).status_code == 401


# --- notifications (notificationType): no message tags, attributed from the original headers ---


def parse(message: dict[str, Any]) -> Parsed:
    body = json.dumps(envelope(message)).encode()
    return SES.parse(Delivery("https://x/", {}, body, datetime.now(UTC)), Fields())


def test_a_notification_is_attributed_from_its_original_headers() -> None:
    complaint, delivery = messages("ses-unit", name="ses_notifications.json")[:2]
    (event,) = parse(complaint).events
    assert (event["type"], event["campaign"], event["profile"], event["execution"]) == (
        "spam_complaint",
        "ses-unit",
        "s-1",
        "run-7",
    )
    (event,) = parse(delivery).events  # no X-Livereport headers: the VERP envelope sender
    assert (event["type"], event["campaign"], event["profile"]) == ("delivered", "ses-unit", "s-2")


def test_message_tags_come_before_headers() -> None:
    complaint = messages("ses-unit", name="ses_notifications.json")[0]
    complaint["mail"]["tags"] = {"campaign": ["from-tags"]}
    (event,) = parse(complaint).events
    assert (event["campaign"], event["profile"]) == ("from-tags", "s-1")


def test_a_notification_without_attribution_is_kept_not_dropped() -> None:
    bounce, complaint = messages("ses-unit", name="ses_notifications.json")[2:]
    for message, kind, why in (
        (bounce, "bounce", "carries no original headers"),
        (complaint, "complaint", "have no X-Livereport-Campaign"),
    ):
        parsed = parse(message)
        (kept,) = parsed.kept
        assert (parsed.events, kept.kind) == ([], kind)
        assert why in kept.why
        assert json.loads(kept.raw) == message
    assert parse(complaint).kept[0].subject == "Hello *@example.com"  # no local part kept
    assert parse(bounce).kept[0].rule == "ses:Permanent/General"


def test_event_publishing_without_tags_still_says_what_is_missing() -> None:
    send = messages("ses-unit")[0]
    del send["mail"]["tags"]
    parsed = parse(send)
    assert parsed.kept == [] and "campaign" not in parsed.events[0]


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        ({"From": "john@example.com"}, "mail.headers: expected a list of"),
        ([{"name": "From"}], "mail.headers: expected a list of"),
        ("From: john@example.com", "mail.headers: expected a list of"),
    ],
)
def test_original_headers_of_the_wrong_form_are_a_bad_request(headers: Any, said: str) -> None:
    complaint = messages("ses-unit", name="ses_notifications.json")[0]
    complaint["mail"]["headers"] = headers
    with pytest.raises(BadRequest, match=said):
        parse(complaint)


def test_notifications_reach_the_report_or_are_kept_for_admins(server: Server) -> None:
    server.create_org("ses-kept-org")
    url = server.url + configure(server, "ses", CERT, "--org", "ses-kept-org")
    found = messages("ses-notes", name="ses_notifications.json")
    answers = [httpx.post(url, json=envelope(m)).json() for m in found]
    assert [(a["accepted"], a["kept"], a["rejected"]) for a in answers] == [
        (1, 0, []),
        (1, 0, []),
        (0, 1, []),
        (0, 1, []),
    ]
    again = httpx.post(url, json=envelope(found[2])).json()  # SNS delivers it again
    assert (again["accepted"], again["kept"]) == (0, 1)
    with server.client(server.key("read", "admin", org="ses-kept-org")) as client:
        metrics = totals(client, "ses-notes", "email")
        assert (metrics["spam_complaints"], metrics["delivered"], metrics["bounces"]) == (1, 1, 0)
        kept = client.get("/v1/returns/unattributed").json()["returns"]
    assert sorted((k["kind"], k["rule"]) for k in kept) == [
        ("bounce", "ses:Permanent/General"),
        ("complaint", "ses:Complaint/unspecified"),
    ]
    assert all(k["why"].startswith("no campaign and profile: the SES notification") for k in kept)
    bounce = next(k for k in kept if k["kind"] == "bounce")
    raw = cli(
        "returns",
        "unattributed",
        "--org",
        "ses-kept-org",
        "--message",
        str(bounce["id"]),
        data=server.data,
    ).stdout
    assert (
        json.loads(raw)["bounce"]["bouncedRecipients"][1]["emailAddress"] == "richard@example.com"
    )
