"""A tab served again from the result cache never hides an accepted event, and the raw-events
baseline of the benchmarks (``Reports(raw=True)``) gives the very numbers of the rollups."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from conftest import Server, post


def delivered(client: httpx.Client, campaign: str, execution: str | None = None) -> int:
    params = {"tab": "email", **({"execution": execution} if execution else {})}
    response = client.get(f"/v1/campaigns/{campaign}/report", params=params)
    assert response.status_code == 200, response.text
    kpi = next(w for w in response.json()["widgets"] if w["id"] == "email.sending_performance")
    return int(kpi["data"]["metrics"]["delivered"])


def events(campaign: str, n: int, execution: str = "morning") -> list[dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return [
        {
            "id": uuid.uuid4().hex,
            "time": now,
            "campaign": campaign,
            "channel": "email",
            "type": "delivered",
            "profile": f"p{i}",
            "execution": execution,
        }
        for i in range(n)
    ]


def test_a_repeated_tab_shows_every_event_accepted_before_it(
    server: Server, keys: dict[str, str]
) -> None:
    campaign = f"cache-{uuid.uuid4().hex[:10]}"
    with server.client(keys["both"]) as client:
        post(client, events(campaign, 3))
        assert delivered(client, campaign) == 3
        assert delivered(client, campaign) == 3  # served again, unchanged
        # An execution without events is refused (400): the evening starts with its first.
        post(client, events(campaign, 2, execution="evening"))
        evening = 2
        for more in (1, 4):
            assert delivered(client, campaign, "evening") == evening  # cached from here on
            post(client, events(campaign, more, execution="evening"))
            evening += more
            assert delivered(client, campaign, "evening") == evening
            assert delivered(client, campaign) == 3 + evening
        assert delivered(client, campaign, "morning") == 3
        assert delivered(client, campaign, "evening") == 7


def engine_script(
    data: Path, campaign: str, hours: int, executions: tuple[str, ...], body: str
) -> str:
    """A child-process script (the embedded engine opens one data directory per process):
    an engine on ``data`` with livereport's schema and ``events``, the unique decoded events
    of a simulated campaign over the last ``hours``, then ``body``."""
    prelude = textwrap.dedent(f"""
        import threading, time
        from datetime import UTC, datetime, timedelta
        from pathlib import Path
        import msgspec
        from livereport import simulate
        from livereport.ingest import pipeline
        from livereport.report.build import Reports
        from livereport.report.catalogue import TABS
        from livereport.store.chdb import ChdbStore
        from livereport.store.schema import migrate

        store = ChdbStore(Path({str(data)!r}))
        migrate(store)
        now = datetime.now(UTC)
        generated = [dict(e) for e in simulate.generate(
            seed=3, campaign={campaign!r}, profiles=300, start=now - timedelta(hours={hours}),
            end=now - timedelta(minutes=1), executions={executions!r}, variants=("A", "B"))]
        batch = pipeline.prepare(
            pipeline.Body(msgspec.json.encode(generated), "application/json", 10**6),
            pipeline.Context(1, now, timedelta(days=30)))
        events = list({{e.id: e for _, e in batch.events}}.values())
    """)
    return prelude + textwrap.dedent(body)


def run_script(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_each_tab_from_raw_events_equals_the_rollups(tmp_path: Path) -> None:
    out = run_script(
        engine_script(
            tmp_path / "data",
            "raw",
            20,
            ("a", "b"),
            """
        store.insert_events([(1, e) for e in events], int(time.time()))
        at = time.time()
        rollups, raw = Reports(store, cache=False), Reports(store, raw=True)
        for tab in TABS:
            for execution in (None, "a"):
                a = rollups.report(1, "raw", tab, execution, now=at)
                b = raw.report(1, "raw", tab, execution, now=at)
                assert a == b, (tab, execution)
        print("same", len(events))
    """,
        )
    )
    assert out.startswith("same ") and int(out.split()[1]) > 1000


def test_a_tab_built_while_events_are_inserted_is_never_kept_half_done(tmp_path: Path) -> None:
    # Reads run beside inserts (their own chDB connections), and an insert's materialized
    # views commit one rollup at a time; a tab kept from such a moment would stay wrong.
    out = run_script(
        engine_script(
            tmp_path / "data",
            "busy",
            3,
            ("a",),
            """
        store.insert_events([(1, e) for e in events[:100]], int(time.time()))
        reports = Reports(store)

        # A tab built while a write runs is served but not kept.
        with store._engine.writing():
            reports.report(1, "busy", "email")
            reports.report(1, "busy", "email")
        assert (reports.hits, reports.misses) == (0, 2), (reports.hits, reports.misses)
        reports.report(1, "busy", "email")
        reports.report(1, "busy", "email")
        assert (reports.hits, reports.misses) == (1, 3), (reports.hits, reports.misses)

        # Loads during real inserts; once they stop, the tab served equals one built afresh.
        def insert():
            for start in range(100, len(events), 60):
                store.insert_events([(1, e) for e in events[start:start + 60]], int(time.time()))
        writer = threading.Thread(target=insert)
        writer.start()
        loads = 0
        while writer.is_alive():
            for tab in ("email", "campaign"):
                reports.report(1, "busy", tab)
                loads += 1
        writer.join()
        fresh = Reports(store, cache=False)
        at = time.time()
        for tab in ("email", "campaign"):
            assert reports.report(1, "busy", tab, now=at) == fresh.report(1, "busy", tab, now=at), tab
        print("loads", loads, "events", len(events))
    """,
        )
    )
    loads, stored = int(out.split()[1]), int(out.split()[3])
    assert loads > 1 and stored > 1000, out


def test_live_streams_of_one_tab_share_one_build_per_change(tmp_path: Path) -> None:
    out = run_script(
        engine_script(
            tmp_path / "data",
            "shared",
            3,
            ("a",),
            """
        from concurrent.futures import ThreadPoolExecutor
        store.insert_events([(1, e) for e in events[:-50]], int(time.time()))
        reports = Reports(store, cache=False)
        builds = []
        build = reports._report

        def counted(*args):
            builds.append(args[2])
            time.sleep(1.0)  # a slow build: every other stream arrives while it runs
            return build(*args)

        reports._report = counted

        def streams(n, share=True):
            with ThreadPoolExecutor(n) as pool:
                return list(pool.map(lambda _: reports.report(1, "shared", "email", share=share), range(n)))

        # The builds below take some 10 s: start them early in a minute, so that the window
        # (which moves with the minute) is the same for all of them.
        while time.time() % 60 > 30:
            time.sleep(0.5)
        got = streams(10)
        assert builds == ["email"] and reports.shared == 9, (builds, reports.shared)
        assert all(g["widgets"] == got[0]["widgets"] for g in got)
        streams(3, share=False)  # plain requests never share
        assert len(builds) == 4, builds
        store.insert_events([(1, e) for e in events[-50:]], int(time.time()))
        after = streams(10)  # a change: one new build, with the new events
        assert len(builds) == 5 and reports.shared == 18, (builds, reports.shared)
        fresh = Reports(store, cache=False).report(1, "shared", "email")
        assert after[0]["widgets"] == fresh["widgets"] != got[0]["widgets"]
        print("shared", reports.shared)
    """,
        )
    )
    assert out.startswith("shared 18"), out


def test_tabs_stay_exact_when_the_memory_of_last_minutes_forgets_and_merges(tmp_path: Path) -> None:
    # The events arrive in many small batches, shuffled (late events included), while the
    # memory of recent last minutes (store/window.py RecentLasts) merges every few hundred
    # keys and keeps at most 2,000: every tab still equals the raw events' computation, and
    # the per-minute counts of last occurrences equal those rebuilt from the events.
    out = run_script(
        engine_script(
            tmp_path / "data",
            "forget",
            20,
            ("a", "b"),
            """
        import random
        from livereport.store import window
        recent = store.recent_lasts()
        recent.capacity, recent.DELTA_MAX = 2_000, 300
        random.Random(5).shuffle(events)
        for i in range(0, len(events), 97):
            store.insert_events([(1, e) for e in events[i : i + 97]], int(time.time()))
        assert len(recent) <= 2_000 + 300 and not recent.complete
        at = time.time()
        rollups, raw = Reports(store, cache=False), Reports(store, raw=True)
        for tab in TABS:
            for execution in (None, "b"):
                assert rollups.report(1, "forget", tab, execution, now=at) == raw.report(
                    1, "forget", tab, execution, now=at), (tab, execution)

        def minutes():
            return sorted(store.execute(
                "SELECT channel, type, every_execution, dim, execution, key, toUInt32(minute), "
                "sum(profiles) AS n FROM {db}.unique_minutes GROUP BY channel, type, "
                "every_execution, dim, execution, key, minute HAVING n != 0"))

        kept = minutes()
        window.rebuild(store)
        assert minutes() == kept
        print("same", len(events))
    """,
        )
    )
    assert out.startswith("same ") and int(out.split()[1]) > 1000


def test_the_memory_of_last_minutes_answers_only_for_what_it_was_told() -> None:
    import numpy as np

    from livereport.store.window import RecentLasts

    def told(*entries: tuple[int, int, int]) -> None:
        keys, checks, lasts = (
            np.array(column, dtype=t)
            for column, t in zip(
                zip(*entries, strict=True), (np.uint64, np.uint32, np.uint32), strict=True
            )
        )
        recent.keep(keys, checks, lasts)

    def asked(*entries: tuple[int, int]) -> list[int | None]:
        keys, checks = (
            np.array(c, dtype=t)
            for c, t in zip(zip(*entries, strict=True), (np.uint64, np.uint32), strict=True)
        )
        known, lasts = recent.lookup(keys, checks)
        return [int(v) if k else None for k, v in zip(known, lasts, strict=True)]

    recent = RecentLasts(capacity=4)
    recent.DELTA_MAX = 2
    a, b, c, d, e = ((n, 100 + n) for n in range(1, 6))
    told((*a, 60), (*b, 120))
    told((*c, 180))  # past DELTA_MAX: merged into one sorted run
    assert asked(a, b, c, d) == [60, 120, 180, None]
    assert asked((1, 999)) == [None]  # same hash, another profile's check
    told((*a, 240))  # newer, in a later run, wins over the merged entry
    assert asked(a) == [240]
    told((*d, 300), (*e, 360))  # five keys: the oldest last minute (b) is forgotten
    assert asked(a, b, c, d, e) == [240, None, 180, 300, 360]
