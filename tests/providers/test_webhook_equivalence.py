"""A campaign fed only through SendGrid (or Mailgun) webhooks shows the same email tab as one
fed the equivalent canonical events through /v1/events."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx
import test_sendgrid
from test_mailgun import KEY, events, signed
from webhook_client import configure

from conftest import Server, post

#: What the Mailgun fixture says, written by hand in our contract (SPEC §2).
CANONICAL: list[dict[str, Any]] = [
    {"type": "sent", "profile": "p-1", "recipient": "alice@example.com"},
    {"type": "delivered", "profile": "p-1", "recipient": "alice@example.com"},
    {
        "type": "bounce",
        "profile": "p-2",
        "recipient": "carol@example.net",
        "smtp": {
            "code": 550,
            "status": "5.1.1",
            "diagnostic": "5.1.1 The email account that you tried to reach does not exist.",
        },
    },
    {"type": "retry", "profile": "p-3", "recipient": "dave@example.org"},
    {
        "type": "excluded",
        "profile": "p-4",
        "recipient": "erin@example.org",
        "reason": "suppressed address (earlier bounce)",
    },
    {"type": "open", "profile": "p-1", "recipient": "alice@example.com"},
    {"type": "open", "profile": "p-1", "recipient": "alice@example.com", "machine": True},
    {
        "type": "click",
        "profile": "p-1",
        "recipient": "alice@example.com",
        "url": "https://example.com/spring",
    },
    {"type": "spam_complaint", "profile": "p-1", "recipient": "alice@example.com"},
    {"type": "unsubscribe", "profile": "p-1", "recipient": "alice@example.com"},
]


#: What the SendGrid fixture says, written by hand in our contract (SPEC §2).
SENDGRID_CANONICAL: list[dict[str, Any]] = [
    {"type": "sent", "profile": "p-1", "recipient": "example@test.com"},
    {"type": "retry", "profile": "p-1", "recipient": "example@test.com"},
    {"type": "delivered", "profile": "p-1", "recipient": "example@test.com"},
    {"type": "open", "profile": "p-1", "recipient": "example@test.com"},
    {"type": "open", "profile": "p-1", "recipient": "example@test.com", "machine": True},
    {
        "type": "click",
        "profile": "p-1",
        "recipient": "example@test.com",
        "url": "http://www.sendgrid.com/",
    },
    {
        "type": "bounce",
        "profile": "p-2",
        "recipient": "other@test.com",
        "smtp": {"code": 500, "status": "5.0.0", "diagnostic": "500 unknown recipient"},
    },
    {
        "type": "bounce",
        "profile": "p-3",
        "recipient": "third@test.net",
        "smtp": {
            "code": 550,
            "status": "5.7.1",
            "diagnostic": "550 5.7.1 Service unavailable; client host blocked using a block list",
        },
    },
    {
        "type": "excluded",
        "profile": "p-4",
        "recipient": "fourth@test.com",
        "reason": "Bounced Address",
    },
    {"type": "spam_complaint", "profile": "p-1", "recipient": "example@test.com"},
    {"type": "unsubscribe", "profile": "p-1", "recipient": "example@test.com"},
    {"type": "unsubscribe", "profile": "p-5", "recipient": "example@test.com"},
]


def email_tab(client: httpx.Client, campaign: str) -> dict[str, Any]:
    response = client.get(f"/v1/campaigns/{quote(campaign)}/report", params={"tab": "email"})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return {k: v for k, v in found.items() if k not in ("campaign", "as_of")}


def test_mailgun_feeds_the_same_email_tab(server: Server, keys: dict[str, str]) -> None:
    path = configure(server, "mailgun", KEY)
    start = int(time.time()) - 60  # both campaigns' events at the same times: same buckets
    for data in events("mg-equal-hook", start):
        assert httpx.post(server.url + path, json=signed(data)).status_code == 200
    canonical = [
        {
            "id": f"mg-equal-{i}",
            "time": (start + i) * 1000,
            "campaign": "mg-equal-api",
            "channel": "email",
            "execution": "run-1",
            **event,
        }
        for i, event in enumerate(CANONICAL)
    ]
    with server.client(keys["both"]) as client:
        assert post(client, canonical)["accepted"] == len(CANONICAL)
        hook = email_tab(client, "mg-equal-hook")
        assert hook == email_tab(client, "mg-equal-api")
        assert '"bounces": 1' in json.dumps(hook)  # the tab holds the numbers, not empty states


def test_sendgrid_feeds_the_same_email_tab(server: Server, keys: dict[str, str]) -> None:
    url = server.url + configure(server, "sendgrid", test_sendgrid.PUBLIC)
    start = int(time.time()) - 60
    assert test_sendgrid.send(url, test_sendgrid.events("sg-equal-hook", start)).status_code == 200
    canonical = [
        {
            "id": f"sg-equal-{i}",
            "time": (start + i) * 1000,
            "campaign": "sg-equal-api",
            "channel": "email",
            **event,
        }
        for i, event in enumerate(SENDGRID_CANONICAL)
    ]
    with server.client(keys["both"]) as client:
        assert post(client, canonical)["accepted"] == len(SENDGRID_CANONICAL)
        hook = email_tab(client, "sg-equal-hook")
        assert hook == email_tab(client, "sg-equal-api")
        assert '"bounces": 2' in json.dumps(hook)
