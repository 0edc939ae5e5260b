"""What materialized views cost at ingest: the store step with every view, and without the
ones named, on the same events, alternately.

    .venv/bin/python bench/views.py [--drop engagement_counts_mv,engagement_uniques_mv] [--events 200000] [--rounds 3]

One process, the embedded engine on a temporary directory, a fresh database per run. The
synthetic events of bench/ingest.py (every channel and type), validated and put through
every step before the store as ingest does, in batches of 10,000; then the store step (the
writer: duplicate memory, the live window, the inserts) is timed alone, once with all the
views of the schema and once with ``--drop`` dropped after the migrations, ``--rounds``
times each, alternating. Prints a markdown table of µs per event.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from common import header, load_average
from ingest import synthetic_events
from livereport.events import IncomingEvent
from livereport.ingest import pipeline
from livereport.ingest.decode import Batch
from livereport.ingest.writer import Writer
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate

BATCH = 10_000
RETENTION = timedelta(days=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--drop",
        default="engagement_counts_mv,engagement_uniques_mv",
        help="The views to drop, comma-separated.",
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    dropped = [name for name in args.drop.split(",") if name]
    print(header(f"bench/views.py --drop {args.drop} --events {args.events:,}"))
    now = datetime.now(UTC)
    events = list(synthetic_events(args.events, "views", now - timedelta(hours=20), now, seed=5))
    decode = msgspec.json.Decoder(list[IncomingEvent]).decode
    ctx = pipeline.Context(1, now, RETENTION)
    root = Path(tempfile.mkdtemp(prefix="livereport-views-"))
    timings: dict[str, list[float]] = {"every view": [], "without": []}
    for round_ in range(args.rounds):
        for mode in timings:
            store = ChdbStore(
                root / "data",
                database=f"views_{round_}_{'all' if mode == 'every view' else 'less'}",
            )
            migrate(store)
            if mode == "without":
                for view in dropped:
                    store.execute(f"DROP TABLE {{db}}.{view}")
            batches = []
            for first in range(0, args.events, BATCH):
                batch = Batch()
                body = msgspec.json.encode(events[first : first + BATCH])
                for index, incoming in enumerate(decode(body)):
                    batch.add(index, incoming, now=now, retention=RETENTION)
                batches.append(
                    pipeline.machine(pipeline.codes(pipeline.qualify(batch, ctx), ctx), ctx)
                )
            writer = Writer(store, linger_s=0, retention_s=int(RETENTION.total_seconds()))
            writer.start()
            started = time.perf_counter()
            for batch in batches:
                pipeline.store_blocking(writer, batch, ctx)
            timings[mode].append((time.perf_counter() - started) / args.events * 1e6)
            writer.stop()
            print(f"round {round_ + 1}, {mode}: {timings[mode][-1]:.1f} µs per event", flush=True)
    every, less = statistics.median(timings["every view"]), statistics.median(timings["without"])
    print()
    print(
        f"The store step, µs per event (median of {args.rounds}); load average after: {load_average()}"
    )
    print()
    print("| views | µs per event | runs |")
    print("| :--- | ---: | :--- |")
    print(f"| every view | {every:.1f} | {', '.join(f'{t:.1f}' for t in timings['every view'])} |")
    print(
        f"| without {', '.join(dropped)} | {less:.1f} | {', '.join(f'{t:.1f}' for t in timings['without'])} |"
    )
    print(
        f"\nThe views dropped cost {every - less:.1f} µs per event, {(every - less) / every:.0%} of the store step."
    )


if __name__ == "__main__":
    main()
