"""Any period within retention (issue 18, SPEC §9): every number of a period equals the count
made by hand from the posted events over that period — presets, custom ranges with any UTC
offset (a DST change included), the edges of a range, late events, executions, and the
previous period of the same length."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from conftest import Server, next_report, post, start_app
from report import expected as hand
from report.test_exactness import assert_metrics, assert_rows, get, path, same

PRESETS = {"1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400}
#: How long ago the events happened: inside and just outside each preset.
AGES = (
    30,
    600,
    3500,
    3700,
    5 * 3600,
    23 * 3600,
    25 * 3600,
    3 * 86_400,
    6 * 86_400 + 80_000,
    7 * 86_400 + 3600,
    10 * 86_400,
    29 * 86_400,
)


class World:
    def __init__(self, server: Server, client: httpx.Client) -> None:
        self.server, self.client = server, client
        self.ledger = hand.Ledger()
        self.campaign = f"periods-{uuid.uuid4().hex[:6]}"

    def post(self, events: list[dict[str, Any]]) -> None:
        answer = post(self.client, events)
        assert not answer["rejected"], answer["rejected"]
        for event in events:
            self.ledger.record("a", event)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _funnel(campaign: str, at: datetime, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """A few profiles' email funnel at one moment; profiles come back across moments, so a
    profile's opens fall in several periods (distinct profiles must stay exact)."""
    found = []
    for i in range(n):
        profile = f"p-{rng.randrange(40)}"
        common = {
            "time": _iso(at),
            "campaign": campaign,
            "channel": "email",
            "profile": profile,
            "execution": "run-1" if i % 2 else "run-2",
            "recipient_domain": rng.choice(("gmail.com", "outlook.com")),
        }
        found.append({**common, "id": uuid.uuid4().hex, "type": "sent"})
        if rng.random() < 0.2:
            found.append(
                {
                    **common,
                    "id": uuid.uuid4().hex,
                    "type": "bounce",
                    "smtp": {"status": "5.1.1", "code": 550, "diagnostic": "no such user"},
                }
            )
            continue
        found.append({**common, "id": uuid.uuid4().hex, "type": "delivered"})
        if rng.random() < 0.5:
            found.append({**common, "id": uuid.uuid4().hex, "type": "open"})
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_app(tmp_path_factory.mktemp("periods") / "data")
    try:
        server.stateless_machine_rules()  # counted by hand
        with server.client(server.key("ingest", "read")) as client:
            found = World(server, client)
            rng = random.Random(18)
            now = datetime.now(UTC)
            events = [
                e
                for age in AGES
                for e in _funnel(found.campaign, now - timedelta(seconds=age), 6, rng)
            ]
            found.post(events)
            yield found
    finally:
        server.stop()


def _range(body: dict[str, Any]) -> tuple[int, int]:
    return hand.epoch_ms(body["from"]), hand.epoch_ms(body["to"])


@pytest.mark.parametrize("period", [*PRESETS, "life"])
@pytest.mark.parametrize("scope", ["campaign", "email"])
def test_each_preset_is_exact(world: World, period: str, scope: str) -> None:
    body = get(world.client, path(world.campaign, "totals"), channel=scope, period=period)
    start, end = _range(body)
    assert body["period"] == period and body["live"] is True
    assert end == (hand.epoch_ms(body["as_of"]) // 60_000 + 1) * 60_000
    if period == "life":
        first = min(e.time_ms for e in world.ledger.of_campaign("a", world.campaign))
        assert start == first // 60_000 * 60_000
    else:
        assert end - start == PRESETS[period] * 1000
    events = world.ledger.select("a", world.campaign, scope, start, end)
    assert events, "the period holds events"
    assert_metrics(
        body["metrics"], hand.compute(hand.metrics_for(scope), events), f"{period} {scope}"
    )


def test_a_custom_range_in_any_offset_counts_its_edges_right(world: World) -> None:
    start = (datetime.now(UTC) - timedelta(days=2)).replace(second=0, microsecond=0)
    end = start + timedelta(hours=3)
    campaign = f"edges-{uuid.uuid4().hex[:6]}"

    def sent(at: datetime, profile: str) -> dict[str, Any]:
        return {
            "id": uuid.uuid4().hex,
            "time": _iso(at),
            "campaign": campaign,
            "type": "sent",
            "channel": "email",
            "profile": profile,
        }

    world.post(
        [
            sent(start - timedelta(milliseconds=1), "before"),
            sent(start, "first"),
            sent(end - timedelta(milliseconds=1), "last"),
            sent(end, "after"),
        ]
    )
    # The same instants written with other offsets: India (+05:30) and California (-08:00).
    for tz in (timedelta(hours=5, minutes=30), timedelta(hours=-8)):
        given = {
            "from": start.astimezone(_zone(tz)).isoformat(),
            "to": end.astimezone(_zone(tz)).isoformat(),
        }
        body = get(world.client, path(campaign, "totals"), channel="email", **given)
        assert body["metrics"]["sent"] == 2, (given, body["metrics"])
        assert (body["period"], body["live"]) == ("custom", False)
        assert _range(body) == (int(start.timestamp() * 1000), int(end.timestamp() * 1000))


def _zone(offset: timedelta) -> timezone:
    return timezone(offset)


def test_a_range_until_now_is_live(world: World) -> None:
    start = (datetime.now(UTC) - timedelta(hours=30)).replace(second=0, microsecond=0)
    body = get(
        world.client, path(world.campaign, "totals"), channel="email", **{"from": _iso(start)}
    )
    assert body["live"] is True and body["period"] == "custom"
    begin, end = _range(body)
    events = world.ledger.select("a", world.campaign, "email", begin, end)
    assert_metrics(body["metrics"], hand.compute(hand.metrics_for("email"), events), "from only")


def test_breakdowns_series_and_tabs_follow_the_period(world: World) -> None:
    body = get(
        world.client,
        path(world.campaign, "breakdown"),
        channel="email",
        by="recipient_domain",
        period="7d",
    )
    start, end = _range(body)
    events = world.ledger.select("a", world.campaign, "email", start, end)
    names = hand.breakdown_metrics("recipient_domain", "email")
    assert_rows(body, hand.group(events, "recipient_domain"), names, "breakdown 7d")

    series = get(
        world.client,
        path(world.campaign, "series"),
        channel="email",
        metrics="sent,unique_opens",
        period="7d",
    )
    assert series["bucket"] == "1h"
    starts = [hand.epoch_ms(t) for t in series["t"]]
    assert starts[0] <= start < starts[0] + 3_600_000 and starts[-1] < end <= starts[-1] + 3_600_000
    wanted = hand.series(["sent", "unique_opens"], events, starts, 3_600_000, end)
    for name, values in wanted.items():
        assert all(same(a, b) for a, b in zip(series["series"][name], values, strict=True)), name

    report = get(world.client, path(world.campaign, "report"), tab="email", period="30d")
    start, end = _range(report)
    events = world.ledger.select("a", world.campaign, "email", start, end)
    for widget in report["widgets"]:
        if widget["kind"] == "kpi":
            assert_metrics(
                widget["data"]["metrics"], hand.compute(widget["metrics"], events), widget["id"]
            )
        if widget["kind"] == "series":
            assert widget["data"]["bucket"] == "6h"


def test_an_execution_over_a_period(world: World) -> None:
    body = get(
        world.client,
        path(world.campaign, "totals"),
        channel="email",
        period="30d",
        execution="run-1",
    )
    start, end = _range(body)
    events = world.ledger.select("a", world.campaign, "email", start, end, execution="run-1")
    assert_metrics(body["metrics"], hand.compute(hand.metrics_for("email"), events), "run-1 30d")


def test_compare_adds_the_previous_period_of_the_same_length(world: World) -> None:
    body = get(
        world.client,
        path(world.campaign, "totals"),
        channel="email",
        period="24h",
        compare="previous",
    )
    start, _ = _range(body)
    previous = body["previous"]
    assert (hand.epoch_ms(previous["from"]), hand.epoch_ms(previous["to"])) == (
        start - 86_400_000,
        start,
    )
    assert previous["complete"] is True
    events = world.ledger.select("a", world.campaign, "email", start - 86_400_000, start)
    assert events
    assert_metrics(
        previous["metrics"], hand.compute(hand.metrics_for("email"), events), "previous 24h"
    )
    report = get(
        world.client, path(world.campaign, "report"), tab="email", period="7d", compare="previous"
    )
    start, _ = _range(report)
    events = world.ledger.select("a", world.campaign, "email", start - 7 * 86_400_000, start)
    kpis = [w for w in report["widgets"] if w["kind"] == "kpi"]
    assert kpis
    for widget in kpis:
        assert_metrics(
            widget["data"]["previous"], hand.compute(widget["metrics"], events), widget["id"]
        )


def test_a_late_event_changes_a_past_period_already_shown(world: World) -> None:
    first = get(world.client, path(world.campaign, "report"), tab="email", period="7d")
    late_at = datetime.now(UTC) - timedelta(days=4)
    world.post(
        [
            {
                "id": uuid.uuid4().hex,
                "time": _iso(late_at),
                "campaign": world.campaign,
                "type": "sent",
                "channel": "email",
                "profile": "late",
            }
        ]
    )
    again = get(world.client, path(world.campaign, "report"), tab="email", period="7d")

    def sent(report: dict[str, Any]) -> int:
        return next(
            int(w["data"]["total"]["sent"]) for w in report["widgets"] if w["kind"] == "statistics"
        )

    assert sent(again) == sent(first) + 1


def test_a_stream_of_a_past_period_sends_the_report_again_after_a_late_event(world: World) -> None:
    """The live stream of the last 7 days watches every stored event of the campaign, not
    only those of the live 24 hours: an event dated 5 days ago that arrives now changes it."""
    url = f"{world.server.url}{path(world.campaign, 'live')}"
    headers = {"Authorization": world.client.headers["Authorization"]}
    params = {"tab": "email", "period": "7d"}

    def sent(report: dict[str, Any]) -> int:
        return next(
            int(w["data"]["total"]["sent"]) for w in report["widgets"] if w["kind"] == "statistics"
        )

    with httpx.stream("GET", url, params=params, headers=headers, timeout=30) as stream:
        lines = stream.iter_lines()
        first = next_report(lines)
        assert first["period"] == "7d"
        late_at = datetime.now(UTC) - timedelta(days=5)
        world.post(
            [
                {
                    "id": uuid.uuid4().hex,
                    "time": _iso(late_at),
                    "campaign": world.campaign,
                    "type": "sent",
                    "channel": "email",
                    "profile": "late-streamed",
                }
            ]
        )
        again = next_report(lines)
        assert sent(again) == sent(first) + 1


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"period": "2d"}, "period: '2d' is unknown"),
        ({"period": ""}, "period: '' is unknown"),
        ({"period": "7d", "from": "2026-11-30T08:00:00Z"}, "both given"),
        ({"to": "2026-11-30T08:00:00Z"}, "to is given without from"),
        ({"from": "2026-11-30T08:00:30Z"}, "not a whole minute"),
        ({"from": "2026-11-30T08:00:00"}, "has no UTC offset"),
        ({"from": "yesterday"}, "not an RFC 3339 time"),
        ({"from": "2020-01-01T00:00:00Z"}, "before the retention period"),
        ({"from": "2026-11-30T08:00:00Z", "to": "2026-11-30T08:00:00Z"}, "not after from"),
        ({"from": "2026-11-30T08:00:00Z", "to": "2999-01-01T00:00:00Z"}, "in the future"),
        ({"compare": "next"}, "compare: 'next' is unknown"),
    ],
)
def test_a_bad_period_is_refused_with_what_is_allowed(
    world: World, params: dict[str, str], says: str
) -> None:
    for what in ("totals", "report"):
        extra = {"channel": "email"} if what == "totals" else {}
        response = world.client.get(path(world.campaign, what), params={**extra, **params})
        assert response.status_code == 400, (what, params, response.text)
        assert says in response.json()["error"], response.text


def test_series_buckets_adapt_and_too_many_are_refused(world: World) -> None:
    for period, bucket in (("1h", "1m"), ("24h", "5m"), ("30d", "6h")):
        body = get(
            world.client,
            path(world.campaign, "series"),
            channel="email",
            metrics="sent",
            period=period,
        )
        assert body["bucket"] == bucket
    refused = world.client.get(
        path(world.campaign, "series"),
        params={"channel": "email", "metrics": "sent", "period": "30d", "bucket": "1m"},
    )
    assert refused.status_code == 400 and "at most 2,000" in refused.json()["error"]


#: Days the DST test's server keeps: any day has a change of daylight saving time in one of
#: ZONES within that many days before it (the longest gap between changes is about 5 months).
LONG_RETENTION = 200
ZONES = (
    "America/New_York",
    "Europe/Paris",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Santiago",
)


def latest_change(now: datetime) -> tuple[str, datetime]:
    """The zone and instant of the latest change of UTC offset in ZONES, a day or more ago."""
    found: list[tuple[datetime, str]] = []
    for name in ZONES:
        zone = ZoneInfo(name)
        t = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
        for _ in range((LONG_RETENTION - 10) * 24):
            earlier = t - timedelta(hours=1)
            if earlier.astimezone(zone).utcoffset() != t.astimezone(zone).utcoffset():
                found.append((t, name))
                break
            t = earlier
    assert found, f"no change of daylight saving time in {ZONES} in the last {LONG_RETENTION} days"
    when, name = max(found)
    return name, when


@pytest.fixture(scope="module")
def long_memory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_app(
        tmp_path_factory.mktemp("periods-dst") / "data",
        {"LIVEREPORT_RETENTION_DAYS": str(LONG_RETENTION)},
    )
    yield server
    server.stop()


def test_a_range_across_a_dst_change_is_counted_in_real_time(long_memory: Server) -> None:
    """From half an hour before the latest change of daylight saving time to half an hour
    after, both ends written in that zone's local time with its offset of the moment: one
    hour of real time, whatever the wall clock says."""
    name, change = latest_change(datetime.now(UTC))
    zone = ZoneInfo(name)
    start, end = change - timedelta(minutes=30), change + timedelta(minutes=30)
    assert start.astimezone(zone).utcoffset() != end.astimezone(zone).utcoffset()
    campaign = f"dst-{uuid.uuid4().hex[:6]}"
    instants = [start - timedelta(seconds=1), start, end - timedelta(seconds=1), end]
    with long_memory.client(long_memory.key("ingest", "read")) as client:
        post(
            client,
            [
                {
                    "id": uuid.uuid4().hex,
                    "time": _iso(t),
                    "campaign": campaign,
                    "type": "sent",
                    "channel": "email",
                    "profile": f"p{i}",
                }
                for i, t in enumerate(instants)
            ],
        )
        body = get(
            client,
            path(campaign, "totals"),
            channel="email",
            **{"from": start.astimezone(zone).isoformat(), "to": end.astimezone(zone).isoformat()},
        )
    assert body["metrics"]["sent"] == 2, (name, change, body)
    assert (body["from"], body["to"]) == (_iso(start), _iso(end))


def test_day_buckets_follow_the_time_zone_asked_across_a_dst_change(long_memory: Server) -> None:
    """bucket=1d with tz=: each bucket starts at that zone's midnight, the day of a change of
    daylight saving time lasts 23 or 25 hours, and each day counts the events of its local
    date; a zone name that is not one is refused."""
    zones = ("America/New_York", "Europe/Paris", "Australia/Sydney")  # changes away from midnight
    now = datetime.now(UTC)
    name, change = max((latest_change_in(z, now), z) for z in zones)[::-1]
    zone = ZoneInfo(name)
    day = change.astimezone(zone).date()
    days = [day + timedelta(days=d) for d in (-2, -1, 0, 1, 2)]
    midnights = [datetime.combine(d, datetime.min.time(), tzinfo=zone) for d in days]
    campaign = f"tz-days-{uuid.uuid4().hex[:6]}"
    events, per_day = [], {d: 0 for d in days[:-1]}
    for d in days[:-1]:
        for i, local in enumerate(("00:00", "00:10", "12:00", "23:59")):
            hour, minute = map(int, local.split(":"))
            at = datetime.combine(
                d, datetime.min.time().replace(hour=hour, minute=minute), tzinfo=zone
            )
            events.append(
                {
                    "id": uuid.uuid4().hex,
                    "time": _iso(at.astimezone(UTC)),
                    "campaign": campaign,
                    "type": "sent",
                    "channel": "email",
                    "profile": f"p{d}-{i}",
                }
            )
            per_day[d] += 1
    with long_memory.client(long_memory.key("ingest", "read")) as client:
        post(client, events)
        params = {
            "channel": "email",
            "metrics": "sent",
            "bucket": "1d",
            "tz": name,
            "from": midnights[0].isoformat(),
            "to": midnights[-1].isoformat(),
        }
        body = get(client, path(campaign, "series"), **params)
        utc = get(client, path(campaign, "series"), **{**params, "tz": "UTC"})
        refused = client.get(path(campaign, "series"), params={**params, "tz": "Mars/Olympus"})
    assert body["tz"] == name and utc["tz"] == "UTC"
    assert body["t"] == [_iso(m.astimezone(UTC)) for m in midnights[:-1]], (name, body["t"])
    lengths = {(b.timestamp() - a.timestamp()) / 3600 for a, b in itertools.pairwise(midnights)}
    assert lengths == {24, 23} or lengths == {24, 25}, lengths
    assert body["series"]["sent"] == [per_day[d] for d in days[:-1]]
    assert (
        sum(utc["series"]["sent"]) == sum(per_day.values())
        and utc["series"]["sent"] != body["series"]["sent"]
    )
    assert (
        refused.status_code == 400
        and "tz: 'Mars/Olympus' is not a time zone name" in refused.json()["error"]
    )


def latest_change_in(name: str, now: datetime) -> datetime:
    zone = ZoneInfo(name)
    t = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=3)
    for _ in range((LONG_RETENTION - 10) * 24):
        earlier = t - timedelta(hours=1)
        if earlier.astimezone(zone).utcoffset() != t.astimezone(zone).utcoffset():
            return t
        t = earlier
    raise AssertionError(
        f"no change of daylight saving time in {name} in the last {LONG_RETENTION} days"
    )


def test_a_previous_period_before_the_retention_says_it_is_incomplete(world: World) -> None:
    body = get(
        world.client,
        path(world.campaign, "totals"),
        channel="email",
        period="30d",
        compare="previous",
    )
    assert body["previous"]["complete"] is False


def test_the_live_stream_refuses_a_bad_period_before_it_starts(world: World) -> None:
    response = world.client.get(
        path(world.campaign, "live"), params={"from": "2020-01-01T00:00:00Z"}
    )
    assert response.status_code == 400 and "before the retention period" in response.json()["error"]
