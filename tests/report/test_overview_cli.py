"""`livereport campaigns`: the campaign overview in the terminal, through a server and on a
data directory, with the same numbers as the API; bad options are refused before asking."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from conftest import Server, cli, post

MARKUP = "[bold red]launch[/bold red] <b>"


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Server, str, dict[str, int]]]:
    server = Server(tmp_path_factory.mktemp("overview-cli") / "data").start()
    key = server.key("ingest", "read")
    now = datetime.now(UTC)
    # campaign → (age in seconds of each sent email, delivered of them)
    plan = {
        "cli-now": ((60, 120, 180), 2),
        "cli-hours": ((3 * 3600, 4 * 3600), 1),
        "cli-days": ((3 * 86_400,) * 4, 4),
        MARKUP: ((600,), 0),
    }
    events = []
    for campaign, (ages, delivered) in plan.items():
        for i, age in enumerate(ages):
            common = {
                "time": (now - timedelta(seconds=age)).isoformat(),
                "campaign": campaign,
                "channel": "email",
                "profile": f"p{i}",
            }
            events.append({**common, "id": uuid.uuid4().hex, "type": "sent"})
            if i < delivered:
                events.append({**common, "id": uuid.uuid4().hex, "type": "delivered"})
    with server.client(key) as client:
        post(client, events)
    sent_24h = {c: sum(1 for age in ages if age < 86_400) for c, (ages, _) in plan.items()}
    yield server, key, sent_24h
    server.stop()


def test_the_same_rows_as_the_api_through_the_server_and_on_the_data_directory(
    seeded: tuple[Server, str, dict[str, int]],
) -> None:
    server, key, sent_24h = seeded
    through = json.loads(
        cli(
            "campaigns",
            "--sort",
            "sent",
            "--json",
            "--url",
            server.url,
            "--key",
            key,
            data=server.data,
        ).stdout
    )
    with server.client(key) as client:
        api = client.get("/v1/campaigns", params={"sort": "sent", "limit": "50"}).json()
    assert [r["campaign"] for r in through["campaigns"]] == [
        r["campaign"] for r in api["campaigns"]
    ]
    assert {r["campaign"]: r["metrics"]["sent"] for r in through["campaigns"]} == sent_24h
    assert [r["campaign"] for r in through["campaigns"]] == [
        "cli-now",
        "cli-hours",
        MARKUP,
        "cli-days",
    ]
    server.stop()
    try:  # no server: the data directory itself
        local = json.loads(
            cli(
                "campaigns", "--period", "7d", "--sort", "sent", "--asc", "--json", data=server.data
            ).stdout
        )
        assert [(r["campaign"], r["metrics"]["sent"]) for r in local["campaigns"]] == [
            (MARKUP, 1),
            ("cli-hours", 2),
            ("cli-now", 3),
            ("cli-days", 4),
        ]
        shown = cli("campaigns", "--status", "sending", data=server.data).stdout
        assert "campaigns 1–2 of 2" in shown, shown
        assert "cli-now" in shown and "[bold red]launch[/" in shown, shown  # markup shown as text
        assert "cli-days" not in shown
        table = cli(
            "campaigns", "--period", "7d", "--search", "CLI-", "--limit", "2", data=server.data
        ).stdout
        assert "campaigns 1–2 of 3" in table and "Delivery rate" in table and "66.7%" in table, (
            table
        )
        assert "sending 1, finished 0, quiet 2" in table, table
    finally:
        server.start()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--sort", "opens"), "Invalid value for '--sort'"),
        (("--status", "paused"), "Invalid value for '--status'"),
        (("--limit", "0"), "Invalid value for '--limit'"),
        (("--period", "7d", "--from", "2026-11-30T08:00:00Z"), "period and from/to are both given"),
        (("--from", "2026-11-30T08:00:30Z"), "is not a whole minute"),
    ],
)
def test_bad_options_are_refused_before_asking(
    seeded: tuple[Server, str, dict[str, int]], args: tuple[str, ...], message: str
) -> None:
    server, _, _ = seeded
    done = cli("campaigns", *args, data=server.data, check=False)
    assert done.returncode == 2 and message in done.stderr, done.stderr
