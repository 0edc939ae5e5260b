"""`livereport report` over any period: through a server and on a data directory, the same
numbers as the API; what it refuses, it refuses before asking anyone."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import Server, cli, post


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    server = Server(tmp_path_factory.mktemp("periods-cli") / "data").start()
    key = server.key("ingest", "read")
    campaign = f"cli-periods-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    with server.client(key) as client:
        post(
            client,
            [
                {
                    "id": uuid.uuid4().hex,
                    "time": (now - timedelta(seconds=age)).isoformat(),
                    "campaign": campaign,
                    "type": "sent",
                    "channel": "email",
                    "profile": f"p{age}",
                }
                for age in (60, 3 * 3600, 30 * 3600, 3 * 86_400, 3 * 86_400 + 60)
            ],
        )
    yield server, key, campaign
    server.stop()


def _sent(body: dict[str, object]) -> int:
    widgets = body["widgets"]
    assert isinstance(widgets, list)
    return next(int(w["data"]["total"]["sent"]) for w in widgets if w["kind"] == "statistics")


def test_a_period_through_the_server_and_on_the_data_directory(
    seeded: tuple[Server, str, str], tmp_path: Path
) -> None:
    server, key, campaign = seeded
    for period, sent in (("1h", 1), ("24h", 2), ("7d", 5)):
        body = json.loads(
            cli(
                "report",
                campaign,
                "--tab",
                "email",
                "--period",
                period,
                "--json",
                "--url",
                server.url,
                "--key",
                key,
                data=server.data,
            ).stdout
        )
        assert (body["period"], _sent(body)) == (period, sent)
    start = (datetime.now(UTC) - timedelta(days=4)).replace(second=0, microsecond=0)
    end = start + timedelta(days=2)
    body = json.loads(
        cli(
            "report",
            campaign,
            "--tab",
            "email",
            "--from",
            start.isoformat(),
            "--to",
            end.isoformat(),
            "--json",
            "--url",
            server.url,
            "--key",
            key,
            data=server.data,
        ).stdout
    )
    assert (body["period"], body["live"], _sent(body)) == ("custom", False, 2)
    server.stop()
    try:  # no server: the data directory itself
        body = json.loads(
            cli(
                "report", campaign, "--tab", "email", "--period", "7d", "--json", data=server.data
            ).stdout
        )
        assert _sent(body) == 5
        shown = cli(
            "report", campaign, "--tab", "email", "--period", "7d", "--compare", data=server.data
        ).stdout
        assert "The last 7 days:" in shown and "before" in shown and "change" in shown
    finally:
        server.start()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--period", "7d", "--from", "2026-11-30T08:00:00Z"], "both given"),
        (["--to", "2026-11-30T08:00:00Z"], "to is given without from"),
        (["--from", "2026-11-30T08:00:30Z"], "not a whole minute"),
        (["--period", "2d"], "'2d' is not one of"),
    ],
)
def test_a_bad_period_is_a_usage_error(
    seeded: tuple[Server, str, str], args: list[str], says: str
) -> None:
    server, _, campaign = seeded
    result = cli("report", campaign, *args, data=server.data, check=False)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr
