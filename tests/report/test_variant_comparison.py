"""The variant comparison of a campaign (issue 19), over HTTP and in the terminal: each
variant's counts equal those made from the posted events, the lifts and verdicts are the
module's own from those counts, and a variant the simulator gives a true lift is called
better while one without stays uncalled."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from conftest import Server, cli, post
from livereport.report.variants import MIN_EXPOSURES, compare, comparison_json, variants_json
from livereport.simulate import generate
from report import expected as hand
from report.test_exactness import get

CAMPAIGN = "Subject <b>test</b> & co"
SMALL = "variants-small"
VARIANTS = ("A", "B", "C")
#: B's recipients open (and so click) twice as often: the simulator's known true lift.
LIFTS = {"B": 2.0}


class World:
    def __init__(self, server: Server, client: httpx.Client) -> None:
        self.server, self.client = server, client
        self.ledger = hand.Ledger()


def _send(world: World, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 5000):
        batch = events[i : i + 5000]
        answer = post(world.client, batch)
        assert not answer["rejected"], answer["rejected"][:3]
        for event in batch:
            world.ledger.record("a", event)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    now = datetime.now(UTC)
    server = Server(tmp_path_factory.mktemp("variants") / "data").start()
    with server.client(server.key("ingest", "read")) as client:
        found = World(server, client)
        _send(
            found,
            generate(
                seed=1919,
                campaign=CAMPAIGN,
                channels=("email", "sms", "push", "inapp"),
                profiles=7500,
                start=now - timedelta(hours=6),
                end=now - timedelta(minutes=1),
                variants=VARIANTS,
                lifts=LIFTS,
            ),
        )
        # A small campaign: one variant on push, two on email, below the minimum sample.
        rng = random.Random(7)
        small = []
        for n in range(60):
            variant = "solo" if n < 20 else rng.choice(("X", "Y"))
            channel = "push" if n < 20 else "email"
            base = {
                "campaign": SMALL,
                "channel": channel,
                "profile": f"s-{n}",
                "variant": variant,
                "time": (now - timedelta(minutes=30)).isoformat(),
            }
            small.append({**base, "id": uuid.uuid4().hex, "type": "sent"})
            small.append({**base, "id": uuid.uuid4().hex, "type": "delivered"})
            if rng.random() < 0.5:
                small.append({**base, "id": uuid.uuid4().hex, "type": "open"})
        small.append(
            {
                "campaign": SMALL,
                "channel": "email",
                "profile": "s-none",
                "id": uuid.uuid4().hex,
                "type": "sent",
                "time": (now - timedelta(minutes=30)).isoformat(),
            }
        )
        _send(found, small)
        yield found
    server.stop()


def _url(campaign: str) -> str:
    return f"/v1/campaigns/{httpx.URL(campaign).raw_path.decode()}/variants"


def _by_hand(world: World, body: dict[str, Any], campaign: str) -> list[tuple[str, int, int]]:
    """(variant, exposures, successes) of the answer's rate, from the posted events."""
    start, end = hand.epoch_ms(body["window"]["from"]), hand.epoch_ms(body["window"]["to"])
    events = world.ledger.select("a", campaign, body["channel"], start, end)
    names = sorted({e.variant for e in events if e.variant})
    successes_type = {"open_rate": "open", "click_rate": "click"}[body["metric"]]
    found = []
    for name in names:
        mine = [e for e in events if e.variant == name]
        delivered = sum(1 for e in mine if e.type == "delivered")
        unique = len({e.profile for e in mine if e.type == successes_type})
        found.append((name, delivered, min(unique, delivered)))
    return found


@pytest.mark.parametrize(
    "channel, metric",
    [("email", "open_rate"), ("email", "click_rate"), ("push", "open_rate"), ("sms", "click_rate")],
)
def test_each_variant_equals_the_posted_events_and_the_module_judges_them(
    world: World, channel: str, metric: str
) -> None:
    body = get(world.client, _url(CAMPAIGN), channel=channel, metric=metric)
    assert body["period"] == "life" and body["metric"] == metric
    counts = _by_hand(world, body, CAMPAIGN)
    assert [(v["variant"], v["exposures"], v["successes"]) for v in body["variants"]] == counts
    expected = comparison_json(compare(counts))
    assert {k: v for k, v in body.items() if k in expected and k != "variants"} == {
        k: v for k, v in expected.items() if k != "variants"
    }
    for got, want in zip(body["variants"], expected["variants"], strict=True):
        assert {k: v for k, v in got.items() if k != "metrics"} == want
        assert got["metrics"]["delivered"] == got["exposures"]


def test_the_variant_with_a_true_lift_is_called_better_and_the_other_is_not(world: World) -> None:
    body = get(world.client, _url(CAMPAIGN), channel="email")
    assert body["metric"] == "open_rate" and body["control"] == "A"
    verdicts = {v["variant"]: v["lift"] and v["lift"]["verdict"] for v in body["variants"]}
    assert verdicts["A"] is None  # the control
    assert verdicts["B"] == "better"
    assert verdicts["C"] in ("leading", "trailing", "even")
    b = next(v for v in body["variants"] if v["variant"] == "B")
    assert b["exposures"] >= MIN_EXPOSURES
    assert b["lift"]["relative_low"] > 0 and b["lift"]["absolute_low"] > 0
    assert body["winner"] is None  # C is not worse than A: no single variant to act on


def test_another_control_and_a_custom_period(world: World) -> None:
    body = get(world.client, _url(CAMPAIGN), channel="email", control="B")
    assert body["control"] == "B"
    assert [v["variant"] for v in body["variants"]] == ["B", "A", "C"]
    assert all(v["lift"]["verdict"] == "worse" for v in body["variants"][1:])
    assert body["winner"] == "B"
    start = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
    body = get(world.client, _url(CAMPAIGN), channel="email", **{"from": start.isoformat()})
    assert body["period"] == "custom"
    assert [(v["variant"], v["exposures"], v["successes"]) for v in body["variants"]] == _by_hand(
        world, body, CAMPAIGN
    )
    day = get(world.client, _url(CAMPAIGN), channel="email", period="24h")
    assert day["period"] == "24h"


def test_below_the_minimum_sample_nothing_is_called(world: World) -> None:
    body = get(world.client, _url(SMALL), channel="email")
    assert [v["variant"] for v in body["variants"]] == [
        "X",
        "Y",
    ]  # the event without a variant is left out
    assert body["variants"][1]["lift"]["verdict"] == "too_early"
    assert body["winner"] is None
    assert [(v["variant"], v["exposures"], v["successes"]) for v in body["variants"]] == _by_hand(
        world, body, SMALL
    )


def test_one_variant_is_shown_without_a_comparison(world: World) -> None:
    body = get(world.client, _url(SMALL), channel="push")
    (only,) = body["variants"]
    assert only["variant"] == "solo" and only["control"] is True and only["lift"] is None
    assert body["control"] == "solo" and body["winner"] is None
    assert only["exposures"] == 20 and only["rate"] == round(only["successes"] / 20, 6)


@pytest.mark.parametrize(
    "params, words",
    [
        ({"channel": "sms", "metric": "open_rate"}, "metric: 'open_rate' is not a rate of sms"),
        ({"channel": "inapp"}, "channel: inapp has no rate to compare variants on"),
        ({"channel": "campaign"}, "channel: campaign has no rate to compare variants on"),
        ({"channel": "email", "control": "Z"}, "control: 'Z' is not a variant"),
        ({"channel": "email", "metric": "sent"}, "metric"),
        ({"channel": "email", "compare": "previous"}, "compare: unknown query parameter"),
        ({}, "channel: is required"),
    ],
)
def test_bad_requests_say_what_is_expected(
    world: World, params: dict[str, str], words: str
) -> None:
    response = world.client.get(_url(CAMPAIGN), params=params)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]


def test_an_unknown_campaign_is_404(world: World) -> None:
    response = world.client.get(_url("no-such-campaign-here"), params={"channel": "email"})
    assert response.status_code == 404


def test_successes_above_the_exposures_are_judged_on_the_exposures() -> None:
    """Opens in a period of mails delivered before it: the rate stays a share."""
    rows = [
        ("A", {"delivered": 10, "unique_opens": 12}),
        ("B", {"delivered": 10, "unique_opens": 3}),
    ]
    body = variants_json("open_rate", rows)
    assert [(v["exposures"], v["successes"], v["rate"]) for v in body["variants"]] == [
        (10, 10, 1.0),
        (10, 3, 0.3),
    ]
    assert body["variants"][0]["metrics"]["unique_opens"] == 12


def test_the_terminal_shows_the_comparison_with_names_as_text(world: World) -> None:
    """Last of the module: it stops the server to read the data directory itself."""
    data = world.server.data
    shown = cli(
        "variants",
        CAMPAIGN,
        "--url",
        world.server.url,
        "--key",
        world.server.key("read"),
        data=data,
    )
    assert CAMPAIGN in shown.stdout  # markup in the id is shown as given
    assert "better" in shown.stdout and "control" in shown.stdout
    over_http = get(world.client, _url(CAMPAIGN), channel="email")
    world.server.stop()
    local = cli("variants", CAMPAIGN, "--json", data=data)
    mine = json.loads(local.stdout)
    assert [v["exposures"] for v in mine["variants"]] == [
        v["exposures"] for v in over_http["variants"]
    ]
    refused = cli(
        "variants", CAMPAIGN, "--channel", "sms", "--metric", "open_rate", data=data, check=False
    )
    assert refused.returncode != 0 and "is not a rate of sms" in refused.stderr


@pytest.mark.parametrize(
    "lifts, words",
    [
        ({"Z": 1.1}, "lifts: ['Z'] are not variants"),
        ({"B": 0}, "lifts: B has 0; expected a factor above 0"),
        ({"B": 3.0}, "at most 2.5"),
    ],
)
def test_the_simulator_refuses_a_lift_it_cannot_make(lifts: dict[str, float], words: str) -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        generate(
            seed=1,
            campaign="c",
            profiles=1,
            start=now - timedelta(hours=1),
            end=now,
            variants=("A", "B"),
            lifts=lifts,
        )


def test_the_simulator_without_lifts_makes_the_very_same_traffic() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    kwargs: dict[str, Any] = {
        "seed": 5,
        "campaign": "c",
        "profiles": 300,
        "start": now - timedelta(hours=2),
        "end": now,
        "variants": ("A", "B"),
    }
    assert generate(**kwargs) == generate(**kwargs, lifts={"A": 1.0, "B": 1.0})
    assert generate(**kwargs) != generate(**kwargs, lifts={"B": 2.0})
