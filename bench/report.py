"""Report latency: every tab of one big campaign, read repeatedly from a real server.

    .venv/bin/python bench/report.py --events 1000000 [--runs 30]

Loads the events (one campaign, every channel, spread over the last 23 hours) into a fresh
`livereport serve` through the ingest API, then times GET /v1/campaigns/{c}/report for each
tab, and a totals, a breakdown and a series query; prints median and p99 in ms.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec

# bench/ is the script's folder, hence on sys.path: the server helper and generator are shared.
from ingest import BenchServer, machine, post_all, synthetic_events
from livereport.report.catalogue import TABS

CAMPAIGN = "bench-report"


def bodies(count: int, batch: int, start: datetime, end: datetime) -> Iterator[bytes]:
    """Encoded request bodies, made a batch at a time to keep the memory small."""
    encoder = msgspec.json.Encoder()
    events = synthetic_events(count, CAMPAIGN, start, end, profiles=max(count // 10, 1000))
    while chunk := list(itertools.islice(events, batch)):
        yield encoder.encode(chunk)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def time_query(
    client: httpx.Client, path: str, params: dict[str, str], runs: int
) -> tuple[float, list[float]]:
    """(first call in ms, the next ``runs`` calls in ms)."""
    samples = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        response = client.get(path, params=params)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"GET {path} {params}: {response.status_code} {response.text[:300]}")
        samples.append(elapsed)
    return samples[0], samples[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30, help="Timed calls per query.")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    print(f"# livereport report benchmark — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}\n")
    now = datetime.now(UTC)
    started = time.perf_counter()
    encoded = list(
        bodies(args.events, args.batch, now - timedelta(hours=23), now - timedelta(seconds=10))
    )
    print(f"generated and encoded {args.events:,} events in {time.perf_counter() - started:.1f} s")

    root = Path(tempfile.mkdtemp(prefix="livereport-bench-"))
    server = BenchServer(root / "data").start()
    try:
        key = server.key("ingest", "read")
        loaded = post_all(server.url, key, encoded, False, args.clients)
        del encoded
        print(
            f"loaded {loaded.accepted:,} events in {loaded.seconds:.1f} s "
            f"({loaded.accepted / loaded.seconds:,.0f} events/s); server RSS "
            f"{server.rss_bytes() / 2**20:,.0f} MB, data {server.data_bytes() / 2**20:,.0f} MB\n"
        )

        queries: list[tuple[str, str, dict[str, str]]] = [
            (f"report tab={tab}", "report", {"tab": tab}) for tab in TABS
        ]
        queries += [
            ("totals channel=email", "totals", {"channel": "email"}),
            ("totals channel=campaign", "totals", {"channel": "campaign"}),
            (
                "breakdown email by=bounce_reason",
                "breakdown",
                {"channel": "email", "by": "bounce_reason"},
            ),
            (
                "breakdown email by=recipient_domain",
                "breakdown",
                {"channel": "email", "by": "recipient_domain"},
            ),
            (
                "series email sent,delivered,opens (5 min)",
                "series",
                {"channel": "email", "metrics": "sent,delivered,opens"},
            ),
        ]
        rows: list[tuple[str, float, float, float]] = []
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
            for label, endpoint, params in queries:
                first, samples = time_query(
                    client, f"/v1/campaigns/{CAMPAIGN}/{endpoint}", params, args.runs
                )
                rows.append((label, first, statistics.median(samples), percentile(samples, 0.99)))
            size: Any = len(
                client.get(f"/v1/campaigns/{CAMPAIGN}/report", params={"tab": "email"}).content
            )

        print(
            f"{loaded.accepted:,} events in one campaign; {args.runs} timed calls per query after "
            f"one untimed first call; one client, one call at a time\n"
        )
        print("| query | first call (ms) | median (ms) | p99 (ms) |")
        print("| --- | ---: | ---: | ---: |")
        for label, first, median, p99 in rows:
            print(f"| {label} | {first:.0f} | {median:.0f} | {p99:.0f} |")
        print(f"\n(the email tab's JSON is {size:,} bytes)")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
