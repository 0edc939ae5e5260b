"""Mailgun webhooks: documented events reach the report; bad signatures store nothing."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
from webhook_client import breakdown, configure, fixture, totals

from conftest import Server

KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def signed(data: dict[str, Any], key: str = KEY) -> dict[str, Any]:
    timestamp, token = str(int(time.time())), hashlib.sha256(data["id"].encode()).hexdigest()[:50]
    digest = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": digest},
            "event-data": data}  # fmt: skip


def events(campaign: str, start: float | None = None) -> list[dict[str, Any]]:
    """The fixture's events for ``campaign``, one a second from ``start`` (a minute ago)."""
    start = time.time() - 60 if start is None else start
    found = fixture("mailgun_events.json")
    for age, data in enumerate(found):
        data["timestamp"] = start + age
        data["id"] = f"{campaign}-{data['id']}"  # the tests share one org: ids stay apart
        data["user-variables"]["campaign"] = campaign
    return found


def test_documented_events_reach_the_email_report(server: Server, keys: dict[str, str]) -> None:
    path = configure(server, "mailgun", KEY)
    answers = [httpx.post(server.url + path, json=signed(e)).json() for e in events("mg-doc")]
    assert sum(a["accepted"] for a in answers) == 10
    assert sum(a["unknown"] for a in answers) == 1  # "stored" has no event of ours
    assert all(a["rejected"] == [] for a in answers)
    with server.client(keys["read"]) as client:
        metrics = totals(client, "mg-doc", "email")
        assert {k: metrics[k] for k in ("sent", "delivered", "bounces", "hard_bounces", "retries",
                                        "excluded", "opens", "clicks", "spam_complaints",
                                        "unsubscribes")} == {
            "sent": 1, "delivered": 1, "bounces": 1, "hard_bounces": 1, "retries": 1,
            "excluded": 1, "opens": 2, "clicks": 1, "spam_complaints": 1, "unsubscribes": 1,
        }  # fmt: skip
        reasons = breakdown(client, "mg-doc", "email", "bounce_reason")
        assert [r["key"] for r in reasons["rows"]] == ["Invalid Recipient"]
        assert breakdown(client, "mg-doc", "email", "execution")["rows"][0]["key"] == "run-1"


def test_a_replayed_delivery_is_a_duplicate(server: Server) -> None:
    path = configure(server, "mailgun", KEY)
    body = signed(events("mg-replay")[1])
    assert httpx.post(server.url + path, json=body).json()["accepted"] == 1
    again = httpx.post(server.url + path, json=body).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_a_forged_or_missing_signature_is_refused(server: Server, keys: dict[str, str]) -> None:
    path = configure(server, "mailgun", KEY)
    first, second, third = events("mg-forged")[:3]
    assert httpx.post(server.url + path, json=signed(first)).json()["accepted"] == 1
    forged = httpx.post(server.url + path, json=signed(second, key="key-not-the-right-one"))
    assert forged.status_code == 401
    missing = httpx.post(server.url + path, json={"event-data": third})
    assert missing.status_code == 401
    tampered = signed(third)
    tampered["signature"]["timestamp"] = "1"
    assert httpx.post(server.url + path, json=tampered).status_code == 401
    with server.client(keys["read"]) as client:
        metrics = totals(client, "mg-forged", "email")
        assert (metrics["sent"], metrics["delivered"], metrics["bounces"]) == (1, 0, 0)


def test_an_unknown_token_or_provider_is_refused(server: Server) -> None:
    path = configure(server, "mailgun", KEY)
    body = signed(events("mg-token")[0])
    assert httpx.post(server.url + "/v1/webhooks/mailgun/wh_guess", json=body).status_code == 401
    other = path.replace("/mailgun/", "/nosuch/")
    assert httpx.post(server.url + other, json=body).status_code == 404
