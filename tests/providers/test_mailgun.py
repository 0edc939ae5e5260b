"""Mailgun webhooks: documented events reach the report; bad signatures store nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from webhook_client import breakdown, configure, fixture, totals

from conftest import Server
from livereport.errors import BadRequest
from livereport.providers import Fields
from livereport.providers.base import Delivery
from livereport.providers.mailgun import MAILGUN

KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"


def signed(data: dict[str, Any], key: str = KEY) -> dict[str, Any]:
    timestamp, token = str(int(time.time())), hashlib.sha256(data["id"].encode()).hexdigest()[:50]
    digest = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": digest},
        "event-data": data,
    }


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
        assert {
            k: metrics[k]
            for k in (
                "sent",
                "delivered",
                "bounces",
                "hard_bounces",
                "retries",
                "excluded",
                "opens",
                "clicks",
                "spam_complaints",
                "unsubscribes",
            )
        } == {
            "sent": 1,
            "delivered": 1,
            "bounces": 1,
            "hard_bounces": 1,
            "retries": 1,
            "excluded": 1,
            "opens": 2,
            "clicks": 1,
            "spam_complaints": 1,
            "unsubscribes": 1,
        }
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


# --- event ids: Mailgun's id is unique within a day only -----------------------------------

DAY = 24 * 3600


def parse(data: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"event-data": data}).encode()
    (event,) = MAILGUN.parse(Delivery("https://x/", {}, body, datetime.now(UTC)), Fields()).events
    return event


def test_the_same_mailgun_id_on_another_day_is_another_event() -> None:
    delivered = fixture("mailgun_events.json")[1]
    today = parse(delivered)
    assert parse(dict(delivered))["id"] == today["id"]  # a re-delivery: the same id
    next_day = parse({**delivered, "timestamp": delivered["timestamp"] + DAY})
    assert next_day["id"] != today["id"]
    assert today["id"].startswith(f"mailgun:{delivered['id']}:")


def test_events_without_an_id_are_never_merged() -> None:
    delivered, failed = (fixture("mailgun_events.json")[i] for i in (1, 2))
    for data in (delivered, failed):
        del data["id"]
    first = parse(delivered)["id"]
    assert first == parse(dict(delivered))["id"]  # re-delivered: still a duplicate
    assert first != parse(failed)["id"]
    assert first != parse({**delivered, "recipient": "bob@example.com"})["id"]


def test_an_id_that_is_not_text_is_a_bad_request() -> None:
    data = {**fixture("mailgun_events.json")[1], "id": 12345}
    with pytest.raises(BadRequest, match=r"event-data id: expected Mailgun's event id"):
        parse(data)


def test_a_mailgun_id_seen_again_the_next_day_is_counted_again(server: Server) -> None:
    path = configure(server, "mailgun", KEY)
    now = time.time()
    yesterday, today = events("mg-days", now - DAY - 60)[1], events("mg-days", now - 60)[1]
    assert yesterday["id"] == today["id"]
    assert httpx.post(server.url + path, json=signed(yesterday)).json()["accepted"] == 1
    assert httpx.post(server.url + path, json=signed(today)).json()["accepted"] == 1
    again = httpx.post(server.url + path, json=signed(today)).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_events_without_an_id_are_counted_once_each(server: Server) -> None:
    path = configure(server, "mailgun", KEY)
    found = events("mg-noid")
    opened, clicked = found[5], found[7]
    bodies = []
    for data in (opened, clicked):
        body = signed(data)
        del body["event-data"]["id"]
        bodies.append(body)
    answers = [httpx.post(server.url + path, json=b).json() for b in (*bodies, bodies[0])]
    assert [(a["accepted"], a["duplicates"]) for a in answers] == [(1, 0), (1, 0), (0, 1)]
