"""The writer: one thread that de-duplicates and stores events in few large inserts.

Requests hand their validated events to :meth:`Writer.submit` and wait; the thread gathers
what arrived (group commit), drops ids already stored, inserts the rest in one statement and
only then answers each waiting request. Everything it acknowledged is on disk.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from livereport.errors import Overloaded, StorageUnavailable, storage_failure
from livereport.events import Event
from livereport.ingest.seen import Key, SeenIds, SharedSeen
from livereport.observe import IngestMetrics
from livereport.store.base import Store, WindowTurn
from livereport.store.recover import InsertJournal

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    org: int
    events: Sequence[Event]
    future: Future[list[bool]] = field(default_factory=Future)


class Writer:
    """Stores events exactly once per (org, id); ``submit`` returns True for each new event."""

    def __init__(
        self,
        store: Store,
        *,
        linger_s: float = 0.02,
        max_batch: int = 50_000,
        max_pending: int = 400_000,
        retention_s: int = 30 * 86_400,
        metrics: IngestMetrics | None = None,
        insert_delay_s: float = 0.0,
        journal: InsertJournal | None = None,
        shared: SharedSeen | None = None,
    ) -> None:
        self.store = store
        self.linger_s = linger_s
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.retention_s = retention_s
        self.metrics = metrics
        self.insert_delay_s = insert_delay_s  # tests only: storage slower than input
        self.journal = journal
        #: Cluster mode: ids claimed in PostgreSQL by every node (ingest/seen.py).
        self.shared = shared
        self._elsewhere: set[Key] = set()
        #: Called from the writer thread with the (org, campaign) pairs of each insert.
        self.on_stored: Callable[[Iterable[tuple[int, str]]], None] | None = None
        #: Time (epoch ms) of the newest stored event, for the freshness lag.
        self.newest_ms: int | None = None
        self.seen = SeenIds()
        self.stats = {"accepted": 0, "duplicates": 0, "inserts": 0, "confirm_queries": 0}
        self._queue: deque[_Pending] = deque()
        self._pending_events = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Load the duplicate memory from the store, then start the writer thread."""
        self._repair()
        since = int(time.time()) - self.retention_s
        if self.shared is None:  # with a shared memory every id is confirmed in the store
            self.seen.load(self.store.iter_event_keys(since))
        ((newest,),) = self.store.execute("SELECT toUnixTimestamp(max(time)) FROM {db}.events")
        self.newest_ms = int(newest) * 1000 if newest else None
        self._thread = threading.Thread(target=self._run, name="livereport-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Store what was already submitted, then stop the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()

    @property
    def pending(self) -> int:
        return self._pending_events

    @property
    def stopping(self) -> bool:
        return self._stopping

    def submit_nowait(self, org: int, events: Sequence[Event]) -> Future[list[bool]]:
        with self._cond:
            if self._stopping:
                raise StorageUnavailable("the server is shutting down; retry on another node")
            if self._pending_events + len(events) > self.max_pending:
                if self.metrics is not None:
                    self.metrics.overloaded.inc()
                raise Overloaded(
                    f"{self._pending_events} events are waiting to be stored; "
                    "retry this request after the Retry-After delay",
                    retry_after=1,
                )
            item = _Pending(org, events)
            self._queue.append(item)
            self._pending_events += len(events)
            self._cond.notify()
        return item.future

    async def submit(self, org: int, events: Sequence[Event]) -> list[bool]:
        """Wait until the events are stored; for each, True if new, False if a duplicate."""
        if not events:
            return []
        return await asyncio.wrap_future(self.submit_nowait(org, events))

    def _take_batch(self) -> list[_Pending]:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if not self._queue:
                return []
        if self.linger_s and not self._stopping:
            time.sleep(self.linger_s)  # let concurrent requests join this insert
        batch: list[_Pending] = []
        size = 0
        with self._cond:
            while self._queue and (
                not batch or size + len(self._queue[0].events) <= self.max_batch
            ):
                item = self._queue.popleft()
                batch.append(item)
                size += len(item.events)
        return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if not batch:
                return
            try:
                results = self._store_shared(batch) if self.shared else self._store(batch)
            except Exception as exc:  # every waiting request must get an answer
                error = storage_failure(exc)
                log.error("insert failed: %s (%s)", error.message, exc)
                for item in batch:
                    item.future.set_exception(error)
            else:
                for item, result in zip(batch, results, strict=True):
                    item.future.set_result(result)
            finally:
                with self._cond:
                    self._pending_events -= sum(len(i.events) for i in batch)

    def _store_shared(self, batch: list[_Pending]) -> list[list[bool]]:
        """Hold the batch's ids claimed in PostgreSQL while the insert runs (cluster mode);
        the campaigns' turn at the live window only while the window is written."""
        shared = self.shared
        assert shared is not None
        keys = [(item.org, e.id) for item in batch for e in item.events]
        with shared.claim(keys) as elsewhere:
            self._elsewhere = elsewhere
            try:
                return self._store(batch, shared.window_turn)
            finally:
                self._elsewhere = set()
                if self.metrics is not None:
                    self.metrics.shared_wait_seconds.observe(shared.take_waited())

    def _store(self, batch: list[_Pending], turn: WindowTurn | None = None) -> list[list[bool]]:
        keys: list[Key] = [(item.org, e.id) for item in batch for e in item.events]
        stored = self._stored_already(keys)
        claimed: set[Key] = set()
        rows: list[tuple[int, Event]] = []
        results: list[list[bool]] = []
        for item in batch:
            flags = []
            for e in item.events:
                key = (item.org, e.id)
                new = key not in stored and key not in claimed
                if new:
                    claimed.add(key)  # the first event with an id stands
                    rows.append((item.org, e))
                flags.append(new)
            results.append(flags)
        if rows:
            started = time.perf_counter()
            if self.insert_delay_s:
                time.sleep(self.insert_delay_s)
            self._repair()
            if self.journal is not None:
                self.journal.begin({_day(d) for d in {e.time_ms // 86_400_000 for _, e in rows}})
            try:
                self.store.insert_events(rows, int(time.time()), turn)
            except Exception:
                # Some of these rows may be stored: a retry must confirm them against the table.
                self.seen.add([(org, e.id) for org, e in rows])
                raise
            if self.journal is not None:
                self.journal.end()
            self.stats["inserts"] += 1
            self.seen.add([(org, e.id) for org, e in rows])
            newest = max(e.time_ms for _, e in rows)
            self.newest_ms = max(newest, self.newest_ms or newest)
            if self.on_stored is not None:
                try:
                    self.on_stored({(org, e.campaign) for org, e in rows})
                except Exception:  # the events are stored: a live view still sees them at its poll
                    log.exception("could not tell live streams about stored events")
            if self.metrics is not None:
                self.metrics.flush_seconds.observe(time.perf_counter() - started)
        self.stats["accepted"] += len(rows)
        self.stats["duplicates"] += len(keys) - len(rows)
        if self.metrics is not None:
            self.metrics.accepted.inc(len(rows))
            self.metrics.duplicates.inc(len(keys) - len(rows))
        return results

    def _repair(self) -> None:
        """Rebuild the rollups of an insert a crash or an error cut in the middle."""
        if self.journal is not None:
            days = self.journal.repair(self.store)
            if days:
                log.warning("rebuilt the rollups of days %s after an interrupted insert", days)

    def _stored_already(self, keys: list[Key]) -> set[Key]:
        unique = list(dict.fromkeys(keys))
        maybe = [k for k, m in zip(unique, self.seen.maybe_seen(unique), strict=True) if m]
        if self.shared is not None:
            # Another node may have stored any id: confirm every one it did not claim.
            maybe = [k for k in unique if k not in self._elsewhere]
        by_org: dict[int, list[str]] = {}
        for org, id_ in maybe:
            by_org.setdefault(org, []).append(id_)
        found: set[Key] = set(self._elsewhere)
        # An id is remembered while the event that brought it is within retention: the same
        # rule as the memory loaded at start, whatever partitions are still waiting to be dropped.
        since = int(time.time()) - self.retention_s
        for org, ids in by_org.items():
            for start in range(0, len(ids), 5000):
                chunk = tuple(ids[start : start + 5000])
                self.stats["confirm_queries"] += 1
                rows = self.store.execute(
                    "SELECT id FROM {db}.events WHERE org = %(org)s AND id IN %(ids)s "
                    "AND time >= %(since)s",
                    {"org": org, "ids": chunk, "since": since},
                )
                found.update((org, id_) for (id_,) in rows)
        return found


def _day(days: int) -> int:
    """YYYYMMDD of a day (days since the epoch, UTC): the partition its events are stored in."""
    t = time.gmtime(days * 86_400)
    return t.tm_year * 10_000 + t.tm_mon * 100 + t.tm_mday
