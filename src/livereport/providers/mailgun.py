"""Mailgun webhooks (event-data JSON): HMAC-SHA256 signature of timestamp + token with the
domain's webhook signing key; accepted, delivered, failed, opened, clicked, complained…"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import msgspec

from livereport.errors import BadRequest, Unauthorized
from livereport.providers.base import Delivery, Fields, Parsed, client_ip, epoch_ms, same, text

_STATUS = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")

#: Mailgun's reasons for not sending to an address on one of its suppression lists.
_SUPPRESSED = {
    "suppress-bounce": "suppressed address (earlier bounce)",
    "suppress-unsubscribe": "suppressed address (unsubscribed)",
    "suppress-complaint": "suppressed address (spam complaint)",
}

#: Values of ``client-info.bot`` that make an open or click a machine's: Apple's privacy proxy
#: and a scanner or firewall Mailgun cannot name. Not "gmail": Gmail's image proxy fetches when
#: the person opens the mail, so the open is the person's.
MACHINE_BOTS = frozenset({"apple", "generic"})

_SIMPLE = {
    "accepted": "sent",
    "delivered": "delivered",
    "opened": "open",
    "clicked": "click",
    "complained": "spam_complaint",
    "unsubscribed": "unsubscribe",
    "rejected": "error",
}


class Mailgun:
    name = "mailgun"

    def verify(self, delivery: Delivery, secret: str) -> None:
        signature = _document(delivery.body).get("signature")
        if not isinstance(signature, dict):
            raise Unauthorized("mailgun: the body has no signature object")
        timestamp, token, given = (
            str(signature.get(k, "")) for k in ("timestamp", "token", "signature")
        )
        expected = hmac.new(
            secret.encode(), (timestamp + token).encode(), hashlib.sha256
        ).hexdigest()
        if not (timestamp and token and same(expected, given.lower())):
            raise Unauthorized("mailgun: the signature does not match the configured signing key")

    def parse(self, delivery: Delivery, fields: Fields) -> Parsed:
        data = _document(delivery.body).get("event-data")
        if not isinstance(data, dict):
            raise BadRequest("mailgun: expected an 'event-data' object")
        parsed = Parsed()
        event = _map(data, fields)
        if event is None:
            parsed.unknown += 1
        else:
            parsed.events.append(event)
        return parsed


def _document(body: bytes) -> dict[str, Any]:
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise BadRequest(f"mailgun: the body is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise BadRequest("mailgun: expected a JSON object with 'signature' and 'event-data'")
    return doc


def _map(data: dict[str, Any], fields: Fields) -> dict[str, Any] | None:
    kind = str(data.get("event", ""))
    status: dict[str, Any] = data.get("delivery-status") or {}
    time = epoch_ms(data.get("timestamp"), "mailgun: event-data timestamp")
    event: dict[str, Any] = {
        "id": event_id(data, time),
        "time": time,
        "channel": "email",
        "recipient": text(data.get("recipient"), 320),
    }
    if kind == "failed":
        reason = str(data.get("reason", ""))
        if reason in _SUPPRESSED:
            event.update(type="excluded", reason=_SUPPRESSED[reason], code=reason)
        elif data.get("severity") == "temporary":
            event.update(type="retry", code=reason or None)
        else:
            event.update(type="bounce", code=reason or None, smtp=_smtp(status))
    elif kind in _SIMPLE:
        event["type"] = _SIMPLE[kind]
        if kind == "rejected":
            reject = data.get("reject") or {}
            event["reason"] = text(reject.get("reason"), 256)
        client: dict[str, Any] = data.get("client-info") or {}
        event["user_agent"] = text(client.get("user-agent"), 512)
        if kind in ("opened", "clicked"):
            event["ip"] = client_ip(data.get("ip"))
            if client.get("bot") in MACHINE_BOTS:
                event["machine"] = True
        event["url"] = text(data.get("url"), 2048)
    else:
        return None
    variables = data.get("user-variables") or {}
    fields.apply(variables if isinstance(variables, dict) else {}, event)
    return {k: v for k, v in event.items() if v is not None}


def event_id(data: dict[str, Any], time: int) -> str:
    """Our id of a Mailgun event, the same each time Mailgun re-delivers it.

    Mailgun's ``id`` is unique within a day only, so the event's time (epoch ms) goes with it:
    two events that share an id on different days stay apart. An event without an id takes a
    digest of its whole event-data, never a shared constant, so it is not merged with others.
    """
    given = data.get("id")
    if given is not None and not isinstance(given, str):
        raise BadRequest(
            f"mailgun: event-data id: expected Mailgun's event id (a string), got {given!r:.40}"
        )
    if given:
        # Mailgun's ids are 22 characters; a longer one is digested to keep ours under 128.
        key = given if len(given) <= 64 else hashlib.sha256(given.encode()).hexdigest()[:40]
        return f"mailgun:{key}:{time}"
    whole = msgspec.json.encode(data, order="sorted")
    return f"mailgun:sha256:{hashlib.sha256(whole).hexdigest()[:40]}"


def _smtp(status: dict[str, Any]) -> dict[str, Any]:
    diagnostic = " ".join(str(status[k]) for k in ("message", "description") if status.get(k))[
        :1000
    ]
    smtp: dict[str, Any] = {"diagnostic": diagnostic or None}
    code = status.get("code")
    if isinstance(code, int) and 200 <= code <= 599:
        smtp["code"] = code
    found = _STATUS.search(str(status.get("enhanced-code") or diagnostic))
    if found:
        smtp["status"] = found[1]
    return {k: v for k, v in smtp.items() if v is not None}


MAILGUN = Mailgun()
