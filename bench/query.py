"""Report latency per tab at 1 M, 10 M (and 100 M) events, rollups beside the raw events.

    .venv/bin/python bench/query.py [--sizes 1000000,10000000] [--big] [--quick]

``--big`` makes campaigns of 1,000,000, 10,000,000 and 100,000,000 events instead (its own
section of the note, with the curve from the first to the last).

One process, the embedded engine on a temporary directory. For each size, one campaign of
that many events is made by the engine (``INSERT … SELECT … FROM numbers()``, the
materialized views building the rollups as for any insert), spread over the last 23 hours,
and the rollups are merged. Then every tab is loaded ``--runs`` times with
:class:`~livereport.report.build.Reports` as the server does (``GET …/report?tab=``, without
the HTTP layer): from the rollups without the result cache, with the cache, and from the
raw events (the baseline, ``Reports(raw=True)``, same numbers checked equal). All of it
twice: on an idle engine, and while a thread ingests into the same campaign at
``--ingest-rate`` events/s (decode and insert, as the writer does). Writes the table into
docs/performance.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from common import generate_sql, header, load_average, percentile, write_section
from ingest import synthetic_events
from livereport.ingest import pipeline
from livereport.report.build import Reports
from livereport.report.catalogue import TABS
from livereport.store import window
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate

ORG = 1
ROLLUPS = (
    "minute_counts",
    "minute_uniques",
    "dim_counts",
    "dim_uniques",
    "campaigns",
    "unique_last",
    "unique_minutes",
)


def generate(store: ChdbStore, campaign: str, count: int, now: int) -> tuple[float, float]:
    """Make the campaign's events; (seconds to make them, seconds to fill the live window's
    distinct-profile tables from them, as an upgrade does)."""
    started = time.perf_counter()
    for first in range(0, count, 1_000_000):
        size = min(1_000_000, count - first)
        store.execute(generate_sql(ORG, campaign, first, size, now - 23 * 3600, now - 10, count))
    made = time.perf_counter()
    window.rebuild(store)
    filled = time.perf_counter()
    for table in ROLLUPS:
        store.execute(f"OPTIMIZE TABLE {{db}}.{table} FINAL")
    return time.perf_counter() - started - (filled - made), filled - made


class Ingest:
    """A thread storing events into the campaign at a steady rate, as the writer would."""

    def __init__(self, store: ChdbStore, campaign: str, rate: float, batch: int = 10_000) -> None:
        self.store, self.rate, self.batch = store, rate, batch
        now = datetime.now(UTC)
        events = list(synthetic_events(batch * 10, campaign, now - timedelta(hours=1), now, seed=7))
        self.bodies = [
            msgspec.json.encode(events[i : i + batch]) for i in range(0, len(events), batch)
        ]
        self.stored = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        started = time.perf_counter()
        n = 0
        while not self._stop.is_set():
            body = self.bodies[n % len(self.bodies)].replace(b'"id":"7-', b'"id":"i%d-' % n)
            now = datetime.now(UTC)
            batch = pipeline.prepare(
                pipeline.Body(body, "application/json", self.batch),
                pipeline.Context(ORG, now, timedelta(days=30)),
            )
            self.store.insert_events([(ORG, e) for _, e in batch.events], int(time.time()))
            self.stored += len(batch.events)
            n += 1
            time.sleep(max(0.0, started + n * self.batch / self.rate - time.perf_counter()))

    def __enter__(self) -> Ingest:
        self._started = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.achieved = self.stored / (time.perf_counter() - self._started)


def timed(call: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def widgets(report: dict[str, Any]) -> Any:
    return [w["data"] for w in report["widgets"]], report["executions"], report["empty"]


def measure(
    store: ChdbStore, campaign: str, runs: int, raw_runs: int
) -> dict[str, dict[str, list[float]]]:
    plain, cached, raw = Reports(store, cache=False), Reports(store), Reports(store, raw=True)
    out: dict[str, dict[str, list[float]]] = {}
    for tab in TABS:
        now = time.time()
        rollup_ms, rollup = timed(lambda: plain.report(ORG, campaign, tab, now=now), runs)  # noqa: B023
        cached_ms, _ = timed(lambda: cached.report(ORG, campaign, tab), runs)  # noqa: B023
        raw_ms, baseline = timed(lambda: raw.report(ORG, campaign, tab, now=now), raw_runs)  # noqa: B023
        same = widgets(rollup) == widgets(baseline)
        out[tab] = {"rollups": rollup_ms, "cached": cached_ms, "raw": raw_ms, "same": [float(same)]}
        print(
            f"  {tab}: rollups p50 {statistics.median(rollup_ms):.0f} ms, cached "
            f"{statistics.median(cached_ms):.0f}, raw {statistics.median(raw_ms):.0f}"
            + ("" if same else "  (raw DIFFERS)")
        )
    return out


def row(size: int, state: str, tab: str, m: dict[str, list[float]]) -> str:
    def p(values: list[float]) -> str:
        return f"{statistics.median(values):.0f} / {percentile(values, 0.99):.0f}"

    ratio = statistics.median(m["raw"]) / statistics.median(m["rollups"])
    same = ("yes" if m["same"][0] else "**no**") if state == "idle" else "(moving)"
    return (
        f"| {size:,} | {state} | {tab} | {p(m['rollups'])} | {p(m['cached'])} | {p(m['raw'])} "
        f"| {ratio:.1f}× | {same} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000000,10000000", help="Events per campaign, comma-separated."
    )
    parser.add_argument(
        "--big",
        action="store_true",
        help="1, 10 and 100 million events (10 and 1 runs), in its own section.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="100,000 and 1,000,000 events, fewer runs."
    )
    parser.add_argument("--runs", type=int, help="Timed loads per tab (rollups); default 20.")
    parser.add_argument("--raw-runs", type=int, help="Timed loads per tab (raw); default 5.")
    parser.add_argument(
        "--ingest-rate",
        type=float,
        default=20_000,
        help="Events/s stored during the 'ingesting' runs (about half the most bench/ingest.py reached, 40–47 k).",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    runs, raw_runs, section = 20, 5, "query"
    if args.quick:
        sizes, runs, raw_runs, section = [100_000, 1_000_000], 5, 2, "query-quick"
    if args.big:
        sizes, runs, raw_runs, section = [1_000_000, 10_000_000, 100_000_000], 10, 1, "query-big"
    args.runs = args.runs or runs
    args.raw_runs = args.raw_runs or raw_runs

    command = "bench/query.py" + (
        " --quick" if args.quick else " --big" if args.big else f" --sizes {args.sizes}"
    )
    lines = [header(command), ""]
    table = [
        "| events in window | engine | tab | rollups p50 / p99 (ms) | rollups + cache p50 / p99 "
        "| raw events p50 / p99 (ms) | raw ÷ rollups (p50) | same numbers |",
        "| ---: | :--- | :--- | ---: | ---: | ---: | ---: | :---: |",
    ]
    notes = []
    p50s: dict[tuple[int, str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="livereport-query-") as tmp:
        store = ChdbStore(Path(tmp))
        try:
            migrate(store)
            now = int(time.time())
            for size in sizes:
                campaign = f"bench-{size}"
                seconds, filled = generate(store, campaign, size, now)
                print(
                    f"{campaign}: generated and merged in {seconds:.0f} s, window tables filled in {filled:.1f} s"
                )
                notes.append(
                    f"{size:,} events made and merged by the engine in {seconds:.0f} s, the live "
                    f"window's distinct-profile tables filled from them (as an upgrade does) in {filled:.1f} s"
                )
                idle = measure(store, campaign, args.runs, args.raw_runs)
                with Ingest(store, campaign, args.ingest_rate) as ingest:
                    busy = measure(store, campaign, args.runs, args.raw_runs)
                notes.append(
                    f"while ingesting into the {size:,}-event campaign: {ingest.achieved:,.0f} events/s "
                    f"stored (asked {args.ingest_rate:,.0f})"
                )
                for state, found in (("idle", idle), ("ingesting", busy)):
                    for tab in TABS:
                        table.append(row(size, state, tab, found[tab]))
                        p50s[(size, state, tab)] = statistics.median(found[tab]["rollups"])
        finally:
            store.shutdown()  # the engine stops writing before its directory goes
    lines += [
        f"{args.runs} loads per tab from the rollups (without and with the result cache), "
        f"{args.raw_runs} from the raw events; p99 of so few samples is close to the slowest. "
        + "; ".join(notes)
        + f". Load average after the runs: {load_average()}.",
        "",
        *table,
    ]
    if len(sizes) > 1:
        lines += ["", *flat_curve(sizes, p50s)]
    write_section(section, "\n".join(lines))


def flat_curve(sizes: list[int], p50s: dict[tuple[int, str, str], float]) -> list[str]:
    """Tab p50 at each size, and the largest size's ÷ the smallest's (target: ≤ 2)."""
    first, last = sizes[0], sizes[-1]
    head = " | ".join(f"{s:,} p50 (ms)" for s in sizes)
    lines = [
        "How tab latency grows with the campaign (p50 of the loads above, rollups without cache):",
        "",
        f"| engine | tab | {head} | {last:,} ÷ {first:,} |",
        "| :--- | :--- | " + "---: | " * len(sizes) + "---: |",
    ]
    for state in ("idle", "ingesting"):
        for tab in TABS:
            values = [p50s[(s, state, tab)] for s in sizes]
            cells = " | ".join(f"{v:.0f}" for v in values)
            lines.append(f"| {state} | {tab} | {cells} | {values[-1] / values[0]:.1f}× |")
    return lines


if __name__ == "__main__":
    main()
