"""The simulator makes traffic a real sender could send: valid by SPEC §2, seeded, messy enough."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import msgspec
import pytest

from livereport import simulate
from report import expected as hand

START = datetime(2026, 11, 25, tzinfo=UTC)
END = START + timedelta(hours=24)
# SPEC §2 as the tests write it out (tests/report/expected.py): the simulator must not be
# checked against itself. `entered` is campaign level, on no channel.
MATRIX = {type_: channels for type_, channels in hand.MATRIX.items() if type_ != "entered"}
LIMITS = {
    "execution": 64,
    "variant": 64,
    "reason": 256,
    "code": 64,
    "element": 256,
    "url": 2048,
    "user_agent": 512,
}
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
Event = dict[str, Any]


def when(event: Event) -> datetime:
    t = event["time"]
    if isinstance(t, int):
        return datetime.fromtimestamp(t / 1000, UTC)
    return datetime.fromisoformat(t)


def first_of_each_id(events: list[Event]) -> list[Event]:
    seen: dict[str, Event] = {}
    for event in events:
        seen.setdefault(event["id"], event)
    return list(seen.values())


@pytest.fixture(scope="module")
def campaign() -> list[Event]:
    return simulate.generate(
        seed=7,
        campaign="spring-sale-2026",
        profiles=10_000,
        start=START,
        end=END,
        executions=("morning", "evening"),
        variants=("A", "B"),
    )


@pytest.fixture(scope="module")
def live() -> list[tuple[datetime, list[Event]]]:
    """Ten minutes of live traffic at 100 events/s, one batch a second."""
    traffic = simulate.LiveTraffic(3, "live-demo", None, 100)
    now, batches = START, []
    for _ in range(600):
        now += timedelta(seconds=1)
        batches.append((now, traffic.next_batch(now, 1.0)))
    return batches


def small(seed: int) -> list[Event]:
    return simulate.generate(seed=seed, campaign="c", profiles=300, start=START, end=END)


def test_same_seed_gives_the_same_events() -> None:
    assert msgspec.json.encode(small(1)) == msgspec.json.encode(small(1))


def test_another_seed_gives_other_events() -> None:
    assert small(1) != small(2)


def test_every_event_obeys_the_channel_type_matrix(campaign: list[Event]) -> None:
    for event in campaign:
        if event["type"] == "entered":
            assert "channel" not in event
        else:
            assert event["channel"] in MATRIX[event["type"]], event


def test_required_fields_are_present_and_within_limits(campaign: list[Event]) -> None:
    for event in campaign:
        assert isinstance(event["id"], str) and 1 <= len(event["id"]) <= 128
        assert not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in event["id"])
        assert event["campaign"] == "spring-sale-2026"
        assert isinstance(event["profile"], str) and 1 <= len(event["profile"]) <= 256
        for field, limit in LIMITS.items():
            assert len(event.get(field, "")) <= limit
        if "smtp" in event:
            assert re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", event["smtp"]["status"])
            assert isinstance(event["smtp"]["code"], int)
            assert len(event["smtp"]["diagnostic"]) <= 1000
        assert event.get("bounce", "hard") in {"hard", "soft", "ignored"}
        assert event.get("platform", "ios") in {"ios", "android", "web", "other", "apns", "fcm"}
        assert event.get("interaction", "click") in {"click", "dismiss", "other"}
        assert event.get("machine", True) is True


def test_times_are_within_the_campaign(campaign: list[Event]) -> None:
    assert all(START <= when(event) <= END for event in campaign)


def test_times_come_as_rfc3339_mostly_and_epoch_milliseconds_sometimes(
    campaign: list[Event],
) -> None:
    epoch = [e for e in campaign if isinstance(e["time"], int)]
    assert all(RFC3339_MS.match(e["time"]) for e in campaign if not isinstance(e["time"], int))
    assert 0.07 < len(epoch) / len(campaign) < 0.13


def test_some_events_repeat_identically_and_a_few_with_other_content(
    campaign: list[Event],
) -> None:
    first: dict[str, Event] = {}
    same = other = 0
    for event in campaign:
        if event["id"] not in first:
            first[event["id"]] = event
        elif event == first[event["id"]]:
            same += 1
        else:
            other += 1
    assert 0.015 < same / len(first) < 0.025
    assert 0.003 < other / len(first) < 0.008


def test_some_events_arrive_after_later_ones(campaign: list[Event]) -> None:
    times = [when(e) for e in first_of_each_id(campaign)]
    overtaken = sum(a > b for a, b in pairwise(times))
    assert 0.015 < overtaken / len(times) < 0.06


def test_every_channel_and_type_appears(campaign: list[Event]) -> None:
    seen = {(e.get("channel"), e["type"]) for e in campaign}
    expected = {(c, t) for t, channels in MATRIX.items() for c in channels} | {(None, "entered")}
    assert seen == expected


def test_email_funnel_has_realistic_rates(campaign: list[Event]) -> None:
    email = [e for e in first_of_each_id(campaign) if e.get("channel") == "email"]
    count = Counter(e["type"] for e in email)
    openers = {e["profile"] for e in email if e["type"] == "open"}
    clickers = {e["profile"] for e in email if e["type"] == "click" and not e.get("machine")}
    assert 0.02 < count["excluded"] / count["targeted"] < 0.045
    assert 0.90 < count["delivered"] / count["sent"] < 0.97
    assert 0.03 < count["bounce"] / count["sent"] < 0.07
    assert 0.3 < len(openers) / count["delivered"] < 0.45
    assert 0.12 < len(clickers & openers) / len(openers) < 0.28
    assert count["open"] > len(openers)  # some open several times


def test_each_profiles_funnel_runs_forward_in_time(campaign: list[Event]) -> None:
    steps = ("targeted", "sent", "delivered", "open")
    firsts: dict[tuple[str, str], dict[str, datetime]] = defaultdict(dict)
    for e in first_of_each_id(campaign):
        if e["type"] in steps:
            firsts[e["profile"], e["channel"]].setdefault(e["type"], when(e))
    for seen in firsts.values():
        times = [seen[s] for s in steps if s in seen]
        assert times == sorted(times)


def test_bounces_come_with_reasons_smtp_data_or_neither(campaign: list[Event]) -> None:
    bounces = [e for e in campaign if e.get("channel") == "email" and e["type"] == "bounce"]
    statuses = {e["smtp"]["status"] for e in bounces if "smtp" in e}
    assert any("bounce" in e and "reason" in e for e in bounces)
    assert any("smtp" in e and "bounce" not in e for e in bounces)
    assert any("smtp" not in e and "bounce" not in e for e in bounces)
    assert {"5.1.1", "5.2.2", "4.4.1", "5.7.1", "4.7.0", "5.7.26"} <= statuses


def test_email_events_carry_the_profiles_one_address(campaign: list[Event]) -> None:
    addresses: dict[str, set[str]] = defaultdict(set)
    for e in campaign:
        if e.get("channel") == "email":
            addresses[e["profile"]].add(e["recipient"])
    assert all(len(a) == 1 for a in addresses.values())
    domains = Counter(a.pop().rsplit("@", 1)[1].lower() for a in addresses.values())
    assert domains.most_common(1)[0][0] == "gmail.com"
    assert "bücher.de" in domains


def test_opens_and_clicks_include_machine_traffic(campaign: list[Event]) -> None:
    engagement = [e for e in campaign if e["type"] in ("open", "click")]
    assert any(e.get("machine") for e in engagement)
    assert any("GoogleImageProxy" in e.get("user_agent", "") for e in engagement)
    assert all("url" in e for e in campaign if e["type"] == "click")


def test_push_platforms_include_aliases(campaign: list[Event]) -> None:
    push = [e for e in campaign if e.get("channel") == "push"]
    assert all("platform" in e for e in push)
    assert {"ios", "android", "web", "apns", "fcm"} == {e["platform"] for e in push}


def test_web_elements_include_untrusted_markup(campaign: list[Event]) -> None:
    elements = {e.get("element") for e in campaign if e["type"] == "interaction"}
    assert '<b>"Promo"</b> & more' in elements


def test_executions_start_at_different_times(campaign: list[Event]) -> None:
    sends: dict[str, list[datetime]] = defaultdict(list)
    for e in campaign:
        if e["type"] == "sent":
            sends[e["execution"]].append(when(e))
    assert set(sends) == {"morning", "evening"}
    assert min(sends["evening"]) - min(sends["morning"]) > timedelta(hours=1)
    assert {e.get("variant") for e in campaign} == {"A", "B"}


def test_most_sends_come_early() -> None:
    events = simulate.generate(seed=5, campaign="c", profiles=2000, start=START, end=END)
    sends = [when(e) for e in events if e["type"] == "sent"]
    early = sum(t < START + timedelta(hours=24 * 0.2) for t in sends)
    assert early / len(sends) > 0.6


def test_channels_can_be_chosen() -> None:
    events = simulate.generate(
        seed=1, campaign="c", channels=["sms"], profiles=500, start=START, end=END
    )
    assert {e.get("channel") for e in events} == {None, "sms"}


def test_unknown_channels_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="channel"):
        simulate.generate(seed=1, campaign="c", channels=["fax"], start=START, end=END)
    with pytest.raises(ValueError, match="timezone"):
        simulate.generate(seed=1, campaign="c", start=START.replace(tzinfo=None), end=END)


# live traffic


def test_live_traffic_is_deterministic() -> None:
    def stream(seed: int) -> list[Event]:
        traffic = simulate.LiveTraffic(seed, "c", None, 50)
        return [e for i in range(1, 30) for e in traffic.next_batch(END + timedelta(seconds=i), 1)]

    assert stream(1) == stream(1)
    assert stream(1) != stream(2)


def test_live_events_are_never_after_now_and_close_to_it(
    live: list[tuple[datetime, list[Event]]],
) -> None:
    for now, batch in live:
        assert all(when(e) <= now for e in batch)
        assert all(now - when(e) < timedelta(minutes=5) for e in batch)


def test_live_traffic_keeps_its_rate(live: list[tuple[datetime, list[Event]]]) -> None:
    counts = [len(batch) for _, batch in live]
    assert sum(counts) == pytest.approx(100 * 600, rel=0.05)
    assert all(80 <= n <= 120 for n in counts)


def test_live_events_obey_the_matrix_and_cover_the_funnel(
    live: list[tuple[datetime, list[Event]]],
) -> None:
    events = [e for _, batch in live for e in batch]
    for event in events:
        assert event["type"] == "entered" or event["channel"] in MATRIX[event["type"]]
    types = {e["type"] for e in events}
    assert {"entered", "targeted", "sent", "delivered", "open", "click", "impression"} <= types


def test_live_funnels_move_forward(live: list[tuple[datetime, list[Event]]]) -> None:
    order = {"targeted": 0, "sent": 1, "delivered": 2, "open": 3}
    last: dict[tuple[str, str], tuple[int, datetime]] = {}
    for e in first_of_each_id([e for _, batch in live for e in batch]):
        if e.get("channel") == "email" and e["type"] in order:
            step, prior = order[e["type"]], last.get((e["profile"], "email"))
            if prior is not None and step > prior[0]:
                assert when(e) >= prior[1]
            last[e["profile"], "email"] = (step, when(e))


def test_live_ids_repeat_only_as_deliberate_duplicates(
    live: list[tuple[datetime, list[Event]]],
) -> None:
    events = [e for _, batch in live for e in batch]
    unique = len({e["id"] for e in events})
    repeats = len(events) - unique
    assert 0.015 < repeats / unique < 0.035


# posting


@pytest.fixture
def naps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(simulate, "_sleep", slept.append)
    return slept


def test_post_events_batches_authenticates_and_sums_counts(naps: list[float]) -> None:
    bodies: list[list[Event]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/events"
        assert request.headers["Authorization"] == "Bearer k3y"
        body = msgspec.json.decode(request.content)
        bodies.append(body)
        rejected = [{"index": 0, "id": body[0]["id"], "errors": ["x"]}]
        return httpx.Response(
            200, json={"accepted": len(body) - 2, "duplicates": 1, "rejected": rejected}
        )

    events = small(1)[:250]
    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        counts = simulate.post_events(client, "http://lr.test/", "k3y", events, batch=100)
    assert [len(b) for b in bodies] == [100, 100, 50]
    assert counts == {"accepted": 244, "duplicates": 3, "rejected": 3}
    assert naps == []


def test_post_events_retries_the_same_body_when_the_server_is_busy(naps: list[float]) -> None:
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if len(bodies) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(bodies) == 2:
            return httpx.Response(503, headers={"Retry-After": "2"})
        if len(bodies) == 3:
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(200, json={"accepted": 10, "duplicates": 0, "rejected": []})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        counts = simulate.post_events(client, "http://lr.test", "k", small(1)[:10])
    assert counts == {"accepted": 10, "duplicates": 0, "rejected": 0}
    assert len(bodies) == 4 and len(set(bodies)) == 1
    assert naps[1:] == [2.0, 1.0]


def test_post_events_gives_up_on_a_refused_key(naps: list[float]) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(401, json={"error": "no"}))
    with httpx.Client(transport=transport) as client, pytest.raises(httpx.HTTPStatusError):
        simulate.post_events(client, "http://lr.test", "bad", small(1)[:3])
    assert naps == []


# push and SMS bounces


def ingested(events: list[Event]) -> list[Any]:
    """The events as the ingest pipeline stores them: validated, qualified, codes read."""
    from livereport.ingest.pipeline import Context, Items, prepare

    batch = prepare(Items(first_of_each_id(events)), Context(1, END, timedelta(days=30)))
    assert not batch.rejected
    return [event for _, event in batch.events]


def test_push_and_sms_bounces_carry_a_category(campaign: list[Event]) -> None:
    firsts = first_of_each_id(campaign)  # a conflicting copy of an id is not stored
    mobile = [e for e in firsts if e["type"] == "bounce" and e["channel"] in ("sms", "push")]
    bounces = ingested(mobile)
    assert len(bounces) == len(mobile) > 100
    for channel in ("sms", "push"):
        found = Counter(e.bounce for e in bounces if e.channel == channel)
        assert found["hard"] and found["soft"] and found["ignored"], (channel, found)
        assert found["hard"] + found["soft"] > found["ignored"], (channel, found)
        reasons = Counter(e.reason for e in bounces if e.channel == channel)
        assert "Undetermined" not in reasons and len(reasons) >= 5, reasons


def test_push_and_sms_bounce_codes_are_the_providers_own(campaign: list[Event]) -> None:
    from livereport.bounces.mobile import Outcome
    from livereport.bounces.org import provider_failure
    from livereport.events import PLATFORM_ALIASES

    coded = 0
    for e in first_of_each_id(campaign):
        if e["type"] == "bounce" and e["channel"] in ("sms", "push"):
            if "code" in e:
                platform = e.get("platform", "")
                platform = PLATFORM_ALIASES.get(platform, platform)
                failure = provider_failure(e["channel"], platform, e["code"])
                assert failure is not None and failure.outcome == Outcome.BOUNCE, e
                assert (e["reason"], e["bounce"]) == (failure.reason, failure.category), e
                coded += 1
            else:  # a sender that qualifies its bounces itself
                assert e["bounce"] in {"hard", "soft", "ignored"} and e["reason"], e
    assert coded > 100


# history for a live stream


def test_replay_makes_history_at_the_live_rate() -> None:
    traffic = simulate.LiveTraffic(5, "history", None, 100)
    start = END - timedelta(minutes=30)
    batches = list(simulate.replay(traffic, start, END, batch=2000))
    events = [e for batch in batches for e in batch]
    assert all(len(batch) <= 2100 for batch in batches)
    assert len(events) == pytest.approx(100 * 30 * 60, rel=0.02)
    assert all(start <= when(e) <= END for e in events)
    per_5_minutes = Counter((when(e) - start) // timedelta(minutes=5) for e in events)
    assert sorted(per_5_minutes) == list(range(6))
    assert all(abs(n - 30_000) < 3_000 for n in per_5_minutes.values()), per_5_minutes


def test_a_tag_gives_other_ids_and_the_same_traffic() -> None:
    def batch(tag: str) -> list[Event]:
        return simulate.LiveTraffic(1, "c", None, 50, tag=tag).next_batch(END, 10)

    plain, tagged = batch(""), batch("run2")
    assert not {e["id"] for e in plain} & {e["id"] for e in tagged}
    assert [e["type"] for e in plain] == [e["type"] for e in tagged]


def test_history_comes_latest_hour_first_with_funnels_under_way() -> None:
    start = END - timedelta(hours=2)
    batches = list(
        simulate.history(lambda n: simulate.LiveTraffic(9 + n, "h", None, 40), start, END)
    )
    latest = [when(e) >= END - timedelta(hours=1) for e in batches[0]]
    assert sum(latest) > 0.95 * len(latest)  # all but late deliveries of its warm-up
    assert all(when(e) <= END - timedelta(hours=1) for e in batches[-1])
    events = [e for batch in batches for e in batch]
    assert all(start <= when(e) <= END for e in events)
    assert len({e["id"] for e in events}) > 0.97 * len(events)  # the hours' ids differ
    for kind in (None, "delivered", "open", "impression"):  # no dip where an hour begins
        per = Counter(
            (when(e) - start) // timedelta(minutes=10)
            for e in events
            if kind is None or e["type"] == kind
        )
        assert sorted(per) == list(range(12))
        assert min(per.values()) > 0.8 * max(per.values()), (kind, per)


@pytest.fixture(scope="module")
def labelled() -> list[tuple[Event, bool]]:
    return simulate.generate_labelled(
        seed=7,
        campaign="spring-sale-2026",
        profiles=10_000,
        start=START,
        end=END,
        executions=("morning", "evening"),
        variants=("A", "B"),
    )


def test_labelled_events_are_the_generated_ones_and_carry_no_label(
    campaign: list[Event], labelled: list[tuple[Event, bool]]
) -> None:
    assert [e for e, _ in labelled] == campaign
    assert not any(simulate.TRUTH in e for e in campaign)
    firsts = {e["id"]: machine for e, machine in reversed(labelled)}  # an id's first event wins
    assert all(
        not firsts[e["id"]]
        for e in first_of_each_id(campaign)
        if e["type"] not in ("open", "click")
    )
    again = Counter(e["id"] for e in campaign)
    assert all(machine == firsts[e["id"]] for e, machine in labelled if again[e["id"]] > 1)


def test_machine_traffic_is_apple_s_proxy_and_scanners_mostly_unflagged(
    labelled: list[tuple[Event, bool]],
) -> None:
    first: dict[str, tuple[Event, bool]] = {}
    for e, machine in labelled:
        first.setdefault(e["id"], (e, machine))
    engaged = [(e, m) for e, m in first.values() if e["type"] in ("open", "click")]
    machines = [e for e, m in engaged if m]
    flagged = sum(bool(e.get("machine")) for e in machines)
    assert 0.2 < flagged / len(machines) < 0.5  # the sender flags some, the rules find the rest
    assert all(m for e, m in engaged if e.get("machine"))  # a flag is never wrong
    proxy = [e for e in machines if e["type"] == "open" and e.get("user_agent") == "Mozilla/5.0"]
    assert proxy and all(e.get("ip", "17.").startswith(("17.", "104.28.")) for e in proxy)
    domains = Counter(e["recipient"].rsplit("@", 1)[1].lower() for e in proxy)
    assert sum(domains[d] for d in ("icloud.com", "me.com", "mac.com")) > 0.4 * len(proxy)
    # People's opens through Gmail's and Yahoo's image proxies are people's.
    proxied = [
        m
        for e, m in engaged
        if "ImageProxy" in e.get("user_agent", "") or "YahooMailProxy" in e.get("user_agent", "")
    ]
    assert proxied and not any(proxied)
    assert not any(e.get("ip", "").startswith("17.") for e, m in engaged if not m)


def test_scanners_click_every_link_within_a_second_of_each_other(
    labelled: list[tuple[Event, bool]],
) -> None:
    by_profile: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for e, machine in labelled:
        if machine and e["type"] == "click":
            by_profile[e["profile"]].append((when(e), e["url"]))
    assert len(by_profile) > 50
    for seen in by_profile.values():
        times = sorted(t for t, _ in seen)
        assert len({url for _, url in seen}) >= 3
        assert times[-1] - times[0] < timedelta(seconds=1)
    corporate = [
        e
        for e, m in labelled
        if m
        and e["type"] == "click"
        and e["recipient"].rsplit("@", 1)[1]
        in ("contoso.com", "fabrikam.com", "northwind-traders.com")
    ]
    assert len(corporate) > 0.5 * sum(len(v) for v in by_profile.values())
