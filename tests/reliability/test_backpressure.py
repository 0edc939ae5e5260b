"""Storage slower than input: ingest answers 503 with Retry-After instead of buffering without
bound, memory stays bounded, and every event that got a 200 is stored exactly once."""

from __future__ import annotations

import time
from pathlib import Path

from reliability_client import Sender, peak_rss_kb, scrape, sent_total

from conftest import Server

SLOW = {
    "LIVEREPORT_TEST_INSERT_DELAY_MS": "200",  # at most ~5 inserts a second …
    "LIVEREPORT_FLUSH_MAX_EVENTS": "1000",  # … of 1000 events: slower than the senders
    "LIVEREPORT_MAX_PENDING_EVENTS": "4000",
}


def test_slow_storage_gets_503_with_retry_after_and_loses_nothing(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", env=SLOW).start()
    try:
        key = srv.key("ingest", "read")
        assert srv.process is not None
        rss_start = peak_rss_kb(srv.process.pid)
        sender = Sender(srv, key, "overload", batch=500).start(threads=16)
        time.sleep(6.0)
        depth = scrape(srv.url)["livereport_buffer_events"]
        sender.stop(finish=True)  # every batch retried until it gets a 200
        peak = peak_rss_kb(srv.process.pid)
        metrics = scrape(srv.url)
        print(
            f"backpressure: {len(sender.acked)} acked, statuses {sender.statuses}, "
            f"buffer depth {depth:.0f}, peak RSS {peak / 1024:.0f} MiB "
            f"(after start {rss_start / 1024:.0f} MiB)"
        )
        assert sender.statuses.get(503, 0) > 0, "storage was never the bottleneck"
        assert sender.retry_after_missing == 0
        assert metrics["livereport_ingest_overloaded_total"] == sender.statuses[503]
        assert depth <= 4000
        assert peak - rss_start < 300 * 1024, "memory grew with the backlog"
        assert sent_total(srv, key, "overload") == len(sender.acked) == sender.accepted
        assert metrics["livereport_events_accepted_total"] == len(sender.acked)
    finally:
        srv.stop()
