"""Footprint: disk bytes and memory per million stored events.

    .venv/bin/python bench/footprint.py [--events 1000000,10000000] [--quick]

Two measures, each beside its baseline:

- **through the API**: a `livereport serve` receives ``--api-events`` synthetic events
  (batches of 10,000), is stopped after its merges settle, and its data directory is
  weighed, then the active parts of its engine (what stays once the parts that merges
  replaced are deleted, a few minutes later); the server's RSS is read before the stop. Baseline: the same events as an
  NDJSON file (what a sender would keep) and gzip-compressed.
- **engine-made**: ``--events`` events made by the engine in one campaign (as bench/query.py
  does), merged; bytes per table from ``system.parts``, and this process's RSS.

Writes the table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from common import dir_bytes, generate_sql, header, load_average, rss_bytes, write_section
from ingest import BenchServer, encode_batches, post_all, synthetic_events
from livereport.store import window
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate


def through_api(count: int) -> list[str]:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    events = list(
        synthetic_events(
            count, "bench-footprint", now - timedelta(hours=20), now - timedelta(seconds=5)
        )
    )
    ndjson = b"\n".join(msgspec.json.encode(e) for e in events)
    root = Path(tempfile.mkdtemp(prefix="livereport-bench-"))
    server = BenchServer(root / "data").start()
    try:
        key = server.key("ingest", "read")
        idle_rss = server.rss_bytes()
        outcome = post_all(server.url, key, encode_batches(events, 10_000, False), False, 4)
        time.sleep(20)  # merges
        rss = server.rss_bytes()
        server.stop()
        disk = dir_bytes(server.data)
        active = active_bytes(server.data / "events")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    per_m = 1e6 / outcome.accepted
    return [
        f"| API, {outcome.accepted:,} events | data directory | {disk * per_m / 2**20:,.1f} MB "
        f"| {disk / outcome.accepted:.0f} | {len(ndjson) / count:.0f} (NDJSON), "
        f"{len(gzip.compress(ndjson, 6)) / count:.0f} (NDJSON gzip) |",
        f"| API, {outcome.accepted:,} events | active parts (what stays once merged-away "
        f"parts are removed) | {active * per_m / 2**20:,.1f} MB | {active / outcome.accepted:.0f} | |",
        f"| API, {outcome.accepted:,} events | server RSS | {rss / 2**20:,.0f} MB in all "
        f"({idle_rss / 2**20:,.0f} MB idle) | | |",
    ]


def active_bytes(engine: Path) -> int:
    """Bytes of the active parts of a stopped server's engine, read in a child process (one
    embedded engine per process). Parts a merge replaced stay on disk for a few minutes
    (ClickHouse's old_parts_lifetime) before the engine deletes them."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from livereport.store.chdb import ChdbStore\n"
        "store = ChdbStore(Path(sys.argv[1]))\n"
        "query = 'SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = %(db)s'\n"
        "print(store.execute(query, {'db': store.database})[0][0])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(engine)], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip().splitlines()[-1])


def engine_made(sizes: list[int]) -> list[str]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="livereport-footprint-") as tmp:
        store = ChdbStore(Path(tmp))
        try:
            rows += _engine_made(store, sizes)
        finally:
            store.shutdown()  # the engine stops writing before its directory goes
    return rows


def _engine_made(store: ChdbStore, sizes: list[int]) -> list[str]:
    rows = []
    migrate(store)
    now = int(time.time())
    done = 0
    for size in sizes:
        for first in range(done, size, 1_000_000):
            store.execute(
                generate_sql(
                    1, "bench", first, min(1_000_000, size - first), now - 23 * 3600, now - 10, size
                )
            )
        done = size
        window.rebuild(store)  # the live window's tables, as ingest or an upgrade fills them
        for table in (
            "events",
            "minute_counts",
            "minute_uniques",
            "dim_counts",
            "dim_uniques",
            "campaigns",
            "unique_last",
            "unique_minutes",
        ):
            store.execute(f"OPTIMIZE TABLE {{db}}.{table} FINAL")
        parts = store.execute(
            "SELECT table, sum(bytes_on_disk) FROM system.parts WHERE database = %(db)s "
            "AND active GROUP BY table ORDER BY table",
            {"db": store.database},
        )
        total = sum(int(b) for _, b in parts)
        detail = ", ".join(f"{t} {int(b) / size:.1f}" for t, b in parts)
        rows.append(
            f"| engine-made, {size:,} events | tables, merged | {total * 1e6 / size / 2**20:,.1f} MB "
            f"| {total / size:.0f} ({detail}) | |"
        )
        rows.append(
            f"| engine-made, {size:,} events | process RSS | {rss_bytes() / 2**20:,.0f} MB in all | | |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", default="1000000,10000000", help="Engine-made sizes.")
    parser.add_argument("--api-events", type=int, default=500_000)
    parser.add_argument("--quick", action="store_true", help="100,000 events each way.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.events.split(",")]
    api = args.api_events
    if args.quick:
        sizes, api = [100_000], 100_000
    lines = [
        header("bench/footprint.py" + (" --quick" if args.quick else f" --events {args.events}")),
        "",
        "| stored | what | per million events | bytes per event | baseline bytes per event |",
        "| :--- | :--- | ---: | ---: | ---: |",
        *through_api(api),
        *engine_made(sizes),
        "",
        f"Load average after the run: {load_average()}.",
    ]
    write_section("footprint-quick" if args.quick else "footprint", "\n".join(lines))


if __name__ == "__main__":
    main()
