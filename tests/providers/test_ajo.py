"""`livereport ingest --format ajo`: exported message feedback and tracking records (our own
fixture records, nested and with dotted keys) become the events the report counts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from webhook_client import FIXTURES, breakdown, totals

from conftest import Server, cli
from livereport.ingest.ajo import Skip, get, to_event


def dated(tmp_path: Path, name: str) -> Path:
    """The fixture with its records dated a few minutes ago (the report covers 24 hours)."""
    when = (datetime.now(UTC) - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    path = tmp_path / name
    path.write_text((FIXTURES / name).read_text(encoding="utf-8").replace('"TIME"', f'"{when}"'))
    return path


def test_feedback_and_tracking_records_reach_the_report(
    fresh_server: Server, tmp_path: Path
) -> None:
    files = [str(dated(tmp_path, "ajo_feedback.jsonl")), str(dated(tmp_path, "ajo_tracking.jsonl"))]
    result = cli("ingest", "--format", "ajo", *files, data=fresh_server.data)
    assert "28 lines: 23 accepted, 0 duplicates, 1 rejected" in result.stderr
    assert "ajo_tracking.jsonl:12: record: not JSON" in result.stderr
    for skipped in (
        "skipped 1: feedback status duplicate: no event",
        "skipped 1: feedback status 'archived' unknown",
        "skipped 1: feedback status delay on sms: no event",
        "skipped 1: interaction type 'forward' unknown",
    ):
        assert skipped in result.stderr
    again = cli("ingest", "--format", "ajo", *files, data=fresh_server.data)
    assert "23 duplicates" in again.stderr
    with fresh_server.client(fresh_server.key("read")) as client:
        email = totals(client, "ajo-spring", "email")
        assert {
            k: email[k]
            for k in (
                "sent",
                "delivered",
                "bounces",
                "hard_bounces",
                "soft_bounces",
                "retries",
                "excluded",
                "errors",
                "opens",
                "unique_opens",
                "clicks",
                "unsubscribes",
            )
        } == {
            "sent": 3,
            "delivered": 1,
            "bounces": 2,
            "hard_bounces": 1,
            "soft_bounces": 1,
            "retries": 1,
            "excluded": 2,
            "errors": 1,
            "opens": 3,
            "unique_opens": 2,
            "clicks": 1,
            "unsubscribes": 1,
        }
        reasons = breakdown(client, "ajo-spring", "email", "exclusion_reason")["rows"]
        assert sorted(r["key"] for r in reasons) == ["Denylisted address", "Frequency rule"]
        bounces = breakdown(client, "ajo-spring", "email", "bounce_reason")["rows"]
        assert sorted(r["key"] for r in bounces) == ["Invalid Recipient", "Mailbox Full"]
        domains = breakdown(client, "ajo-spring", "email", "recipient_domain")["rows"]
        assert {"example.com", "mail.example"} <= {r["key"] for r in domains}
        push = totals(client, "ajo-spring", "push")
        assert (push["sent"], push["bounces"], push["opens"], push["actions"]) == (1, 1, 1, 1)
        platforms = breakdown(client, "ajo-spring", "push", "platform")["rows"]
        assert {r["key"] for r in platforms} == {"ios", "android"}
        inapp = totals(client, "ajo-spring", "inapp")
        assert (inapp["impressions"], inapp["interactions"]) == (1, 2)
        kinds = breakdown(client, "ajo-spring", "inapp", "interaction_type")["rows"]
        assert {r["key"] for r in kinds} == {"click", "dismiss"}
        assert totals(client, "ajo-spring", "sms")["sent"] == 1


def test_dotted_and_nested_fields_read_alike() -> None:
    nested = {"a": {"b.c": {"d": 1}}}
    assert get(nested, "a.b.c.d") == 1
    assert get({"a.b": {"c": 2}}, "a.b.c") == 2
    assert get({"a": {"b": 3}}, "a.x") is None


def test_records_without_what_we_need_are_skipped_with_a_reason() -> None:
    base = {
        "_id": "x",
        "timestamp": "2026-11-26T10:00:00Z",
        "identityMap": {"ECID": [{"id": "e-1"}]},
        "_experience.customerJourneyManagement.messageDeliveryfeedback.feedbackStatus": "sent",
        "_experience.customerJourneyManagement.messageExecution.journeyVersionID": "jv-1",
        "_experience.customerJourneyManagement.messageProfile.channel._id": "https://ns.adobe.com/xdm/channels/email",
    }
    event = to_event(base)
    assert (event["campaign"], event["profile"], event["type"], event["id"]) == (
        "jv-1",
        "e-1",
        "sent",
        "ajo:x",
    )
    for field, why in (
        ("identityMap", "no identity"),
        ("_id", "no _id"),
        ("_experience.customerJourneyManagement.messageProfile.channel._id", "no channel"),
        (
            "_experience.customerJourneyManagement.messageExecution.journeyVersionID",
            "no campaignID",
        ),
    ):
        with pytest.raises(Skip, match=why):
            to_event({k: v for k, v in base.items() if k != field})


def test_ajo_records_load_into_a_data_directory_without_a_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = cli("ingest", "--format", "ajo", str(dated(tmp_path, "ajo_feedback.jsonl")), data=data)
    assert "16 lines: 13 accepted, 0 duplicates, 0 rejected" in result.stderr
    report = json.loads(cli("report", "ajo-spring", "--tab", "email", "--json", data=data).stdout)
    sending = next(w for w in report["widgets"] if w["id"] == "email.sending_performance")
    assert (sending["data"]["metrics"]["bounces"], sending["data"]["metrics"]["errors"]) == (2, 1)
