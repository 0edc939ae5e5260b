"""Each performance lever before and after, in the same process on the same data.

    .venv/bin/python bench/levers.py [--base 7e646ac] [--ingest-base f1fcfb4] [--events 1000000] [--quick]

"Before" is the code of the ``--base`` commit, read with ``git show`` into a temporary
directory and imported beside the working tree's code:

1. **decode**: the base's split → decode each event → validate, against ``decode_events``
   (one msgspec decode of the whole body, shortcuts for the common checks), on the same
   100,000 synthetic events in bodies of 10,000.
   Then, against ``--ingest-base``: the writer's duplicate memory asked about and given
   100,000 new ids.
2. **insert**: ``JSONCompactEachRow`` text (kept) against an Arrow table through chDB's
   ``Python()`` table function (tried, not taken), building the input from the same events.
3. **tabs**: the base's ``Reports`` against today's without the result cache (only the
   queries the widgets need, executions from one DISTINCT query) and with it (a repeat load),
   on one engine-made campaign of ``--events`` events.
4. **read connection**: the same tabs (without the cache) while a thread inserts
   ``--ingest-rate`` events/s, every statement on one chDB connection (before) against
   reads on a pool of their own connections (after).

Runs of before and after alternate, so a change of the machine's load hits both alike.
Writes the table into docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec

from common import generate_sql, header, load_average, percentile, write_section
from ingest import synthetic_events
from livereport.ingest import pipeline
from livereport.ingest.decode import decode_events, split_events
from livereport.report.build import Reports
from livereport.report.catalogue import TABS
from livereport.store.chdb import ChdbStore
from livereport.store.schema import migrate

ROOT = Path(__file__).resolve().parent.parent


def base_module(base: str, path: str, name: str, tmp: Path, replace: dict[str, str]) -> ModuleType:
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{base}:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for old, new in replace.items():
        source = source.replace(old, new)
    file = tmp / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def best_rates(count: int, before: Any, after: Any, repeats: int = 7) -> tuple[float, float]:
    """Events/s of each, at its best of ``repeats`` runs taken in turn (before, after, before,
    …) so that a change of the machine's load hits both alike."""
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for side, call in enumerate((before, after)):
            started = time.perf_counter()
            call()
            best[side] = min(best[side], time.perf_counter() - started)
    return count / best[0], count / best[1]


def decode_lever(base: str, tmp: Path) -> list[str]:
    old_events = base_module(base, "src/livereport/events.py", "base_events", tmp, {})
    now = datetime.now(UTC)
    events = list(synthetic_events(100_000, "c", now - timedelta(hours=1), now))
    bodies = [msgspec.json.encode(events[i : i + 10_000]) for i in range(0, len(events), 10_000)]
    retention = timedelta(days=30)

    def before() -> None:
        for body in bodies:
            for raw in split_events(body, "application/json", 10_000):
                assert isinstance(raw, bytes)
                old_events.decode_event(raw, now=now, retention=retention)

    def after() -> None:
        for body in bodies:
            decode_events(body, "application/json", 10_000, now=now, retention=retention)

    old, new = best_rates(len(events), before, after)
    return [
        f"| decode + validate (events/s, one core) | {old:,.0f} | {new:,.0f} | {new / old:.2f}× | kept |"
    ]


def seen_lever(base: str, tmp: Path) -> list[str]:
    """The writer's duplicate memory for 100,000 new ids: ask, then add (as each insert does)."""
    old_seen = base_module(base, "src/livereport/ingest/seen.py", "base_seen", tmp, {})
    from livereport.ingest.seen import SeenIds

    keys = [(1, f"evt-{n:08d}-{n * 7919 % 100_003}") for n in range(100_000)]
    chunks = [keys[i : i + 10_000] for i in range(0, len(keys), 10_000)]

    def with_class(cls: Any) -> Any:
        def run() -> None:
            seen = cls()
            for chunk in chunks:
                seen.maybe_seen(chunk)
                seen.add(chunk)

        return run

    old, new = best_rates(len(keys), with_class(old_seen.SeenIds), with_class(SeenIds))
    return [
        f"| duplicate memory: ask and add 100,000 new ids (ids/s) | {old:,.0f} (BLAKE2b per id) | {new:,.0f} (Python's hash, mixed in NumPy) | {new / old:.2f}× | kept |"
    ]


def insert_lever(tmp: Path) -> list[str]:
    import pyarrow as pa

    from livereport.store.base import EVENT_COLUMNS

    store = ChdbStore(tmp / "engine")
    migrate(store)
    now = datetime.now(UTC)
    events = list(synthetic_events(100_000, "c", now - timedelta(hours=1), now))
    batch = pipeline.prepare(
        pipeline.Body(msgspec.json.encode(events), "application/json", len(events)),
        pipeline.Context(1, now, timedelta(days=30)),
    )
    rows = [(1, e) for _, e in batch.events]
    runs = {"n": 0}

    def text() -> None:
        store.insert_events(rows[:50_000], int(time.time()))
        store.insert_events(rows[50_000:], int(time.time()))

    def arrow() -> None:
        runs["n"] += 1
        for part in (rows[:50_000], rows[50_000:]):
            es = [e for _, e in part]
            columns = {
                "org": pa.array([o for o, _ in part], pa.uint32()),
                "id": pa.array([f"a{runs['n']}-{e.id}" for e in es]),
                "time": pa.array([e.time_ms // 1000 for e in es], pa.uint32()),
                "ms": pa.array([e.time_ms % 1000 for e in es], pa.uint16()),
                "received": pa.array([int(time.time())] * len(es), pa.uint32()),
            }
            for name in EVENT_COLUMNS[5:]:
                if name == "smtp_code":
                    columns[name] = pa.array([e.smtp_code for e in es], pa.uint16())
                elif name == "machine":
                    columns[name] = pa.array([int(e.machine) for e in es], pa.uint8())
                else:
                    columns[name] = pa.array([getattr(e, name) for e in es])
            table = pa.table(columns)  # noqa: F841 (read by the Python() table function)
            statement = "INSERT INTO livereport.events SELECT * FROM Python(table)"
            store._engine.writer.cursor().execute(statement)

    old, new = best_rates(len(rows), text, arrow, repeats=3)
    return [
        f"| insert 100,000 events, 2 inserts, with the materialized views (events/s) | {old:,.0f} (JSONCompactEachRow) | {new:,.0f} (Arrow via Python()) | {new / old:.2f}× | not taken |"
    ]


def tabs_lever(base: str, tmp: Path, count: int, runs: int) -> list[str]:
    base_module(base, "src/livereport/report/query.py", "base_query", tmp, {})
    old_build = base_module(
        base,
        "src/livereport/report/build.py",
        "base_build",
        tmp,
        {"from livereport.report.query import": "from base_query import"},
    )
    store = ChdbStore(tmp / "engine")
    migrate(store)
    now = int(time.time())
    for first in range(0, count, 1_000_000):
        store.execute(
            generate_sql(
                1, "tabs", first, min(1_000_000, count - first), now - 23 * 3600, now - 10, count
            )
        )
    for table in ("minute_counts", "minute_uniques", "dim_counts", "dim_uniques", "campaigns"):
        store.execute(f"OPTIMIZE TABLE {{db}}.{table} FINAL")
    old, plain, cached = old_build.Reports(store), Reports(store, cache=False), Reports(store)
    rows = []
    for tab in TABS:
        at = time.time()
        samples: dict[str, list[float]] = {"old": [], "plain": [], "cached": []}
        results = {}
        for _ in range(runs):  # in turn, so that a change of load hits each alike
            for label, reports in (("old", old), ("plain", plain), ("cached", cached)):
                started = time.perf_counter()
                results[label] = reports.report(
                    1, "tabs", tab, now=None if label == "cached" else at
                )
                samples[label].append((time.perf_counter() - started) * 1000)
        ms = {label: statistics.median(values) for label, values in samples.items()}
        same = results["old"]["widgets"] == results["plain"]["widgets"]
        rows.append(
            f"| tab {tab} at {count:,} events, p50 (ms) | {ms['old']:.0f} | {ms['plain']:.0f} "
            f"(cache hit: {ms['cached']:.0f}) | {ms['old'] / ms['plain']:.2f}× "
            f"({ms['old'] / ms['cached']:.0f}×) | kept{'' if same else ' — **numbers differ**'} |"
        )
    return rows


def read_pool_lever(tmp: Path, count: int, runs: int, rate: float) -> list[str]:
    """Tab loads while a thread inserts: every statement on one connection, or reads pooled."""
    from contextlib import contextmanager

    from query import Ingest

    store = ChdbStore(tmp / "engine")  # the campaign of tabs_lever, already in the engine
    engine = store._engine
    pooled = engine.reader

    @contextmanager
    def shared() -> Any:  # before: reads wait for the insert connection, as in one connection
        with engine.writer_lock:
            yield engine.writer

    reports = Reports(store, cache=False)
    rows = []
    with Ingest(store, "tabs", rate):
        for tab in TABS:
            at = time.time()
            samples: dict[str, list[float]] = {"one": [], "pool": []}
            for _ in range(runs):
                for label, reader in (("one", shared), ("pool", pooled)):
                    engine.reader = reader  # type: ignore[method-assign]
                    started = time.perf_counter()
                    reports.report(1, "tabs", tab, now=at)
                    samples[label].append((time.perf_counter() - started) * 1000)
            engine.reader = pooled  # type: ignore[method-assign]
            one, pool = (
                (statistics.median(v), percentile(v, 0.99))
                for v in (samples["one"], samples["pool"])
            )
            rows.append(
                f"| tab {tab} at {count:,} events while inserting {rate:,.0f} events/s, "
                f"p50 / p99 (ms) | {one[0]:.0f} / {one[1]:.0f} (one connection) "
                f"| {pool[0]:.0f} / {pool[1]:.0f} (reads pooled) | {one[0] / pool[0]:.2f}× / "
                f"{one[1] / pool[1]:.2f}× | kept |"
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="7e646ac", help="Commit of the code before the levers.")
    parser.add_argument(
        "--ingest-base", default="f1fcfb4", help="Commit before the duplicate-memory lever."
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="100,000 events, 3 runs.")
    parser.add_argument(
        "--ingest-rate",
        type=float,
        default=40_000,
        help="Events/s inserted during the read-connection lever.",
    )
    args = parser.parse_args()
    if args.quick:
        args.events, args.runs = 100_000, 3
    command = f"bench/levers.py --base {args.base}"
    command += " --quick" if args.quick else f" --events {args.events}"
    lines = [
        header(command),
        "",
        "| lever | before | after | after ÷ before (speed) | |",
        "| :--- | ---: | ---: | ---: | :--- |",
    ]
    with tempfile.TemporaryDirectory(prefix="livereport-levers-") as tmp:
        lines += decode_lever(args.base, Path(tmp))
        lines += seen_lever(args.ingest_base, Path(tmp))
        lines += insert_lever(Path(tmp))
        lines += tabs_lever(args.base, Path(tmp), args.events, args.runs)
        lines += read_pool_lever(Path(tmp), args.events, args.runs * 3, args.ingest_rate)
    lines += ["", f"Load average after the run: {load_average()}."]
    write_section("levers-quick" if args.quick else "levers", "\n".join(lines))


if __name__ == "__main__":
    main()
