"""Exactness (SPEC §3): every number of every tab equals a count made by hand.

Simulated traffic for two orgs (duplicates, conflicting re-sends, late and out-of-order
events, events older than the window, one campaign id in both orgs) is posted over HTTP in
shuffled requests. Totals, breakdowns, series and every widget of every tab must then equal
`expected`'s independent count of the de-duplicated events in the window; an org never sees
the other's data.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from conftest import Server, post, start_app
from livereport import simulate
from report import expected as hand
from report.expected import CAMPAIGN, SCOPES, Ledger, Metrics, Stored, Value

RATE_TOLERANCE = 1e-12
BUCKET_MS = 5 * 60_000
BUCKETS = 288
SERIES_METRICS = 8
EXECUTION = "run-2"


@dataclass(frozen=True)
class Plan:
    """One simulated campaign of one org, `hours` = (from, to) hours before now."""

    org: str
    campaign: str
    seed: int
    profiles: int
    channels: tuple[str, ...] | None = None
    executions: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    hours: tuple[float, float] = (20, 0)


PLANS = (
    Plan("a", "spring-sale-2026", 11, 2000, None, ("run-1", EXECUTION, "run-3"), ("A", "B")),
    Plan("a", "spring-sale-2026", 12, 300, None, ("run-1",), ("A",), hours=(30, 25)),
    Plan("a", "newsletter-w48", 13, 1000, ("email",)),
    Plan("a", "shared-launch", 14, 600, ("email", "sms", "push"), (), ("control", "test")),
    Plan("a", "archive-2026", 15, 300, ("email", "sms"), hours=(30, 25)),
    # The same seed and campaign id as org a's: the same event ids, other content.
    Plan("b", "shared-launch", 14, 800, None, ("wave-1", "wave-2")),
    Plan("b", "été-2026 promo", 16, 400, ("inapp", "web")),
)
ORGS = ("a", "b")
CASES = sorted({(p.org, p.campaign) for p in PLANS})
ONLY_IN_A = ("spring-sale-2026", "newsletter-w48", "archive-2026")


@dataclass
class Reply:
    """One POST: what the server answered, and what the hand count says it should."""

    org: str
    sent: int
    body: dict[str, Any]
    new: int = 0


@dataclass
class World:
    server: Server
    clients: dict[str, httpx.Client]
    ledger: Ledger = field(default_factory=Ledger)
    replies: list[Reply] = field(default_factory=list)
    posted: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


# --- the data set ---------------------------------------------------------------------------


def simulated(plan: Plan, now: datetime) -> list[dict[str, Any]]:
    return simulate.generate(
        seed=plan.seed,
        campaign=plan.campaign,
        channels=plan.channels,
        profiles=plan.profiles,
        start=now - timedelta(hours=plan.hours[0]),
        end=now - timedelta(hours=plan.hours[1]),
        executions=plan.executions,
        variants=plan.variants,
    )


def edge_events(campaign: str, now: datetime) -> list[dict[str, Any]]:
    """Hand-made events for the normalisation rules the simulator seldom or never sends."""

    def at(
        minutes: int, id_: str, type_: str, channel: str | None, **fields: Any
    ) -> dict[str, Any]:
        when = (now - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
        event = {
            "id": f"edge-{id_}",
            "time": when,
            "campaign": campaign,
            "type": type_,
            "profile": f"edge-profile-{id_}",
            **fields,
        }
        return event | ({"channel": channel} if channel else {})

    smtp_full = {"status": "4.2.2", "code": 452, "diagnostic": "452 4.2.2 Mailbox over quota"}
    return [
        at(30, "1", "excluded", "email", execution="run-4"),
        at(31, "2", "error", "sms"),
        at(32, "3", "error", "directmail", reason="Print file rejected"),
        at(33, "4", "bounce", "email", reason="Mailbox Full"),
        at(34, "5", "bounce", "email", reason="Invalid Recipient", smtp=smtp_full),
        at(35, "6", "bounce", "email", bounce="hard", smtp={"status": "5.1.1"}),
        at(36, "7", "bounce", "push", reason="Recipient Refused"),
        at(37, "8", "delivered", "email", recipient_domain="Example.COM."),
        at(38, "9", "delivered", "email", recipient="someone@XN--BCHER-KVA.DE"),
        at(39, "10", "open", "email", recipient="Ünïcode@Bücher.DE"),
        at(40, "11", "delivered", "push", platform="fcm"),
        at(41, "12", "open", "push", platform="apns"),
        at(42, "13", "sent", "push", platform="other"),
        at(43, "14", "interaction", "inapp"),
        at(44, "15", "interaction", "web", element="Footer link"),
        at(45, "16", "entered", "email", execution="run-4", variant="C"),
        at(46, "17", "sent", "sms", recipient="+44 20 7946 0958"),
        # The same id again, other content: the first one that arrives stands.
        at(47, "1", "sent", "email", execution="run-4"),
    ]


def chunked(
    rng: random.Random, streams: Mapping[str, list[dict[str, Any]]]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Requests of 200–4000 events in shuffled order, some shuffled inside, with in-request
    copies, and one request sent twice (a retry after a lost answer)."""
    requests: list[tuple[str, list[dict[str, Any]]]] = []
    for org, events in streams.items():
        start = 0
        while start < len(events):
            size = rng.randint(200, 4000)
            requests.append((org, list(events[start : start + size])))
            start += size
    rng.shuffle(requests)
    for _, events in requests:
        if rng.random() < 0.5:
            rng.shuffle(events)
        events.extend(copy.deepcopy(rng.sample(events, min(5, len(events)))))
    requests.append(copy.deepcopy(requests[len(requests) // 2]))
    return requests


def post_all(world: World, rng: random.Random, now: datetime) -> None:
    streams: dict[str, list[dict[str, Any]]] = {org: [] for org in ORGS}
    for plan in PLANS:
        streams[plan.org] += simulated(plan, now)
    streams["a"] += edge_events("spring-sale-2026", now)
    world.posted = streams
    for org, events in chunked(rng, streams):
        body = post(world.clients[org], events)
        rejected = {r["index"] for r in body["rejected"]}
        reply = Reply(org, len(events), body)
        for index, event in enumerate(events):
            if index not in rejected:
                reply.new += world.ledger.record(org, event)
        world.replies.append(reply)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_app(tmp_path_factory.mktemp("exactness") / "data")
    try:
        server.create_org("b")
        keys = {"a": server.key("ingest", "read"), "b": server.key("ingest", "read", org="b")}
        clients = {org: server.client(key) for org, key in keys.items()}
        for org in ORGS:  # the hand count knows the machine rules that look at one event only
            server.stateless_machine_rules(None if org == "a" else org)
        world = World(server, clients)
        post_all(world, random.Random(20261126), datetime.now(UTC) - timedelta(seconds=5))
        yield world
        for client in clients.values():
            client.close()
    finally:
        server.stop()


# --- comparing ------------------------------------------------------------------------------


def path(campaign: str, what: str) -> str:
    return f"/v1/campaigns/{quote(campaign, safe='')}/{what}"


def get(client: httpx.Client, url: str, **params: str) -> dict[str, Any]:
    response = client.get(url, params=params)
    assert response.status_code == 200, f"{url} {params}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


def window_ms(body: Mapping[str, Any]) -> tuple[int, int]:
    return hand.epoch_ms(body["window"]["from"]), hand.epoch_ms(body["window"]["to"])


def same(actual: Value, wanted: Value) -> bool:
    if isinstance(wanted, float) or isinstance(actual, float):
        return actual is not None and wanted is not None and abs(actual - wanted) <= RATE_TOLERANCE
    return actual == wanted and type(actual) is type(wanted)


def assert_metrics(actual: Mapping[str, Value], wanted: Metrics, where: str) -> None:
    assert set(actual) == set(wanted), f"{where}: metric names differ"
    wrong = {n: (actual[n], wanted[n]) for n in wanted if not same(actual[n], wanted[n])}
    assert not wrong, f"{where}: (served, counted) {wrong}"


def assert_rows(
    data: Mapping[str, Any], groups: Mapping[str, list[Stored]], names: Sequence[str], where: str
) -> None:
    """Rows: one per key, every metric exact, largest first by the sort metric, then by key."""
    rows = data["rows"]
    sort = data["sort"]
    assert sort in names, f"{where}: sorted by {sort}, which is not a row metric"
    wanted = {key: hand.compute(names, events) for key, events in groups.items()}
    served = {r["key"] for r in rows}
    assert served == set(wanted), (
        f"{where}: keys only served {served - set(wanted)}, only counted {set(wanted) - served}"
    )
    for row in rows:
        assert_metrics(row["metrics"], wanted[row["key"]], f"{where} key {row['key']!r}")
    order = sorted(wanted, key=lambda k: (-(wanted[k][sort] or 0), k))
    assert [r["key"] for r in rows] == order, f"{where}: rows out of order"
    total = sum(int(m[sort] or 0) for m in wanted.values())
    for row in rows:
        share = int(wanted[row["key"]][sort] or 0) / total if total else None
        assert same(row.get("share"), share), f"{where} key {row['key']!r}: share"


def assert_series(
    data: Mapping[str, Any],
    names: Sequence[str],
    events: list[Stored],
    as_of: str,
    end: int,
    where: str,
) -> None:
    """288 five-minute buckets aligned to UTC, the last holding `as_of`; each one exact."""
    starts = [hand.epoch_ms(t) for t in data["t"]]
    assert len(starts) == BUCKETS, where
    assert all(b - a == BUCKET_MS for a, b in pairwise(starts)), where
    assert starts[0] % BUCKET_MS == 0, where
    assert starts[-1] <= hand.epoch_ms(as_of) < starts[-1] + BUCKET_MS, where
    wanted = hand.series(names, events, starts, BUCKET_MS, end)
    assert set(data["series"]) == set(names), f"{where}: series names differ"
    for name in names:
        served = data["series"][name]
        wrong = [
            (data["t"][i], served[i], wanted[name][i])
            for i in range(BUCKETS)
            if not same(served[i], wanted[name][i])
        ]
        assert not wrong, f"{where} {name}: (bucket, served, counted) {wrong[:5]}"


def assert_widget(widget: Mapping[str, Any], events: list[Stored], head: Mapping[str, Any]) -> None:
    where = f"widget {widget['id']}"
    data, names, kind = widget["data"], tuple(widget["metrics"]), widget["kind"]
    if kind == "kpi":
        assert_metrics(data["metrics"], hand.compute(names, events), where)
    elif kind in ("statistics", "breakdown", "reasons"):
        by = "execution" if kind == "statistics" else widget["dimension"]
        groups = hand.group(events, by)
        unnamed = [e for e in events if not e.execution]
        if kind == "statistics" and groups and unnamed:
            # Beside named executions, a statistics table also has a row for events without one.
            groups[""] = unnamed
        assert_rows(data, groups, names, where)
        assert_metrics(data["total"], hand.compute(names, events), f"{where} total")
    elif kind == "series":
        assert_series(data, names, events, head["as_of"], window_ms(head)[1], where)
    elif kind == "channels":
        rows = {r["key"]: r["metrics"] for r in data["rows"]}
        assert set(rows) == set(hand.CHANNELS), where
        for channel in hand.CHANNELS:
            applicable = [n for n in names if n in hand.metrics_for(channel)]
            mine = [e for e in events if e.channel == channel]
            assert_metrics(rows[channel], hand.compute(applicable, mine), f"{where} {channel}")
        wanted = hand.compute(hand.metrics_for(CAMPAIGN), events)
        assert_metrics(data["total"], wanted, f"{where} total")
    else:
        pytest.fail(f"{where}: unknown kind {kind!r}")


def check_totals(world: World, org: str, campaign: str, execution: str | None = None) -> None:
    extra = {"execution": execution} if execution else {}
    for scope in SCOPES:
        body = get(world.clients[org], path(campaign, "totals"), channel=scope, **extra)
        events = world.ledger.select(org, campaign, scope, *window_ms(body), execution)
        wanted = hand.compute(hand.metrics_for(scope), events)
        assert_metrics(body["metrics"], wanted, f"{org}/{campaign}/{scope} totals")


def check_report(world: World, org: str, campaign: str, execution: str | None = None) -> None:
    extra = {"execution": execution} if execution else {}
    for tab in SCOPES:
        body = get(world.clients[org], path(campaign, "report"), tab=tab, **extra)
        start, end = window_ms(body)
        events = world.ledger.select(org, campaign, tab, start, end, execution)
        everything = world.ledger.select(org, campaign, CAMPAIGN, start, end)
        where = f"{org}/{campaign}/{tab} report"
        assert {w["id"] for w in body["widgets"]} == hand.WIDGETS[tab], where
        assert body["empty"] == (not events), where
        assert body["executions"] == sorted({e.execution for e in everything if e.execution})
        for widget in body["widgets"]:
            # what the reference shows is there, and counted by hand with the rest
            missing = hand.SHOWN.get(widget["id"], set()) - set(widget["metrics"])
            assert not missing, f"{where}: {widget['id']} does not show {sorted(missing)}"
            assert_widget(widget, events, body)


# --- the tests ------------------------------------------------------------------------------


def test_every_event_is_accounted_for(world: World) -> None:
    """No simulated event is rejected; each request's accepted/duplicates match the count."""
    rejected = [r["errors"] for reply in world.replies for r in reply.body["rejected"]]
    assert not rejected, rejected[:5]
    for reply in world.replies:
        body = reply.body
        assert body["accepted"] + body["duplicates"] + len(body["rejected"]) == reply.sent
        assert body["accepted"] == reply.new, body
    assert world.replies[-1].body["accepted"] == 0  # the repeated request


def test_the_data_set_is_as_messy_as_intended(world: World) -> None:
    """Guard the test itself: duplicates, conflicts, old events and shared ids are present."""
    by_id: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for org, events in world.posted.items():
        for event in events:
            by_id.setdefault((org, event["id"]), []).append(event)
    again = [v for v in by_id.values() if len(v) > 1]
    assert sum(1 for v in again if all(e == v[0] for e in v)) > 100
    assert sum(1 for v in again if any(e != v[0] for e in v)) > 20
    window_start = hand.epoch_ms(datetime.now(UTC).isoformat()) - 24 * 3_600_000
    assert sum(1 for e in world.ledger.events if e.time_ms < window_start) > 1000
    shared = {i for o, i in by_id if o == "a"} & {i for o, i in by_id if o == "b"}
    assert len(shared) > 1000
    assert 20_000 <= len(world.ledger.events) <= 40_000


@pytest.mark.parametrize(("org", "campaign"), CASES)
def test_totals_equal_the_hand_count(world: World, org: str, campaign: str) -> None:
    check_totals(world, org, campaign)


@pytest.mark.parametrize(("org", "campaign"), CASES)
def test_breakdowns_equal_the_hand_count(world: World, org: str, campaign: str) -> None:
    client = world.clients[org]
    for scope in SCOPES:
        for by in hand.DIMENSIONS:
            params = {"channel": scope, "by": by}
            names = hand.breakdown_metrics(by, scope)
            if not names:  # e.g. bounce reasons of in-app messages: nothing to count
                response = client.get(path(campaign, "breakdown"), params=params)
                assert response.status_code == 400, f"{scope} by {by}: {response.text}"
                continue
            body = get(client, path(campaign, "breakdown"), **params)
            events = world.ledger.select(org, campaign, scope, *window_ms(body))
            assert body["by"] == by
            assert_rows(body, hand.group(events, by), names, f"{org}/{campaign}/{scope} by {by}")


@pytest.mark.parametrize(("org", "campaign"), CASES)
def test_series_equal_the_hand_count(world: World, org: str, campaign: str) -> None:
    for scope in SCOPES:
        every = hand.metrics_for(scope)
        # A few metrics a request: a query parameter holds at most 256 characters.
        for names in (every[i : i + SERIES_METRICS] for i in range(0, len(every), SERIES_METRICS)):
            params = {"channel": scope, "metrics": ",".join(names), "bucket": "5m"}
            body = get(world.clients[org], path(campaign, "series"), **params)
            start, end = window_ms(body)
            events = world.ledger.select(org, campaign, scope, start, end)
            assert_series(body, names, events, body["as_of"], end, f"{org}/{campaign}/{scope}")


@pytest.mark.parametrize(("org", "campaign"), CASES)
def test_every_widget_of_every_tab_equals_the_hand_count(
    world: World, org: str, campaign: str
) -> None:
    check_report(world, org, campaign)


def test_push_engagements_are_opens_plus_actions_in_every_widget(world: World) -> None:
    """Engagements are summed from two other counts: in the KPI, the statistics table and every
    bucket of the series, they equal the opens and actions counted by hand, which happened."""
    body = get(world.clients["a"], path("shared-launch", "report"), tab="push")
    events = world.ledger.select("a", "shared-launch", "push", *window_ms(body))
    opens, actions = (sum(1 for e in events if e.type == t) for t in ("open", "action"))
    assert opens and actions
    widgets = {w["id"]: w["data"] for w in body["widgets"]}
    assert widgets["push.sending_performance"]["metrics"]["engagements"] == opens + actions
    assert widgets["push.statistics"]["total"]["engagements"] == opens + actions
    series = widgets["push.sending_summary"]["series"]
    assert sum(series["engagements"]) == opens + actions
    assert series["engagements"] == [
        o + a for o, a in zip(series["opens"], series["actions"], strict=True)
    ]
    assert sum(series["sent"]) == sum(1 for e in events if e.type == "sent")


def test_one_execution_equals_the_hand_count(world: World) -> None:
    check_totals(world, "a", "spring-sale-2026", EXECUTION)
    check_report(world, "a", "spring-sale-2026", EXECUTION)


def test_events_before_the_window_count_nothing(world: World) -> None:
    body = get(world.clients["a"], path("archive-2026", "totals"), channel="email")
    assert world.ledger.of_campaign("a", "archive-2026")
    assert not world.ledger.select("a", "archive-2026", CAMPAIGN, *window_ms(body))
    assert all(v in (0, None) for v in body["metrics"].values()), body["metrics"]


@pytest.mark.parametrize("org", ORGS)
def test_the_campaign_list_shows_only_the_orgs_own(world: World, org: str) -> None:
    body = get(world.clients[org], "/v1/campaigns")
    rows = {row["campaign"]: row for row in body["campaigns"]}
    assert set(rows) == world.ledger.campaigns(org)
    start, end = window_ms(body)
    for campaign, row in rows.items():
        stored = world.ledger.of_campaign(org, campaign)
        in_window = [e for e in stored if start <= e.time_ms < end]
        assert row["events_in_window"] == len(in_window), campaign
        channels = sorted({e.channel for e in stored} - {CAMPAIGN})
        assert row["channels"] == channels, campaign


@pytest.mark.parametrize(
    ("org", "campaign"),
    [*(("b", c) for c in ONLY_IN_A), ("a", "été-2026 promo"), ("a", "never-sent")],
)
def test_another_orgs_campaign_is_not_found(world: World, org: str, campaign: str) -> None:
    client = world.clients[org]
    requests = {
        "totals": {"channel": "email"},
        "breakdown": {"channel": "email", "by": "execution"},
        "series": {"channel": "email", "metrics": "sent"},
        "report": {"tab": "email"},
    }
    for what, params in requests.items():
        response = client.get(path(campaign, what), params=params)
        assert response.status_code == 404, f"{what}: {response.status_code} {response.text}"
