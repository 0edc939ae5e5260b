"""The event contract v1 (SPEC §2), rule by rule, through POST /v1/events on a real server.

One request carries a bad event for every rule, each between good ones: each bad event is
rejected with its index and an error that names its field, and every good one is accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from conftest import Server, post
from report.expected import CHANNELS, MATRIX

# SPEC §2 "Event types by channel" as the tests write it out (not imported from the product);
# `entered` is campaign level, on no channel.
ALLOWED = {type_: channels for type_, channels in MATRIX.items() if type_ != "entered"}
ALLOWED_PAIRS = [(t, c) for t, chans in ALLOWED.items() for c in CHANNELS if c in chans]
REFUSED_PAIRS = [(t, c) for t, chans in ALLOWED.items() for c in CHANNELS if c not in chans]


def iso(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


def epoch_ms(**delta: float) -> int:
    return int((datetime.now(UTC) + timedelta(**delta)).timestamp() * 1000)


def new_id(prefix: str = "ev") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def event(campaign: str, **fields: Any) -> dict[str, Any]:
    """A valid email `sent` event; ``fields`` override (None drops a field)."""
    base = {
        "id": new_id(),
        "time": iso(),
        "campaign": campaign,
        "channel": "email",
        "type": "sent",
        "profile": "p-1",
    }
    merged = {**base, **fields}
    return {k: v for k, v in merged.items() if v is not None}


Change = Callable[[dict[str, Any]], Any]


def with_(**fields: Any) -> Change:
    """Change fields of a good event; a callable value is called when the event is built."""

    def change(good: dict[str, Any]) -> dict[str, Any]:
        return {**good, **{k: v() if callable(v) else v for k, v in fields.items()}}

    return change


def without(name: str) -> Change:
    return lambda good: {k: v for k, v in good.items() if k != name}


def instead(value: Any) -> Change:
    return lambda good: value


@dataclass(frozen=True)
class Rule:
    name: str
    field: str
    change: Change


RULES = [
    *(
        Rule(f"missing {f}", f, without(f))
        for f in ("id", "time", "campaign", "type", "profile", "channel")
    ),
    Rule("id empty", "id", with_(id="")),
    Rule("id of 129 chars", "id", with_(id=lambda: new_id().ljust(129, "x"))),
    Rule("id with a newline", "id", with_(id=lambda: new_id() + "\n")),
    Rule("id with a NUL", "id", with_(id=lambda: new_id() + "\x00")),
    Rule("id with a C1 control", "id", with_(id=lambda: new_id() + "\x85")),
    Rule("id a number", "id", with_(id=12345)),
    Rule("id null", "id", with_(id=None)),
    Rule("time unparseable", "time", with_(time="yesterday at noon")),
    Rule("time without offset", "time", with_(time=lambda: iso()[:19])),
    Rule("time 6 min ahead", "time", with_(time=lambda: iso(minutes=6))),
    Rule("time 6 min ahead as ms", "time", with_(time=lambda: epoch_ms(minutes=6))),
    Rule("time 31 days old", "time", with_(time=lambda: iso(days=-31))),
    Rule("time 31 days old as ms", "time", with_(time=lambda: epoch_ms(days=-31))),
    Rule("time a float", "time", with_(time=lambda: epoch_ms() + 0.5)),
    Rule("time a bool", "time", with_(time=True)),
    Rule("time ms out of range", "time", with_(time=2**62)),
    Rule("campaign empty", "campaign", with_(campaign="")),
    Rule("campaign of 129 chars", "campaign", with_(campaign="c" * 129)),
    Rule("profile empty", "profile", with_(profile="")),
    Rule("profile of 257 chars", "profile", with_(profile="p" * 257)),
    Rule("channel unknown", "channel", with_(channel="fax")),
    Rule("channel null", "channel", with_(channel=None)),
    Rule("type unknown", "type", with_(type="opened")),
    Rule("execution of 65 chars", "execution", with_(execution="e" * 65)),
    Rule("variant of 65 chars", "variant", with_(variant="v" * 65)),
    Rule("reason of 257 chars", "reason", with_(reason="r" * 257)),
    Rule("code of 65 chars", "code", with_(code="c" * 65)),
    Rule("bounce unknown", "bounce", with_(type="bounce", bounce="permanent")),
    Rule("smtp.status not X.Y.Z", "smtp.status", with_(smtp={"status": "5.1"})),
    Rule("smtp.status words", "smtp.status", with_(smtp={"status": "mailbox full"})),
    Rule("smtp.code 600", "smtp.code", with_(smtp={"code": 600})),
    Rule("smtp.code 42", "smtp.code", with_(smtp={"code": 42})),
    Rule("smtp.code a string", "smtp.code", with_(smtp={"code": "550"})),
    Rule("smtp.code a float", "smtp.code", with_(smtp={"code": 550.5})),
    Rule(
        "smtp.diagnostic of 1001 chars", "smtp.diagnostic", with_(smtp={"diagnostic": "d" * 1001})
    ),
    Rule("smtp a string", "smtp", with_(smtp="550 5.1.1 no such user")),
    Rule("smtp an array", "smtp", with_(smtp=[550])),
    Rule("recipient neither email nor phone", "recipient", with_(recipient="ana at home")),
    Rule("recipient without domain", "recipient", with_(recipient="ana@")),
    Rule("recipient without local part", "recipient", with_(recipient="@example.com")),
    Rule("recipient with a bad domain", "recipient", with_(recipient="ana@exa mple.com")),
    Rule(
        "recipient_domain with a space", "recipient_domain", with_(recipient_domain="exa mple.com")
    ),
    Rule(
        "recipient_domain with empty label",
        "recipient_domain",
        with_(recipient_domain="example..com"),
    ),
    Rule("platform unknown", "platform", with_(channel="push", platform="symbian")),
    Rule(
        "interaction unknown",
        "interaction",
        with_(channel="inapp", type="interaction", interaction="hover"),
    ),
    Rule(
        "element of 257 chars",
        "element",
        with_(channel="web", type="interaction", element="x" * 257),
    ),
    Rule("url of 2049 chars", "url", with_(type="click", url="https://e.com/" + "u" * 2035)),
    Rule("machine a string", "machine", with_(type="open", machine="yes")),
    Rule("machine a number", "machine", with_(type="open", machine=1)),
    Rule("user_agent of 513 chars", "user_agent", with_(type="open", user_agent="a" * 513)),
    Rule("event a number", "event", instead(42)),
    Rule("event a string", "event", instead("sent")),
    Rule("event null", "event", instead(None)),
    Rule("event an array", "event", instead([{"type": "sent"}])),
    *(Rule(f"{t} on {c}", "type", with_(type=t, channel=c)) for t, c in REFUSED_PAIRS),
]


def good_events(campaign: str) -> list[dict[str, Any]]:
    """Every allowed channel × type, and events with every optional field at its limit."""
    goods = [event(campaign, type=t, channel=c) for t, c in ALLOWED_PAIRS]
    goods += [
        event(campaign, type="entered", channel=None),
        event(campaign, id=new_id().ljust(128, "x")),
        event(new_id("c").ljust(128, "c"), profile="p" * 256),
        event(campaign, channel="sms", time=iso(minutes=4)),
        event(campaign, channel="sms", time=iso(days=-29)),
        event(campaign, time=epoch_ms()),
        event(
            campaign,
            type="bounce",
            execution="e" * 64,
            variant="v" * 64,
            reason="r" * 256,
            code="c" * 64,
            bounce="soft",
            recipient="ana@example.com",
            smtp={"status": "4.2.2", "code": 452, "diagnostic": "d" * 1000},
        ),
        event(
            campaign,
            type="click",
            url="https://e.com/" + "u" * 2034,
            machine=True,
            user_agent="a" * 512,
            recipient="+1 (555) 010-0000",
        ),
        event(campaign, channel="push", type="open", platform="android"),
        event(
            campaign, channel="web", type="interaction", interaction="dismiss", element="x" * 256
        ),
    ]
    return goods


@dataclass
class Posted:
    goods: list[tuple[int, dict[str, Any]]]
    bads: dict[str, tuple[int, Any]]
    result: dict[str, Any]
    campaign: str

    def rejection(self, index: int) -> dict[str, Any]:
        found = [r for r in self.result["rejected"] if r["index"] == index]
        assert len(found) == 1, f"event {index} is not rejected once: {self.result['rejected']}"
        return found[0]


@pytest.fixture(scope="module")
def client(server: Server, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with server.client(keys["both"]) as c:
        yield c


@pytest.fixture(scope="module")
def posted(client: httpx.Client) -> Posted:
    """ONE request: good, bad, good, bad, … for every rule."""
    campaign = new_id("contract")
    goods = good_events(campaign)
    bads = [(rule.name, rule.change(event(campaign))) for rule in RULES]
    body: list[Any] = []
    good_at: list[tuple[int, dict[str, Any]]] = []
    bad_at: dict[str, tuple[int, Any]] = {}
    for i in range(max(len(goods), len(bads))):
        if i < len(goods):
            good_at.append((len(body), goods[i]))
            body.append(goods[i])
        if i < len(bads):
            name, bad = bads[i]
            bad_at[name] = (len(body), bad)
            body.append(bad)
    return Posted(good_at, bad_at, post(client, body), campaign)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_bad_event_is_rejected_with_its_index_and_field(posted: Posted, rule: Rule) -> None:
    index, bad = posted.bads[rule.name]
    rejection = posted.rejection(index)
    assert len(rejection["errors"]) == 1, rejection
    assert rejection["errors"][0].startswith(f"{rule.field}: "), rejection
    if isinstance(bad, dict) and isinstance(bad.get("id"), str) and 0 < len(bad["id"]) <= 128:
        assert rejection["id"] == bad["id"]


@pytest.mark.parametrize(("type_", "channel"), REFUSED_PAIRS)
def test_refused_combination_lists_the_valid_types(
    posted: Posted, type_: str, channel: str
) -> None:
    index, _ = posted.bads[f"{type_} on {channel}"]
    message = posted.rejection(index)["errors"][0]
    for valid in (t for t, chans in ALLOWED.items() if channel in chans):
        assert valid in message, f"{message!r} does not list {valid}"


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        (with_(campaign="", channel="fax"), ["campaign", "channel"]),
        (with_(type="opened", channel="fax"), ["type", "channel"]),
        (with_(profile=7, time="yesterday", recipient="ana@"), ["profile", "time", "recipient"]),
        (
            with_(id=5, smtp={"code": "550", "status": "5.1"}, machine="yes"),
            ["id", "smtp.code", "machine", "smtp.status"],
        ),
        (without("campaign"), ["campaign"]),
    ],
    ids=["campaign and channel", "type and channel", "three fields", "nested", "one missing"],
)
def test_every_bad_field_of_an_event_is_named(
    client: httpx.Client, change: Change, fields: list[str]
) -> None:
    """A field of the wrong type does not hide the others: the sender fixes them at once."""
    result = post(client, [change(event(new_id("fields")))])
    assert result["accepted"] == 0
    (rejection,) = result["rejected"]
    named = [error.split(":")[0] for error in rejection["errors"]]
    assert sorted(named) == sorted(fields), rejection


def test_every_good_event_of_the_request_is_accepted(posted: Posted) -> None:
    rejected = {r["index"] for r in posted.result["rejected"]}
    assert rejected == {index for index, _ in posted.bads.values()}
    assert posted.result["accepted"] == len(posted.goods)
    assert posted.result["duplicates"] == 0


def test_rejected_events_are_not_counted(posted: Posted, client: httpx.Client) -> None:
    sent = [
        g
        for _, g in posted.goods
        if g["campaign"] == posted.campaign and (g.get("channel"), g["type"]) == ("email", "sent")
    ]
    assert totals(client, posted.campaign, "email")["sent"] == len(sent)


# ---------------------------------------------------------------------------------------
# Normalisation, observed through the report API.


def totals(client: httpx.Client, campaign: str, channel: str) -> dict[str, Any]:
    response = client.get(f"/v1/campaigns/{campaign}/totals", params={"channel": channel})
    assert response.status_code == 200, response.text
    metrics: dict[str, Any] = response.json()["metrics"]
    return metrics


def breakdown(client: httpx.Client, campaign: str, channel: str, by: str) -> dict[str, Any]:
    response = client.get(
        f"/v1/campaigns/{campaign}/breakdown", params={"channel": channel, "by": by}
    )
    assert response.status_code == 200, response.text
    return {row["key"]: row["metrics"] for row in response.json()["rows"]}


def accept(client: httpx.Client, events: list[dict[str, Any]]) -> None:
    result = post(client, events)
    assert result == {"accepted": len(events), "duplicates": 0, "rejected": []}


def test_entered_needs_no_channel(client: httpx.Client) -> None:
    campaign = new_id("entered")
    accept(client, [event(campaign, type="entered", channel=None, profile="p-1")])
    assert totals(client, campaign, "campaign")["entered_profiles"] == 1


def test_entered_ignores_a_channel(client: httpx.Client) -> None:
    campaign = new_id("entered")
    accept(
        client,
        [
            event(campaign, type="entered", channel="sms", profile="p-1"),
            event(campaign, type="entered", channel="fax", profile="p-2"),
        ],
    )
    assert totals(client, campaign, "campaign")["entered_profiles"] == 2


def test_recipient_keeps_the_lower_cased_domain(client: httpx.Client) -> None:
    campaign = new_id("domain")
    accept(client, [event(campaign, recipient="Ana@Example.COM")])
    assert breakdown(client, campaign, "email", "recipient_domain").keys() == {"example.com"}


def test_recipient_domain_is_normalised_too(client: httpx.Client) -> None:
    campaign = new_id("domain")
    accept(client, [event(campaign, recipient_domain="Example.ORG.")])
    assert breakdown(client, campaign, "email", "recipient_domain").keys() == {"example.org"}


def test_internationalised_domain_is_one_domain_in_any_spelling(client: httpx.Client) -> None:
    campaign = new_id("idn")
    accept(
        client,
        [event(campaign, recipient="x@BÜCHER.de"), event(campaign, recipient="y@xn--bcher-kva.de")],
    )
    rows = breakdown(client, campaign, "email", "recipient_domain")
    assert rows.keys() == {"bücher.de"}
    assert rows["bücher.de"]["sent"] == 2


def test_phone_recipient_is_accepted_without_a_domain(client: httpx.Client) -> None:
    campaign = new_id("phone")
    accept(client, [event(campaign, channel="sms", recipient="+33 6 12 34 56 78")])
    assert totals(client, campaign, "sms")["sent"] == 1
    assert breakdown(client, campaign, "sms", "recipient_domain") == {}


def test_push_provider_names_become_platforms(client: httpx.Client) -> None:
    campaign = new_id("platform")
    accept(
        client,
        [
            event(campaign, channel="push", platform="apns"),
            event(campaign, channel="push", platform="fcm"),
            event(campaign, channel="push", platform="fcm"),
        ],
    )
    rows = breakdown(client, campaign, "push", "platform")
    assert {key: m["sent"] for key, m in rows.items()} == {"ios": 1, "android": 2}


def test_epoch_milliseconds_are_a_time(client: httpx.Client) -> None:
    campaign = new_id("ms")
    accept(client, [event(campaign, time=epoch_ms(minutes=-1))])
    assert totals(client, campaign, "email")["sent"] == 1


def test_rfc3339_with_an_offset_is_a_time(client: httpx.Client) -> None:
    campaign = new_id("offset")
    plus_two = datetime.now(timezone(timedelta(hours=2))) - timedelta(minutes=1)
    accept(client, [event(campaign, time=plus_two.isoformat(timespec="milliseconds"))])
    assert totals(client, campaign, "email")["sent"] == 1


def test_unknown_fields_are_ignored(client: httpx.Client) -> None:
    campaign = new_id("unknown")
    accept(client, [event(campaign, colour="blue", nested={"a": [1, 2]}, smtp={"extra": 1})])
    assert totals(client, campaign, "email")["sent"] == 1
