"""Amazon SES through SNS: the SNS signature is checked against the org's pinned signing
certificates (never fetched); bounce, complaint and delivery notifications and event publishing.

Notifications carry no message tags: they are attributed from the original headers, and kept
for admins when those name no campaign and profile."""

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

from livereport.bounces.attribution import read_verp
from livereport.bounces.mail import ADDRESS, redact
from livereport.bounces.qualify import qualify
from livereport.errors import BadRequest, Unauthorized
from livereport.providers.base import Delivery, Fields, Kept, Parsed, client_ip, rfc3339, text

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
        _add(body, fields, parsed, str(envelope.get("Message", "")).encode())
        return parsed


def _envelope(raw: bytes) -> dict[str, Any]:
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"ses: the body is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise BadRequest("ses: expected an SNS message (a JSON object)")
    return doc


def _add(body: dict[str, Any], fields: Fields, parsed: Parsed, raw: bytes) -> None:
    kind = str(body.get("eventType") or body.get("notificationType") or "")
    # Notifications set on the identity ("classic") name their kind notificationType; event
    # publishing through a configuration set names it eventType and carries message tags.
    classic = not body.get("eventType") and kind in _CLASSIC
    mail = _object(body.get("mail"), "mail")
    base = f"ses:{mail.get('messageId', '')}:{kind}"
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
            events.append(
                {
                    "type": "spam_complaint",
                    "time": detail.get("timestamp"),
                    "recipient": r.get("emailAddress"),
                }
            )
    else:
        parsed.unknown += 1
        return
    who = attribution(mail, fields)
    if classic and events and not (who.get("campaign") and who.get("profile")):
        parsed.kept.append(_kept(kind, detail, mail, events[0], raw))
        return
    for event in events:
        if event.get("type") is None:
            parsed.ignored += 1
            continue
        event["time"] = rfc3339(event.get("time") or mail.get("timestamp"), "timestamp")
        event["recipient"] = text(event.get("recipient"), 320)
        # One event per message, type and recipient; a digest keeps long addresses under 128.
        digest = hashlib.sha256((event["recipient"] or "").encode()).hexdigest()[:16]
        event["id"] = f"{base}:{digest}"
        event["channel"] = "email"
        event.update(who)
        parsed.events.append({k: v for k, v in event.items() if v is not None})


#: The kinds of SES notifications set on an identity (not event publishing).
_CLASSIC = frozenset({"Bounce", "Complaint", "Delivery"})
#: The X-Livereport-* header of the original message that names each of our ids.
_HEADERS = {
    "campaign": "x-livereport-campaign",
    "profile": "x-livereport-profile",
    "execution": "x-livereport-execution",
    "variant": "x-livereport-variant",
}
_KEPT_KINDS = {"Bounce": "bounce", "Complaint": "complaint", "Delivery": "delivered"}
UNATTRIBUTED = (
    "no campaign and profile: the SES notification has no message tags, and the original "
    "headers it carries have no X-Livereport-Campaign and X-Livereport-Profile, nor a VERP "
    "envelope sender"
)
NO_HEADERS = (
    "no campaign and profile: the SES notification has no message tags and carries no "
    "original headers; turn on 'Include original headers' for this notification type of the "
    "identity in SES, and send with X-Livereport-Campaign and X-Livereport-Profile"
)


def attribution(mail: dict[str, Any], fields: Fields) -> dict[str, str]:
    """Campaign, profile, execution and variant of a message: its SES message tags first
    (event publishing, under the org's field names), else the original headers it was sent
    with (X-Livereport-Campaign, -Profile, -Execution, -Variant), else a VERP envelope sender
    (``bounces+<campaign>=<profile>@…``), as for returned mails."""
    found: dict[str, str] = {}
    originals = _headers(mail)
    for ours, name in _HEADERS.items():
        value = originals.get(name, "").strip()
        if value:
            found[ours] = value
    if not (found.get("campaign") and found.get("profile")):
        verp = _verp(mail, originals)
        if verp is not None:
            found["campaign"], found["profile"] = verp
    tags = _object(mail.get("tags"), "mail.tags")
    first = {k: v[0] for k, v in tags.items() if isinstance(v, list) and v}
    return fields.apply(first, found)


def _headers(mail: dict[str, Any]) -> dict[str, str]:
    """The original headers SES returns (``mail.headers``), by lower-case name, first wins."""
    given = mail.get("headers")
    if given is None:
        return {}
    shape = 'ses: mail.headers: expected a list of {"name": …, "value": …} objects'
    if not isinstance(given, list):
        raise BadRequest(f"{shape}, got {type(given).__name__}")
    found: dict[str, str] = {}
    for item in given:
        if not (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and isinstance(item.get("value"), str)
        ):
            raise BadRequest(f"{shape}; one item is {str(item)[:60]!r}")
        found.setdefault(item["name"].strip().lower(), item["value"])
    return found


def _verp(mail: dict[str, Any], originals: dict[str, str]) -> tuple[str, str] | None:
    """(campaign, profile) from a VERP address the message was sent from, if any."""
    common = _object(mail.get("commonHeaders"), "mail.commonHeaders")
    for value in (common.get("returnPath"), originals.get("return-path"), mail.get("source")):
        for address in ADDRESS.findall(value if isinstance(value, str) else ""):
            found = read_verp(address)
            if found is not None:
                return found
    return None


def _object(value: Any, what: str) -> dict[str, Any]:
    """A JSON object of the notification ({} when absent); BadRequest when it is not one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"ses: {what}: expected a JSON object, got {type(value).__name__}")
    return value


def _kept(
    kind: str, detail: dict[str, Any], mail: dict[str, Any], event: dict[str, Any], raw: bytes
) -> Kept:
    """An unattributed notification as it is kept for admins, with what it would have said."""
    reason, category, status = event.get("reason"), event.get("bounce"), None
    if kind == "Bounce":
        rule = f"ses:{event.get('code')}"
        smtp = event.get("smtp") or {}
        if smtp:
            found = qualify(status=smtp.get("status"), diagnostic=smtp.get("diagnostic"))
            reason, category, status = found.reason, found.category.value, found.status
            rule = found.rule
    elif kind == "Complaint":
        rule = f"ses:Complaint/{detail.get('complaintFeedbackType') or 'unspecified'}"
    else:
        rule = "ses:Delivery"
    common = _object(mail.get("commonHeaders"), "mail.commonHeaders")
    subject = common.get("subject") or _headers(mail).get("subject") or ""
    why = UNATTRIBUTED if "headers" in mail else NO_HEADERS
    if mail.get("headersTruncated") is True:
        why += " (SES cut the original headers short: headersTruncated)"
    return Kept(
        digest=hashlib.sha256(b"ses:" + raw).hexdigest(),
        kind=_KEPT_KINDS[kind],
        category=category,
        reason=reason,
        status=status,
        rule=rule,
        subject=redact(str(subject))[:200],
        why=why,
        raw=raw,
    )


_SIMPLE_KINDS = frozenset(
    {
        "Send",
        "Delivery",
        "Reject",
        "Rendering Failure",
        "Open",
        "Click",
        "DeliveryDelay",
        "Subscription",
    }
)
_DETAIL = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "Send": "send",
    "Reject": "reject",
    "Rendering Failure": "failure",
    "Open": "open",
    "Click": "click",
    "DeliveryDelay": "deliveryDelay",
    "Subscription": "subscription",
}


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
        event.update(
            type=kind.lower(),
            user_agent=text(detail.get("userAgent"), 512),
            url=text(detail.get("link"), 2048),
            ip=client_ip(detail.get("ipAddress")),
        )
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
