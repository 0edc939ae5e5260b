"""Report routes reach any campaign id a sender may choose, slashes included."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from conftest import Server, post


def test_a_campaign_id_with_slashes_and_spaces_is_reachable(
    server: Server, keys: dict[str, str]
) -> None:
    campaign = "spring/sale 2026?x=1#top"
    with server.client(keys["both"]) as client:
        event = {
            "id": "slash-1",
            "time": datetime.now(UTC).isoformat(),
            "campaign": campaign,
            "channel": "email",
            "type": "sent",
            "profile": "p",
        }
        assert post(client, [event])["accepted"] == 1
        path = "/v1/campaigns/" + quote(campaign, safe="") + "/totals"
        response = client.get(path, params={"channel": "email"})
        assert response.status_code == 200, response.text
        assert response.json()["campaign"] == campaign
        assert response.json()["metrics"]["sent"] == 1
