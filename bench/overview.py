"""The campaign overview and the org totals of an org with many campaigns (issue 18).

    .venv/bin/python bench/overview.py [--campaigns 10000] [--events 10000000] [--runs 20]

One process, the embedded engine on a temporary directory. The org's events are made by the
engine (``INSERT … SELECT … FROM numbers()``; the materialized views build the rollups),
spread over ``--campaigns`` campaigns that each live two days somewhere in the last 30, and
the rollups are merged. Then the overview is loaded as ``GET /v1/campaigns`` does (without
the HTTP layer): the default page (last 24 hours, most recently active first, 100 rows),
other periods, sorts, a filter, a later page; and the org totals. Beside them, the baseline:
what the overview lists (every campaign's channels, first and last event, and counts over
the period) computed from the raw events; the page's counts are checked equal to them.
Each view is loaded once after the memory of whole lives (report/overview.py Lifetimes) is
emptied ("cold"), then ``--runs`` times. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from common import generate_sql, header, load_average, percentile
from livereport.report import overview
from livereport.report import period as periods
from livereport.report.build import Reports
from livereport.store import window
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate
from query import timed

ORG = 1
DAYS = 30
ROLLUPS = (
    "minute_counts",
    "minute_uniques",
    "dim_counts",
    "dim_uniques",
    "campaigns",
    "campaign_hours",
    "campaign_days",
    "campaign_life",
    "engagement_counts",
    "engagement_uniques",
)
#: (label, period, listing parameters) of each timed overview load.
LOADS: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("24 h, by last activity (the default)", "24h", {}),
    ("24 h, by sent", "24h", {"sort": "sent"}),
    ("24 h, by open rate", "24h", {"sort": "open_rate"}),
    ("24 h, status sending", "24h", {"status": "sending"}),
    ("7 d, by bounce rate", "7d", {"sort": "bounce_rate"}),
    ("30 d, by last activity", "30d", {}),
    ("30 d, by open rate", "30d", {"sort": "open_rate"}),
    ("30 d, search '-12'", "30d", {"q": "-12"}),
    ("30 d, page 50", "30d", {"offset": "4900"}),
)


def make(store: ChdbStore, campaigns: int, count: int, now: int) -> float:
    started = time.perf_counter()
    for first in range(0, count, 1_000_000):
        size = min(1_000_000, count - first)
        start = now - DAYS * 86_400 + 120
        store.execute(generate_sql(ORG, "campaign", first, size, start, now - 10, count, campaigns))
    for table in ROLLUPS:
        store.execute(f"OPTIMIZE TABLE {{db}}.{table} FINAL")
    # Each profile's last occurrence, as ingest keeps it (the engine's inserts bypass it).
    window.rebuild(store, now)
    return time.perf_counter() - started


def raw_page(
    store: ChdbStore, names: list[str], start: int, end: int
) -> dict[str, tuple[Any, ...]]:
    """(events, sent, delivered, open rate) of each campaign of a page, from the raw events:
    the open rate as the overview defines it, each channel's distinct openers added up over
    the deliveries of the channels with opens."""
    span = "time >= toDateTime(%(start)s, 'UTC') AND time < toDateTime(%(end)s, 'UTC')"
    rows = store.execute(
        "SELECT campaign, sum(n), sum(sent), sum(delivered), sum(openers), sum(opens_delivered) FROM ("  # noqa: S608
        "SELECT campaign, channel, count() AS n, countIf(type = 'sent') AS sent, "
        "countIf(type = 'delivered') AS delivered, uniqExactIf(profile, type = 'open') AS openers, "
        "if(channel IN ('email', 'push'), countIf(type = 'delivered'), 0) AS opens_delivered "
        f"FROM {{db}}.events WHERE org = %(org)s AND campaign IN %(names)s AND {span} "
        "GROUP BY campaign, channel) GROUP BY campaign",
        {"org": ORG, "names": tuple(names), "start": start, "end": end},
    )
    return {
        row[0]: (
            int(row[1]),
            int(row[2]),
            int(row[3]),
            int(row[4]) / int(row[5]) if int(row[5]) else None,
        )
        for row in rows
    }


def raw_all(store: ChdbStore, start: int, end: int) -> int:
    """The baseline: what the overview lists, from the raw events. Every campaign with its
    channels, first and last event, and its counts over the period."""
    rows = store.execute(
        "SELECT campaign, groupUniqArray(channel), min(time), max(time), "
        "countIf(time >= toDateTime(%(start)s, 'UTC') AND time < toDateTime(%(end)s, 'UTC')), "
        "countIf(type = 'sent' AND time >= toDateTime(%(start)s, 'UTC') AND time < toDateTime(%(end)s, 'UTC')), "
        "countIf(type = 'delivered' AND time >= toDateTime(%(start)s, 'UTC') AND time < toDateTime(%(end)s, 'UTC')), "
        "countIf(type = 'bounce' AND time >= toDateTime(%(start)s, 'UTC') AND time < toDateTime(%(end)s, 'UTC')), "
        "countIf(type = 'spam_complaint' AND time >= toDateTime(%(start)s, 'UTC') AND time < toDateTime(%(end)s, 'UTC')) "
        "FROM {db}.events WHERE org = %(org)s GROUP BY campaign",
        {"org": ORG, "start": start, "end": end},
    )
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=10_000, help="Campaigns of the org.")
    parser.add_argument("--events", type=int, default=10_000_000, help="Events of the org.")
    parser.add_argument("--runs", type=int, default=20, help="Timed loads of each view.")
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="Keep the events in this directory, and use those already there (made by an earlier run) instead of making them: two versions of the code timed on the same data.",
    )
    args = parser.parse_args()
    print(header(f"bench/overview.py --campaigns {args.campaigns:,} --events {args.events:,}"))
    with tempfile.TemporaryDirectory(prefix="livereport-overview-") as directory:
        path = args.data or Path(directory)
        reuse = (path / "events").exists()
        store = ChdbStore(path / "events")
        migrate(store)
        if reuse:
            ((stored,),) = store.execute("SELECT count() FROM {db}.events")
            print(f"using the {int(stored):,} events already in {path}")
        else:
            now = int(time.time())
            made = make(store, args.campaigns, args.events, now)
            print(
                f"made {args.events:,} events of {args.campaigns:,} campaigns over {DAYS} days in {made:.0f} s"
            )
        reports = Reports(store, cache=False)
        rows = []
        for label, preset, params in LOADS:
            asked = periods.asked(preset, None, None)
            listing = overview.listing(**params)
            # The first load after the memory of whole lives is emptied (a process just
            # started, or every campaign just written): timed alone, as "cold".
            memory = getattr(overview, "LIFETIMES", None)  # absent in code before 2026-12-04
            if memory is not None:
                memory.clear()
            cold, _ = timed(lambda: reports.campaigns(ORG, None, asked, listing), 1)  # noqa: B023
            took, found = timed(lambda: reports.campaigns(ORG, None, asked, listing), args.runs)  # noqa: B023
            page = found["campaigns"]
            start, end = _epoch(found["from"]), _epoch(found["to"])
            raw_ms, _ = timed(lambda: raw_all(store, start, end), 3)  # noqa: B023
            exact = _same(page, raw_page(store, [r["campaign"] for r in page], start, end))
            rows.append(
                f"| {label} | {found['total']:,} | {len(page)} | {cold[0]:,.0f} | {statistics.median(took):,.0f} "
                f"| {percentile(took, 0.99):,.0f} | {statistics.median(raw_ms):,.0f} "
                f"| {'yes' if exact else 'NO'} |"
            )
            print(rows[-1], flush=True)
        totals = []
        for preset in ("24h", "30d"):
            asked = periods.asked(preset, None, None)
            for top in ("sent", "open_rate"):
                took, _ = timed(
                    lambda a=asked, t=top: reports.org_totals(ORG, a, "email", t, 10, 100),
                    args.runs,
                )
                totals.append(
                    f"| {preset} | {top} | {statistics.median(took):,.0f} | {percentile(took, 0.99):,.0f} |"
                )
                print(totals[-1], flush=True)
        print()
        print(
            f"Overview of {args.campaigns:,} campaigns, {args.events:,} events; ms; the raw baseline "
            "lists every campaign with its counts over the period from the raw events"
        )
        print()
        print(
            "| view | campaigns listed | rows | cold | p50 | p99 | raw baseline p50 | page equals raw |"
        )
        print("| :--- | ---: | ---: | ---: | ---: | ---: | ---: | :--- |")
        print("\n".join(rows))
        print()
        print("Org totals (every channel, and the top 10 email campaigns by a metric); ms")
        print()
        print("| period | top by | p50 | p99 |")
        print("| :--- | :--- | ---: | ---: |")
        print("\n".join(totals))
        print(f"\nload average after: {load_average()}")
        store.close()


def _epoch(moment: str) -> int:
    return int(datetime.fromisoformat(moment).timestamp())


def _same(page: list[dict[str, Any]], raw: dict[str, tuple[Any, ...]]) -> bool:
    def close(a: float | None, b: float | None) -> bool:
        return a == b or (a is not None and b is not None and abs(a - b) < 1e-9)

    for row in page:
        events, sent, delivered, open_rate = raw.get(row["campaign"], (0, 0, 0, None))
        metrics = row["metrics"]
        if (row["events_in_window"], metrics["sent"], metrics["delivered"]) != (
            events,
            sent,
            delivered,
        ):
            return False
        if not close(metrics["open_rate"], open_rate):
            return False
    return True


if __name__ == "__main__":
    main()
