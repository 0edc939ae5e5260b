"""Every door stores events through the one ingest pipeline (ingest/pipeline.py), and the
pipeline accounts for each event: stored, duplicate, or rejected with a reason, the fields at
fault and their messages."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from livereport.bounces.org import compile_rows
from livereport.bounces.rules import Rule
from livereport.ingest import pipeline
from livereport.ingest.decode import JSON_TYPES, NDJSON_TYPES

SRC = Path(__file__).resolve().parents[2] / "src" / "livereport"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)

#: Where events may be handed to the store, and by what: the pipeline hands them to the
#: writer, the writer to the store.
ALLOWED = {
    "submit": {"ingest/pipeline.py", "ingest/writer.py"},
    "submit_nowait": {"ingest/pipeline.py", "ingest/writer.py"},
    "insert_events": {"ingest/writer.py"},
    "decode_events": {"ingest/pipeline.py"},
    "validate_all": {"ingest/pipeline.py", "ingest/decode.py"},
    "split_events": {"ingest/decode.py"},
    "decode_event": set(),
}


def calls(path: Path) -> set[str]:
    """The names called in a module, as ``name`` or ``receiver.name`` (writer-ish receivers)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name):
            found.add(func.id)
        elif isinstance(func, ast.Attribute):
            receiver = ast.unparse(func.value)
            # Thread pools have a submit too; only a writer's counts here.
            if func.attr != "submit" or "writer" in receiver.lower():
                found.add(func.attr)
    return found


def test_no_door_stores_or_decodes_events_but_through_the_pipeline() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        for name in calls(path) & ALLOWED.keys():
            if where not in ALLOWED[name]:
                offenders.append(f"{where} calls {name}")
    assert offenders == []


def event(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"e{n}",
        "time": NOW_MS - n * 1000,
        "campaign": "c",
        "channel": "email",
        "type": "delivered",
        "profile": f"p{n}",
        **extra,
    }


MIX = [
    event(1),
    event(2, time=NOW_MS + 3_600_000),  # out of time
    event(3, type="nope", time="yesterday"),  # invalid, two fields
    event(4, profile=7),  # unreadable: wrong JSON type
    event(5, type="bounce", smtp={"code": 550, "diagnostic": "mailbox full, quota exceeded"}),
    event(
        6,
        type="bounce",
        reason="Given by sender",
        smtp={"code": 550, "diagnostic": "quota exceeded"},
    ),
    event(7, channel="sms", type="bounce", code="30003"),
]


class Counted:
    def __init__(self) -> None:
        self.dropped: dict[str, int] = {}
        self.fields: dict[str, int] = {}

    def count_dropped(self, reason: str, fields: Any = (), count: int = 1) -> None:
        self.dropped[str(reason)] = self.dropped.get(str(reason), 0) + count
        for f in set(fields):
            self.fields[f] = self.fields.get(f, 0) + count


def quota_rule() -> tuple[Rule, ...]:
    rows = [
        {"name": "quota", "reason": "Mailbox full (org)", "category": "soft", "pattern": "quota"}
    ]
    return compile_rows(rows)


@pytest.mark.parametrize("shape", ["json", "ndjson", "items"])
def test_each_source_shape_gives_the_same_events_and_drops(shape: str) -> None:
    if shape == "json":
        source: pipeline.Source = pipeline.Body(
            msgspec.json.encode(MIX), next(iter(JSON_TYPES)), 100
        )
    elif shape == "ndjson":
        body = b"\n".join(msgspec.json.encode(e) for e in MIX)
        source = pipeline.Body(body, next(iter(NDJSON_TYPES)), 100)
    else:
        source = pipeline.Items(MIX)
    counted = Counted()
    ctx = pipeline.Context(1, NOW, timedelta(days=30), quota_rule, counted)
    batch = pipeline.prepare(source, ctx)
    assert [i for i, _ in batch.events] == [0, 4, 5, 6]
    by_index = {i: e for i, e in batch.events}
    # qualify: the org's rule decides a bounce the sender did not qualify…
    assert (by_index[4].reason, by_index[4].bounce) == ("Mailbox full (org)", "soft")
    # … and keeps the reason the sender gave (the category still comes from the rule).
    assert (by_index[5].reason, by_index[5].bounce) == ("Given by sender", "soft")
    # codes: Twilio's 30003 names the failure of an SMS bounce with no reason.
    assert by_index[6].reason != "Undetermined"
    rejected = {r.index: (r.reason, r.fields, r.id) for r in batch.rejected}
    assert rejected == {
        1: ("out_of_time", ["time"], "e2"),
        2: ("invalid", ["time", "type"], "e3"),
        3: ("unreadable", ["profile"], "e4"),
    }
    assert counted.dropped == {"out_of_time": 1, "invalid": 1, "unreadable": 1}
    assert counted.fields == {"time": 2, "type": 1, "profile": 1}


def test_an_ingest_result_answers_as_the_api_does() -> None:
    batch = pipeline.prepare(pipeline.Items(MIX[:4]), pipeline.Context(1, NOW, timedelta(days=30)))
    result = pipeline.IngestResult([0], [False], batch.rejected)
    answer = result.answer()
    assert (answer["accepted"], answer["duplicates"]) == (0, 1)
    assert [r["index"] for r in answer["rejected"]] == [1, 2, 3]
    assert answer["rejected"][0]["errors"][0].startswith("time: ")
    assert "id" not in result.answer(ids=False)["rejected"][0]
    assert result.outcomes() == {0: "duplicate", 1: "rejected", 2: "rejected", 3: "rejected"}
