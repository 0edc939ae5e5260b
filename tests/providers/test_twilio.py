"""Twilio SMS status callbacks: statuses map to sms events; X-Twilio-Signature is checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

import httpx
from webhook_client import breakdown, configure, fixture, totals

from conftest import Server

TOKEN = "12345678901234567890123456789012"


def signature(url: str, form: dict[str, str], token: str = TOKEN) -> str:
    signed = url + "".join(k + v for k, v in sorted(form.items()))
    return base64.b64encode(
        hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    ).decode()


def send(url: str, form: dict[str, str], token: str = TOKEN, sign: bool = True) -> httpx.Response:
    headers = {"X-Twilio-Signature": signature(url, form, token)} if sign else {}
    return httpx.post(url, data=form, headers=headers)


def callback_url(server: Server, path: str, campaign: str, profile: str) -> str:
    return f"{server.url}{path}?" + urlencode(
        {"campaign": campaign, "profile": profile, "execution": "run-1"}
    )


def callbacks(campaign: str) -> list[dict[str, Any]]:
    found = fixture("twilio_callbacks.json")
    for form in found:
        for name in ("MessageSid", "SmsSid"):
            if name in form:
                form[name] = f"{form[name]}-{campaign}"  # the tests share one org: ids stay apart
    return found


def test_documented_statuses_reach_the_sms_report(server: Server, keys: dict[str, str]) -> None:
    path = configure(server, "twilio", TOKEN)
    answers = []
    for form in callbacks("tw-doc"):
        url = callback_url(server, path, "tw-doc", "p-" + form["To"][-2:])
        response = send(url, form)
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert sum(a["accepted"] for a in answers) == 5
    assert sum(a["ignored"] for a in answers) == 1  # queued: before the hand-over
    assert sum(a["unknown"] for a in answers) == 1
    with server.client(keys["read"]) as client:
        metrics = totals(client, "tw-doc", "sms")
        assert {k: metrics[k] for k in ("sent", "delivered", "bounces", "errors")} == {
            "sent": 2,
            "delivered": 1,
            "bounces": 1,
            "errors": 1,
        }
        bounces = breakdown(client, "tw-doc", "sms", "bounce_reason")["rows"]
        assert [r["key"] for r in bounces] == ["Unreachable destination handset"]
        errors = breakdown(client, "tw-doc", "sms", "error_reason")["rows"]
        assert [r["key"] for r in errors] == ["Message from an unregistered number"]


def test_a_forged_or_missing_signature_stores_nothing(server: Server, keys: dict[str, str]) -> None:
    path = configure(server, "twilio", TOKEN)
    sent, delivered = callbacks("tw-forged")[1:3]
    url = callback_url(server, path, "tw-forged", "p-1")
    assert send(url, sent).json()["accepted"] == 1
    assert send(url, delivered, token="0" * 32).status_code == 401
    assert send(url, delivered, sign=False).status_code == 401
    other = callback_url(server, path, "tw-other", "p-1")  # the signature covers the URL
    moved = httpx.post(
        other, data=delivered, headers={"X-Twilio-Signature": signature(url, delivered)}
    )
    assert moved.status_code == 401
    with server.client(keys["read"]) as client:
        metrics = totals(client, "tw-forged", "sms")
        assert (metrics["sent"], metrics["delivered"]) == (1, 0)


def test_a_retried_callback_is_a_duplicate(server: Server) -> None:
    path = configure(server, "twilio", TOKEN)
    delivered = callbacks("tw-replay")[2]
    url = callback_url(server, path, "tw-replay", "p-1")
    assert send(url, delivered).json()["accepted"] == 1
    again = send(url, delivered).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_a_known_error_code_decides_bounce_or_error(server: Server, keys: dict[str, str]) -> None:
    path = configure(server, "twilio", TOKEN)
    forms = [
        {
            "MessageSid": "SMcodes1",
            "MessageStatus": "undelivered",
            "ErrorCode": "30005",
            "To": "+15558675320",
        },
        {
            "MessageSid": "SMcodes2",
            "MessageStatus": "failed",
            "ErrorCode": "21610",
            "To": "+15558675321",
        },
        {
            "MessageSid": "SMcodes3",
            "MessageStatus": "failed",
            "ErrorCode": "12345",
            "To": "+15558675322",
        },
        {
            "MessageSid": "SMcodes4",
            "MessageStatus": "undelivered",
            "ErrorCode": "30034",
            "To": "+15558675323",
        },
    ]
    for form in forms:
        response = send(callback_url(server, path, "tw-codes", form["To"][-2:]), form)
        assert response.json()["accepted"] == 1, response.text
    with server.client(keys["read"]) as client:
        metrics = totals(client, "tw-codes", "sms")
        assert (metrics["bounces"], metrics["hard_bounces"], metrics["errors"]) == (2, 2, 2)
        bounces = breakdown(client, "tw-codes", "sms", "bounce_reason")["rows"]
        assert sorted(r["key"] for r in bounces) == [
            "Recipient unsubscribed (STOP)",
            "Unknown destination handset",
        ]
        errors = breakdown(client, "tw-codes", "sms", "error_reason")["rows"]
        assert sorted(r["key"] for r in errors) == [
            "Message from an unregistered number",
            "Twilio error 12345",
        ]
