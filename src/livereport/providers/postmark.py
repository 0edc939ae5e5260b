"""Postmark webhooks (one JSON record per POST): Delivery, Bounce with its type codes, Open,
Click, SpamComplaint, SubscriptionChange. Postmark signs nothing, so HTTP basic auth is checked."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from livereport.errors import BadRequest, Unauthorized
from livereport.providers.base import Delivery, Fields, Parsed, rfc3339, same, text

#: Bounce TypeCode → (our type, reason, bounce category); category None for non-bounces.
_BOUNCE_CODES: dict[int, tuple[str, str, str | None]] = {
    1: ("bounce", "Invalid Recipient", "hard"),  # HardBounce
    2: ("bounce", "Transient Failure", "ignored"),  # Transient
    16: ("unsubscribe", "", None),  # Unsubscribe request
    64: ("bounce", "Auto-Reply", "ignored"),  # AutoResponder
    128: ("bounce", "Generic Bounce", "ignored"),  # AddressChange
    256: ("bounce", "DNS Failure", "soft"),  # DnsError
    512: ("bounce", "Spam Block", "ignored"),  # SpamNotification
    1024: ("bounce", "Generic Bounce", "ignored"),  # OpenRelayTest
    2048: ("bounce", "Undetermined", "ignored"),  # Unknown
    4096: ("bounce", "Soft Bounce", "soft"),  # SoftBounce
    8192: ("bounce", "Spam Content", "ignored"),  # VirusNotification
    16384: ("bounce", "Challenge-Response", "soft"),  # ChallengeVerification
    100000: ("bounce", "Invalid Recipient", "hard"),  # BadEmailAddress
    100001: ("spam_complaint", "", None),  # SpamComplaint
    100002: ("excluded", "suppressed address (manually deactivated)", None),
    100003: ("error", "sender signature not confirmed", None),  # Unconfirmed
    100006: ("bounce", "Mail Block", "ignored"),  # Blocked
    100007: ("error", "SMTP API error", None),  # SMTPApiError
    100009: ("bounce", "Mail Block", "ignored"),  # DMARCPolicy
    100010: ("error", "rendering error", None),  # TemplateRenderingFailed
}

#: Bounce type codes about inbound mail or subscriptions: documented, but no event of ours.
_NO_EVENT = frozenset({32, 100008})


class Postmark:
    name = "postmark"

    def verify(self, delivery: Delivery, secret: str) -> None:
        """``secret`` is ``user:password``, the credentials put in the webhook URL at Postmark."""
        kind, _, value = delivery.headers.get("authorization", "").partition(" ")
        try:
            given = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            given = ""
        if kind.lower() != "basic" or not same(given, secret):
            raise Unauthorized("postmark: expected the basic auth credentials configured for it")

    def parse(self, delivery: Delivery, fields: Fields) -> Parsed:
        try:
            doc = msgspec.json.decode(delivery.body)
        except msgspec.DecodeError as exc:
            raise BadRequest(f"postmark: the body is not valid JSON ({exc})") from None
        records = doc if isinstance(doc, list) else [doc]
        parsed = Parsed()
        for record in records:
            if not isinstance(record, dict):
                raise BadRequest("postmark: expected a JSON object (one webhook record)")
            _add(record, fields, parsed)
        return parsed


def _add(record: dict[str, Any], fields: Fields, parsed: Parsed) -> None:
    kind = str(record.get("RecordType", ""))
    event: dict[str, Any] = {
        "channel": "email",
        "recipient": text(record.get("Recipient") or record.get("Email"), 320),
    }
    if kind == "Delivery":
        event.update(type="delivered", time=rfc3339(record.get("DeliveredAt"), "DeliveredAt"))
    elif kind in ("Open", "Click"):
        event.update(
            type="open" if kind == "Open" else "click",
            time=rfc3339(record.get("ReceivedAt"), "ReceivedAt"),
            user_agent=text(record.get("UserAgent"), 512),
            url=text(record.get("OriginalLink"), 2048),
        )
    elif kind in ("Bounce", "SpamComplaint"):
        code = record.get("TypeCode")
        if code in _NO_EVENT:
            parsed.ignored += 1
            return
        if not isinstance(code, int) or code not in _BOUNCE_CODES:
            parsed.unknown += 1
            return
        type_, reason, category = _BOUNCE_CODES[code]
        event.update(
            id=f"postmark:{kind}:{record.get('ID', record.get('MessageID', ''))}",
            type=type_,
            time=rfc3339(record.get("BouncedAt"), "BouncedAt"),
            reason=reason or None,
            bounce=category,
            code=text(record.get("Type"), 64),
        )
        details = text(record.get("Details"), 1000)
        if type_ == "bounce" and details:
            event["smtp"] = {"diagnostic": details}
    elif kind == "SubscriptionChange":
        # Suppressions after a bounce or complaint repeat those events; reactivations carry none.
        if not (
            record.get("SuppressSending") and record.get("SuppressionReason") == "ManualSuppression"
        ):
            parsed.ignored += 1
            return
        event.update(type="unsubscribe", time=rfc3339(record.get("ChangedAt"), "ChangedAt"))
    else:
        parsed.unknown += 1
        return
    event.setdefault("id", f"postmark:{record.get('MessageID', '')}:{kind}:{event['time']}")
    metadata = record.get("Metadata") or {}
    fields.apply(metadata if isinstance(metadata, dict) else {}, event)
    parsed.events.append({k: v for k, v in event.items() if v is not None})


POSTMARK = Postmark()
