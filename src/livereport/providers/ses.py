"""Amazon SES through SNS: the SNS signature is checked against the org's pinned signing
certificates (never fetched); bounce, complaint and delivery notifications and event publishing."""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import msgspec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from livereport.errors import BadRequest, Unauthorized
from livereport.providers.base import Delivery, Fields, Parsed, rfc3339, text

_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)

#: Bounce sub-types → (reason, category) when the recipient gives no SMTP data.
_SUBTYPES: dict[tuple[str, str], tuple[str, str]] = {
    ("Permanent", "General"): ("Invalid Recipient", "hard"),
    ("Permanent", "NoEmail"): ("Invalid Recipient", "hard"),
    ("Permanent", "Suppressed"): ("Recipient Refused", "hard"),
    ("Permanent", "OnAccountSuppressionList"): ("Recipient Refused", "hard"),
    ("Transient", "General"): ("Soft Bounce", "soft"),
    ("Transient", "MailboxFull"): ("Mailbox Full", "soft"),
    ("Transient", "MessageTooLarge"): ("Too Large", "ignored"),
    ("Transient", "ContentRejected"): ("Spam Content", "ignored"),
    ("Transient", "AttachmentRejected"): ("Spam Content", "ignored"),
    ("Undetermined", "Undetermined"): ("Undetermined", "ignored"),
}


def load_certificates(secret: str) -> list[rsa.RSAPublicKey]:
    """The RSA keys of the pinned SNS signing certificates (PEM, one or more)."""
    try:
        certs = x509.load_pem_x509_certificates(secret.encode())
    except ValueError:
        raise ValueError("ses: expected the PEM signing certificate(s) of the SNS topic") from None
    keys = [c.public_key() for c in certs]
    return [k for k in keys if isinstance(k, rsa.RSAPublicKey)]


class Ses:
    name = "ses"

    def verify(self, delivery: Delivery, secret: str) -> None:
        message = _envelope(delivery.body)
        kind = message.get("Type")
        keys = _CONFIRMATION_KEYS if kind != "Notification" else _NOTIFICATION_KEYS
        signed = "".join(
            f"{k}\n{message[k]}\n" for k in keys if isinstance(message.get(k), str)
        ).encode()
        digest = hashes.SHA256() if message.get("SignatureVersion") == "2" else hashes.SHA1()
        try:
            signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        except binascii.Error:
            signature = b""
        for key in load_certificates(secret) if signature else []:
            try:
                key.verify(signature, signed, padding.PKCS1v15(), digest)
                return
            except InvalidSignature:
                continue
        raise Unauthorized("ses: the SNS signature does not match a pinned signing certificate")

    def parse(self, delivery: Delivery, fields: Fields) -> Parsed:
        envelope = _envelope(delivery.body)
        parsed = Parsed()
        if envelope.get("Type") == "SubscriptionConfirmation":
            # Confirming means fetching SubscribeURL: an admin does it, we only keep the URL.
            parsed.notes.append(str(envelope.get("SubscribeURL", ""))[:2048])
            parsed.ignored += 1
            return parsed
        if envelope.get("Type") != "Notification":
            parsed.ignored += 1
            return parsed
        try:
            body = msgspec.json.decode(str(envelope.get("Message", "")))
        except msgspec.DecodeError:
            parsed.unknown += 1
            return parsed
        if not isinstance(body, dict):
            parsed.unknown += 1
            return parsed
        _add(body, fields, parsed)
        return parsed


def _envelope(raw: bytes) -> dict[str, Any]:
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"ses: the body is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise BadRequest("ses: expected an SNS message (a JSON object)")
    return doc


def _add(body: dict[str, Any], fields: Fields, parsed: Parsed) -> None:
    kind = str(body.get("eventType") or body.get("notificationType") or "")
    mail: dict[str, Any] = body.get("mail") or {}
    base = f"ses:{mail.get('messageId', '')}:{kind}"
    tags = {k: v[0] for k, v in (mail.get("tags") or {}).items() if isinstance(v, list) and v}
    detail: dict[str, Any] = body.get(_DETAIL.get(kind, ""), None) or {}
    events: list[dict[str, Any]] = []
    if kind == "AmazonSnsSubscriptionSucceeded":
        parsed.ignored += 1
        return
    if kind in _SIMPLE_KINDS:
        events.append(_simple(kind, detail, mail))
        if kind == "Delivery":
            events = [
                {**events[0], "recipient": r}
                for r in detail.get("recipients") or mail.get("destination") or [None]
            ]
    elif kind == "Bounce":
        for r in detail.get("bouncedRecipients") or []:
            events.append(_bounce(detail, r))
    elif kind == "Complaint":
        if detail.get("complaintFeedbackType") == "not-spam":
            parsed.ignored += 1
            return
        for r in detail.get("complainedRecipients") or []:
            events.append({"type": "spam_complaint", "time": detail.get("timestamp"),
                           "recipient": r.get("emailAddress")})  # fmt: skip
    else:
        parsed.unknown += 1
        return
    for event in events:
        if event.get("type") is None:
            parsed.ignored += 1
            continue
        event["time"] = rfc3339(event.get("time") or mail.get("timestamp"), "timestamp")
        event["recipient"] = text(event.get("recipient"), 320)
        # One event per message, type and recipient; a digest keeps long addresses under 128.
        who = hashlib.sha256((event["recipient"] or "").encode()).hexdigest()[:16]
        event["id"] = f"{base}:{who}"
        event["channel"] = "email"
        fields.apply(tags, event)
        parsed.events.append({k: v for k, v in event.items() if v is not None})


_SIMPLE_KINDS = frozenset(
    {"Send", "Delivery", "Reject", "Rendering Failure", "Open", "Click", "DeliveryDelay",
     "Subscription"}
)  # fmt: skip
_DETAIL = {"Bounce": "bounce", "Complaint": "complaint", "Delivery": "delivery", "Send": "send",
           "Reject": "reject", "Rendering Failure": "failure", "Open": "open", "Click": "click",
           "DeliveryDelay": "deliveryDelay", "Subscription": "subscription"}  # fmt: skip


def _simple(kind: str, detail: dict[str, Any], mail: dict[str, Any]) -> dict[str, Any]:
    recipient = (mail.get("destination") or [None])[0]
    event: dict[str, Any] = {"time": detail.get("timestamp"), "recipient": recipient}
    if kind == "Send":
        event.update(type="sent", time=mail.get("timestamp"))
    elif kind == "Delivery":
        event["type"] = "delivered"
    elif kind == "Reject":
        event.update(type="error", reason=text(detail.get("reason"), 256))
    elif kind == "Rendering Failure":
        template = text(detail.get("templateName"), 64)
        event.update(type="error", reason="rendering error", code=template)
        event["time"] = mail.get("timestamp")
    elif kind in ("Open", "Click"):
        event.update(type=kind.lower(), user_agent=text(detail.get("userAgent"), 512),
                     url=text(detail.get("link"), 2048))  # fmt: skip
    elif kind == "DeliveryDelay":
        event.update(type="retry", code=text(detail.get("delayType"), 64))
        delayed = detail.get("delayedRecipients") or [{}]
        event["recipient"] = delayed[0].get("emailAddress") or recipient
    elif kind == "Subscription":
        prefs = detail.get("newTopicPreferences") or {}
        event["type"] = "unsubscribe" if prefs.get("unsubscribeAll") else None
    return event


def _bounce(detail: dict[str, Any], recipient: dict[str, Any]) -> dict[str, Any]:
    pair = (str(detail.get("bounceType", "")), str(detail.get("bounceSubType", "")))
    event: dict[str, Any] = {
        "type": "bounce",
        "time": detail.get("timestamp"),
        "recipient": recipient.get("emailAddress"),
        "code": "/".join(pair),
    }
    smtp = {
        "status": recipient.get("status"),
        "diagnostic": text(recipient.get("diagnosticCode"), 1000),
    }
    if smtp["status"] or smtp["diagnostic"]:
        event["smtp"] = {k: v for k, v in smtp.items() if v}
    elif pair in _SUBTYPES:
        event["reason"], event["bounce"] = _SUBTYPES[pair]
    return event


SES = Ses()
