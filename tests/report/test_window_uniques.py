"""Distinct profiles of the live window at its edges (store/window.py): a profile counts once
when any of its occurrences lies in the last 24 hours, and not at all when none does —
in total, per execution and per breakdown key; after duplicates, late and early events and
a restart. Every expected number below is counted by hand from the events posted."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from conftest import Server, post

#: The restart test's subject is a new process reading the window back from the tables:
#: fresh_server is a `livereport serve` child process (conftest).
SERVER_PROCESS = True

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def opened(
    campaign: str,
    profile: str,
    ago: timedelta,
    execution: str = "",
    domain: str = "",
    channel: str = "email",
    type_: str = "open",
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "time": (datetime.now(UTC) - ago).isoformat(),
        "campaign": campaign,
        "channel": channel,
        "type": type_,
        "profile": profile,
    }
    if execution:
        event["execution"] = execution
    if domain:
        event["recipient_domain"] = domain
    return event


def totals(client: httpx.Client, campaign: str, execution: str | None = None) -> dict[str, Any]:
    params = {"channel": "email", **({"execution": execution} if execution else {})}
    response = client.get(f"/v1/campaigns/{campaign}/totals", params=params)
    assert response.status_code == 200, response.text
    metrics: dict[str, Any] = response.json()["metrics"]
    return metrics


def by_key(client: httpx.Client, campaign: str, by: str, metric: str) -> dict[str, Any]:
    response = client.get(
        f"/v1/campaigns/{campaign}/breakdown", params={"channel": "email", "by": by}
    )
    assert response.status_code == 200, response.text
    return {row["key"]: row["metrics"][metric] for row in response.json()["rows"]}


def statistics(client: httpx.Client, campaign: str) -> dict[str, Any]:
    response = client.get(f"/v1/campaigns/{campaign}/report", params={"tab": "email"})
    assert response.status_code == 200, response.text
    widget = next(w for w in response.json()["widgets"] if w["id"] == "email.statistics")
    rows = {row["key"]: row["metrics"]["unique_opens"] for row in widget["data"]["rows"]}
    rows["(total)"] = widget["data"]["total"]["unique_opens"]
    return rows


def edge_events(campaign: str) -> list[dict[str, Any]]:
    return [
        # p-twice: 25 h ago (outside) and 2 h ago (inside): once.
        opened(campaign, "p-twice", 25 * HOUR, "morning", "a.example"),
        opened(campaign, "p-twice", 2 * HOUR, "morning", "a.example"),
        # p-old: only 25 h ago: not at all, anywhere.
        opened(campaign, "p-old", 25 * HOUR, "evening", "b.example"),
        opened(campaign, "p-old", 24 * HOUR + 5 * MINUTE, "evening", "b.example"),
        # p-many: three opens inside, in both executions and two domains.
        opened(campaign, "p-many", 20 * HOUR, "morning", "a.example"),
        opened(campaign, "p-many", 3 * HOUR, "evening", "b.example"),
        opened(campaign, "p-many", 10 * MINUTE, "evening", "b.example"),
        # p-edge: just inside the start of the window, and 26 h ago.
        opened(campaign, "p-edge", 24 * HOUR - 5 * MINUTE, "evening", "a.example"),
        opened(campaign, "p-edge", 26 * HOUR, "morning", "a.example"),
    ]


def check_edges(client: httpx.Client, campaign: str) -> None:
    assert totals(client, campaign)["unique_opens"] == 3  # p-twice, p-many, p-edge
    assert totals(client, campaign)["opens"] == 5
    assert totals(client, campaign, "morning")["unique_opens"] == 2  # p-twice, p-many
    assert totals(client, campaign, "evening")["unique_opens"] == 2  # p-many, p-edge
    assert statistics(client, campaign) == {"morning": 2, "evening": 2, "(total)": 3}
    # a.example: p-twice, p-many (20 h), p-edge; b.example: p-many only (p-old is outside).
    assert by_key(client, campaign, "recipient_domain", "unique_opens") == {
        "a.example": 3,
        "b.example": 1,
    }


def test_a_profile_counts_once_when_seen_inside_the_window_and_not_when_only_before(
    server: Server, keys: dict[str, str]
) -> None:
    campaign = f"edges-{uuid.uuid4().hex[:10]}"
    with server.client(keys["both"]) as client:
        post(client, edge_events(campaign))
        check_edges(client, campaign)


def test_late_out_of_order_and_duplicate_events_count_a_profile_once(
    server: Server, keys: dict[str, str]
) -> None:
    campaign = f"late-{uuid.uuid4().hex[:10]}"
    events = edge_events(campaign)
    with server.client(keys["both"]) as client:
        # Newest first, one request per event, and every event sent twice.
        for event in reversed(events):
            post(client, [event])
        result = post(client, events)
        assert result["accepted"] == 0
        check_edges(client, campaign)


def test_an_event_dated_a_little_ahead_does_not_hide_earlier_occurrences(
    server: Server, keys: dict[str, str]
) -> None:
    campaign = f"ahead-{uuid.uuid4().hex[:10]}"
    ahead = -3 * MINUTE  # three minutes in the future: accepted, not shown yet
    with server.client(keys["both"]) as client:
        post(
            client,
            [
                opened(campaign, "p-both", HOUR),
                opened(campaign, "p-both", ahead),
                opened(campaign, "p-ahead", ahead),
                opened(campaign, "p-now", timedelta(0)),
            ],
        )
        # p-both and p-now; p-ahead has no occurrence in the window yet.
        assert totals(client, campaign)["unique_opens"] == 2
        assert totals(client, campaign)["opens"] == 2


def test_the_window_uniques_survive_a_restart(fresh_server: Server) -> None:
    campaign = f"restart-{uuid.uuid4().hex[:10]}"
    key = fresh_server.key("ingest", "read")
    with fresh_server.client(key) as client:
        post(client, edge_events(campaign))
        check_edges(client, campaign)
    fresh_server.restart()
    with fresh_server.client(key) as client:
        check_edges(client, campaign)
        post(client, [opened(campaign, "p-old", HOUR, "evening", "b.example")])
        assert totals(client, campaign)["unique_opens"] == 4
        assert totals(client, campaign, "evening")["unique_opens"] == 3
        assert by_key(client, campaign, "recipient_domain", "unique_opens") == {
            "a.example": 3,
            "b.example": 2,
        }


# A database made before the window's tables (migrations 1 and 2), holding events over the
# last 54 hours, is migrated: the new tables are filled from those events (in slices of
# profiles, as a large database is), and the window's distinct profiles read from them equal
# those counted from the raw events.
UPGRADE = """
import time
from livereport.report.catalogue import DIMENSIONS
from livereport.store import window
from livereport.report.query import ReportScope, tallies, window_usable
from livereport.store.schema import _LEDGER, _record, migrate, migration_files, split_statements

def check_upgrade(store):
    window.REBUILD_SLICE_EVENTS = 300
    store.execute("CREATE DATABASE IF NOT EXISTS {db}")
    store.execute(_LEDGER)
    for version, name, sql in migration_files()[:2]:
        for statement in split_statements(sql):
            store.execute(statement)
        _record(store, version, name)
    now = int(time.time())
    store.execute(
        "INSERT INTO {db}.events (org, id, time, campaign, channel, type, profile, execution, "
        "recipient_domain) SELECT 1, toString(number), toDateTime(%(now)s - number * 97, 'UTC'), "
        "'old', 'email', if(number %% 3 = 0, 'click', 'open'), concat('p', toString(number %% 41)), "
        "if(number %% 2 = 0, 'morning', 'evening'), if(number %% 5 = 0, 'a.example', 'b.example') "
        "FROM numbers(2000)", {"now": now})
    assert migrate(store) == [
        "0003_window_uniques.sql", "0004_campaign_overview.sql", "0005_engagement.sql",
    ]
    # The overview's hourly counts start from the events already stored too.
    hourly = store.execute("SELECT toUInt32(hour), sum(events) FROM {db}.campaign_hours "
                           "WHERE org = 1 GROUP BY hour ORDER BY hour")
    raw = store.execute("SELECT toUInt32(toStartOfHour(time)) AS h, count() FROM {db}.events "
                        "WHERE org = 1 GROUP BY h ORDER BY h")
    assert hourly == raw and len(raw) > 40, (hourly[:3], raw[:3])
    start = (now // 60 + 1) * 60 - 86400
    scope = ReportScope(1, "old", "email")
    assert window_usable(scope, start, "none", frozenset({"open"}))
    for group, dimension in (("none", None), ("execution", None), ("key", DIMENSIONS["recipient_domain"])):
        kw = {"group": group, "dimension": dimension}
        read = {g: t.uniques for g, t in tallies(store, scope, start, start + 86400, **kw).items()}
        raw = {g: t.uniques for g, t in tallies(store, scope, start, start + 86400, raw=True, **kw).items()}
        assert read == raw and all(u for u in read.values()), (group, read, raw)
    # The human and machine split starts from the opens and clicks already stored too.
    split = ["human_opens", "machine_opens", "unique_human_opens", "human_clicks"]
    for group in ("none", "execution"):
        read = {g: t.compute(split) for g, t in tallies(store, scope, start, start + 86400, group=group, names=split).items()}
        raw = {g: t.compute(split) for g, t in tallies(store, scope, start, start + 86400, group=group, names=split, raw=True).items()}
        assert read == raw and all(v["human_opens"] for v in read.values()), (group, read, raw)
    print("upgraded")
"""


def test_an_existing_database_fills_the_window_tables_when_it_upgrades(tmp_path: Path) -> None:
    script = UPGRADE + (
        "from pathlib import Path\n"
        "from livereport.store.chdb import ChdbStore\n"
        f"check_upgrade(ChdbStore(Path({str(tmp_path / 'data')!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and "upgraded" in done.stdout, done.stderr[-3000:]


def test_the_window_tables_keep_only_their_last_days_whatever_the_retention() -> None:
    from datetime import date

    from livereport.store.base import partition_cutoff

    today, retention = date(2026, 12, 1), date(2026, 11, 1)
    assert partition_cutoff("events", retention, today) == 20261101
    assert partition_cutoff("minute_uniques_local", retention, today) == 20261101
    assert partition_cutoff("unique_last", retention, today) == 20261129
    assert partition_cutoff("unique_minutes_local", retention, today) == 20261129
    # A retention shorter than the window's days wins.
    assert partition_cutoff("unique_minutes", date(2026, 11, 30), today) == 20261130
