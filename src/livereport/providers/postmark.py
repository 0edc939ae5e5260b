"""Postmark webhooks (one JSON record per POST): Delivery, Bounce with its bounce types, Open,
Click, SpamComplaint, SubscriptionChange. Postmark signs nothing, so HTTP basic auth is checked."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from livereport.errors import BadRequest, Unauthorized
from livereport.providers.base import Delivery, Fields, Parsed, client_ip, rfc3339, same, text

#: Bounce Type (Postmark's name of the bounce type) → (our type, reason, bounce category);
#: category None for non-bounces.
_BOUNCE_TYPES: dict[str, tuple[str, str, str | None]] = {
    "HardBounce": ("bounce", "Invalid Recipient", "hard"),
    "Transient": ("bounce", "Transient Failure", "ignored"),
    "Unsubscribe": ("unsubscribe", "", None),
    "AutoResponder": ("bounce", "Auto-Reply", "ignored"),
    "AddressChange": ("bounce", "Generic Bounce", "ignored"),
    "DnsError": ("bounce", "DNS Failure", "soft"),
    "SpamNotification": ("bounce", "Spam Block", "ignored"),
    "OpenRelayTest": ("bounce", "Generic Bounce", "ignored"),
    "Unknown": ("bounce", "Undetermined", "ignored"),
    "SoftBounce": ("bounce", "Soft Bounce", "soft"),
    "VirusNotification": ("bounce", "Spam Content", "ignored"),
    "ChallengeVerification": ("bounce", "Challenge-Response", "soft"),
    "BadEmailAddress": ("bounce", "Invalid Recipient", "hard"),
    "SpamComplaint": ("spam_complaint", "", None),
    "ManuallyDeactivated": ("excluded", "suppressed address (manually deactivated)", None),
    "Unconfirmed": ("error", "sender signature not confirmed", None),
    "Blocked": ("bounce", "Mail Block", "ignored"),
    "SMTPApiError": ("error", "SMTP API error", None),
    "DMARCPolicy": ("bounce", "Mail Block", "ignored"),
    "TemplateRenderingFailed": ("error", "rendering error", None),
}

#: Bounce types about inbound mail or subscriptions: documented, but no event of ours.
_NO_EVENT = frozenset({"Subscribe", "InboundError"})

#: TypeCode → Type, Postmark's documented pairs; the code only decides when Type is missing
#: or unknown (the spam complaint webhook's own example carries TypeCode 512).
_TYPE_OF_CODE: dict[int, str] = {
    1: "HardBounce",
    2: "Transient",
    16: "Unsubscribe",
    32: "Subscribe",
    64: "AutoResponder",
    128: "AddressChange",
    256: "DnsError",
    512: "SpamNotification",
    1024: "OpenRelayTest",
    2048: "Unknown",
    4096: "SoftBounce",
    8192: "VirusNotification",
    16384: "ChallengeVerification",
    100000: "BadEmailAddress",
    100001: "SpamComplaint",
    100002: "ManuallyDeactivated",
    100003: "Unconfirmed",
    100006: "Blocked",
    100007: "SMTPApiError",
    100008: "InboundError",
    100009: "DMARCPolicy",
    100010: "TemplateRenderingFailed",
}


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
            ip=_client_ip(record),
        )
    elif kind in ("Bounce", "SpamComplaint"):
        name = bounce_type(record)
        if name in _NO_EVENT:
            parsed.ignored += 1
            return
        if name is None:
            parsed.unknown += 1
            return
        type_, reason, category = _BOUNCE_TYPES[name]
        # A complaint has one id whichever webhook (Bounce or SpamComplaint) brought it.
        which = "SpamComplaint" if type_ == "spam_complaint" else kind
        event.update(
            id=f"postmark:{which}:{record.get('ID', record.get('MessageID', ''))}",
            type=type_,
            time=rfc3339(record.get("BouncedAt"), "BouncedAt"),
            reason=reason or None,
            bounce=category,
            code=name,
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


def _client_ip(record: dict[str, Any]) -> str | None:
    """The client's address of an Open or Click record (``Geo.IP``), when it has one."""
    geo = record.get("Geo")
    return client_ip(geo.get("IP")) if isinstance(geo, dict) else None


def bounce_type(record: dict[str, Any]) -> str | None:
    """The Type that decides a Bounce or SpamComplaint record; None when neither its Type nor
    its TypeCode is one Postmark documents.

    The record's kind comes first: every SpamComplaint record is a complaint, whatever its
    TypeCode says. Then the Type name, then the TypeCode when Type is missing or unknown.
    """
    if record.get("RecordType") == "SpamComplaint":
        return "SpamComplaint"
    name = record.get("Type")
    code = record.get("TypeCode")
    if name is not None and not isinstance(name, str):
        raise BadRequest(
            f"postmark: Type: expected a bounce type name such as 'HardBounce', got {name!r:.40}"
        )
    if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
        raise BadRequest(
            f"postmark: TypeCode: expected an integer bounce type code such as 1, got {code!r:.40}"
        )
    if name in _BOUNCE_TYPES or name in _NO_EVENT:
        return name
    if code is not None and code in _TYPE_OF_CODE:
        return _TYPE_OF_CODE[code]
    if not name and code is None:
        raise BadRequest(
            "postmark: a Bounce record needs its Type (e.g. 'HardBounce') or TypeCode (e.g. 1)"
        )
    return None


POSTMARK = Postmark()
