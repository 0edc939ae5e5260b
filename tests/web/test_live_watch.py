"""The campaign watchers behind the live stream: one check a second per campaign, however many
pages watch it; a change moves the version; nothing keeps running once the last page leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from livereport.web import live
from livereport.web.live import Watches


class CountingStore:
    """Answers the watcher's query (the events of the live window, and of the campaign in
    all) with a number the test moves; counts the queries."""

    database = "test"

    def __init__(self) -> None:
        self.events = 0
        self.queries = 0

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        assert "minute_counts" in sql and params is not None and params["campaign"] == "c"
        self.queries += 1
        return [(self.events, self.events)]

    def insert_events(self, rows: Sequence[Any], received: int) -> None:
        raise NotImplementedError

    def iter_event_keys(self, since: int) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


def test_watchers_share_one_check_and_stop_with_the_last_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live.time, "time", lambda: 1_800_000_000.0)  # no minute turns over
    store = CountingStore()
    watches = Watches(store, poll_s=0.02)  # type: ignore[arg-type]

    async def scenario() -> None:
        async with watches.watch(1, "c") as first, watches.watch(1, "c") as second:
            assert first is second and first.subscribers == 2
            seen = first.version
            assert not await first.wait(seen, 0.1)  # nothing landed: no change
            store.events += 5
            assert await first.wait(seen, 2.0)
            assert first.version == seen + 1
            task = first.task
        assert task is not None
        await asyncio.sleep(0.05)
        assert task.cancelled() or task.done()
        assert watches._watches == {}
        queries = store.queries
        await asyncio.sleep(0.1)
        assert store.queries == queries  # no page, no query

    asyncio.run(scenario())


def test_events_this_node_stores_are_checked_at_once_and_at_most_twice_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live.time, "time", lambda: 1_800_000_000.0)
    store = CountingStore()
    watches = Watches(store, poll_s=30.0)  # type: ignore[arg-type]  # a poll would come too late

    async def scenario() -> None:
        notify = watches.notifier(asyncio.get_running_loop())
        async with watches.watch(1, "c") as watch:
            seen = watch.version
            store.events += 3
            # The writer thread reports an insert of this campaign (and of one nobody watches).
            await asyncio.to_thread(notify, {(1, "c"), (2, "other")})
            assert await watch.wait(seen, 2.0)
            assert watch.version == seen + 1
            # A burst of inserts: checks keep at least MIN_CHECK_S apart.
            before = store.queries
            loop = asyncio.get_running_loop()
            started = loop.time()
            for _ in range(20):
                store.events += 1
                await asyncio.to_thread(notify, {(1, "c")})
                await asyncio.sleep(0.02)
            await asyncio.sleep(live.MIN_CHECK_S)
            elapsed = loop.time() - started
            checks = store.queries - before
            assert 1 <= checks <= elapsed / live.MIN_CHECK_S + 1, (checks, elapsed)
            assert watch.version > seen + 1

    asyncio.run(scenario())
