"""`livereport bounces reclassify` / POST /v1/bounce-rules/reclassify on a real server: bounces
stored through the real ingest (POST /v1/events, POST /v1/returns) take the org's rules set
afterwards, and the campaign report's bounce widgets equal counts made by hand from the
events posted; another org with the same event ids keeps its own, the sender's reasons stay,
a dry run changes nothing, and only an admin may ask.

Collected again on a ClickHouse server and on a cluster (test_reclassify_on_*.py).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from conftest import Server, cli

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "returns"))
from mails import dsn

CAMPAIGN = "reclassify-spring"
RULES = [
    {"name": "gone", "reason": "Acme Gone", "category": "soft", "pattern": "user unknown"},
    {"name": "block", "reason": "Acme Block", "category": "hard", "status": "5.7."},
]
UNKNOWN = {
    "code": 550,
    "status": "5.1.1",
    "diagnostic": "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown",
}
REFUSED = {"status": "5.7.1", "diagnostic": "550 5.7.1 message refused"}
FULL = {"status": "4.2.2", "diagnostic": "452 4.2.2 mailbox full"}
HOUR_MS = 3_600_000

Pair = tuple[str, str]
GONE, BLOCK = ("Acme Gone", "soft"), ("Acme Block", "hard")
INVALID, MAIL_BLOCK = ("Invalid Recipient", "hard"), ("Mail Block", "ignored")
SENDER, SENDER_REASON = ("Sender Says", "hard"), ("Blocked By Us", "ignored")
MAILBOX_FULL = ("Mailbox Full", "soft")


def _bounce(
    id_: str, hours_ago: float, execution: str, variant: str, domain: str, **extra: Any
) -> dict[str, Any]:
    return {
        "id": id_,
        "time": int(time.time() * 1000 - hours_ago * HOUR_MS),
        "campaign": CAMPAIGN,
        "profile": f"p-{id_}",
        "channel": "email",
        "type": "bounce",
        "execution": execution,
        "variant": variant,
        "recipient_domain": domain,
        **extra,
    }


# (event, its (reason, category) as stored, as the org's rules make it) — labelled by hand.
# fmt: off
BOUNCES: list[tuple[dict[str, Any], Pair, Pair]] = [
    (_bounce("u-1", 0.2, "run-1", "A", "gmail.com", smtp=UNKNOWN), INVALID, GONE),
    (_bounce("u-2", 3, "run-2", "B", "gmail.com", smtp=UNKNOWN), INVALID, GONE),
    (_bounce("u-3", 9, "run-1", "B", "yahoo.com", smtp=UNKNOWN), INVALID, GONE),
    (_bounce("u-4", 20, "run-2", "A", "example.org", smtp=UNKNOWN), INVALID, GONE),
    (_bounce("k-1", 1, "run-1", "A", "gmail.com", smtp=REFUSED), MAIL_BLOCK, BLOCK),
    (_bounce("k-2", 15, "run-2", "B", "yahoo.com", smtp=REFUSED), MAIL_BLOCK, BLOCK),
    # The sender's own reason and category stand; so does a reason it gave alone.
    (_bounce("s-1", 2, "run-1", "A", "gmail.com", smtp=UNKNOWN, reason="Sender Says", bounce="hard"), SENDER, SENDER),
    (_bounce("s-2", 4, "run-2", "B", "gmail.com", smtp=REFUSED, reason="Blocked By Us"), SENDER_REASON, SENDER_REASON),
    # No org rule matches: the defaults still decide.
    (_bounce("m-1", 5, "run-1", "A", "gmail.com", smtp=FULL), MAILBOX_FULL, MAILBOX_FULL),
    # No SMTP data: the sender's reason, never the rules'.
    (_bounce("n-1", 6, "run-2", "A", "gmail.com", reason="Mailbox Full"), MAILBOX_FULL, MAILBOX_FULL),
]
# fmt: on
#: Before the window: stays as stored (and no report shows it).
OLD = _bounce("old-1", 30, "run-1", "A", "gmail.com", smtp=UNKNOWN)
OTHERS = [
    *(
        {**e, "id": f"sent-{e['id']}", "type": "sent", "time": e["time"] - 60_000}
        for e, _, _ in BOUNCES
    ),
    {**_bounce("sms-1", 1, "run-1", "", ""), "channel": "sms", "code": "30005"},
    {**_bounce("d-1", 1, "run-1", "A", "gmail.com"), "type": "delivered"},
]
RETURN_ID = f"reclassify-dsn-{uuid.uuid4().hex[:8]}"


@dataclass
class World:
    """Two orgs of one server with the same events; org A gets the rules afterwards."""

    server: Server
    keys: dict[str, str]
    return_event: str = ""

    def client(self, key: str) -> httpx.Client:
        return self.server.client(self.keys[key])


@pytest.fixture(scope="module")
def world(server: Server) -> World:
    suffix = uuid.uuid4().hex[:8]
    for org in ("a", "b"):
        server.create_org(f"rc-{org}-{suffix}")
    keys = {
        "admin": server.key("admin", org=f"rc-a-{suffix}"),
        "both": server.key("ingest", "read", org=f"rc-a-{suffix}"),
        "read": server.key("read", org=f"rc-a-{suffix}"),
        "other": server.key("ingest", "read", "admin", org=f"rc-b-{suffix}"),
    }
    found = World(server, keys)
    for key in ("both", "other"):
        with found.client(key) as client:
            response = client.post("/v1/events", json=[e for e, _, _ in BOUNCES] + [OLD, *OTHERS])
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == len(BOUNCES) + 1 + len(OTHERS), response.text
            answer = client.post(
                "/v1/returns",
                content=dsn(RETURN_ID, CAMPAIGN, "p-return"),
                headers={"Content-Type": "message/rfc822"},
            ).json()
            assert answer["outcome"] == "accepted", answer
            found.return_event = answer["event"]["id"]
    return found


def expected(after: bool, execution: str | None = None) -> Counter[Pair]:
    """Email bounces of the window per (reason, category), counted from the events posted."""
    counts = Counter(
        (a if after else b)
        for e, b, a in BOUNCES
        if execution is None or e["execution"] == execution
    )
    if execution in (None, "morning"):  # the returned mail's original names execution morning
        counts[GONE if after else INVALID] += 1
    return counts


def widgets(client: httpx.Client, execution: str | None = None) -> dict[str, Any]:
    """The email tab's bounce widgets as (reason, category) counts, and the KPIs."""
    params = {"tab": "email", **({"execution": execution} if execution else {})}
    response = client.get(f"/v1/campaigns/{quote(CAMPAIGN)}/report", params=params)
    assert response.status_code == 200, response.text
    found = {w["id"]: w["data"] for w in response.json()["widgets"]}
    return {
        "reasons": {
            r["key"]: r["metrics"]["bounces"] for r in found["email.bounce_reasons"]["rows"]
        },
        "categories": {
            r["key"]: r["metrics"]["bounces"] for r in found["email.bounce_categories"]["rows"]
        },
        "bounces": found["email.sending_performance"]["metrics"]["bounces"],
    }


def by_hand(counts: Counter[Pair]) -> dict[str, Any]:
    reasons: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    for (reason, category), n in counts.items():
        reasons[reason] += n
        categories[category] += n
    return {
        "reasons": dict(reasons),
        "categories": dict(categories),
        "bounces": sum(counts.values()),
    }


def totals(client: httpx.Client) -> dict[str, int]:
    response = client.get(f"/v1/campaigns/{quote(CAMPAIGN)}/totals", params={"channel": "email"})
    assert response.status_code == 200, response.text
    m = response.json()["metrics"]
    return {k: m[k] for k in ("bounces", "hard_bounces", "soft_bounces", "ignored_bounces", "sent")}


def explain(client: httpx.Client, event_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/campaigns/{quote(CAMPAIGN)}/bounces/{quote(event_id)}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def reclassify(client: httpx.Client, body: Any = None, **kwargs: Any) -> httpx.Response:
    return client.post("/v1/bounce-rules/reclassify", json=body, **kwargs)


def moves(counts: list[dict[str, Any]]) -> dict[Pair, tuple[int, int]]:
    return {(c["reason"], c["category"]): (c["before"], c["after"]) for c in counts}


def hand_moves() -> dict[Pair, tuple[int, int]]:
    before, after = expected(False), expected(True)
    return {k: (before[k], after[k]) for k in set(before) | set(after)}


# --- the tests, in order: each one leaves the world as the next one expects --------------


def test_before_the_rules_the_reports_show_what_was_stored(world: World) -> None:
    for key in ("both", "other"):
        with world.client(key) as client:
            assert widgets(client) == by_hand(expected(after=False))
            assert widgets(client, "run-1") == by_hand(expected(False, "run-1"))


def test_only_an_admin_may_reclassify(world: World) -> None:
    for key in ("read", "both"):
        with world.client(key) as client:
            response = reclassify(client, {"dry_run": True})
            assert response.status_code == 403, (key, response.text)
            assert "admin" in response.json()["error"]
    with httpx.Client(base_url=world.server.url, timeout=30) as anonymous:
        assert reclassify(anonymous).status_code == 401


def test_bad_requests_say_what_is_expected(world: World) -> None:
    cases: list[tuple[dict[str, Any], int, list[str]]] = [
        ({"json": [True]}, 400, ["not an object", "dry_run"]),
        ({"json": {"dry_run": "yes"}}, 400, ["dry_run", "expected true or false"]),
        ({"json": {"dryrun": True}}, 400, ["dryrun: unknown field", "expected only dry_run"]),
        (
            {"content": b"{", "headers": {"Content-Type": "application/json"}},
            400,
            ["not valid JSON"],
        ),
        (
            {"content": b"dry_run=1", "headers": {"Content-Type": "text/plain"}},
            415,
            ["application/json"],
        ),
    ]
    with world.client("admin") as client:
        for request, status, words in cases:
            response = client.post("/v1/bounce-rules/reclassify", **request)
            assert response.status_code == status, (request, response.text)
            message = response.json()["error"]
            assert all(w in message for w in words), (words, message)
    failed = cli(
        "bounces", "reclassify", "--url", world.server.url, data=world.server.data, check=False
    )
    assert failed.returncode == 2 and "--url needs --key" in failed.stderr


def test_without_rules_nothing_changes(world: World) -> None:
    with world.client("admin") as client:
        response = reclassify(client)
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert (outcome["rules_version"], outcome["changed"]) == (0, 0), outcome


def test_a_dry_run_shows_the_change_and_makes_none(world: World) -> None:
    with world.client("admin") as client:
        assert client.put("/v1/bounce-rules", json={"rules": RULES}).status_code == 200
        response = reclassify(client, {"dry_run": True})
        assert response.status_code == 200, response.text
        outcome = response.json()
    assert outcome["dry_run"] is True and outcome["pending"] is False
    assert (outcome["bounces"], outcome["examined"]) == (11, 10)
    assert (outcome["changed"], outcome["kept"], outcome["unchanged"]) == (7, 2, 1)
    assert outcome["campaigns"] == 1
    assert moves(outcome["counts"]) == hand_moves()
    found = {
        (tuple(c["from"].values()), tuple(c["to"].values())): c["bounces"]
        for c in outcome["changes"]
    }
    assert found == {(INVALID, GONE): 5, (MAIL_BLOCK, BLOCK): 2}
    with world.client("both") as client:
        assert widgets(client) == by_hand(expected(after=False))
        assert explain(client, "u-1")["reason"] == INVALID[0]


def test_reclassify_makes_every_bounce_widget_equal_the_hand_count(world: World) -> None:
    with world.client("both") as client:
        sent_before = totals(client)["sent"]
    done = cli(
        "bounces",
        "reclassify",
        "--url",
        world.server.url,
        "--key",
        world.keys["admin"],
        "--json",
        data=world.server.data,
    )
    outcome = json.loads(done.stdout)
    assert outcome["dry_run"] is False and outcome["changed"] == 7, outcome
    assert moves(outcome["counts"]) == hand_moves()
    with world.client("both") as client:
        assert widgets(client) == by_hand(expected(after=True))
        for execution in ("run-1", "run-2", "morning"):
            assert widgets(client, execution) == by_hand(expected(True, execution)), execution
        after = expected(after=True)
        assert totals(client) == {
            "bounces": sum(after.values()),
            "sent": sent_before,
            **{
                f"{c}_bounces": sum(n for (_, cat), n in after.items() if cat == c)
                for c in ("hard", "soft", "ignored")
            },
        }
        # What each stored bounce says now, and why.
        why = explain(client, "u-1")
        assert (why["reason"], why["category"], why["rule"], why["decided_by"]) == (
            *GONE,
            "org:gone",
            "rules",
        )
        assert explain(client, world.return_event)["reason"] == GONE[0]
        assert (explain(client, "k-2")["reason"], explain(client, "k-2")["category"]) == BLOCK
        sender = explain(client, "s-1")
        assert ((sender["reason"], sender["category"]), sender["decided_by"]) == (SENDER, "sender")
        assert explain(client, "s-2")["reason"] == SENDER_REASON[0]
        assert explain(client, "old-1")["reason"] == INVALID[0]  # before the window: as stored


def test_the_other_org_with_the_same_ids_is_untouched(world: World) -> None:
    with world.client("other") as client:
        assert widgets(client) == by_hand(expected(after=False))
        assert explain(client, "u-1")["reason"] == INVALID[0]
        assert explain(client, world.return_event)["reason"] == INVALID[0]
        # Its own reclassification has no rules to apply, and leaves org A as it is.
        outcome = reclassify(client).json()
        assert (outcome["changed"], outcome["rules_version"]) == (0, 0), outcome
    with world.client("both") as client:
        assert widgets(client) == by_hand(expected(after=True))


def test_a_second_run_finds_nothing_to_change(world: World) -> None:
    with world.client("admin") as client:
        outcome = reclassify(client).json()
    assert (outcome["changed"], outcome["kept"], outcome["unchanged"]) == (0, 2, 8), outcome
    assert moves(outcome["counts"]) == {k: (n, n) for k, n in expected(after=True).items()}
    with world.client("both") as client:
        assert widgets(client) == by_hand(expected(after=True))


def test_the_command_prints_a_table_of_before_and_after(world: World) -> None:
    done = cli(
        "bounces",
        "reclassify",
        "--dry-run",
        "--url",
        world.server.url,
        "--key",
        world.keys["admin"],
        data=world.server.data,
    )
    assert "Acme Gone" in done.stdout and "before" in done.stdout and "after" in done.stdout
    assert "0 of 10 bounces with SMTP data would change" in " ".join(done.stderr.split())
    assert "dry run: nothing was changed" in " ".join(done.stderr.split())
    refused = cli(
        "bounces",
        "reclassify",
        "--url",
        world.server.url,
        "--key",
        world.keys["read"],
        data=world.server.data,
        check=False,
    )
    assert refused.returncode == 1 and "admin scope" in refused.stderr
