"""The last minutes the embedded engine's one writer stored, kept in memory (store/window.py
uses it to skip the engine's lookup of keys it knows)."""

from __future__ import annotations

import numpy as np

#: No keys: (keys, lasts, checks).
_EMPTY = (np.zeros(0, np.uint64), np.zeros(0, np.uint32), np.zeros(0, np.uint32))


class RecentLasts:
    """The last minute of the keys this process wrote most recently: what the insert's lookup
    would read back from ``unique_last``, without asking the engine.

    Only for a store with one writer per database (the embedded engine: one process owns its
    directory, and its batches are recorded one at a time under window.recording). A key is a
    64-bit hash of (group, profile), checked on a hit against 32 bits of the profile's own
    hash: a wrong answer needs two keys of one profile with equal 64-bit hashes and equal
    checks. Entries are sorted NumPy arrays (16 bytes per key): the batches recorded lately,
    merged now and then into one; past ``capacity`` keys, those with the oldest last minute
    are forgotten, and the engine is asked for them again.

    A campaign that had no last minutes in the tables when this process first wrote to it is
    *complete* here: every key it has is known, so a key not found is new, and the engine
    need not be asked. Forgetting keys ends that.
    """

    DELTA_MAX = 262_144

    def __init__(self, capacity: int = 4_000_000) -> None:
        self.capacity = capacity
        #: (keys, lasts, checks), each sorted by key: the merged base first, then newer ones.
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [_EMPTY]
        #: (org, campaign) whose every key is known here, and those already checked for it.
        self.complete: set[tuple[int, str]] = set()
        self.checked: set[tuple[int, str]] = set()

    def __len__(self) -> int:
        return sum(len(keys) for keys, _, _ in self._runs)

    def lookup(self, keys: np.ndarray, checks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(known, lasts) for each key: whether it is known here, and its last minute."""
        known = np.zeros(len(keys), dtype=bool)
        lasts = np.zeros(len(keys), dtype=np.uint32)
        for run_keys, run_lasts, run_checks in self._runs:  # oldest first: newer ones win
            if not len(run_keys):
                continue
            at = np.minimum(np.searchsorted(run_keys, keys), len(run_keys) - 1)
            hit = run_keys[at] == keys
            known[hit] = run_checks[at][hit] == checks[hit]
            lasts[hit] = run_lasts[at][hit]
        return known, lasts

    def keep(self, keys: np.ndarray, checks: np.ndarray, lasts: np.ndarray) -> None:
        """Record keys' last minutes (unique keys; after the insert that wrote them succeeded)."""
        order = np.argsort(keys)
        self._runs.append((keys[order], lasts[order].astype(np.uint32), checks[order]))
        if sum(len(k) for k, _, _ in self._runs[1:]) > self.DELTA_MAX:
            self._merge()

    def _merge(self) -> None:
        keys = np.concatenate([k for k, _, _ in self._runs])
        lasts = np.concatenate([v for _, v, _ in self._runs])
        checks = np.concatenate([c for _, _, c in self._runs])
        # Runs are oldest first, so a stable sort puts a key's newest entry last.
        order = np.argsort(keys, kind="stable")
        keys, lasts, checks = keys[order], lasts[order], checks[order]
        last_of_run = np.ones(len(keys), dtype=bool)
        last_of_run[:-1] = keys[1:] != keys[:-1]
        keys, lasts, checks = keys[last_of_run], lasts[last_of_run], checks[last_of_run]
        if len(keys) > self.capacity:
            self.complete.clear()
            newest = np.sort(np.argpartition(lasts, len(keys) - self.capacity)[-self.capacity :])
            keys, lasts, checks = keys[newest], lasts[newest], checks[newest]
        self._runs = [(keys, lasts, checks)]

    def clear(self) -> None:
        """Forget every key (the tables were rebuilt, or an insert failed part way)."""
        self._runs = [_EMPTY]
        self.complete.clear()
        self.checked.clear()
