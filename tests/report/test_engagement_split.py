"""Human and machine opens and clicks (SPEC §11): the split metrics, and every report
endpoint's ``engagement=all|human|machine``, equal counts made by hand from the events
posted — in total, per execution, per breakdown key, per variant, in series, over the live
24 hours and over other periods."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from conftest import Server, post

HOUR = timedelta(hours=1)
ENGAGEMENTS = ("all", "human", "machine")


@dataclass(frozen=True)
class Posted:
    type: str
    profile: str
    channel: str
    machine: bool
    execution: str
    domain: str
    variant: str


def _event(campaign: str, p: Posted, ago: timedelta) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "time": (datetime.now(UTC) - ago).isoformat(),
        "campaign": campaign,
        "channel": p.channel,
        "type": p.type,
        "profile": p.profile,
        "execution": p.execution,
        "variant": p.variant,
    }
    if p.domain:
        event["recipient_domain"] = p.domain
    if p.machine:
        event["machine"] = True
    if p.type == "click":
        event["url"] = "https://shop.example/spring"
    return event


def _traffic(campaign: str, seed: int) -> tuple[list[dict[str, Any]], list[Posted]]:
    """Deliveries 10 hours ago, then opens and clicks hours later (no detection rule but the
    sender's flag can call them machine), some profiles with both kinds."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    kept: list[Posted] = []
    for i in range(120):
        profile = f"p{i}"
        execution = rng.choice(["morning", "evening"])
        domain = rng.choice(["icloud.example", "corp.example", "mail.example"])
        variant = rng.choice(["A", "B"])
        channel = "push" if i % 5 == 0 else "email"

        base = Posted(
            "", profile, channel, False, execution, domain if channel == "email" else "", variant
        )

        def add(type_: str, machine: bool, ago: timedelta, base: Posted = base) -> None:
            posted = replace(base, type=type_, machine=machine)
            kept.append(posted)
            events.append(_event(campaign, posted, ago))

        add("delivered", False, 10 * HOUR)
        for _ in range(rng.choice([0, 1, 2])):
            add("open", True, timedelta(hours=rng.uniform(1, 8)))
        for _ in range(rng.choice([0, 0, 1, 3])):
            add("open", False, timedelta(hours=rng.uniform(1, 8)))
        if channel == "email":
            for _ in range(rng.choice([0, 0, 1])):
                add("click", True, timedelta(hours=rng.uniform(1, 8)))
            for _ in range(rng.choice([0, 0, 1, 2])):
                add("click", False, timedelta(hours=rng.uniform(1, 8)))
    rng.shuffle(events)
    return events, kept


def _hand(posted: Iterable[Posted], engagement: str) -> dict[str, Any]:
    """The email metrics the filter changes, and those it must not, counted by hand."""
    rows = list(posted)

    def chosen(p: Posted) -> bool:
        return engagement == "all" or p.machine == (engagement == "machine")

    delivered = sum(p.type == "delivered" for p in rows)
    opens = [p for p in rows if p.type == "open" and chosen(p)]
    clicks = [p for p in rows if p.type == "click" and chosen(p)]
    unique_opens = len({p.profile for p in opens})
    unique_clicks = len({p.profile for p in clicks})
    all_opens = [p for p in rows if p.type == "open"]
    machine_opens = sum(p.machine for p in all_opens)
    human_unique = len({p.profile for p in all_opens if not p.machine})
    human_click_unique = len({p.profile for p in rows if p.type == "click" and not p.machine})
    return {
        "delivered": delivered,
        "opens": len(opens),
        "unique_opens": unique_opens,
        "clicks": len(clicks),
        "unique_clicks": unique_clicks,
        "open_rate": unique_opens / delivered if delivered else None,
        "click_rate": unique_clicks / delivered if delivered else None,
        "click_to_open_rate": unique_clicks / unique_opens if unique_opens else None,
        "human_opens": len(all_opens) - machine_opens,
        "machine_opens": machine_opens,
        "total_opens": len(all_opens),
        "unique_human_opens": human_unique,
        "human_clicks": sum(p.type == "click" and not p.machine for p in rows),
        "machine_clicks": sum(p.type == "click" and p.machine for p in rows),
        "unique_human_clicks": human_click_unique,
        "machine_open_share": machine_opens / len(all_opens) if all_opens else None,
        "human_open_rate": human_unique / delivered if delivered else None,
        "human_click_rate": human_click_unique / delivered if delivered else None,
    }


def _close(found: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        got = found[name]
        if isinstance(value, float):
            assert got == pytest.approx(value, abs=1e-12), name
        else:
            assert got == value, name


@pytest.fixture(scope="module")
def world(server: Server, keys: dict[str, str]) -> Iterator[tuple[httpx.Client, str, list[Posted]]]:
    campaign = f"engagement-{uuid.uuid4().hex[:8]}"
    events, posted = _traffic(campaign, 7)
    org = f"engagement-{uuid.uuid4().hex[:8]}"  # an org of its own, for the org totals
    server.create_org(org)
    with server.client(server.key("ingest", "read", org=org)) as client:
        for i in range(0, len(events), 200):
            post(client, events[i : i + 200])
        yield client, campaign, posted


def _email(posted: list[Posted]) -> list[Posted]:
    return [p for p in posted if p.channel == "email"]


@pytest.mark.parametrize("engagement", ENGAGEMENTS)
@pytest.mark.parametrize("period", [None, "7d"])
def test_totals_count_only_the_opens_and_clicks_asked_for(
    world: tuple[httpx.Client, str, list[Posted]], engagement: str, period: str | None
) -> None:
    client, campaign, posted = world
    params = {
        "channel": "email",
        "engagement": engagement,
        **({"period": period} if period else {}),
    }
    answer = client.get(f"/v1/campaigns/{campaign}/totals", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.json()["engagement"] == engagement
    _close(answer.json()["metrics"], _hand(_email(posted), engagement))


@pytest.mark.parametrize("engagement", ENGAGEMENTS)
def test_the_email_tab_follows_the_filter_in_every_widget(
    world: tuple[httpx.Client, str, list[Posted]], engagement: str
) -> None:
    client, campaign, posted = world
    answer = client.get(
        f"/v1/campaigns/{campaign}/report", params={"tab": "email", "engagement": engagement}
    )
    assert answer.status_code == 200, answer.text
    widgets = {w["id"]: w["data"] for w in answer.json()["widgets"]}
    email = _email(posted)
    expected = _hand(email, engagement)
    quality = widgets["email.engagement_quality"]["metrics"]
    _close(quality, {k: v for k, v in expected.items() if k in quality})
    statistics = widgets["email.statistics"]
    _close(statistics["total"], {k: v for k, v in expected.items() if k in statistics["total"]})
    for row in statistics["rows"]:
        mine = _hand([p for p in email if p.execution == row["key"]], engagement)
        _close(row["metrics"], {k: v for k, v in mine.items() if k in row["metrics"]})
    for row in widgets["email.best_recipient_domains"]["rows"]:
        mine = _hand([p for p in email if p.domain == row["key"]], engagement)
        _close(
            row["metrics"],
            {k: mine[k] for k in ("opens", "unique_opens", "delivered", "open_rate")},
        )
    series = widgets["email.performance_by_date"]["series"]
    assert sum(series["opens"]) == expected["opens"]
    assert sum(series["clicks"]) == expected["clicks"]


@pytest.mark.parametrize("engagement", ENGAGEMENTS)
def test_breakdowns_variants_and_series_follow_the_filter(
    world: tuple[httpx.Client, str, list[Posted]], engagement: str
) -> None:
    client, campaign, posted = world
    email = _email(posted)
    base = f"/v1/campaigns/{campaign}"
    found = client.get(
        f"{base}/breakdown",
        params={
            "channel": "email",
            "by": "variant",
            "engagement": engagement,
            "period": "7d",
        },
    )
    assert found.status_code == 200, found.text
    for row in found.json()["rows"]:
        mine = _hand([p for p in email if p.variant == row["key"]], engagement)
        _close(
            row["metrics"], {k: mine[k] for k in ("opens", "unique_opens", "clicks", "human_opens")}
        )
    compared = client.get(f"{base}/variants", params={"channel": "email", "engagement": engagement})
    assert compared.status_code == 200, compared.text
    for variant in compared.json()["variants"]:
        mine = _hand([p for p in email if p.variant == variant["variant"]], engagement)
        assert variant["metrics"]["unique_opens"] == mine["unique_opens"]
    series = client.get(
        f"{base}/series",
        params={
            "channel": "email",
            "metrics": "opens,unique_opens,machine_opens",
            "bucket": "1h",
            "engagement": engagement,
            "period": "24h",
        },
    )
    assert series.status_code == 200, series.text
    values = series.json()["series"]
    assert sum(values["opens"]) == _hand(email, engagement)["opens"]
    assert sum(values["machine_opens"]) == _hand(email, "all")["machine_opens"]


def test_push_opens_are_split_too(world: tuple[httpx.Client, str, list[Posted]]) -> None:
    client, campaign, posted = world
    push = [p for p in posted if p.channel == "push"]
    answer = client.get(
        f"/v1/campaigns/{campaign}/report", params={"tab": "push", "engagement": "human"}
    )
    assert answer.status_code == 200, answer.text
    widgets = {w["id"]: w["data"] for w in answer.json()["widgets"]}
    quality = widgets["push.engagement_quality"]["metrics"]
    expected = _hand(push, "human")
    _close(
        quality, {k: expected[k] for k in ("human_opens", "machine_opens", "machine_open_share")}
    )
    assert widgets["push.statistics"]["total"]["opens"] == expected["opens"]


def test_the_org_totals_split_every_open_and_click(
    world: tuple[httpx.Client, str, list[Posted]],
) -> None:
    client, _, posted = world
    answer = client.get("/v1/totals", params={"period": "24h"})
    assert answer.status_code == 200, answer.text
    channels = answer.json()["channels"]
    for channel in ("email", "push"):
        expected = _hand([p for p in posted if p.channel == channel], "all")
        found = channels[channel]["metrics"]
        _close(found, {k: v for k, v in expected.items() if k in found})
    refused = client.get("/v1/totals", params={"top": "human_opens"})
    assert refused.status_code == 400
    assert "top" in refused.text


def test_the_export_follows_the_filter(world: tuple[httpx.Client, str, list[Posted]]) -> None:
    client, campaign, posted = world
    human = _hand(_email(posted), "human")["opens"]
    everything = _hand(_email(posted), "all")["opens"]
    assert human != everything
    exported = client.get(
        f"/v1/campaigns/{campaign}/export.csv",
        params={
            "tab": "email",
            "widget": "email.performance_by_date",
            "engagement": "human",
        },
    )
    assert exported.status_code == 200, exported.text
    header, *rows = [line.split(",") for line in exported.text.lstrip("\ufeff").splitlines()]
    column = header.index(next(h for h in header if h.strip('"').lower() == "opens"))
    assert sum(int(r[column]) for r in rows if r[column].isdigit()) == human
    whole = client.get(
        f"/v1/campaigns/{campaign}/export.csv", params={"tab": "email", "engagement": "machine"}
    )
    assert whole.status_code == 200, whole.text
    assert "Opens and clicks,machine only" in whole.text


def test_a_bad_engagement_is_refused_with_the_values_expected(
    world: tuple[httpx.Client, str, list[Posted]],
) -> None:
    client, campaign, _ = world
    answer = client.get(
        f"/v1/campaigns/{campaign}/totals", params={"channel": "email", "engagement": "robots"}
    )
    assert answer.status_code == 400
    assert "engagement" in answer.text and "all, human, machine" in answer.text
    listing = client.get("/v1/campaigns", params={"engagement": "human"})
    assert listing.status_code == 400
    assert "engagement" in listing.text
    assert client.get("/v1/campaigns", params={"engagement": "all"}).status_code == 200


def test_the_command_line_takes_the_filter(
    server: Server, world: tuple[httpx.Client, str, list[Posted]]
) -> None:
    client, campaign, posted = world
    key = client.headers["Authorization"].removeprefix("Bearer ")
    found = subprocess.run(
        [
            sys.executable,
            "-m",
            "livereport",
            "report",
            campaign,
            "--tab",
            "email",
            "--engagement",
            "machine",
            "--json",
            "--url",
            server.url,
            "--key",
            key,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    body = json.loads(found.stdout)
    assert body["engagement"] == "machine"
    totals = next(w for w in body["widgets"] if w["id"] == "email.statistics")["data"]["total"]
    assert totals["opens"] == _hand(_email(posted), "machine")["opens"]


def test_each_open_and_click_says_which_rule_made_it_a_machines(
    world: tuple[httpx.Client, str, list[Posted]],
) -> None:
    client, _, _ = world
    campaign = f"rules-{uuid.uuid4().hex[:8]}"
    hours_ago = datetime.now(UTC) - 5 * HOUR
    base = {"campaign": campaign, "channel": "email", "execution": "", "variant": ""}

    def event(id_: str, type_: str, profile: str, ago: timedelta, **fields: Any) -> dict[str, Any]:
        return {
            **base,
            "id": id_,
            "type": type_,
            "profile": profile,
            "time": (datetime.now(UTC) - ago).isoformat(),
            **fields,
        }

    events = [
        *(
            {
                **base,
                "id": f"d-{p}",
                "type": "delivered",
                "profile": p,
                "time": hours_ago.isoformat(),
            }
            for p in ("p1", "p2", "p3", "p4", "p5")
        ),
        event("o-proxy-agent", "open", "p1", HOUR, user_agent="Mozilla/5.0"),
        event("o-proxy-ip", "open", "p2", HOUR, ip="17.58.0.10", user_agent="Mozilla/5.0 (iPhone)"),
        event("o-flag", "open", "p3", HOUR, machine=True),
        event(
            "o-gmail", "open", "p4", HOUR, user_agent="Mozilla/5.0 (via ggpht.com GoogleImageProxy)"
        ),
        event(
            "c-script",
            "click",
            "p5",
            HOUR,
            user_agent="python-requests/2.32.3",
            url="https://a.example/x",
        ),
        event("c-person", "click", "p4", HOUR, url="https://a.example/y"),
    ]
    post(client, events)
    expected = {
        "o-proxy-agent": "apple_proxy",
        "o-proxy-ip": "apple_proxy",
        "o-flag": "flagged",
        "o-gmail": None,
        "c-script": "scanner_agent",
        "c-person": None,
    }
    for event_id, rule in expected.items():
        answer = client.get(f"/v1/campaigns/{campaign}/engagements/{event_id}")
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert (found["rule"], found["machine"]) == (rule, rule is not None), event_id
        assert (found["label"] is None) == (rule is None)
    for missing in ("d-p1", "no-such-event"):
        answer = client.get(f"/v1/campaigns/{campaign}/engagements/{missing}")
        assert answer.status_code == 404, answer.text
    by_rule = client.get(
        f"/v1/campaigns/{campaign}/breakdown", params={"channel": "email", "by": "machine_rule"}
    )
    assert by_rule.status_code == 200, by_rule.text
    rows = {
        row["key"]: (row["metrics"]["opens"], row["metrics"]["clicks"])
        for row in by_rule.json()["rows"]
    }
    assert rows == {"apple_proxy": (2, 0), "flagged": (1, 0), "scanner_agent": (0, 1)}
    tab = client.get(f"/v1/campaigns/{campaign}/report", params={"tab": "email"})
    widget = next(w for w in tab.json()["widgets"] if w["id"] == "email.machine_rules")
    assert {row["key"]: row["metrics"]["opens"] for row in widget["data"]["rows"]} == {
        "apple_proxy": 2,
        "flagged": 1,
        "scanner_agent": 0,
    }
    human = client.get(
        f"/v1/campaigns/{campaign}/totals", params={"channel": "email", "engagement": "human"}
    )
    assert (human.json()["metrics"]["opens"], human.json()["metrics"]["clicks"]) == (1, 1)
