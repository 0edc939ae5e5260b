"""Event time, not arrival time, decides where an event is counted: a late event lands in its
own minute; one more than 5 minutes ahead of the server's clock is refused, one less is kept."""

from __future__ import annotations

import time

import httpx

from conftest import Server


def test_late_events_land_in_their_own_bucket_and_far_future_ones_are_refused(
    server: Server, keys: dict[str, str]
) -> None:
    now = time.time()
    late = (int(now) - 3 * 3600) // 300 * 300 + 150  # the middle of a 5-minute bucket, 3 h ago

    def sent(id_: str, at: float) -> dict[str, object]:
        return {
            "id": id_,
            "time": int(at * 1000),
            "campaign": "clock",
            "channel": "email",
            "type": "sent",
            "profile": f"p-{id_}",
        }

    with server.client(keys["both"]) as c:
        result = c.post(
            "/v1/events",
            json=[
                sent("late", late),
                sent("now", now),
                sent("soon", now + 240),
                sent("far", now + 420),
            ],
        ).json()
        assert result["accepted"] == 3, result
        [rejected] = result["rejected"]
        assert rejected["id"] == "far" and "future" in rejected["errors"][0], rejected
        series = c.get("/v1/campaigns/clock/series", params={"channel": "email", "metrics": "sent"})
        assert series.status_code == 200, series.text
    body = series.json()
    counts = dict(zip(body["t"], body["series"]["sent"], strict=True))
    late_bucket = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(late - 150))
    assert counts[late_bucket] == 1, {t: n for t, n in counts.items() if n}
    assert body["series"]["sent"][-1] >= 1  # the event sent now, in the newest bucket
    assert sum(body["series"]["sent"]) in (2, 3)  # "soon" is shown once its bucket is in the window


def test_a_refused_future_event_says_what_is_expected(server: Server, keys: dict[str, str]) -> None:
    response = httpx.post(
        f"{server.url}/v1/events",
        headers={"Authorization": f"Bearer {keys['ingest']}"},
        json=[
            {
                "id": "x",
                "time": int((time.time() + 3600) * 1000),
                "campaign": "clock2",
                "channel": "email",
                "type": "sent",
                "profile": "p",
            }
        ],
    )
    assert response.status_code == 200
    [rejected] = response.json()["rejected"]
    assert "more than 5 minutes in the future" in rejected["errors"][0]
