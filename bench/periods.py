"""Report latency over long periods (issue 18): each tab over the last 30 days, from the
rollups beside the raw events, for a campaign whose events span the whole 30 days.

    .venv/bin/python bench/periods.py [--events 1000000] [--runs 10] [--raw-runs 3]

One process, the embedded engine on a temporary directory. The campaign's events are made by
the engine (``INSERT … SELECT … FROM numbers()``, the materialized views building the
rollups), spread over the last 30 days, and the rollups are merged. Then every tab is loaded
with ``period=30d`` as ``GET …/report?tab=&period=30d`` does (without the HTTP layer, the
result cache off): from the rollups, and from the raw events (the baseline,
``Reports(raw=True)``; the numbers are checked equal). The last 24 hours of the same campaign
are timed beside them. Prints a markdown table; no target is met by this script alone, it
says where a period stands against issue 18's (30 days of 100 M events, p99 ≤ 300 ms).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import generate_sql, header, load_average, percentile
from livereport.report import period
from livereport.report.build import Reports
from livereport.report.catalogue import TABS
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate
from query import timed, widgets

ORG = 1
DAYS = 30
ROLLUPS = ("minute_counts", "minute_uniques", "dim_counts", "dim_uniques", "campaigns")


def make(store: ChdbStore, campaign: str, count: int, now: int) -> float:
    started = time.perf_counter()
    for first in range(0, count, 1_000_000):
        size = min(1_000_000, count - first)
        start = now - DAYS * 86_400 + 120
        store.execute(generate_sql(ORG, campaign, first, size, start, now - 10, count))
    for table in ROLLUPS:
        store.execute(f"OPTIMIZE TABLE {{db}}.{table} FINAL")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="Events of the campaign.")
    parser.add_argument("--runs", type=int, default=10, help="Timed loads per tab (rollups).")
    parser.add_argument("--raw-runs", type=int, default=3, help="Timed loads per tab (raw events).")
    args = parser.parse_args()
    print(header(f"bench/periods.py --events {args.events:,}"))
    with tempfile.TemporaryDirectory(prefix="livereport-periods-") as directory:
        store = ChdbStore(Path(directory) / "events")
        migrate(store)
        now = int(time.time())
        campaign = "bench-periods"
        made = make(store, campaign, args.events, now)
        print(f"made {args.events:,} events over {DAYS} days in {made:.0f} s")
        plain, raw = Reports(store, cache=False), Reports(store, raw=True)
        rows = []
        for tab in TABS:
            window = plain.window(ORG, campaign, period.asked("30d", None, None), now=time.time())
            month_ms, month = timed(
                lambda t=tab, w=window: plain.report(ORG, campaign, t, window=w), args.runs
            )
            raw_ms, baseline = timed(
                lambda t=tab, w=window: raw.report(ORG, campaign, t, window=w), args.raw_runs
            )
            day_ms, _ = timed(lambda t=tab: plain.report(ORG, campaign, t), args.runs)
            same = widgets(month) == widgets(baseline)
            rows.append(
                f"| {tab} | {statistics.median(month_ms):,.0f} | {percentile(month_ms, 0.99):,.0f} "
                f"| {statistics.median(raw_ms):,.0f} | {statistics.median(raw_ms) / statistics.median(month_ms):.1f}× "
                f"| {statistics.median(day_ms):,.0f} | {'yes' if same else 'NO'} |"
            )
            print(rows[-1], flush=True)
        print()
        print(f"30 days, {args.events:,} events, no result cache; ms")
        print()
        print(
            "| tab | 30 d p50 | 30 d p99 | raw 30 d p50 | rollups vs raw | 24 h p50 | same numbers |"
        )
        print("| :--- | ---: | ---: | ---: | ---: | ---: | :--- |")
        print("\n".join(rows))
        print(f"\nload average after: {load_average()}")
        store.close()


if __name__ == "__main__":
    main()
