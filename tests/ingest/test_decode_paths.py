"""The whole-body decode (``decode_events``) gives exactly what the event-by-event path gives:
the same events, the same rejections with the same messages, in the same order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from livereport.errors import BadRequest, PayloadTooLarge
from livereport.ingest.decode import decode_events, split_events, validate_all

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RETENTION = timedelta(days=30)
NOW_MS = int(NOW.timestamp() * 1000)


def good(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"e{n}",
        "time": NOW_MS - n * 1000,
        "campaign": "c",
        "channel": "email",
        "type": "delivered",
        "profile": f"p{n}",
        **extra,
    }


CASES: dict[str, list[Any]] = {
    "all valid, every shortcut": [
        good(1),
        good(2, recipient="Ann@Example.COM"),
        good(3, type="bounce", smtp={"status": "5.1.1"}),
        {**good(4), "type": "entered", "channel": "sms"},
        good(5, time="2026-11-26T11:00:00Z"),
        good(6, channel="push", type="open", platform="APNs"),
        good(7, type="excluded"),
        {
            **good(8),
            "channel": "web",
            "type": "interaction",
            "interaction": "click",
            "element": "Buy",
        },
        good(9, user_agent="GoogleImageProxy"),
    ],
    "rules a type check cannot express": [
        good(1),
        good(2, time=NOW_MS + 3_600_000),
        good(3, time=NOW_MS - 40 * 86_400_000),
        good(4, type="nope"),
        good(5, channel="fax"),
        good(6, type="open", channel="sms"),
        good(7, bounce="maybe"),
        good(8, platform="toaster"),
        good(9, recipient="nobody"),
        good(10, time="yesterday"),
        good(11, time="2026-11-26T11:00:00"),
        good(12, smtp={"status": "5.1"}),
        {**good(13), "channel": None},
        good(14, time=NOW_MS - RETENTION // timedelta(milliseconds=1) + 1),
        good(15, time=NOW_MS + 5 * 60_000),
        good(16, time=10**20),
    ],
    "badly typed events among good ones": [
        good(1),
        {**good(2), "id": 5},
        {"id": "e3"},
        good(4),
        "not an object",
        {**good(5), "id": "x" * 200},
        good(6, smtp={"code": 99}),
    ],
}


@pytest.mark.parametrize("name", list(CASES))
def test_whole_body_and_event_by_event_agree(name: str) -> None:
    body = msgspec.json.encode(CASES[name])
    fast = decode_events(body, "application/json", 100, now=NOW, retention=RETENTION)
    slow = validate_all(split_events(body, "application/json", 100), now=NOW, retention=RETENTION)
    assert fast.events == slow.events
    assert [(r.index, r.id, r.errors) for r in fast.rejected] == [
        (r.index, r.id, r.errors) for r in slow.rejected
    ]
    assert fast.size == len(CASES[name])


@pytest.mark.parametrize("name", list(CASES))
def test_ndjson_lines_decoded_at_once_agree_with_line_by_line(name: str) -> None:
    lines = [msgspec.json.encode(e) for e in CASES[name]]
    # Blank and CRLF-ended lines as senders write them: skipped, and not counted as events.
    body = b"\n".join(lines[:2]) + b"\n\n  \r\n" + b"\r\n".join(lines[2:]) + b"\n"
    fast = decode_events(body, "application/x-ndjson", 100, now=NOW, retention=RETENTION)
    slow = validate_all(
        split_events(body, "application/x-ndjson", 100), now=NOW, retention=RETENTION
    )
    assert fast.events == slow.events
    assert [(r.index, r.id, r.errors) for r in fast.rejected] == [
        (r.index, r.id, r.errors) for r in slow.rejected
    ]
    assert len(fast.events) + len(fast.rejected) == len(CASES[name])


def test_the_cases_reach_both_paths() -> None:
    ok = decode_events(
        msgspec.json.encode(CASES["all valid, every shortcut"]),
        "application/json",
        100,
        now=NOW,
        retention=RETENTION,
    )
    assert len(ok.events) == len(CASES["all valid, every shortcut"]) and not ok.rejected
    rules = decode_events(
        msgspec.json.encode(CASES["rules a type check cannot express"]),
        "application/json",
        100,
        now=NOW,
        retention=RETENTION,
    )
    assert [r.index for r in rules.rejected] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15]


def test_too_many_events_and_bad_json_are_refused_alike() -> None:
    body = msgspec.json.encode([good(n) for n in range(5)])
    with pytest.raises(PayloadTooLarge) as fast:
        decode_events(body, "application/json", 4, now=NOW, retention=RETENTION)
    with pytest.raises(PayloadTooLarge) as slow:
        split_events(body, "application/json", 4)
    assert fast.value.message == slow.value.message
    for bad in (b'{"id": "e1"}', b"[1, 2", b""):
        with pytest.raises(BadRequest) as fast_bad:
            decode_events(bad, "application/json", 4, now=NOW, retention=RETENTION)
        with pytest.raises(BadRequest) as slow_bad:
            split_events(bad, "application/json", 4)
        assert fast_bad.value.message == slow_bad.value.message
