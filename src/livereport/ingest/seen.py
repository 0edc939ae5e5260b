"""The duplicate memory: which (org, id) pairs are already stored.

A chain of Bloom filters answers "surely new" for almost every id without touching the engine;
the few ids it may have seen are confirmed against the events table (ordered by org, id).
Filters never forget, so the engine stays the source of truth; they are rebuilt at start.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg

from livereport.errors import StorageUnavailable

Key = tuple[int, str]


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser: spreads every input bit over the whole word."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))


def _hashes(keys: Sequence[Key]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    # Python's own (per-process salted) hash is enough: the filters live only in this
    # process and are rebuilt at start, and a collision only costs a confirm query.
    base = np.fromiter(map(hash, keys), dtype=np.int64, count=len(keys)).view(np.uint64)
    with np.errstate(over="ignore"):
        return _mix(base), _mix(base + np.uint64(0x9E3779B97F4A7C15)) | np.uint64(1)


class _Bloom:
    def __init__(self, capacity: int, error_rate: float) -> None:
        self.capacity = capacity
        self.bits = max(64, int(-capacity * math.log(error_rate) / math.log(2) ** 2))
        self.k = max(1, round(self.bits / capacity * math.log(2)))
        self.array = np.zeros((self.bits + 7) // 8, dtype=np.uint8)
        self.count = 0

    def _positions(
        self, h1: npt.NDArray[np.uint64], h2: npt.NDArray[np.uint64]
    ) -> npt.NDArray[np.uint64]:
        steps = np.arange(self.k, dtype=np.uint64)
        with np.errstate(over="ignore"):
            return (h1[:, None] + steps[None, :] * h2[:, None]) % np.uint64(self.bits)

    def add(self, h1: npt.NDArray[np.uint64], h2: npt.NDArray[np.uint64]) -> None:
        pos = self._positions(h1, h2).ravel()
        np.bitwise_or.at(
            self.array, pos >> np.uint64(3), (1 << (pos & np.uint64(7))).astype(np.uint8)
        )
        self.count += len(h1)

    def contains(
        self, h1: npt.NDArray[np.uint64], h2: npt.NDArray[np.uint64]
    ) -> npt.NDArray[np.bool_]:
        pos = self._positions(h1, h2)
        bits = (self.array[pos >> np.uint64(3)] >> (pos & np.uint64(7)).astype(np.uint8)) & 1
        result: npt.NDArray[np.bool_] = bits.all(axis=1)
        return result


class SeenIds:
    """Remembers stored ids; may answer "maybe" for a new id, never "no" for a stored one."""

    def __init__(self, capacity: int = 1_000_000, error_rate: float = 0.001) -> None:
        self._error_rate = error_rate
        self._filters = [_Bloom(capacity, error_rate)]

    def __len__(self) -> int:
        return sum(f.count for f in self._filters)

    def add(self, keys: Sequence[Key]) -> None:
        if not keys:
            return
        h1, h2 = _hashes(keys)
        start = 0
        while start < len(keys):
            current = self._filters[-1]
            if current.count >= current.capacity:
                # A full filter would answer "maybe" too often: chain a larger one.
                current = _Bloom(current.capacity * 2, self._error_rate)
                self._filters.append(current)
            room = current.capacity - current.count
            current.add(h1[start : start + room], h2[start : start + room])
            start += room

    def maybe_seen(self, keys: Sequence[Key]) -> list[bool]:
        """For each key: False when it was surely never added, True when it may have been."""
        if not keys:
            return []
        h1, h2 = _hashes(keys)
        found = np.zeros(len(keys), dtype=bool)
        for f in self._filters:
            if f.count:
                found |= f.contains(h1, h2)
        return [bool(x) for x in found]

    def load(self, keys: Iterable[Key], chunk: int = 100_000) -> int:
        """Add keys from the store in chunks (at start-up); return how many were added."""
        batch: list[Key] = []
        total = 0
        for key in keys:
            batch.append(key)
            if len(batch) >= chunk:
                self.add(batch)
                total += len(batch)
                batch = []
        self.add(batch)
        return total + len(batch)


_SHARED_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    org INTEGER NOT NULL,
    id TEXT NOT NULL,
    claimed DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (org, id)
)
"""
_CLAIM = (
    "INSERT INTO seen (org, id, claimed) "
    "SELECT u.org, u.id, %s FROM unnest(%s::integer[], %s::text[]) AS u(org, id) "
    "ORDER BY u.org, u.id ON CONFLICT DO NOTHING RETURNING org, id"
)


class SharedSeen:
    """The ids claimed by every app node of a cluster, in PostgreSQL.

    A node claims a batch's ids in a transaction it keeps open while it inserts the events,
    and commits only once the insert returned. Another node claiming the same id waits on
    the row lock: it gets the id if the first one rolled back (or died: PostgreSQL aborts the
    transaction of a closed connection), and a conflict — a duplicate — if it committed.
    What a node claims is still confirmed against the events table by the caller, which
    catches a node that died between its insert and its commit.
    """

    def __init__(self, url: str, retention_s: int) -> None:
        self.url = url
        self.retention_s = retention_s
        self._conn: psycopg.Connection[Any] | None = None
        self._pruned = 0.0
        #: Seconds spent in claims and window turns, for the metrics (take_waited).
        self.waited = 0.0

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            with conn.transaction():  # nodes starting together take turns at the DDL
                conn.execute("SELECT pg_advisory_xact_lock(7336515)")
                conn.execute(_SHARED_SCHEMA)
            self._conn = conn
        return self._conn

    @contextmanager
    def claim(self, keys: Sequence[Key]) -> Iterator[set[Key]]:
        """Claim ``keys`` until the block ends (committed if it ends normally, else rolled
        back); yields the keys another node already claimed, which are duplicates. Only a
        node claiming one of the same ids waits, and only until this block ends."""
        unique = sorted(set(keys))  # one order for every node: no deadlocks between them
        try:
            conn = self._connection()
            now = time.time()
            if now - self._pruned > 3600:
                conn.execute("DELETE FROM seen WHERE claimed < %s", (now - self.retention_s,))
                self._pruned = now
            with conn.transaction():
                started = time.perf_counter()
                rows = conn.execute(
                    _CLAIM, (now, [org for org, _ in unique], [id_ for _, id_ in unique])
                ).fetchall()
                self.waited += time.perf_counter() - started
                claimed = {(int(org), str(id_)) for org, id_ in rows}
                yield set(unique) - claimed
        except psycopg.OperationalError as exc:
            self.close()
            raise _unavailable(exc) from exc

    @contextmanager
    def window_turn(self, campaigns: Sequence[tuple[int, str]]) -> Iterator[None]:
        """Hold the turn of these (org, campaign) at the live window while the block runs:
        one node at a time records a campaign's distinct profiles (store/window.py). Taken
        inside ``claim`` and let go as soon as the window is written, before the events
        are inserted, so nodes insert one campaign's events side by side. A node waiting
        here holds ids no other node waits for (ids are claimed first, by every node)."""
        conn = self._connection()
        unique = sorted(set(campaigns))
        held: list[tuple[int, str]] = []
        try:
            started = time.perf_counter()
            for org, campaign in unique:
                conn.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (org, campaign))
                held.append((org, campaign))
            self.waited += time.perf_counter() - started
            yield
        except psycopg.OperationalError as exc:
            self.close()  # a closed session lets its locks go
            raise _unavailable(exc) from exc
        finally:
            if held and self._conn is not None:
                try:
                    for org, campaign in held:
                        conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (org, campaign))
                except psycopg.Error:
                    self.close()

    def take_waited(self) -> float:
        """Seconds spent waiting for PostgreSQL (claims and window turns) since the last call."""
        waited, self.waited = self.waited, 0.0
        return waited

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _unavailable(exc: psycopg.Error) -> StorageUnavailable:
    return StorageUnavailable(
        f"the shared duplicate memory in PostgreSQL failed: {str(exc).strip()[:300]}"
    )
