"""Twilio SMS status callbacks (form-encoded): X-Twilio-Signature is HMAC-SHA1 of the callback
URL plus the sorted form parameters; campaign and profile ride in the callback URL's query."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from livereport.bounces.mobile import Outcome, read_failure
from livereport.errors import BadRequest, Unauthorized
from livereport.providers.base import Delivery, Fields, Parsed, epoch_ms, same, text

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
            event.update(_failure(status, code))
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


def _failure(status: str, code: str | None) -> dict[str, Any]:
    """A known ErrorCode decides bounce or error (bounces/mobile.py); else the status does:
    undelivered (the carrier refused it) is a bounce, failed (never sent) an error."""
    known = read_failure("twilio", code)
    if known is not None:
        bounce = known.outcome == Outcome.BOUNCE
        return {
            "type": known.outcome.value,
            "code": code,
            "reason": known.reason,
            "bounce": known.category if bounce else None,
        }
    bounce = status == "undelivered"
    return {
        "type": "bounce" if bounce else "error",
        "code": code,
        "reason": f"Twilio error {code}" if code else None,
        "bounce": "ignored" if bounce else None,
    }


def _form(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError:
        raise BadRequest("twilio: expected an application/x-www-form-urlencoded body") from None


TWILIO = Twilio()
