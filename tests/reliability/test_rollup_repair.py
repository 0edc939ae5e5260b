"""An insert cut by a crash leaves its days in the insert journal; at the next start those
days' rollups are rebuilt from the events, and every report reads the same as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from conftest import Server
from livereport import simulate
from livereport.report.catalogue import TABS

#: Their subject is the server's process (what it repairs when it starts again): fresh_server is a
#: `livereport serve` child process (conftest).
SERVER_PROCESS = True

CAMPAIGN = "repair"


def without_as_of(value: Any) -> Any:
    """A report without the moments it is as of: the restart may cross a minute boundary,
    which moves the window (all events lie in its last hour either way)."""
    if isinstance(value, dict):
        return {k: without_as_of(v) for k, v in value.items() if k not in ("as_of", "window")}
    if isinstance(value, list):
        return [without_as_of(v) for v in value]
    return value


def everything(srv: Server, key: str) -> dict[str, Any]:
    with srv.client(key) as c:
        reports = {
            tab: c.get(f"/v1/campaigns/{CAMPAIGN}/report", params={"tab": tab}) for tab in TABS
        }
        campaigns = c.get("/v1/campaigns")
    assert all(r.status_code == 200 for r in [*reports.values(), campaigns])
    return without_as_of(
        {"campaigns": campaigns.json(), **{t: r.json() for t, r in reports.items()}}
    )


def test_journaled_days_are_rebuilt_at_start_to_the_same_reports(fresh_server: Server) -> None:
    key = fresh_server.key("ingest", "read")
    end = datetime.now(UTC)
    start = end - timedelta(hours=1)
    history = simulate.generate(
        seed=3,
        campaign=CAMPAIGN,
        profiles=300,
        start=start,
        end=end,
        executions=("a", "b"),
        variants=("A", "B"),
    )
    with httpx.Client(timeout=60) as client:
        sent = simulate.post_events(client, fresh_server.url, key, history)
    assert sent["accepted"] > 1000
    before = everything(fresh_server, key)

    fresh_server.stop()
    days = sorted({int(d.strftime("%Y%m%d")) for d in (start, end)})
    (fresh_server.data / "insert-journal.json").write_text(json.dumps(days))
    fresh_server.start()

    assert not (fresh_server.data / "insert-journal.json").exists()
    log = (fresh_server.data.parent / f"{fresh_server.data.name}-server.log").read_text()
    assert f"rebuilt the rollups of days {days}" in log
    assert everything(fresh_server, key) == before
