"""Twilio SMS status callbacks (form-encoded): X-Twilio-Signature is HMAC-SHA1 of the callback
URL plus the sorted form parameters; campaign and profile ride in the callback URL's query."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from livereport.errors import BadRequest, Unauthorized
from livereport.providers.base import Delivery, Fields, Parsed, epoch_ms, same, text

#: ErrorCode → (reason, bounce category when undelivered), from Twilio's error dictionary.
_ERRORS: dict[str, tuple[str, str]] = {
    "30001": ("Queue overflow", "ignored"),
    "30002": ("Account suspended", "ignored"),
    "30003": ("Unreachable destination handset", "soft"),
    "30004": ("Message blocked", "ignored"),
    "30005": ("Unknown destination handset", "hard"),
    "30006": ("Landline or unreachable carrier", "hard"),
    "30007": ("Message filtered by the carrier", "ignored"),
    "30008": ("Unknown error", "ignored"),
    "30010": ("Message price exceeds max price", "ignored"),
    "30034": ("Message from an unregistered number", "ignored"),
    "21211": ("Invalid 'To' phone number", "hard"),
    "21610": ("Recipient unsubscribed (STOP)", "hard"),
    "21614": ("'To' number is not a mobile number", "hard"),
}

#: Statuses that say nothing new to a report: before the hand-over, or inbound / read receipts.
_NO_EVENT = frozenset(
    {"queued", "accepted", "scheduled", "sending", "canceled", "read", "receiving", "received"}
)


class Twilio:
    name = "twilio"

    def verify(self, delivery: Delivery, secret: str) -> None:
        params = sorted(_form(delivery.body))
        signed = delivery.url + "".join(k + v for k, v in params)
        expected = base64.b64encode(
            hmac.new(secret.encode(), signed.encode(), hashlib.sha1).digest()
        ).decode()
        if not same(expected, delivery.headers.get("x-twilio-signature", "")):
            raise Unauthorized(
                "twilio: X-Twilio-Signature does not match the configured auth token"
            )

    def parse(self, delivery: Delivery, fields: Fields) -> Parsed:
        form = dict(_form(delivery.body))
        parsed = Parsed()
        status = form.get("MessageStatus") or form.get("SmsStatus") or ""
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        if not sid:
            raise BadRequest("twilio: expected a MessageSid form parameter")
        code = text(form.get("ErrorCode"), 64)
        event: dict[str, Any] = {
            "time": epoch_ms(delivery.now.timestamp()),
            "channel": "sms",
            "recipient": text(form.get("To"), 320),
        }
        if status in ("sent", "delivered"):
            event["type"] = status
        elif status in ("undelivered", "failed"):
            reason, category = _ERRORS.get(code or "", ("", "ignored"))
            event.update(
                type="bounce" if status == "undelivered" else "error",
                code=code,
                reason=reason or (f"Twilio error {code}" if code else None),
                bounce=category if status == "undelivered" else None,
            )
        elif status in _NO_EVENT:
            parsed.ignored += 1
            return parsed
        else:
            parsed.unknown += 1
            return parsed
        # One event per message and type: a retried callback, or "sent" twice, is a duplicate.
        event["id"] = f"twilio:{sid}:{event['type']}"
        fields.apply(dict(parse_qsl(urlsplit(delivery.url).query)), event)
        parsed.events.append({k: v for k, v in event.items() if v is not None})
        return parsed


def _form(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise BadRequest("twilio: expected an application/x-www-form-urlencoded body") from None


TWILIO = Twilio()
