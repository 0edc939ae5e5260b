"""SendGrid Event Webhook (a JSON array of events), signed: ECDSA P-256 / SHA-256 over the
timestamp header + raw body, checked with the org's verification key (base64 DER public key)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from livereport.bounces.qualify import qualify
from livereport.bounces.rules import Category, Reason
from livereport.errors import BadRequest, Unauthorized
from livereport.providers.base import Delivery, Fields, Parsed, client_ip, epoch_ms, text

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"

_STATUS = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
_REPLY = re.compile(r"^\s*([245]\d\d)\b")

_SIMPLE = {
    "processed": "sent",
    "delivered": "delivered",
    "deferred": "retry",
    "open": "open",
    "click": "click",
    "spamreport": "spam_complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
}


def load_key(secret: str) -> ec.EllipticCurvePublicKey:
    """The verification key SendGrid shows (base64 DER); ValueError if it is not a P-256 key."""
    try:
        key = load_der_public_key(base64.b64decode(secret, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError("sendgrid: expected the base64 verification key SendGrid shows") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("sendgrid: the verification key is not an elliptic-curve key")
    return key


class SendGrid:
    name = "sendgrid"

    def verify(self, delivery: Delivery, secret: str) -> None:
        signature = delivery.headers.get(SIGNATURE, "")
        timestamp = delivery.headers.get(TIMESTAMP, "")
        if not signature or not timestamp:
            raise Unauthorized("sendgrid: the signed event webhook headers are missing")
        try:
            load_key(secret).verify(
                base64.b64decode(signature, validate=True),
                timestamp.encode() + delivery.body,
                ec.ECDSA(hashes.SHA256()),
            )
        except (InvalidSignature, binascii.Error, ValueError):
            raise Unauthorized(
                "sendgrid: the signature does not match the configured verification key"
            ) from None

    def parse(self, delivery: Delivery, fields: Fields) -> Parsed:
        try:
            items = msgspec.json.decode(delivery.body)
        except msgspec.DecodeError as exc:
            raise BadRequest(f"sendgrid: the body is not valid JSON ({exc})") from None
        if not isinstance(items, list):
            raise BadRequest("sendgrid: expected a JSON array of events")
        parsed = Parsed()
        for item in items:
            if not isinstance(item, dict):
                raise BadRequest("sendgrid: expected each event to be a JSON object")
            kind = item.get("event")
            if kind == "group_resubscribe":
                parsed.ignored += 1
                continue
            event = _map(item, fields)
            if event is None:
                parsed.unknown += 1
            else:
                parsed.events.append(event)
        return parsed


def _map(item: dict[str, Any], fields: Fields) -> dict[str, Any] | None:
    kind = str(item.get("event", ""))
    event: dict[str, Any] = {
        "id": f"sendgrid:{item.get('sg_event_id', '')}",
        "time": epoch_ms(item.get("timestamp")),
        "channel": "email",
        "recipient": text(item.get("email"), 320),
    }
    if kind in _SIMPLE:
        event["type"] = _SIMPLE[kind]
        event["user_agent"] = text(item.get("useragent"), 512)
        event["url"] = text(item.get("url"), 2048)
        if kind in ("open", "click"):
            # The client's address; a delivered event's ``ip`` is SendGrid's sending address.
            event["ip"] = client_ip(item.get("ip"))
        # SendGrid's own verdict on an open: Apple's privacy proxy fetched it.
        if item.get("sg_machine_open") is True:
            event["machine"] = True
    elif kind == "dropped":
        event.update(type="excluded", reason=text(item.get("reason"), 256))
    elif kind in ("bounce", "blocked"):
        diagnostic = text(item.get("reason"), 1000)
        smtp: dict[str, Any] = {"diagnostic": diagnostic}
        status = str(item.get("status", ""))
        if _STATUS.match(status):
            smtp["status"] = status
        reply = _REPLY.match(diagnostic or "")
        if reply:
            smtp["code"] = int(reply[1])
        smtp = {k: v for k, v in smtp.items() if v is not None}
        subtype = item.get("type")
        if subtype is not None and not isinstance(subtype, str):
            raise BadRequest(
                f"sendgrid: a bounce's type: expected 'bounce' or 'blocked', got {subtype!r:.40}"
            )
        event.update(type="bounce", smtp=smtp, code=text(subtype or kind, 64))
        if "blocked" in (kind, subtype):
            event["bounce"] = block_category(smtp, item.get("bounce_classification"))
    else:
        return None
    metadata = dict(item)
    for nested in ("unique_args", "custom_args"):
        if isinstance(item.get(nested), dict):
            metadata.update(item[nested])
    fields.apply(metadata, event)
    return {k: v for k, v in event.items() if v is not None}


def block_category(smtp: dict[str, Any], classification: Any) -> str | None:
    """The category of a block: SendGrid calls blocks temporary, so never hard unless the
    address does not exist (the reply says so, or SendGrid classes it "Invalid Address").

    None: the bounce rules decide, as for any bounce. Otherwise the rules' category, with
    soft in place of hard; it is given with the event, so no rule can make the block hard.
    """
    found = qualify(
        status=smtp.get("status"), code=smtp.get("code"), diagnostic=smtp.get("diagnostic")
    )
    if found.reason == Reason.INVALID_RECIPIENT or classification == "Invalid Address":
        return None
    return Category.SOFT.value if found.category == Category.HARD else found.category.value


SENDGRID = SendGrid()
