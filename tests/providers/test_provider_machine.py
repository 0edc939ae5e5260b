"""Provider payloads carry what machine detection needs (ingest/machine.py): each provider's own
machine flag, the client's IP and user agent of opens and clicks, and never a sending address;
through the pipeline they get the right verdict and rule."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from livereport.events import Event
from livereport.ingest import machine, pipeline
from livereport.providers import Fields
from livereport.providers.base import Delivery, Parsed
from livereport.providers.mailgun import MAILGUN
from livereport.providers.postmark import POSTMARK
from livereport.providers.sendgrid import SENDGRID
from livereport.providers.ses import SES

NOW = datetime.now(UTC)
SECONDS = int(time.time()) - 3600
HUMAN_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
GMAIL_UA = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
META = {"campaign": "prov-machine", "profile": "p-1"}


def delivery(body: Any) -> Delivery:
    return Delivery("https://x/", {}, json.dumps(body).encode(), NOW)


def stored(parsed: Parsed) -> list[Event]:
    """The parsed events through every step but the store, in order; rejections fail."""
    ctx = pipeline.Context(1, NOW, timedelta(days=30), memory=machine.Memory())
    batch = pipeline.prepare(pipeline.Items(parsed.events), ctx)
    assert not batch.rejected, batch.rejected
    return [e for _, e in sorted(batch.events, key=lambda pair: pair[0])]


# --- SendGrid -------------------------------------------------------------------------------------


def sendgrid(event: str, n: int, **fields: Any) -> dict[str, Any]:
    return {
        "email": "ana@icloud.com",
        "timestamp": SECONDS + n,
        "event": event,
        "sg_event_id": f"sg-machine-{n}",
        **META,
        **fields,
    }


def test_sendgrid_machine_open_ip_and_user_agent() -> None:
    items = [
        sendgrid("delivered", 0, ip="167.89.92.110"),
        sendgrid("open", 100, sg_machine_open=True, useragent="Mozilla/5.0", ip="17.58.0.1"),
        sendgrid("open", 200, sg_machine_open=False, useragent="Mozilla/5.0", ip="17.58.0.1"),
        sendgrid("open", 300, sg_machine_open=False, useragent=GMAIL_UA, ip="66.249.84.3"),
        sendgrid(
            "click",
            400,
            useragent="Proofpoint URL Defense/1.0",
            ip="52.1.2.3",
            url="https://x.example/a",
        ),
        sendgrid("click", 500, useragent=HUMAN_UA, ip="81.2.69.160", url="https://x.example/b"),
    ]
    parsed = SENDGRID.parse(delivery(items), Fields())
    assert [e.get("ip") for e in parsed.events] == [
        None,
        "17.58.0.1",
        "17.58.0.1",
        "66.249.84.3",
        "52.1.2.3",
        "81.2.69.160",
    ]
    assert [e.get("machine") for e in parsed.events] == [None, True, None, None, None, None]
    found = stored(parsed)
    assert [(e.type, e.machine, e.machine_rule) for e in found] == [
        ("delivered", False, ""),
        ("open", True, "flagged"),
        ("open", True, "apple_proxy"),
        ("open", False, ""),
        ("click", True, "scanner_agent"),
        ("click", False, ""),
    ]


# --- Mailgun ---------------------------------------------------------------------------------------


def mailgun(event: str, n: int, **fields: Any) -> dict[str, Any]:
    return {
        "signature": {},
        "event-data": {
            "event": event,
            "id": f"mg-machine-{n}",
            "timestamp": SECONDS + n,
            "recipient": "ana@example.com",
            "user-variables": META,
            **fields,
        },
    }


@pytest.mark.parametrize(
    ("bot", "rule"),
    [
        ("apple", "flagged"),
        ("generic", "flagged"),
        ("gmail", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_mailgun_bot_field_flags_apple_and_scanners_not_gmail(bot: str | None, rule: str) -> None:
    client = {"user-agent": HUMAN_UA, "client-type": "browser"}
    if bot is not None:
        client["bot"] = bot
    parsed = MAILGUN.parse(
        delivery(mailgun("opened", 1, ip="81.2.69.160", **{"client-info": client})), Fields()
    )
    (event,) = parsed.events
    assert event["ip"] == "81.2.69.160" and event["user_agent"] == HUMAN_UA
    (found,) = stored(parsed)
    assert (found.machine, found.machine_rule) == (bool(rule), rule)


def test_mailgun_click_passes_its_ip_and_a_delivery_its_sending_address_not() -> None:
    click = mailgun(
        "clicked",
        2,
        ip="52.4.5.6",
        url="https://x.example/a",
        **{"client-info": {"user-agent": "python-requests/2.31.0"}},
    )
    delivered = mailgun(
        "delivered", 3, ip="209.61.154.250", envelope={"sending-ip": "209.61.154.250"}
    )
    events = [MAILGUN.parse(delivery(d), Fields()).events[0] for d in (click, delivered)]
    assert events[0]["ip"] == "52.4.5.6"
    assert "ip" not in events[1]
    parsed = Parsed(events=events)
    assert [(e.type, e.machine_rule) for e in stored(parsed)] == [
        ("click", "scanner_agent"),
        ("delivered", ""),
    ]


# --- Amazon SES -----------------------------------------------------------------------------------


def ses(kind: str, detail: dict[str, Any]) -> Delivery:
    when = datetime.fromtimestamp(SECONDS, UTC).isoformat()
    message = {
        "eventType": kind,
        "mail": {
            "timestamp": when,
            "messageId": f"ses-machine-{kind}",
            "destination": ["ana@example.com"],
            "tags": {"campaign": [META["campaign"]], "profile": [META["profile"]]},
        },
        kind.lower(): {"timestamp": when, **detail},
    }
    return delivery({"Type": "Notification", "Message": json.dumps(message)})


def test_ses_open_and_click_pass_ip_address_and_user_agent() -> None:
    opened = SES.parse(
        ses("Open", {"ipAddress": "2620:149:a44::1", "userAgent": HUMAN_UA}), Fields()
    )
    clicked = SES.parse(
        ses(
            "Click",
            {"ipAddress": "192.0.2.1", "userAgent": "curl/8.5.0", "link": "https://x.example/a"},
        ),
        Fields(),
    )
    assert opened.events[0]["ip"] == "2620:149:a44::1"
    assert clicked.events[0]["ip"] == "192.0.2.1"
    found = stored(Parsed(events=opened.events + clicked.events))
    assert [e.machine_rule for e in found] == ["apple_proxy", "scanner_agent"]


# --- Postmark -------------------------------------------------------------------------------------


def postmark(kind: str, n: int, **fields: Any) -> Delivery:
    record = {
        "RecordType": kind,
        "MessageID": f"pm-machine-{n}",
        "Recipient": "ana@example.com",
        "ReceivedAt": datetime.fromtimestamp(SECONDS + n, UTC).isoformat(),
        "Metadata": META,
        **fields,
    }
    return Delivery(
        "https://x/",
        {"authorization": "Basic " + base64.b64encode(b"u:p").decode()},
        json.dumps(record).encode(),
        NOW,
    )


def test_postmark_open_passes_geo_ip_and_user_agent() -> None:
    apple = POSTMARK.parse(
        postmark("Open", 1, UserAgent="Mozilla/5.0", Geo={"IP": "17.1.2.3"}), Fields()
    )
    person = POSTMARK.parse(
        postmark(
            "Click",
            2,
            UserAgent=HUMAN_UA,
            OriginalLink="https://x.example/a",
            Geo={"IP": "188.2.95.4", "City": "Novi Sad"},
        ),
        Fields(),
    )
    no_geo = POSTMARK.parse(postmark("Open", 3, UserAgent=HUMAN_UA, Geo={}), Fields())
    assert apple.events[0]["ip"] == "17.1.2.3" and person.events[0]["ip"] == "188.2.95.4"
    assert "ip" not in no_geo.events[0]
    found = stored(Parsed(events=apple.events + person.events + no_geo.events))
    assert [(e.machine, e.machine_rule) for e in found] == [
        (True, "apple_proxy"),
        (False, ""),
        (False, ""),
    ]


@pytest.mark.parametrize("value", ["unknown", "", "1.2.3", "fe80::1%eth0", 17, None, "1" * 50])
def test_a_provider_ip_that_is_no_address_is_left_out_and_the_event_kept(value: Any) -> None:
    parsed = SENDGRID.parse(delivery([sendgrid("open", 9, ip=value, useragent=HUMAN_UA)]), Fields())
    assert "ip" not in parsed.events[0]
    (found,) = stored(parsed)
    assert (found.type, found.machine) == ("open", False)
