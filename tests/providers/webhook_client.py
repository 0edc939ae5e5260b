"""Helpers of the provider webhook tests: configure a provider with the CLI, read fixtures,
read a campaign's totals and breakdowns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from conftest import Server, cli

FIXTURES = Path(__file__).parent / "fixtures"


def configure(server: Server, provider: str, secret: str, *options: str) -> str:
    """Store the provider's secret on the server's data directory; return the webhook path."""
    path = cli(
        "webhooks",
        "set",
        provider,
        "--secret-stdin",
        *options,
        data=server.data,
        stdin=secret + "\n",
    ).stdout.strip()
    assert path.startswith(f"/v1/webhooks/{provider}/wh_"), path
    return path


def fixture(name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return found


def totals(client: httpx.Client, campaign: str, channel: str) -> dict[str, Any]:
    response = client.get(
        f"/v1/campaigns/{quote(campaign, safe='')}/totals", params={"channel": channel}
    )
    assert response.status_code == 200, response.text
    metrics: dict[str, Any] = response.json()["metrics"]
    return metrics


def breakdown(client: httpx.Client, campaign: str, channel: str, by: str) -> dict[str, Any]:
    response = client.get(
        f"/v1/campaigns/{quote(campaign, safe='')}/breakdown", params={"channel": channel, "by": by}
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found
