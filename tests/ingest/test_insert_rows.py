"""The row every backend inserts for an event (store/base.py ``event_row``) follows the events
table's column list: each column holds the event's field of that name, enums as their values."""

from __future__ import annotations

import msgspec

from livereport.events import Bounce, Channel, Event
from livereport.store.base import EVENT_COLUMNS, event_row

#: The columns that are not an event field of the same name, and what they hold.
DERIVED = {"org", "time", "ms", "received"}


def _every_field_set() -> Event:
    return Event(
        id="e-1",
        time_ms=1_764_000_123_456,
        campaign="spring",
        channel=Channel.EMAIL,
        type="bounce",
        profile="p-1",
        execution="x-1",
        variant="b",
        reason="Mailbox does not exist",
        code="550",
        bounce=Bounce.HARD,
        smtp_status="5.1.1",
        smtp_code=550,
        smtp_diagnostic="550 5.1.1 User unknown",
        recipient_domain="example.com",
        platform="ios",
        interaction="dismiss",
        element="cta",
        url="https://example.com/a",
        machine=True,
        machine_rule="flagged",
    )


def test_each_column_holds_the_field_of_its_name() -> None:
    event = _every_field_set()
    row = dict(zip(EVENT_COLUMNS, event_row(7, event, 1_764_000_200), strict=True))
    assert (row["org"], row["time"], row["ms"], row["received"]) == (
        7,
        1_764_000_123,
        456,
        1_764_000_200,
    )
    fields = set(event.__struct_fields__)
    assert set(EVENT_COLUMNS) - DERIVED <= fields
    for name in set(EVENT_COLUMNS) - DERIVED:
        value = getattr(event, name)
        expected = int(value) if isinstance(value, bool) else value
        assert row[name] == expected, name
        assert type(row[name]) in (str, int), name  # enum members as their plain values


def test_the_row_encodes_as_plain_json_values() -> None:
    row = event_row(1, _every_field_set(), 0)
    decoded = msgspec.json.decode(msgspec.json.encode(row))
    assert decoded[EVENT_COLUMNS.index("channel")] == "email"
    assert decoded[EVENT_COLUMNS.index("bounce")] == "hard"
    assert decoded[EVENT_COLUMNS.index("machine")] == 1
