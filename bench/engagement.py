"""What the engagement filter (issue 19) costs a live tab: the email, push and SMS tabs of one
campaign over the last 24 hours, counting all, only human or only machine opens and clicks.

    .venv/bin/python bench/engagement.py [--events 1000000] [--runs 10]

One process, the embedded engine on a temporary directory. The campaign's events are made by
the engine over the last 24 hours (a quarter of its opens and clicks a machine's), its
rollups merged and the live window's tables filled as ingest does. Each tab is loaded as
``GET …/report?tab=&engagement=`` does (without the HTTP layer, the result cache off), and the
human tab is checked equal to the same tab computed from the raw events. Prints a markdown
table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import generate_sql, header, load_average, percentile
from livereport.report.build import Reports
from livereport.store import window
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate
from query import timed, widgets

ORG = 1
ROLLUPS = (
    "minute_counts",
    "minute_uniques",
    "dim_counts",
    "dim_uniques",
    "campaigns",
    "engagement_counts",
    "engagement_uniques",
)
TABS = ("email", "push", "sms")
MACHINES = 25  # percent of opens and clicks


def make(store: ChdbStore, campaign: str, count: int, now: int) -> float:
    started = time.perf_counter()
    for first in range(0, count, 1_000_000):
        size = min(1_000_000, count - first)
        store.execute(
            generate_sql(
                ORG, campaign, first, size, now - 86_400 + 120, now - 10, count, machines=MACHINES
            )
        )
    for table in ROLLUPS:
        store.execute(f"OPTIMIZE TABLE {{db}}.{table} FINAL")
    window.rebuild(store, now)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="Events of the campaign.")
    parser.add_argument("--runs", type=int, default=10, help="Timed loads per tab and engagement.")
    args = parser.parse_args()
    print(header(f"bench/engagement.py --events {args.events:,}"))
    with tempfile.TemporaryDirectory(prefix="livereport-engagement-") as directory:
        store = ChdbStore(Path(directory) / "events")
        migrate(store)
        now = int(time.time())
        campaign = "bench-engagement"
        made = make(store, campaign, args.events, now)
        print(f"made {args.events:,} events over 24 hours in {made:.0f} s")
        plain, raw = Reports(store, cache=False), Reports(store, raw=True)
        rows = []
        for tab in TABS:
            at = time.time()
            found = {
                engagement: timed(
                    lambda e=engagement: plain.report(ORG, campaign, tab, now=at, engagement=e),  # noqa: B023
                    args.runs,
                )
                for engagement in ("all", "human", "machine")
            }
            baseline = raw.report(ORG, campaign, tab, now=at, engagement="human")
            same = widgets(found["human"][1]) == widgets(baseline)
            cells = " | ".join(
                f"{statistics.median(ms):,.0f} | {percentile(ms, 0.99):,.0f}"
                for ms, _ in found.values()
            )
            rows.append(f"| {tab} | {cells} | {'yes' if same else 'NO'} |")
            print(rows[-1], flush=True)
        print(
            f"\nLive tabs of one campaign of {args.events:,} events over the last 24 hours, "
            f"{MACHINES} % of its opens and clicks a machine's; ms\n"
        )
        print(
            "| tab | all p50 | all p99 | human p50 | human p99 | machine p50 | machine p99 | human equals raw |"
        )
        print("| :--- | ---: | ---: | ---: | ---: | ---: | ---: | :--- |")
        print("\n".join(rows))
        print(f"\nload average after: {load_average()}")


if __name__ == "__main__":
    main()
