"""Machine detection (ingest/machine.py, SPEC §11): each rule, their order, the memory of
recent deliveries and clicks, an org's switches over HTTP, and machine events stored, never
dropped."""

from __future__ import annotations

import ipaddress
import random
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from conftest import POSTGRES, Server, new_storage, post
from livereport.events import IP_PATTERN, Event
from livereport.ingest import machine, pipeline
from livereport.store.metadata import Metadata

NOW = datetime.now(UTC)
T0 = int((NOW - timedelta(minutes=10)).timestamp() * 1000)
HUMAN_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
GMAIL_UA = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_UA = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
_ids = iter(range(10**9))
IP = re.compile(IP_PATTERN)


def ev(
    type_: str,
    at_s: float = 60.0,
    *,
    profile: str = "p-1",
    campaign: str = "c",
    channel: str = "email",
    **fields: Any,
) -> dict[str, Any]:
    """An event ``at_s`` seconds after T0."""
    return {
        "id": f"m-{next(_ids)}",
        "time": T0 + round(at_s * 1000),
        "campaign": campaign,
        "channel": channel,
        "type": type_,
        "profile": profile,
        **fields,
    }


def run(
    events: list[dict[str, Any]], memory: machine.Memory | None = None, off: Collection[str] = ()
) -> list[Event]:
    """The events through every step but the store, in their order; rejections fail."""
    ctx = pipeline.Context(
        1,
        NOW,
        timedelta(days=30),
        machine_off=lambda: off,
        memory=memory if memory is not None else machine.Memory(),
    )
    batch = pipeline.prepare(
        pipeline.Body(msgspec.json.encode(events), "application/json", 10**4), ctx
    )
    assert not batch.rejected, batch.rejected
    return [e for _, e in sorted(batch.events, key=lambda pair: pair[0])]


def verdicts(events: list[dict[str, Any]], **kwargs: Any) -> list[str]:
    """Each event's machine_rule, "" for a person's ("-" for an event that is no open/click)."""
    found = []
    for e in run(events, **kwargs):
        assert e.machine == bool(e.machine_rule)
        found.append(e.machine_rule if e.type in ("open", "click") else "-")
    return found


# --- each rule ----------------------------------------------------------------------------------


def test_the_rules_are_declared_once_in_order_with_a_label_and_help() -> None:
    assert machine.NAMES == (
        "flagged",
        "apple_proxy",
        "scanner_agent",
        "fast_after_delivery",
        "link_burst",
    )
    for rule in machine.RULES:
        assert rule.label and len(rule.help) > 40 and rule.needs and rule.applies_to
    assert machine.FIXED == {"flagged"}


def test_flagged_opens_and_clicks_are_machines_and_other_types_ignore_the_flag() -> None:
    events = [
        ev("open", machine=True),
        ev("click", url="https://x.example/a", machine=True),
        ev("open", channel="push", machine=True),
        ev("delivered", 0.0, machine=True),
        ev("open", machine=False),
    ]
    found = run(events)
    assert [e.machine_rule for e in found] == ["flagged", "flagged", "flagged", "", ""]
    assert [e.machine for e in found] == [True, True, True, False, False]


@pytest.mark.parametrize(
    "client",
    [
        {"user_agent": "Mozilla/5.0"},
        {"user_agent": " Mozilla/5.0 "},
        {"ip": "17.58.101.4"},
        {"ip": "17.0.0.1", "user_agent": HUMAN_UA},
        {"ip": "2620:149:a44::1"},
        {"ip": "2a01:b740:a03::7"},
        {"ip": "::ffff:17.1.2.3"},
    ],
)
def test_apple_proxy_opens_by_user_agent_or_apple_address(client: dict[str, str]) -> None:
    assert verdicts([ev("open", **client)]) == ["apple_proxy"]


@pytest.mark.parametrize(
    "client",
    [
        {"user_agent": HUMAN_UA, "ip": "81.2.69.160"},
        {"user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15"},
        {"ip": "18.0.0.1"},
        {"ip": "16.255.255.255"},
        {"ip": "2620:14a::1"},
        {"user_agent": GMAIL_UA, "ip": "66.249.84.3"},
        {"user_agent": YAHOO_UA, "ip": "98.137.4.1"},
        {},
    ],
)
def test_other_opens_are_people_s_gmail_and_yahoo_proxies_included(client: dict[str, str]) -> None:
    assert verdicts([ev("open", **client)]) == [""]


def test_apple_proxy_decides_opens_only() -> None:
    click = ev("click", url="https://x.example/a", user_agent="Mozilla/5.0", ip="17.1.1.1")
    assert verdicts([click]) == [""]


@pytest.mark.parametrize(
    "agent",
    [
        "Mozilla/5.0 (compatible; Barracuda Sentinel (EE))",
        "Proofpoint URL Defense/1.0",
        "Mimecast-URL-Protect/2.1",
        "python-requests/2.31.0",
        "curl/8.5.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
        "Java/1.8.0_292",
        "some link checker bot",
    ],
)
def test_scanner_agents_on_opens_and_clicks(agent: str) -> None:
    events = [
        ev("open", user_agent=agent),
        ev("click", url="https://x.example/a", user_agent=agent),
        ev("click", channel="sms", url="https://x.example/a", user_agent=agent),
    ]
    assert verdicts(events) == ["scanner_agent"] * 3


def test_ordinary_agents_are_no_scanners() -> None:
    for agent in (
        HUMAN_UA,
        GMAIL_UA,
        YAHOO_UA,
        "Cubot X30 Android 12",
        "Mozilla/5.0",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    ):
        assert not machine.is_scanner_agent(agent), agent


def test_the_fast_scanner_test_says_what_the_expression_says() -> None:
    agents = [
        HUMAN_UA,
        GMAIL_UA,
        YAHOO_UA,
        "Cubot",
        "a BOT",
        "robot",
        "Java/17",
        "java/x",
        *machine.SCANNER_WORDS,
        *(w.upper() for w in machine.SCANNER_WORDS),
        *(f"Mozilla/5.0 ({w[:-1]})" for w in machine.SCANNER_WORDS),
    ]
    for agent in agents:
        assert machine.is_scanner_agent(agent) == bool(machine.SCANNER_AGENT.search(agent)), agent


@pytest.mark.parametrize(
    ("type_", "after_s", "rule"),
    [
        ("open", 0.0, "fast_after_delivery"),
        ("open", 2.9, "fast_after_delivery"),
        ("open", 3.5, ""),
        ("open", -0.5, "fast_after_delivery"),
        ("open", -2.0, ""),
        ("click", 9.5, "fast_after_delivery"),
        ("click", 10.5, ""),
        ("open", 600.0, ""),
    ],
)
def test_fast_after_delivery(type_: str, after_s: float, rule: str) -> None:
    url = {"url": "https://x.example/a"} if type_ == "click" else {}
    events = [ev("delivered", 100.0), ev(type_, 100.0 + after_s, user_agent=HUMAN_UA, **url)]
    assert verdicts(events) == ["-", rule]


def test_fast_after_delivery_needs_the_same_profile_campaign_and_channel() -> None:
    events = [
        ev("delivered", 100.0),
        ev("open", 101.0, profile="p-2"),
        ev("open", 101.0, campaign="other"),
        ev("click", 101.0, channel="sms", url="https://x.example/a"),
        ev("open", 101.0),
    ]
    assert verdicts(events) == ["-", "", "", "", "fast_after_delivery"]


def test_a_delivery_later_in_the_batch_counts_and_an_earlier_batch_is_remembered() -> None:
    memory = machine.Memory()
    assert verdicts(
        [ev("open", 101.0, profile="a"), ev("delivered", 100.0, profile="a")], memory=memory
    ) == ["fast_after_delivery", "-"]
    assert verdicts([ev("delivered", 200.0, profile="b")], memory=memory) == ["-"]
    assert verdicts(
        [ev("click", 205.0, profile="b", url="https://x.example/a")], memory=memory
    ) == ["fast_after_delivery"]
    # Another process (a fresh memory) never saw that delivery.
    assert verdicts([ev("click", 205.0, profile="b", url="https://x.example/a")]) == [""]


def test_the_memory_is_bounded_by_count_and_by_time() -> None:
    small = machine.Memory(capacity=2)
    verdicts([ev("delivered", 100.0, profile=p) for p in ("a", "b", "c")], memory=small)
    assert len(small) == 2
    assert verdicts(
        [ev("open", 101.0, profile="a"), ev("open", 101.0, profile="c")], memory=small
    ) == ["", "fast_after_delivery"]
    brief = machine.Memory(horizon_s=0.05)
    verdicts([ev("delivered", 100.0, profile="a")], memory=brief)
    time.sleep(0.1)
    assert verdicts(
        [ev("delivered", 100.0, profile="z"), ev("open", 101.0, profile="a")], memory=brief
    ) == ["-", ""]


def test_link_burst_marks_every_click_of_three_links_within_two_seconds() -> None:
    links = [
        ev("click", 300.0 + i * 0.6, url=f"https://x.example/{page}", user_agent=HUMAN_UA)
        for i, page in enumerate(("a", "b", "c"))
    ]
    assert verdicts(links) == ["link_burst"] * 3


def test_no_burst_for_two_links_one_link_again_or_links_apart() -> None:
    two = [
        ev("click", 300.0, url="https://x.example/a"),
        ev("click", 300.5, url="https://x.example/b"),
    ]
    same = [ev("click", 300.0 + i * 0.2, url="https://x.example/a", profile="q") for i in range(5)]
    apart = [
        ev("click", 300.0 + i * 30, url=f"https://x.example/{i}", profile="r") for i in range(4)
    ]
    assert verdicts(two + same + apart) == [""] * 11


def test_a_burst_across_batches_marks_the_click_that_completes_it() -> None:
    memory = machine.Memory()
    first = [
        ev("click", 300.0, url="https://x.example/a"),
        ev("click", 300.4, url="https://x.example/b"),
    ]
    assert verdicts(first, memory=memory) == ["", ""]
    assert verdicts([ev("click", 300.8, url="https://x.example/c")], memory=memory) == [
        "link_burst"
    ]


# --- order and switches -------------------------------------------------------------------------


def test_the_first_rule_in_order_names_itself() -> None:
    events = [
        ev("delivered", 100.0),
        ev("open", 100.5, user_agent="Mozilla/5.0", machine=True),
        ev("open", 100.6, user_agent="Mozilla/5.0"),
        ev("click", 100.7, url="https://x.example/a", user_agent="curl/8.5.0"),
        ev("click", 100.8, url="https://x.example/b"),
        ev("click", 100.9, url="https://x.example/c"),
    ]
    assert verdicts(events) == [
        "-",
        "flagged",
        "apple_proxy",
        "scanner_agent",
        "fast_after_delivery",
        "fast_after_delivery",
    ]


def test_a_rule_turned_off_lets_the_next_decide_and_flagged_stays_on() -> None:
    events = [
        ev("delivered", 100.0),
        ev("open", 100.5, user_agent="Mozilla/5.0"),
        ev("click", 100.8, url="https://x.example/b"),
        ev("open", 500.0, machine=True),
    ]
    assert verdicts(events, off={"apple_proxy"}) == [
        "-",
        "fast_after_delivery",
        "fast_after_delivery",
        "flagged",
    ]
    everything = set(machine.NAMES)
    assert verdicts(events, off=everything) == ["-", "", "", "flagged"]


def test_the_disabled_rules_are_read_only_when_a_batch_has_an_open_or_click() -> None:
    asked: list[int] = []

    def off() -> Collection[str]:
        asked.append(1)
        return ()

    ctx = pipeline.Context(1, NOW, timedelta(days=30), machine_off=off, memory=machine.Memory())
    body = msgspec.json.encode([ev("sent"), ev("delivered")])
    pipeline.prepare(pipeline.Body(body, "application/json", 10), ctx)
    assert asked == []
    pipeline.prepare(
        pipeline.Body(
            msgspec.json.encode([ev("open"), ev("click", url="u")]), "application/json", 10
        ),
        ctx,
    )
    assert asked == [1]


def test_check_disabled_names_the_rules_that_exist() -> None:
    assert machine.check_disabled(["link_burst", "apple_proxy", "link_burst"]) == (
        "apple_proxy",
        "link_burst",
    )
    with pytest.raises(
        ValueError,
        match="'bursts' is not a machine rule; expected some of flagged, "
        "apple_proxy, scanner_agent, fast_after_delivery, link_burst",
    ):
        machine.check_disabled(["link_burst", "bursts"])
    with pytest.raises(ValueError, match="'flagged' cannot be turned off"):
        machine.check_disabled(["flagged"])
    with pytest.raises(ValueError, match="is not a machine rule"):
        machine.check_disabled([3])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_org_s_disabled_rules_are_stored_versioned_and_cached(
    tmp_path: Path, backend: str
) -> None:
    url = f"{POSTGRES}?options=-csearch_path%3D{new_storage()}" if backend == "postgresql" else ""
    metadata = Metadata(tmp_path / "metadata.sqlite3", url)
    try:
        _check_settings(metadata)
    finally:
        if metadata._postgres is not None:  # its pooled connections, as tests/cluster does
            metadata._postgres.close()


def _check_settings(metadata: Metadata) -> None:
    org, other = metadata.create_org("a").id, metadata.create_org("b").id
    assert metadata.disabled_machine_rules(org) == (0, ())
    assert metadata.set_disabled_machine_rules(org, ["link_burst", "apple_proxy"], "t") == 1
    assert metadata.set_disabled_machine_rules(org, ["link_burst"], "t") == 2
    assert metadata.disabled_machine_rules(org) == (2, ("link_burst",))
    assert (metadata.machine_rules_version(org), metadata.machine_rules_version(other)) == (2, 0)
    assert machine.disabled_rules(metadata, org) == {"link_burst"}
    metadata.set_disabled_machine_rules(org, [], "t")
    assert machine.disabled_rules(metadata, org) == {"link_burst"}  # cached for a second
    machine.forget(metadata, org)
    assert machine.disabled_rules(metadata, org) == frozenset()
    assert machine.disabled_rules(metadata, other) == frozenset()


# --- the ip field ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "not-an-ip",
            "ip: 'not-an-ip' is not an IP address; expected IPv4 (192.0.2.7) or IPv6 (2001:db8::7)",
        ),
        ("256.1.1.1", "ip: '256.1.1.1' is not an IP address"),
        ("1.2.3", "ip: '1.2.3' is not an IP address"),
        ("2001:db8::1::2", "ip: '2001:db8::1::2' is not an IP address"),
        ("1" * 46, "ip: expected a string of at most 45 characters"),
    ],
)
def test_a_bad_ip_is_rejected_with_a_clear_message(value: str, message: str) -> None:
    ctx = pipeline.Context(1, NOW, timedelta(days=30), memory=machine.Memory())
    body = msgspec.json.encode([ev("open", ip=value), ev("open", ip="192.0.2.7")])
    batch = pipeline.prepare(pipeline.Body(body, "application/json", 10), ctx)
    assert [r.index for r in batch.rejected] == [0] and len(batch.events) == 1
    assert batch.rejected[0].fields == ["ip"]
    assert batch.rejected[0].errors[0].startswith(message)


def test_the_ip_pattern_accepts_what_the_standard_library_reads_as_an_address() -> None:
    rng = random.Random(19)
    values = [
        "::",
        "::1",
        "1::",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:1.2.3.4",
        "::1.2.3.4",
        "1:2:3:4:5:6::1.2.3.4",
        "1::2::3",
        ":::",
        "12345::",
        "1.2.3.4.5",
        " 1.2.3.4",
        "1.2.3.4\n",
    ]
    for _ in range(3000):
        address = ipaddress.IPv6Address(rng.getrandbits(16) << rng.choice((0, 16, 48, 96, 112)))
        v4 = str(ipaddress.IPv4Address(rng.getrandbits(32)))
        text = rng.choice((str(address), address.exploded, v4, f"::ffff:{v4}"))
        at = rng.randrange(len(text))
        values += [text, text[:at] + rng.choice(":.0fg") + text[at + 1 :]]
    for value in values:
        try:
            ipaddress.ip_address(value)
            expected = True
        except ValueError:
            expected = False
        assert (IP.match(value) is not None) == expected, value


def test_ip_and_user_agent_are_read_never_stored() -> None:
    (found,) = run([ev("open", ip="17.1.2.3", user_agent="Mozilla/5.0")])
    stored = msgspec.structs.asdict(found)
    assert "ip" not in stored and "user_agent" not in stored
    assert "17.1.2.3" not in msgspec.json.encode(found).decode()


# --- over HTTP, on a real server ------------------------------------------------------------------


def test_get_lists_every_rule_enabled(server: Server, keys: dict[str, str]) -> None:
    org = f"mr-{uuid.uuid4().hex[:8]}"
    with server.client(server.key("read", org=_new_org(server, org))) as client:
        answer = client.get("/v1/machine-rules")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["version"] == 0
    assert [r["name"] for r in body["rules"]] == list(machine.NAMES)
    assert all(r["enabled"] for r in body["rules"])
    assert {r["name"]: r["can_turn_off"] for r in body["rules"]}["flagged"] is False
    assert all(r["label"] and r["help"] and r["needs"] for r in body["rules"])


def test_put_needs_admin_and_refuses_unknown_names(server: Server) -> None:
    org = _new_org(server, f"mr-{uuid.uuid4().hex[:8]}")
    with server.client(server.key("read", "ingest", org=org)) as client:
        assert client.put("/v1/machine-rules", json={"disabled": []}).status_code == 403
    with server.client(server.key("admin", org=org)) as admin:
        for body, message in (
            (
                {"disabled": ["link_burst", "bursts"]},
                "disabled: 'bursts' is not a machine rule; "
                "expected some of flagged, apple_proxy, scanner_agent, fast_after_delivery, link_burst",
            ),
            ({"disabled": ["flagged"]}, "disabled: 'flagged' cannot be turned off"),
            ({"disabled": "link_burst"}, "disabled: expected an array of rule names"),
            ({"rules": []}, "rules: unknown field"),
            (["link_burst"], "the body is not a JSON object"),
        ):
            answer = admin.put("/v1/machine-rules", json=body)
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"].startswith(message), answer.text
        answer = admin.put(
            "/v1/machine-rules",
            content=b'{"disabled": [',
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 400 and "not valid JSON" in answer.json()["error"]
        answer = admin.put(
            "/v1/machine-rules", content=b"x", headers={"Content-Type": "text/plain"}
        )
        assert answer.status_code == 415
        assert admin.get("/v1/machine-rules").json()["version"] == 0  # nothing stored


def test_put_turns_rules_off_and_on_again(server: Server) -> None:
    org = _new_org(server, f"mr-{uuid.uuid4().hex[:8]}")
    with server.client(server.key("admin", org=org)) as admin:
        answer = admin.put("/v1/machine-rules", json={"disabled": ["link_burst", "apple_proxy"]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["version"] == 1
        enabled = {r["name"]: r["enabled"] for r in admin.get("/v1/machine-rules").json()["rules"]}
        assert enabled == {
            "flagged": True,
            "apple_proxy": False,
            "scanner_agent": True,
            "fast_after_delivery": True,
            "link_burst": False,
        }
        again = admin.put("/v1/machine-rules", json={"disabled": []}).json()
        assert again["version"] == 2 and all(r["enabled"] for r in again["rules"])


def _at(campaign: str, type_: str, ms: int, id_: str, **fields: Any) -> dict[str, Any]:
    """An event ``ms`` after a minute ago, on ``campaign``'s email channel."""
    base = int(time.time() * 1000) - 60_000
    return {
        "id": id_,
        "time": base + ms,
        "campaign": campaign,
        "channel": "email",
        "type": type_,
        "profile": fields.pop("profile", "p-1"),
        **fields,
    }


@pytest.mark.server_process  # _stored reads the stopped server's data directory
def test_machine_events_are_stored_with_their_rule_and_never_dropped(fresh_server: Server) -> None:
    campaign = "mr-stored"
    events = [
        _at(campaign, "delivered", 0, "d-1"),
        _at(campaign, "open", 500, "o-flagged", machine=True),
        _at(campaign, "open", 700, "o-apple", user_agent="Mozilla/5.0", ip="17.3.4.5"),
        _at(
            campaign,
            "click",
            900,
            "c-scan",
            url="https://x.example/a",
            user_agent="python-requests/2.31",
        ),
        _at(campaign, "open", 20_000, "o-gmail", user_agent=GMAIL_UA, ip="66.249.84.3"),
        _at(campaign, "open", 30_000, "o-person", user_agent=HUMAN_UA, ip="81.2.69.160"),
    ]
    with fresh_server.client(fresh_server.key("ingest", "read")) as client:
        assert post(client, events) == {"accepted": 6, "duplicates": 0, "rejected": []}
        totals = client.get(f"/v1/campaigns/{campaign}/totals", params={"channel": "email"})
        assert totals.status_code == 200, totals.text
        assert totals.json()["metrics"]["opens"] == 4  # machine opens are counted too
    fresh_server.stop()
    assert dict(_stored(fresh_server.data, campaign)) == {
        "d-1": (0, ""),
        "o-flagged": (1, "flagged"),
        "o-apple": (1, "apple_proxy"),
        "c-scan": (1, "scanner_agent"),
        "o-gmail": (0, ""),
        "o-person": (0, ""),
    }


@pytest.mark.server_process  # _stored reads the stopped server's data directory
def test_a_rule_the_org_turns_off_stops_deciding_at_once(fresh_server: Server) -> None:
    campaign = "mr-switch"
    apple = {"user_agent": "Mozilla/5.0", "ip": "17.3.4.5"}
    with fresh_server.client(fresh_server.key("ingest", "read", "admin")) as client:
        assert post(client, [_at(campaign, "open", 0, "o-on", **apple)])["accepted"] == 1
        assert (
            client.put("/v1/machine-rules", json={"disabled": ["apple_proxy"]}).status_code == 200
        )
        assert (
            post(
                client,
                [
                    _at(campaign, "open", 100, "o-off", profile="p-2", **apple),
                    _at(campaign, "open", 200, "o-flag", profile="p-3", machine=True, **apple),
                ],
            )["accepted"]
            == 2
        )
        assert client.put("/v1/machine-rules", json={"disabled": []}).status_code == 200
        assert (
            post(client, [_at(campaign, "open", 300, "o-on-again", profile="p-4", **apple)])[
                "accepted"
            ]
            == 1
        )
    fresh_server.stop()
    assert dict(_stored(fresh_server.data, campaign)) == {
        "o-on": (1, "apple_proxy"),
        "o-off": (0, ""),
        "o-flag": (1, "flagged"),
        "o-on-again": (1, "apple_proxy"),
    }


def _new_org(server: Server, name: str) -> str:

    server.create_org(name)
    return name


#: Prints (id, machine, machine_rule) of a campaign's stored events: argv data dir, campaign.
_READ_STORED = """
import json, sys
from pathlib import Path
from livereport.store.chdb import ChdbStore
store = ChdbStore(Path(sys.argv[1]))
rows = store.execute("SELECT id, machine, machine_rule FROM {db}.events WHERE campaign = %(c)s",
                     {"c": sys.argv[2]})
print(json.dumps([[r[0], [int(r[1]), r[2]]] for r in rows]))
"""


def _stored(data: Path, campaign: str) -> list[tuple[str, tuple[int, str]]]:
    """(id, (machine, machine_rule)) of the campaign's stored events, read by a child process
    (one embedded engine per process) once the server has stopped."""
    done = subprocess.run(
        [sys.executable, "-c", _READ_STORED, str(data / "events"), campaign],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = msgspec.json.decode(done.stdout.strip().splitlines()[-1])
    return [(id_, (flag, rule)) for id_, (flag, rule) in rows]
