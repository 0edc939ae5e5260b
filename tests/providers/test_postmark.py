"""Postmark webhooks: documented records reach the report, behind the configured basic auth."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from webhook_client import breakdown, configure, fixture, totals

from conftest import Server
from livereport.errors import BadRequest
from livereport.providers import Fields, Parsed
from livereport.providers.base import Delivery
from livereport.providers.postmark import POSTMARK

AUTH = ("pm-hook", "s3cret-Postmark-pass")
TIMES = ("DeliveredAt", "BouncedAt", "ReceivedAt", "ChangedAt")


def records(campaign: str) -> list[dict[str, Any]]:
    found = fixture("postmark_records.json")
    for age, record in enumerate(found):
        when = (datetime.now(UTC) - timedelta(seconds=60 - age)).isoformat()
        for name in TIMES:
            if name in record:
                record[name] = when
        record["MessageID"] = f"{campaign}-{record['MessageID']}"  # one org: ids stay apart
        if "ID" in record:
            record["ID"] = f"{campaign}-{record['ID']}"
        record["Metadata"]["campaign"] = campaign
    return found


def test_documented_records_reach_the_email_report(server: Server, keys: dict[str, str]) -> None:
    path = configure(server, "postmark", ":".join(AUTH))
    answers = [httpx.post(server.url + path, json=r, auth=AUTH).json() for r in records("pm-doc")]
    assert sum(a["accepted"] for a in answers) == 7
    assert sum(a["unknown"] for a in answers) == 1  # the inbound record
    assert sum(a["ignored"] for a in answers) == 1  # a suppression that repeats a hard bounce
    with server.client(keys["read"]) as client:
        metrics = totals(client, "pm-doc", "email")
        assert {
            k: metrics[k]
            for k in (
                "delivered",
                "bounces",
                "hard_bounces",
                "soft_bounces",
                "opens",
                "clicks",
                "spam_complaints",
                "unsubscribes",
            )
        } == {
            "delivered": 1,
            "bounces": 2,
            "hard_bounces": 1,
            "soft_bounces": 1,
            "opens": 1,
            "clicks": 1,
            "spam_complaints": 1,
            "unsubscribes": 1,
        }
        reasons = breakdown(client, "pm-doc", "email", "bounce_reason")
        assert sorted(r["key"] for r in reasons["rows"]) == ["Invalid Recipient", "Soft Bounce"]
        variants = breakdown(client, "pm-doc", "email", "variant")
        assert sorted(r["key"] for r in variants["rows"]) == ["A", "B"]


def test_wrong_or_missing_credentials_store_nothing(server: Server, keys: dict[str, str]) -> None:
    path = configure(server, "postmark", ":".join(AUTH))
    delivery, bounce = records("pm-auth")[:2]
    assert httpx.post(server.url + path, json=delivery, auth=AUTH).json()["accepted"] == 1
    assert httpx.post(server.url + path, json=bounce).status_code == 401
    wrong = httpx.post(server.url + path, json=bounce, auth=(AUTH[0], "guessed-password"))
    assert wrong.status_code == 401
    with server.client(keys["read"]) as client:
        metrics = totals(client, "pm-auth", "email")
        assert (metrics["delivered"], metrics["bounces"]) == (1, 0)


def test_a_replayed_record_is_a_duplicate(server: Server) -> None:
    path = configure(server, "postmark", ":".join(AUTH))
    bounce = records("pm-replay")[1]
    assert httpx.post(server.url + path, json=bounce, auth=AUTH).json()["accepted"] == 1
    again = httpx.post(server.url + path, json=bounce, auth=AUTH).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_the_org_chooses_the_metadata_names(server: Server) -> None:
    server.create_org("pm-fields-org")
    path = configure(
        server,
        "postmark",
        ":".join(AUTH),
        "--org",
        "pm-fields-org",
        "--campaign-field",
        "journey",
        "--profile-field",
        "person",
    )
    delivery = records("unused")[0]
    delivery["Metadata"] = {"journey": "pm-fields", "person": "p-9"}
    assert httpx.post(server.url + path, json=delivery, auth=AUTH).json()["accepted"] == 1
    with server.client(server.key("read", org="pm-fields-org")) as client:
        assert totals(client, "pm-fields", "email")["delivered"] == 1


def test_a_record_without_our_metadata_is_rejected_with_the_reason(server: Server) -> None:
    path = configure(server, "postmark", ":".join(AUTH))
    delivery = records("pm-nometa")[0]
    delivery["Metadata"] = {}
    answer = httpx.post(server.url + path, json=delivery, auth=AUTH).json()
    assert answer["accepted"] == 0
    assert any(e.startswith("campaign") for e in answer["rejected"][0]["errors"])


def test_an_unreadable_body_with_good_credentials_is_a_bad_request(server: Server) -> None:
    path = configure(server, "postmark", ":".join(AUTH))
    response = httpx.post(server.url + path, content=b"{not json", auth=AUTH)
    assert response.status_code == 400
    assert "postmark" in response.json()["error"]


# --- spam complaints: decided by RecordType and Type, TypeCode only as a fallback ------------
# Postmark's own spam complaint webhook example carries TypeCode 512 (SpamNotification).


def parse(record: dict[str, Any]) -> Parsed:
    body = json.dumps(record).encode()
    return POSTMARK.parse(Delivery("https://x/", {}, body, datetime.now(UTC)), Fields())


@pytest.mark.parametrize(
    ("index", "expected"),
    [
        (0, ("spam_complaint", None, "postmark:SpamComplaint:42")),  # the documented example: 512
        (1, ("spam_complaint", None, "postmark:SpamComplaint:43")),  # no TypeCode
        (
            2,
            ("spam_complaint", None, "postmark:SpamComplaint:44"),
        ),  # a complaint in a Bounce record
        (3, ("bounce", "hard", "postmark:Bounce:45")),  # Type HardBounce decides, not TypeCode 512
        (
            4,
            ("bounce", "ignored", "postmark:Bounce:46"),
        ),  # SpamNotification: a bounce, not a complaint
    ],
)
def test_a_spam_complaint_is_decided_by_record_type_and_type(
    index: int, expected: tuple[Any, ...]
) -> None:
    (event,) = parse(fixture("postmark_spam_complaints.json")[index]).events
    assert (event["type"], event.get("bounce"), event["id"]) == expected


def test_type_code_decides_only_when_type_is_missing_or_unknown() -> None:
    record = fixture("postmark_spam_complaints.json")[3]
    del record["Type"]
    record["TypeCode"] = 4096
    (event,) = parse(record).events
    assert (event["type"], event["bounce"], event["code"]) == ("bounce", "soft", "SoftBounce")
    record["Type"], record["TypeCode"] = "SomethingNew", 100001
    assert parse(record).events[0]["type"] == "spam_complaint"
    record["TypeCode"] = 999
    assert (parse(record).events, parse(record).unknown) == ([], 1)


def test_a_complaint_keeps_its_id_whichever_webhook_brings_it() -> None:
    complaint = fixture("postmark_spam_complaints.json")[0]
    as_bounce = {**complaint, "RecordType": "Bounce", "TypeCode": 100001}
    assert parse(complaint).events[0]["id"] == parse(as_bounce).events[0]["id"]


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"TypeCode": "512"}, "TypeCode: expected an integer bounce type code"),
        ({"TypeCode": True}, "TypeCode: expected an integer bounce type code"),
        ({"Type": 1}, "Type: expected a bounce type name"),
        ({"Type": None, "TypeCode": None}, "needs its Type (e.g. 'HardBounce') or TypeCode"),
    ],
)
def test_a_bounce_type_of_the_wrong_form_is_a_bad_request(
    change: dict[str, Any], said: str
) -> None:
    record = {**fixture("postmark_spam_complaints.json")[3], **change}
    with pytest.raises(BadRequest, match=re.escape(said)):
        parse(record)


def test_spam_complaints_count_whatever_their_type_code(
    server: Server, keys: dict[str, str]
) -> None:
    path = configure(server, "postmark", ":".join(AUTH))
    when = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    for record in fixture("postmark_spam_complaints.json"):
        record.update(BouncedAt=when, ID=f"pm-spam-{record['ID']}")
        record["Metadata"]["campaign"] = "pm-spam"
        answer = httpx.post(server.url + path, json=record, auth=AUTH).json()
        assert (answer["accepted"], answer["rejected"]) == (1, []), answer
    with server.client(keys["read"]) as client:
        metrics = totals(client, "pm-spam", "email")
        assert {k: metrics[k] for k in ("spam_complaints", "bounces", "hard_bounces")} == {
            "spam_complaints": 3,
            "bounces": 2,
            "hard_bounces": 1,
        }
        reasons = breakdown(client, "pm-spam", "email", "bounce_reason")["rows"]
        assert sorted(r["key"] for r in reasons) == ["Invalid Recipient", "Spam Block"]


def test_a_type_code_that_is_not_a_number_is_refused_with_the_reason(server: Server) -> None:
    path = configure(server, "postmark", ":".join(AUTH))
    record = {**fixture("postmark_spam_complaints.json")[3], "TypeCode": "HardBounce"}
    response = httpx.post(server.url + path, json=record, auth=AUTH)
    assert response.status_code == 400
    assert "TypeCode: expected an integer bounce type code" in response.json()["error"]
