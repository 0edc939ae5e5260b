"""What each step of the ingest pipeline costs, one step at a time, in one process.

    .venv/bin/python bench/pipeline.py [--events 100000] [--batch 10000] [--runs 5]

The synthetic events of bench/ingest.py (every channel and type, a tenth of them bounces
and errors), as JSON bodies of ``--batch`` events. Each step of ingest/pipeline.py runs
alone over every body, ``--runs`` times, and the best run is kept: decode (msgspec into typed
incoming events), validate (the event contract, ``normalise``), qualify (bounces: the
default rules, then an org's own, here one rule), codes (push / SMS provider codes), machine
(the rules that tell a machine's opens and clicks from a person's), then
the store step (the writer: duplicate memory, the live window's plan, its insert, the
events' insert) into a new embedded engine, once per body. Writes a table into
docs/performance.md (section ``pipeline``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from common import header, load_average, write_section
from ingest import synthetic_events
from livereport.bounces.org import compile_rows
from livereport.events import IncomingEvent
from livereport.ingest import pipeline
from livereport.ingest.decode import Batch
from livereport.ingest.writer import Writer
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate

_WHOLE = msgspec.json.Decoder(list[IncomingEvent])


def best(
    step: Callable[[Any], object], runs: int, setup: Callable[[], Any] = lambda: None
) -> float:
    """The fastest of ``runs`` runs of ``step`` (on what ``setup`` gives, made untimed)."""
    times = []
    for _ in range(runs):
        given = setup()
        started = time.perf_counter()
        step(given)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    lines = [header(f"bench/pipeline.py --events {args.events} --batch {args.batch}"), ""]

    now = datetime.now(UTC)
    events = list(synthetic_events(args.events, "steps", now - timedelta(hours=20), now, seed=5))
    bodies = [
        msgspec.json.encode(events[i : i + args.batch]) for i in range(0, len(events), args.batch)
    ]
    rule = [{"name": "quota", "reason": "Mailbox full", "category": "soft", "pattern": "quota"}]
    own = compile_rows(rule)
    ctx = pipeline.Context(1, now, timedelta(days=30), lambda: own)
    retention = timedelta(days=30)

    decoded = [_WHOLE.decode(body) for body in bodies]

    def validate() -> list[Batch]:
        out = []
        for incoming in decoded:
            batch = Batch()
            for index, e in enumerate(incoming):
                batch.add(index, e, now=now, retention=retention)
            out.append(batch)
        return out

    validated = validate()

    def fresh() -> list[Batch]:
        """The validated batches, before the steps that change events in place."""
        return [Batch(list(b.events), list(b.rejected), b.given, b.clients) for b in validated]

    timings = {
        "decode (msgspec, whole body)": best(
            lambda _: [_WHOLE.decode(b) for b in bodies], args.runs
        ),
        "validate (the event contract)": best(lambda _: validate(), args.runs),
        "qualify (default rules, then the org's)": best(
            lambda bs: [pipeline.qualify(b, ctx) for b in bs], args.runs, fresh
        ),
        "codes (push / SMS provider codes)": best(
            lambda bs: [pipeline.codes(b, ctx) for b in bs], args.runs, fresh
        ),
        "machine (the machine rules of opens and clicks)": best(
            lambda bs: [pipeline.machine(b, ctx) for b in bs], args.runs, fresh
        ),
    }
    batches = [
        pipeline.machine(pipeline.codes(pipeline.qualify(b, ctx), ctx), ctx) for b in fresh()
    ]
    with tempfile.TemporaryDirectory(prefix="livereport-steps-") as tmp:
        store = ChdbStore(Path(tmp) / "data")
        try:
            migrate(store)
            writer = Writer(store, linger_s=0, retention_s=30 * 86_400)
            writer.start()
            started = time.perf_counter()
            for batch in batches:
                pipeline.store_blocking(writer, batch, ctx)
            timings["store (duplicates, live window, inserts; a new campaign)"] = (
                time.perf_counter() - started
            )
            writer.stop()
        finally:
            store.shutdown()

    total = sum(timings.values())
    lines += [
        f"{args.events:,} synthetic events in bodies of {args.batch:,}; each step alone, best of "
        f"{args.runs} (the store step once). Load average after the run: {load_average()}.",
        "",
        "| step | seconds | µs per event | events/s | share |",
        "| :--- | ---: | ---: | ---: | ---: |",
    ]
    for name, seconds in timings.items():
        lines.append(
            f"| {name} | {seconds:.3f} | {seconds / args.events * 1e6:.1f} | "
            f"{args.events / seconds:,.0f} | {seconds / total:.0%} |"
        )
    lines.append(
        f"| all steps, one after the other | {total:.3f} | {total / args.events * 1e6:.1f} | "
        f"{args.events / total:,.0f} | |"
    )
    write_section("pipeline", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
