"""The campaign overview and the org totals (issue 18): every campaign's numbers over a
period, its sparkline and status, sorted, filtered and paged, and the org's totals per
channel with its leading campaigns — each number counted by hand from the posted events."""

from __future__ import annotations

import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import Server, post, start_app
from report import expected as hand
from report.test_exactness import assert_metrics, get, same

#: (campaign, channel, ages of its moments in seconds, profiles per moment)
PLAN = (
    ('Spring <b>Sale</b> & "more"', "email", (120, 1800, 30_000), 12),
    ("alpha-sms", "sms", (2400, 9000), 10),
    ("beta-push", "push", (3 * 3600 + 60, 20 * 3600), 9),
    ("gamma-inapp", "inapp", (300, 7200), 8),
    ("delta-old", "email", (3 * 86_400, 5 * 86_400), 15),
    ("epsilon-multi", "email", (10 * 3600,), 7),
    ("epsilon-multi", "sms", (10 * 3600 + 60,), 7),
    ("epsilon-multi", "push", (11 * 3600,), 7),
    ("zeta-web", "web", (50 * 60,), 5),
    *((f"bulk-{i}", "email", (4 * 3600 + i * 60,), 2 + i) for i in range(6)),
)
ROW_METRICS = (
    "sent",
    "delivered",
    "delivery_rate",
    "open_rate",
    "click_rate",
    "bounce_rate",
    "complaint_rate",
)
SORTS = ("last", "first", "campaign", "events", *ROW_METRICS)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _moment(
    campaign: str, channel: str, at: datetime, n: int, rng: random.Random
) -> list[dict[str, Any]]:
    """A few profiles' events on one channel at one moment; profiles are shared by every
    campaign, so distinct profiles across campaigns differ from their sum."""
    found: list[dict[str, Any]] = []

    def add(type_: str, profile: str, **more: Any) -> None:
        found.append(
            {
                "id": uuid.uuid4().hex,
                "time": _iso(at),
                "campaign": campaign,
                "channel": channel,
                "type": type_,
                "profile": profile,
                **more,
            }
        )

    for _ in range(n):
        profile = f"p-{rng.randrange(50)}"
        if channel in ("inapp", "web"):
            add("impression", profile)
            if rng.random() < 0.5:
                add("interaction", profile, interaction="click")
            continue
        add("sent", profile)
        if rng.random() < 0.2:
            add("bounce", profile, bounce="hard", reason="Invalid Recipient")
            continue
        if rng.random() < 0.1:
            continue  # no word from the provider yet
        add("delivered", profile)
        if channel in ("email", "push") and rng.random() < 0.6:
            add("open", profile)
            if rng.random() < 0.3:
                add("open", profile)
        if channel in ("email", "sms") and rng.random() < 0.3:
            add("click", profile)
        if channel == "email" and rng.random() < 0.08:
            add("spam_complaint", profile)
    return found


class World:
    def __init__(self, server: Server, client: httpx.Client) -> None:
        self.server, self.client = server, client
        self.ledger = hand.Ledger()
        self.posted_at = datetime.now(UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_app(tmp_path_factory.mktemp("overview") / "data")
    try:
        server.stateless_machine_rules()  # counted by hand
        with server.client(server.key("ingest", "read")) as client:
            found = World(server, client)
            rng = random.Random(1818)
            events = [
                e
                for campaign, channel, ages, n in PLAN
                for age in ages
                for e in _moment(
                    campaign, channel, found.posted_at - timedelta(seconds=age), n, rng
                )
            ]
            answer = post(client, events)
            assert not answer["rejected"], answer["rejected"]
            for event in events:
                found.ledger.record("a", event)
            yield found
    finally:
        server.stop()


def _span(body: dict[str, Any]) -> tuple[int, int]:
    return hand.epoch_ms(body["from"]), hand.epoch_ms(body["to"])


def _in(world: World, campaign: str, start: int, end: int) -> list[hand.Stored]:
    return world.ledger.select("a", campaign, hand.CAMPAIGN, start, end)


def _distinct_summed(events: list[hand.Stored], type_: str, channels: tuple[str, ...]) -> int:
    return sum(
        len({e.profile for e in events if e.type == type_ and e.channel == c}) for c in channels
    )


def _row_by_hand(events: list[hand.Stored]) -> dict[str, Any]:
    """The overview's definitions, written out: sums over the channels; the open rate over
    email and push deliveries, the click rate over email and SMS deliveries."""

    def count(type_: str, channels: tuple[str, ...] | None = None) -> int:
        return sum(
            1 for e in events if e.type == type_ and (channels is None or e.channel in channels)
        )

    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    sent, delivered = count("sent"), count("delivered")
    return {
        "sent": sent,
        "delivered": delivered,
        "delivery_rate": ratio(delivered, sent),
        "open_rate": ratio(
            _distinct_summed(events, "open", ("email", "push")),
            count("delivered", ("email", "push")),
        ),
        "click_rate": ratio(
            _distinct_summed(events, "click", ("email", "sms")),
            count("delivered", ("email", "sms")),
        ),
        "bounce_rate": ratio(count("bounce"), sent),
        "complaint_rate": ratio(count("spam_complaint"), delivered),
    }


def _status_by_hand(world: World, campaign: str, now_ms: int) -> str:
    stored = world.ledger.of_campaign("a", campaign)
    if any(e.type in ("sent", "impression") and e.time_ms >= now_ms - 900_000 for e in stored):
        return "sending"
    return "finished" if max(e.time_ms for e in stored) >= now_ms - 3_600_000 else "quiet"


def _all(world: World, **params: Any) -> dict[str, Any]:
    return get(world.client, "/v1/campaigns", limit="500", **params)


@pytest.mark.parametrize(
    "period", [{}, {"period": "1h"}, {"period": "7d"}, {"period": "life"}, "custom"]
)
def test_every_row_equals_the_count_by_hand(world: World, period: Any) -> None:
    if period == "custom":
        start = (world.posted_at - timedelta(hours=12)).replace(second=0, microsecond=0)
        period = {"from": _iso(start), "to": _iso(start + timedelta(hours=9))}
    body = _all(world, **period)
    start, end = _span(body)
    assert body["campaigns_total"] == body["total"] == len(world.ledger.campaigns("a"))
    assert {r["campaign"] for r in body["campaigns"]} == world.ledger.campaigns("a")
    step = body["sparkline_step"] * 1000
    for row in body["campaigns"]:
        events = _in(world, row["campaign"], start, end)
        assert_metrics(row["metrics"], _row_by_hand(events), row["campaign"])
        assert row["events_in_window"] == len(events)
        stored = world.ledger.of_campaign("a", row["campaign"])
        assert row["channels"] == sorted({e.channel for e in stored} - {hand.CAMPAIGN})
        assert hand.epoch_ms(row["first"]) == min(e.time_ms for e in stored) // 1000 * 1000
        assert hand.epoch_ms(row["last"]) == max(e.time_ms for e in stored) // 1000 * 1000
        points = [0] * -(-(end - start) // step)
        for e in events:
            points[(e.time_ms - start) // step] += 1
        assert row["sparkline"] == points, row["campaign"]


def test_statuses_and_their_counts(world: World) -> None:
    body = _all(world)
    now_ms = hand.epoch_ms(body["as_of"])
    wanted = {c: _status_by_hand(world, c, now_ms) for c in world.ledger.campaigns("a")}
    assert {r["campaign"]: r["status"] for r in body["campaigns"]} == wanted
    assert set(wanted.values()) == {"sending", "finished", "quiet"}, "the plan covers every status"
    assert body["statuses"] == {
        s: list(wanted.values()).count(s) for s in ("sending", "finished", "quiet")
    }
    for status in ("sending", "finished", "quiet"):
        only = _all(world, status=status)
        assert {r["campaign"] for r in only["campaigns"]} == {
            c for c, s in wanted.items() if s == status
        }
        assert only["statuses"] == body["statuses"], "the counts are before the status filter"


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sorted_by_every_column_ties_by_name(world: World, sort: str, order: str) -> None:
    body = _all(world, period="7d", sort=sort, order=order)
    rows = body["campaigns"]
    assert (body["sort"], body["order"]) == (sort, order)

    def value(row: dict[str, Any]) -> Any:
        if sort == "campaign":
            return row["campaign"]
        if sort in ("first", "last"):
            return hand.epoch_ms(row[sort])
        return row["events_in_window"] if sort == "events" else row["metrics"][sort]

    valued = [r for r in rows if value(r) is not None]
    unvalued = [r for r in rows if value(r) is None]
    assert rows == valued + unvalued, "campaigns without the rate come last"
    assert [r["campaign"] for r in unvalued] == sorted(r["campaign"] for r in unvalued)
    wanted = sorted(valued, key=lambda r: r["campaign"])
    wanted.sort(key=value, reverse=order == "desc")
    assert [r["campaign"] for r in valued] == [r["campaign"] for r in wanted]


def test_pages_join_into_the_whole_list(world: World) -> None:
    whole = [r["campaign"] for r in _all(world, sort="sent")["campaigns"]]
    paged: list[str] = []
    offset = 0
    while True:
        page = get(world.client, "/v1/campaigns", sort="sent", limit="4", offset=str(offset))
        assert page["total"] == len(whole) and page["limit"] == 4 and page["offset"] == offset
        paged += [r["campaign"] for r in page["campaigns"]]
        offset += 4
        if offset >= page["total"]:
            break
    assert paged == whole
    beyond = get(world.client, "/v1/campaigns", offset=str(len(whole) + 5))
    assert beyond["campaigns"] == [] and beyond["total"] == len(whole)


def test_filters_by_text_and_channel(world: World) -> None:
    found = _all(world, q="SALE")
    assert [r["campaign"] for r in found["campaigns"]] == ['Spring <b>Sale</b> & "more"']
    assert found["total"] == 1 and found["campaigns_total"] == len(world.ledger.campaigns("a"))
    assert {r["campaign"] for r in _all(world, q="bulk-")["campaigns"]} == {
        f"bulk-{i}" for i in range(6)
    }
    assert _all(world, q="<script>")["campaigns"] == []
    for channel in hand.CHANNELS:
        wanted = {
            c
            for c in world.ledger.campaigns("a")
            if any(e.channel == channel for e in world.ledger.of_campaign("a", c))
        }
        assert {r["campaign"] for r in _all(world, channel=channel)["campaigns"]} == wanted, channel
    both = _all(world, channel="sms", q="multi")
    assert [r["campaign"] for r in both["campaigns"]] == ["epsilon-multi"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sort": "opens"}, "sort: 'opens' is unknown; expected one of last, first"),
        ({"order": "up"}, "order: 'up' is unknown; expected desc or asc"),
        (
            {"status": "paused"},
            "status: 'paused' is unknown; expected one of sending, finished, quiet",
        ),
        ({"channel": "fax"}, "channel: 'fax' is unknown; expected one of email"),
        ({"limit": "0"}, "limit: '0' is not a whole number from 1 to 500"),
        ({"limit": "501"}, "limit: '501' is not a whole number from 1 to 500"),
        ({"offset": "-1"}, "offset: '-1' is not a whole number from 0"),
        ({"period": "2d"}, "period: '2d' is unknown"),
        ({"page": "2"}, "page: unknown query parameter"),
    ],
)
def test_bad_parameters_say_what_is_expected(
    world: World, params: dict[str, str], message: str
) -> None:
    response = world.client.get("/v1/campaigns", params=params)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"], response.json()


# --- the org totals -------------------------------------------------------------------------


def _org_by_hand(world: World, start: int, end: int) -> dict[str, dict[str, Any]]:
    every = [e for e in world.ledger.events if start <= e.time_ms < end]
    found = {}
    for scope in hand.SCOPES:
        events = every if scope == hand.CAMPAIGN else [e for e in every if e.channel == scope]
        found[scope] = hand.compute(hand.metrics_for(scope), events)
    return found


@pytest.mark.parametrize("period", [{}, {"period": "7d"}, {"period": "life"}])
def test_org_totals_count_distinct_profiles_once_across_campaigns(
    world: World, period: dict[str, str]
) -> None:
    body = get(world.client, "/v1/totals", compare="previous", **period)
    start, end = _span(body)
    wanted = _org_by_hand(world, start, end)
    assert set(body["channels"]) == set(hand.SCOPES)
    for scope, metrics in wanted.items():
        assert_metrics(body["channels"][scope]["metrics"], metrics, scope)
    email = [e for e in world.ledger.events if e.channel == "email" and start <= e.time_ms < end]
    per_campaign = sum(
        len({e.profile for e in email if e.type == "open" and e.campaign == c})
        for c in {e.campaign for e in email}
    )
    assert body["channels"]["email"]["metrics"]["unique_opens"] < per_campaign, "profiles recur"
    before_start, before_end = _span(body["previous"])
    assert before_end == start and before_start == start - (end - start)
    for scope, metrics in _org_by_hand(world, before_start, before_end).items():
        assert_metrics(body["previous"]["channels"][scope]["metrics"], metrics, f"previous {scope}")


@pytest.mark.parametrize(
    ("channel", "top", "min_volume"),
    [
        ("email", "sent", "100"),
        ("email", "open_rate", "10"),
        ("campaign", "delivered", "100"),
        ("sms", "click_rate", "0"),
        ("email", "unique_clicks", "100"),
        ("inapp", "impressions", "100"),
    ],
)
def test_the_leading_campaigns(world: World, channel: str, top: str, min_volume: str) -> None:
    body = get(
        world.client,
        "/v1/totals",
        period="7d",
        channel=channel,
        top=top,
        limit="4",
        min_volume=min_volume,
    )
    start, end = _span(body)
    ranked = []
    for campaign in world.ledger.campaigns("a"):
        events = world.ledger.select("a", campaign, channel, start, end)
        if not events:
            continue
        value = hand.value(top, events)
        ratio = hand.RATIOS.get(top)
        volume = hand.value(ratio[1], events) if ratio else value
        if value is None or (ratio and (volume or 0) < int(min_volume)):
            continue
        ranked.append((campaign, value, volume))
    ranked.sort(key=lambda r: (-r[1], r[0]))
    shown = body["top"]
    assert (shown["metric"], shown["channel"], shown["min_volume"]) == (
        top,
        channel,
        int(min_volume),
    )
    assert [r["campaign"] for r in shown["campaigns"]] == [r[0] for r in ranked[:4]]
    for row, (_, value, volume) in zip(shown["campaigns"], ranked, strict=False):
        assert same(row["value"], value) and same(row["volume"], volume), row


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"top": "open_rate", "channel": "sms"},
            "top: 'open_rate' is not a metric of sms; expected one of",
        ),
        ({"channel": "fax"}, "channel: 'fax' is unknown"),
        ({"limit": "101"}, "limit: '101' is not a whole number from 1 to 100"),
        ({"min_volume": "x"}, "min_volume: 'x' is not a whole number"),
        ({"period": "7d", "from": "2026-01-01T00:00:00Z"}, "period and from/to are both given"),
    ],
)
def test_org_totals_refuse_bad_parameters(
    world: World, params: dict[str, str], message: str
) -> None:
    response = world.client.get("/v1/totals", params=params)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"], response.json()


# --- campaigns at the edge of the retention ---------------------------------------------------

_RETENTION_SCRIPT = """
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
import msgspec
from livereport.ingest import pipeline
from livereport.report import overview, period
from livereport.report.build import Reports
from livereport.store.base import drop_partitions_before
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate

store = ChdbStore(Path(DATA))
migrate(store)
now = datetime.now(UTC)
def event(campaign, channel, days_ago, n):
    at = (now - timedelta(days=days_ago)).isoformat()
    return {"id": f"{campaign}-{channel}-{days_ago}-{n}", "time": at, "campaign": campaign,
            "channel": channel, "type": "sent", "profile": f"p{n}"}
raw = [event("straddle", "sms", 10, 1), event("straddle", "email", 1, 2),
       event("gone", "email", 10, 3), event("kept", "push", 2, 4)]
batch = pipeline.prepare(pipeline.Body(msgspec.json.encode(raw), "application/json", 10**6),
                         pipeline.Context(1, now, timedelta(days=30)))
store.insert_events([(1, e) for _, e in batch.events], int(time.time()))
# A retention of 5 days: the partitions before it dropped, as the daily job does.
drop_partitions_before(store, (now - timedelta(days=5)).date())
body = Reports(store, cache=False, retention_days=5).campaigns(
    1, None, period.asked("life", None, None), overview.Listing(sort="first", order="asc"))
rows = {r["campaign"]: r for r in body["campaigns"]}
assert set(rows) == {"straddle", "kept"}, rows
assert rows["straddle"]["channels"] == ["email"], rows["straddle"]
assert rows["straddle"]["first"] == rows["straddle"]["last"], rows["straddle"]
by_last = Reports(store, cache=False, retention_days=5).campaigns(1, None, period.asked("life", None, None))
assert {r["campaign"]: (r["channels"], r["first"]) for r in by_last["campaigns"]} == {
    c: (r["channels"], r["first"]) for c, r in rows.items()}, by_last
print("ok")
"""


def test_campaigns_before_the_retention_are_left_out_and_trimmed(tmp_path: Path) -> None:
    """A campaign whose events have all left the retention is not listed; one with some
    left shows the channels and first event of those still stored, sorted by any column."""
    script = _RETENTION_SCRIPT.replace("DATA", repr(str(tmp_path / "events")))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


_LIFETIMES_SCRIPT = """
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
import msgspec
from livereport.ingest import pipeline
from livereport.report import overview, period
from livereport.report.build import Reports
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate

store = ChdbStore(Path(DATA))
migrate(store)
now = datetime.now(UTC)
serial = iter(range(10**6))

def ingest(*events):
    raw = [{"id": f"e{next(serial)}", "time": (now - timedelta(hours=hours)).isoformat(),
            "campaign": campaign, "channel": channel, "type": type_, "profile": profile}
           for campaign, channel, hours, type_, profile in events]
    batch = pipeline.prepare(pipeline.Body(msgspec.json.encode(raw), "application/json", 10**6),
                             pipeline.Context(1, now, timedelta(days=30)))
    assert not batch.rejected, batch.rejected
    store.insert_events([(1, e) for _, e in batch.events], int(time.time()))

def life(campaign, hours, profiles, opened):
    found = []
    for i in range(profiles):
        for channel in ("email", "push"):
            found += [(campaign, channel, hours, "sent", f"p{i}"), (campaign, channel, hours, "delivered", f"p{i}")]
            if i < opened:
                found += [(campaign, channel, hours + 0.5, "open", f"p{i}"), (campaign, channel, hours, "open", f"p{i}")]
    return found

ingest(*life("inside-a", 80, 10, 4), *life("inside-b", 90, 8, 6), *life("inside-c", 100, 5, 1),
       *life("straddle", 24 * 8, 6, 2), *life("straddle", 30, 6, 5))

def by_raw(start, end):
    rows = store.execute(
        "SELECT campaign, sum(openers) / sum(delivered) FROM (SELECT campaign, channel, "
        "uniqExactIf(profile, type = 'open') AS openers, countIf(type = 'delivered') AS delivered "
        "FROM {db}.events WHERE org = 1 AND time >= toDateTime(%(s)s, 'UTC') AND time < toDateTime(%(e)s, 'UTC') "
        "GROUP BY campaign, channel) GROUP BY campaign", {"s": start, "e": end})
    return {c: float(r) for c, r in rows}

def load():
    body = Reports(store, cache=False).campaigns(1, None, period.asked("7d", None, None), overview.Listing(sort="open_rate"))
    start = int(datetime.fromisoformat(body["from"]).timestamp())
    end = int(datetime.fromisoformat(body["to"]).timestamp())
    shown = {r["campaign"]: r["metrics"]["open_rate"] for r in body["campaigns"]}
    raw = by_raw(start, end)
    assert set(shown) == set(raw), (shown, raw)
    for campaign, rate in shown.items():
        assert abs(rate - raw[campaign]) < 1e-12, (campaign, rate, raw[campaign])
    assert [r["campaign"] for r in body["campaigns"]] == sorted(raw, key=lambda c: (-raw[c], c)), body["campaigns"]
    return shown

memo = overview.LIFETIMES
first = load()
assert (memo.hits, memo.misses) == (0, 4), (memo.hits, memo.misses)
assert load() == first
# The three campaigns that began and ended inside the 7 days come from memory; the one
# that straddles the period's start is merged every time.
assert (memo.hits, memo.misses) == (3, 5), (memo.hits, memo.misses)

# An open stored late, inside inside-a's life, by a profile that had not opened.
ingest(("inside-a", "email", 81, "open", "p9"))
later = load()
assert later["inside-a"] > first["inside-a"], (first, later)
assert (memo.hits, memo.misses) == (5, 7), (memo.hits, memo.misses)

# While an insert of a campaign runs, its number is counted again and not kept.
with store._engine.marks.inserting(store.database, {(1, "inside-b")}):
    assert store.write_marks(1, ["inside-b", "inside-c"])["inside-b"] is None
    load()
assert (memo.hits, memo.misses) == (7, 9), (memo.hits, memo.misses)
load()  # its number is counted again, after the insert that ran
assert (memo.hits, memo.misses) == (9, 11), (memo.hits, memo.misses)

# Any other write (a rebuild, a partition dropped) forgets every campaign's number.
store.execute("OPTIMIZE TABLE {db}.minute_uniques FINAL")
load()
assert (memo.hits, memo.misses) == (9, 15), (memo.hits, memo.misses)
print("ok")
"""


def test_distinct_profiles_of_whole_lives_are_kept_while_their_campaign_is_unchanged(
    tmp_path: Path,
) -> None:
    """Over 7 days sorted by open rate, the campaigns that began and ended inside the period
    are counted once and then served from memory, exactly, until an event of theirs is
    stored (a late open changes the number at the next load), an insert of theirs is running
    (counted again, not kept) or anything else is written."""
    script = _LIFETIMES_SCRIPT.replace("DATA", repr(str(tmp_path / "events")))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
