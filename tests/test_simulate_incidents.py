"""Simulated incidents (issue 17): a bounce storm, a complaint spike and a stall show in the
traffic as their shares say, by counting, in events the ingest accepts; outside their time
the traffic is the one the seed makes without them."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from livereport import simulate
from livereport.ingest.pipeline import Context, Items, prepare
from livereport.simulate import Incident, IncidentKind
from test_simulate import first_of_each_id, when

Event = dict[str, Any]
NOW = datetime(2026, 11, 25, 10, 15, 42, 250_000, tzinfo=UTC)
ORIGIN = datetime(2026, 11, 25, 12, tzinfo=UTC)
START, DURATION, SECONDS = 120, 300, 600  # the incident, within ten minutes of live traffic
KINDS = [k.value for k in IncidentKind]


def accepted(events: list[Event], now: datetime) -> list[Any]:
    """The events as the ingest pipeline stores them; it must reject none."""
    batch = prepare(Items(events), Context(1, now, timedelta(days=30)))
    assert batch.rejected == [], batch.rejected[:3]
    return [event for _, event in batch.events]


def count(events: list[Event], channel: str = "email") -> Counter[str]:
    return Counter(e["type"] for e in events if e.get("channel") == channel)


def domain(event: Event) -> str:
    """The email recipient's domain; "" for other events."""
    recipient = str(event.get("recipient", ""))
    return recipient.rsplit("@", 1)[1].lower() if "@" in recipient else ""


# one minute that makes an incident plain


def test_a_bounce_storm_batch_bounces_the_share_of_its_sends_hard_at_one_domain() -> None:
    events = simulate.incident_batch("bounce-storm", campaign="c", sends=200, now=NOW)
    n = count(events)
    assert (n["sent"], n["bounce"], n["delivered"]) == (200, 80, 120)
    assert set(n) == {"sent", "bounce", "delivered"}
    bounces = [e for e in events if e["type"] == "bounce"]
    for bounce in bounces:
        assert (bounce["bounce"], bounce["reason"]) == ("hard", "Invalid Recipient")
        assert (bounce["smtp"]["status"], bounce["smtp"]["code"]) == ("5.1.1", 550)
        assert "User unknown" in bounce["smtp"]["diagnostic"]
        assert domain(bounce) == "outlook.com"
    stored = [e for e in accepted(events, NOW) if e.type == "bounce"]
    assert {(e.bounce, e.reason, e.recipient_domain) for e in stored} == {
        ("hard", "Invalid Recipient", "outlook.com")
    }


def test_a_bounce_storm_batch_sends_and_bounces_to_the_same_addresses() -> None:
    events = simulate.incident_batch("bounce-storm", campaign="c", sends=100, now=NOW, seed=4)
    address = {e["profile"]: e["recipient"] for e in events if e["type"] == "sent"}
    bounced = {e["profile"] for e in events if e["type"] == "bounce"}
    assert all(address[p].endswith("@outlook.com") for p in bounced)
    assert all(e["recipient"] == address[e["profile"]] for e in events)
    sent_at = {e["profile"]: when(e) for e in events if e["type"] == "sent"}
    assert all(when(e) >= sent_at[e["profile"]] for e in events)


def test_a_complaint_spike_batch_has_every_send_delivered_and_the_share_complaining() -> None:
    events = simulate.incident_batch("complaint-spike", campaign="c", sends=500, now=NOW)
    n = count(events)
    assert dict(n) == {"sent": 500, "delivered": 500, "spam_complaint": 10}
    delivered = {e["profile"] for e in events if e["type"] == "delivered"}
    assert {e["profile"] for e in events if e["type"] == "spam_complaint"} <= delivered


def test_the_share_of_a_batch_can_be_chosen() -> None:
    events = simulate.incident_batch(
        IncidentKind.COMPLAINT_SPIKE, campaign="c", sends=100, share=0.1, now=NOW
    )
    assert count(events)["spam_complaint"] == 10
    events = simulate.incident_batch(
        "bounce-storm", campaign="c", sends=50, share=0.5, domain="gmx.de", now=NOW
    )
    assert count(events)["bounce"] == 25
    assert {domain(e) for e in events if e["type"] == "bounce"} == {"gmx.de"}


def test_a_stall_batch_is_sends_and_nothing_else() -> None:
    for channel in ("email", "sms", "push"):
        events = simulate.incident_batch("stall", campaign="c", channel=channel, now=NOW)
        assert dict(count(events, channel)) == {"sent": 200}


def test_a_healthy_batch_bounces_at_most_one_percent_and_draws_no_complaint() -> None:
    for channel in ("email", "sms", "push"):
        events = simulate.healthy_batch(campaign="c", channel=channel, sends=300, now=NOW)
        n = count(events, channel)
        assert n["sent"] == 300
        assert n["bounce"] == 3 and n["delivered"] == 297
        assert n["spam_complaint"] == 0
        assert n["open"] == (74 if channel in ("email", "push") else 0)


@pytest.mark.parametrize(
    ("kind", "channel"),
    [
        ("bounce-storm", "email"),
        ("bounce-storm", "sms"),
        ("bounce-storm", "push"),
        ("complaint-spike", "email"),
        ("stall", "email"),
        ("stall", "push"),
        ("healthy", "email"),
        ("healthy", "sms"),
        ("healthy", "push"),
    ],
)
def test_batches_pass_the_contract_with_unique_ids_within_the_minute_of_now(
    kind: str, channel: str
) -> None:
    if kind == "healthy":
        events = simulate.healthy_batch(campaign="spring", channel=channel, now=NOW, seed=9)
    else:
        events = simulate.incident_batch(kind, campaign="spring", channel=channel, now=NOW, seed=9)
    stored = accepted(events, NOW)
    assert len(stored) == len(events) == len({e["id"] for e in events})
    minute = NOW.replace(second=0, microsecond=0)
    assert all(minute <= when(e) <= NOW for e in events)
    assert [when(e) for e in events] == sorted(when(e) for e in events)
    assert {e.campaign for e in stored} == {"spring"}
    assert {e.channel for e in stored} == {channel}


def test_mobile_storm_bounces_carry_the_providers_code_for_an_unknown_recipient() -> None:
    for channel in ("sms", "push"):
        events = simulate.incident_batch("bounce-storm", campaign="c", channel=channel, now=NOW)
        stored = [e for e in accepted(events, NOW) if e.type == "bounce"]
        assert len(stored) == 80
        assert {e.bounce for e in stored} == {"hard"}
        assert {e.code for e in stored} <= {"21211", "Unregistered", "UNREGISTERED"}


def test_batches_are_the_same_for_a_seed_and_their_ids_differ_by_seed_minute_and_kind() -> None:
    def ids(events: list[Event]) -> set[str]:
        return {e["id"] for e in events}

    one = simulate.incident_batch("bounce-storm", campaign="c", now=NOW, seed=1)
    assert msgspec.json.encode(one) == msgspec.json.encode(
        simulate.incident_batch("bounce-storm", campaign="c", now=NOW, seed=1)
    )
    others = [
        simulate.incident_batch("bounce-storm", campaign="c", now=NOW, seed=2),
        simulate.incident_batch("bounce-storm", campaign="c", now=NOW - timedelta(minutes=1)),
        simulate.incident_batch("stall", campaign="c", now=NOW),
        simulate.healthy_batch(campaign="c", now=NOW),
    ]
    for other in others:
        assert not ids(one) & ids(other)


def test_a_batch_at_the_first_instant_of_a_minute_stays_at_that_instant() -> None:
    now = NOW.replace(second=0, microsecond=0)
    events = simulate.incident_batch("complaint-spike", campaign="c", sends=10, now=now)
    assert {when(e) for e in events} == {now}
    accepted(events, now)


def test_batches_refuse_what_cannot_happen() -> None:
    with pytest.raises(ValueError, match="complaint-spike cannot happen on 'sms'"):
        simulate.incident_batch("complaint-spike", campaign="c", channel="sms", now=NOW)
    with pytest.raises(ValueError, match="kind 'flood' is unknown"):
        simulate.incident_batch("flood", campaign="c", now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        simulate.incident_batch("stall", campaign="c", now=NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="share"):
        simulate.incident_batch("bounce-storm", campaign="c", share=1.5, now=NOW)
    with pytest.raises(ValueError, match="channel"):
        simulate.healthy_batch(campaign="c", channel="web", now=NOW)


# incidents in live traffic


def stream(
    seed: int,
    incidents: list[Incident],
    channels: tuple[str, ...] = ("email",),
    seconds: int = SECONDS,
) -> list[list[Event]]:
    """Ten minutes of live traffic at 100 events a second, one batch a second."""
    traffic = simulate.LiveTraffic(seed, "live", channels, 100, incidents=incidents)
    return [traffic.next_batch(ORIGIN + timedelta(seconds=s), 1.0) for s in range(1, seconds + 1)]


def between(batches: list[list[Event]], begin: float, end: float) -> list[Event]:
    """The events (each id once) whose time is `begin` to `end` seconds after the origin."""
    low, high = ORIGIN + timedelta(seconds=begin), ORIGIN + timedelta(seconds=end)
    return [e for e in first_of_each_id([e for b in batches for e in b]) if low <= when(e) < high]


def during(batches: list[list[Event]]) -> list[Event]:
    return between(batches, START, START + DURATION)


def after(batches: list[list[Event]]) -> list[Event]:
    """Once what began during the incident has settled."""
    return between(batches, START + DURATION + 60, SECONDS)


def incident(kind: str, **fields: Any) -> Incident:
    return Incident(kind=IncidentKind(kind), start=START, duration=DURATION, **fields)


@pytest.fixture(scope="module")
def storm() -> list[list[Event]]:
    return stream(5, [incident("bounce-storm")])


@pytest.fixture(scope="module")
def spike() -> list[list[Event]]:
    return stream(5, [incident("complaint-spike")])


@pytest.fixture(scope="module")
def stall() -> list[list[Event]]:
    return stream(5, [incident("stall")], channels=("email", "sms"))


def storm_bounces(events: list[Event]) -> list[Event]:
    return [
        e
        for e in events
        if e["type"] == "bounce"
        and e.get("smtp", {}).get("status") == "5.1.1"
        and e.get("bounce") == "hard"
        and domain(e) == "outlook.com"
    ]


def test_a_bounce_storm_bounces_its_share_of_the_sends(storm: list[list[Event]]) -> None:
    events = during(storm)
    n = count(events)
    assert n["sent"] > 3000
    assert len(storm_bounces(events)) / n["sent"] == pytest.approx(0.4, abs=0.04)
    assert 0.38 < n["bounce"] / n["sent"] < 0.5  # with the usual bounces
    outlook = [e for e in events if domain(e) == "outlook.com"]
    outlook_sent = sum(e["type"] == "sent" for e in outlook)
    assert sum(e["type"] == "bounce" for e in outlook) / outlook_sent > 0.7


def test_after_a_bounce_storm_bounces_are_back_to_usual(storm: list[list[Event]]) -> None:
    events = after(storm)
    n = count(events)
    assert n["bounce"] / n["sent"] < 0.08
    assert len(storm_bounces(events)) / n["sent"] < 0.01


def test_a_complaint_spike_draws_its_share_of_complaints(spike: list[list[Event]]) -> None:
    n = count(during(spike))
    assert n["delivered"] > 3000
    assert n["spam_complaint"] / n["delivered"] == pytest.approx(0.02, abs=0.006)
    assert count(after(spike))["spam_complaint"] / count(after(spike))["delivered"] < 0.005


def test_a_stall_silences_its_channel_only_while_it_lasts(stall: list[list[Event]]) -> None:
    n = count(during(stall))
    assert n["sent"] > 3000
    assert n["delivered"] == n["bounce"] == n["open"] == n["click"] == n["retry"] == 0
    assert count(during(stall), "sms")["delivered"] > 100  # another channel goes on
    later = count(after(stall))
    assert 0.9 < later["delivered"] / later["sent"] < 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_live_traffic_with_an_incident_passes_the_contract(kind: str) -> None:
    batches = stream(8, [incident(kind)], channels=("email", "sms", "push"), seconds=200)
    accepted(first_of_each_id([e for b in batches for e in b]), ORIGIN + timedelta(seconds=200))


@pytest.mark.parametrize("kind", KINDS)
def test_before_an_incident_the_traffic_is_the_seeds_own(kind: str) -> None:
    plain = stream(5, [], channels=("email", "sms"), seconds=START + 30)
    disturbed = stream(5, [incident(kind)], channels=("email", "sms"), seconds=START + 30)
    assert disturbed[:START] == plain[:START]
    assert disturbed[START + 29] != plain[START + 29]


def test_live_incidents_are_deterministic_by_seed() -> None:
    def run(seed: int) -> bytes:
        return msgspec.json.encode(stream(seed, [incident("bounce-storm")], seconds=START + 20))

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_incidents_count_from_the_given_origin() -> None:
    origin = ORIGIN - timedelta(seconds=START)  # the storm is on from the first batch
    traffic = simulate.LiveTraffic(
        5, "live", ("email",), 100, incidents=[incident("bounce-storm")], origin=origin
    )
    events = [e for s in range(1, 61) for e in traffic.next_batch(ORIGIN + timedelta(seconds=s), 1)]
    assert len(storm_bounces(events)) / count(events)["sent"] > 0.3


def test_live_traffic_refuses_an_incident_on_a_channel_it_does_not_carry() -> None:
    with pytest.raises(ValueError, match="the traffic has no email"):
        simulate.LiveTraffic(1, "c", ("sms",), incidents=[incident("stall")])


def test_run_applies_its_incidents(monkeypatch: pytest.MonkeyPatch) -> None:
    posted: list[Event] = []

    def post(client: Any, url: str, key: str, events: list[Event]) -> dict[str, int]:
        posted.extend(events)
        return {"accepted": len(events), "duplicates": 0, "rejected": 0}

    monkeypatch.setattr(simulate, "post_events", post)
    monkeypatch.setattr(simulate, "_sleep", lambda seconds: None)
    storm = Incident(kind=IncidentKind.BOUNCE_STORM, duration=3600)
    totals = simulate.run(
        "http://lr.test", "k", rate=5000, duration=0.3, channels=["email"], incidents=[storm]
    )
    assert totals["accepted"] == len(posted) > 0
    assert storm_bounces(posted)
    with pytest.raises(ValueError, match="the traffic has no email"):
        simulate.run("http://lr.test", "k", duration=0.1, channels=["sms"], incidents=[storm])


# the command line's form


def test_an_incident_reads_from_a_command_line_spec() -> None:
    parsed = Incident.parse("bounce-storm:start=2m,duration=300,share=40%,domain=gmx.de")
    assert parsed == Incident(
        kind=IncidentKind.BOUNCE_STORM, start=120, duration=300, share=0.4, domain="gmx.de"
    )
    stalled = Incident.parse("stall:channel=push")
    assert (stalled.kind, stalled.channel, stalled.fraction) == ("stall", "push", 1)
    assert stalled.start == 0
    assert Incident.parse("complaint-spike").fraction == 0.02


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("flood", "kind 'flood' is unknown; expected one of bounce-storm, complaint-spike, stall"),
        ("stall:start", "'start'; expected key=value"),
        ("stall:speed=3", "'speed=3'; expected key=value"),
        ("stall:start=1,start=2", "each key once"),
        ("stall:start=soon", "start: 'soon'; expected seconds"),
        ("stall:share=0.5", "a stall has none"),
        ("bounce-storm:share=lots", "share: 'lots'; expected a share"),
        ("bounce-storm:duration=0", "expected more than 0 seconds"),
        ("complaint-spike:channel=sms", "a complaint-spike cannot happen on 'sms'"),
        ("bounce-storm:domain=not a domain", "expected a domain name"),
    ],
)
def test_a_bad_incident_spec_says_what_is_expected(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")) as caught:
        Incident.parse(spec)
    assert message in str(caught.value)
