"""The duplicate memory: which (org, id) pairs are already stored.

A chain of Bloom filters answers "surely new" for almost every id without touching the engine;
the few ids it may have seen are confirmed against the events table (ordered by org, id).
Filters never forget, so the engine stays the source of truth; they are rebuilt at start.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

Key = tuple[int, str]


def _hashes(keys: Sequence[Key]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    digests = b"".join(
        hashlib.blake2b(f"{org}\x00{id_}".encode(), digest_size=16).digest() for org, id_ in keys
    )
    pairs = np.frombuffer(digests, dtype=np.uint64).reshape(-1, 2)
    return pairs[:, 0].copy(), pairs[:, 1] | np.uint64(1)


class _Bloom:
    def __init__(self, capacity: int, error_rate: float) -> None:
        self.capacity = capacity
        self.bits = max(64, int(-capacity * math.log(error_rate) / math.log(2) ** 2))
        self.k = max(1, round(self.bits / capacity * math.log(2)))
        self.array = np.zeros((self.bits + 7) // 8, dtype=np.uint8)
        self.count = 0

    def _positions(self, h1: npt.NDArray[np.uint64], h2: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        steps = np.arange(self.k, dtype=np.uint64)
        with np.errstate(over="ignore"):
            return (h1[:, None] + steps[None, :] * h2[:, None]) % np.uint64(self.bits)

    def add(self, h1: npt.NDArray[np.uint64], h2: npt.NDArray[np.uint64]) -> None:
        pos = self._positions(h1, h2).ravel()
        np.bitwise_or.at(self.array, pos >> np.uint64(3), (1 << (pos & np.uint64(7))).astype(np.uint8))
        self.count += len(h1)

    def contains(self, h1: npt.NDArray[np.uint64], h2: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
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
