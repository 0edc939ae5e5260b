"""Distinct profiles of the live window from each profile's last occurrence.

A profile is counted in a window when its last occurrence (so far) lies inside it. Per
group (org, campaign, channel, type, one execution or all of them, one breakdown key or
none), ``unique_last`` keeps each profile's last minute and ``unique_minutes`` how many
profiles have their last occurrence in each minute. The distinct profiles of the window
[start, end) are then the sum of ``unique_minutes`` over its minutes — work that grows with
the minutes of the window and the groups shown, not with its events — as long as no
profile has an occurrence at or after ``end`` (events a sender dated in the next minutes);
the report falls back to merging the per-minute sets then.

Every insert of events first records its "moves": for each (group, profile) of the batch
whose newest minute is later than the last one stored, a row (old minute or 0, new minute)
into ``unique_moves``; its views write the new last minute and the -1/+1 into the two
tables. Recording the same events again moves nothing, so an insert retried after a crash
or an error cannot count a profile twice. Moves for one campaign are made one batch at a
time: in this process under a lock, across the app nodes of a cluster under a PostgreSQL
lock per campaign (ingest/seen.py). Minutes older than :data:`HORIZON_S` are not tracked;
a report's window must start within :data:`USABLE_S` of now to be read from here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from livereport.events import Event
from livereport.store.base import Store, WindowTurn
from livereport.store.lasts import RecentLasts

__all__ = ["RecentLasts"]  # re-exported: tests and the stores name it here

#: The event types whose distinct profiles reports show.
UNIQUE_TYPES: tuple[str, ...] = ("entered", "open", "click", "impression", "interaction")
_UNIQUE = frozenset(UNIQUE_TYPES)
#: Last occurrences older than this (seconds before the insert) are neither looked up nor
#: moved: no window read from these tables reaches that far back.
HORIZON_S = 26 * 3600
#: A window read from these tables starts at most this long before now.
USABLE_S = 25 * 3600
MOVE_COLUMNS: tuple[str, ...] = (
    "org",
    "campaign",
    "channel",
    "type",
    "every_execution",
    "execution",
    "dim",
    "key",
    "profile",
    "old",
    "new",
)
#: The series of the dashboard (5-minute buckets) count distinct profiles per bucket: each
#: bucket is a group of its own, under this dim with the bucket's start as its key.
SERIES_BUCKET_S = 300
SERIES_DIM = "series:5m"
#: The columns (and their types) of the batch of keys a lookup sends to the engine.
LOOKUP_COLUMNS: tuple[str, ...] = (
    "i",
    "channel",
    "type",
    "every_execution",
    "execution",
    "dim",
    "key",
    "profile",
)
LOOKUP_TYPES: tuple[str, ...] = (
    "UInt32",
    "String",
    "String",
    "UInt8",
    "String",
    "String",
    "String",
    "String",
)
#: The tables written from unique_moves (rebuilt together).
TABLES: tuple[str, ...] = ("unique_last", "unique_minutes")

Group = tuple[int, str, str, str, int, str, str, str]  # org … key
Move = tuple[int, str, str, str, int, str, str, str, str, int, int]

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(database: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(database, threading.Lock())


def dimension_keys(e: Event) -> list[tuple[str, str]]:
    """The (dim, key) pairs an event is counted under: none, its series bucket, then each
    breakdown key it carries."""
    bucket = e.time_ms // (SERIES_BUCKET_S * 1000) * SERIES_BUCKET_S
    pairs = [("", ""), (SERIES_DIM, str(bucket))]
    for dim, key in (
        ("reason", e.reason),
        ("recipient_domain", e.recipient_domain),
        ("platform", str(e.platform)),
        ("interaction", str(e.interaction)),
        ("element", e.element),
        ("variant", e.variant),
    ):
        if key:
            pairs.append((dim, key))
    return pairs


def _counted(rows: Sequence[tuple[int, Event]], horizon: int) -> Iterator[tuple[int, Event, int]]:
    """(org, event, minute) of the events whose distinct profiles are counted, from ``horizon`` on."""
    for org, e in rows:
        if e.type in _UNIQUE:
            minute = e.time_ms // 60_000 * 60
            if minute >= horizon:
                yield org, e, minute


def newest_minutes(rows: Sequence[tuple[int, Event]], horizon: int) -> dict[tuple[Group, str], int]:
    """The newest minute of each (group, profile) in a batch, minutes before ``horizon`` left out."""
    newest: dict[tuple[Group, str], int] = {}
    for org, e, minute in _counted(rows, horizon):
        channel, type_ = str(e.channel), str(e.type)
        for dim, key in dimension_keys(e):
            for every, execution in ((0, e.execution), (1, "")):
                found = ((org, e.campaign, channel, type_, every, execution, dim, key), e.profile)
                if newest.get(found, -1) < minute:
                    newest[found] = minute
    return newest


_MASK = (1 << 64) - 1
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, element-wise (uint64, wrapping)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    mixed: np.ndarray = z ^ (z >> _S31)
    return mixed


class Plan:
    """A batch's moves, and what to remember once they are stored (:meth:`stored`)."""

    def __init__(self, moves: list[Move], keep: Callable[[], None] = lambda: None) -> None:
        self.moves = moves
        self.stored = keep


_EVERY = hash(("every execution",)) & _MASK


def plan(store: Store, rows: Sequence[tuple[int, Event]], now: float | None = None) -> Plan:
    """:func:`moves`, and with the store's :class:`RecentLasts` (``store.recent_lasts()``;
    None for stores with several writers), the lookup of the keys it knows skipped. Call
    ``stored()`` on the result once the moves are written; if the write fails, clear the
    memory instead (``recent.clear()``), since the engine may hold part of the moves."""
    recent = store.recent_lasts()
    if recent is None:
        return Plan(moves(store, rows, now))
    horizon = int(now if now is not None else time.time()) - HORIZON_S
    # One entry per (event, dimension key): the event's hash, the key's, the execution's.
    events: list[tuple[int, Event]] = []
    owner: list[int] = []  # the entry's event
    pair_of: list[tuple[str, str]] = []
    bases: list[int] = []
    pairs: list[int] = []
    runs: list[int] = []
    minutes: list[int] = []
    checks: list[int] = []
    pair_hashes: dict[tuple[str, str], int] = {}
    for org, e, minute in _counted(rows, horizon):
        base = hash((org, e.campaign, str(e.channel), str(e.type), e.profile)) & _MASK
        run = hash(("execution", e.execution)) & _MASK
        check = hash(e.profile) & 0xFFFFFFFF
        n = len(events)
        events.append((org, e))
        for pair in dimension_keys(e):
            h = pair_hashes.get(pair)
            if h is None:
                h = pair_hashes[pair] = hash(pair) & _MASK
            owner.append(n)
            pair_of.append(pair)
            bases.append(base)
            pairs.append(h)
            runs.append(run)
            minutes.append(minute)
            checks.append(check)
    if not events:
        return Plan([])
    base_a = np.array(bases, dtype=np.uint64)
    pair_a = np.array(pairs, dtype=np.uint64)
    inner = _mix(base_a ^ pair_a)
    # Each entry counts for its own execution (every = 0) and for all of them (every = 1).
    keys = np.concatenate(
        [_mix(inner ^ np.array(runs, dtype=np.uint64)), _mix(inner ^ np.uint64(_EVERY))]
    )
    minute_a = np.tile(np.array(minutes, dtype=np.uint32), 2)
    check_a = np.tile(np.array(checks, dtype=np.uint32), 2)
    # The newest minute of each key: sorted by key then minute, the last of each key's run.
    order = np.lexsort((minute_a, keys))
    keys, minute_a, check_a = keys[order], minute_a[order], check_a[order]
    last_of_key = np.ones(len(keys), dtype=bool)
    last_of_key[:-1] = keys[1:] != keys[:-1]
    entry = order[last_of_key]  # index into the doubled entries
    keys, minute_a, check_a = keys[last_of_key], minute_a[last_of_key], check_a[last_of_key]

    def found(i: int) -> tuple[Group, str]:
        """The (group, profile) of entry ``i`` of the doubled entries."""
        every, j = divmod(i, len(owner))
        org, e = events[owner[j]]
        dim, key = pair_of[j]
        execution = "" if every else e.execution
        return (org, e.campaign, str(e.channel), str(e.type), every, execution, dim, key), e.profile

    for campaign in {(org, e.campaign) for org, e in events} - recent.checked:
        recent.checked.add(campaign)
        if not store.execute(
            "SELECT 1 FROM {db}.unique_last WHERE org = %(org)s AND campaign = %(campaign)s "
            "AND last >= toDateTime(%(horizon)s, 'UTC') LIMIT 1",
            {"org": campaign[0], "campaign": campaign[1], "horizon": horizon},
        ):
            recent.complete.add(campaign)
    known, olds = recent.lookup(keys, check_a)
    olds[known & (olds < horizon)] = 0  # outside the horizon: as if never seen
    # Keys not known here are new in a complete campaign; the others are asked of the engine.
    complete = np.array([(org, e.campaign) in recent.complete for org, e in events], dtype=bool)
    unknown = np.flatnonzero(~known & ~complete[np.array(owner)[entry % len(owner)]]).tolist()
    if unknown:
        asked = {found(int(entry[u])): int(minute_a[u]) for u in unknown}
        stored = _stored_lasts(store, asked, horizon)
        for u, f in zip(unknown, asked, strict=True):
            olds[u] = stored.get(f, 0)
    moving = np.flatnonzero(minute_a > olds).tolist()
    out: list[Move] = []
    for u in moving:
        group, profile = found(int(entry[u]))
        out.append((*group, profile, int(olds[u]), int(minute_a[u])))
    lasts = np.maximum(minute_a, olds)
    return Plan(out, lambda: recent.keep(keys, check_a, lasts))


def moves(store: Store, rows: Sequence[tuple[int, Event]], now: float | None = None) -> list[Move]:
    """The moves of a batch against the last minutes stored (call under :func:`recording`)."""
    horizon = int(now if now is not None else time.time()) - HORIZON_S
    newest = newest_minutes(rows, horizon)
    if not newest:
        return []
    stored = _stored_lasts(store, newest, horizon)
    out: list[Move] = []
    for (group, profile), minute in newest.items():
        old = stored.get((group, profile), 0)
        if minute > old:
            out.append((*group, profile, old, minute))
    return out


def _stored_lasts(
    store: Store, newest: dict[tuple[Group, str], int], horizon: int
) -> dict[tuple[Group, str], int]:
    """The last minute stored (at or after ``horizon``) of each key that has one."""
    # The batch's keys go to the engine as a table (chDB: a Python object; a server: an
    # external table of the query), and the lookup returns the stored last minute of exactly
    # those keys: reading a profile's rows is cheap, sending all of them back is not (a
    # profile has a row per series bucket, breakdown key and execution it was seen in).
    by_campaign: dict[tuple[int, str], list[tuple[Group, str]]] = {}
    for found in newest:
        by_campaign.setdefault((found[0][0], found[0][1]), []).append(found)
    stored: dict[tuple[Group, str], int] = {}
    for (org, campaign), keys in by_campaign.items():
        batch: dict[str, list[Any]] = {name: [] for name in LOOKUP_COLUMNS}
        for i, ((_, _, channel, type_, every, execution, dim, key), profile) in enumerate(keys):
            for name, value in zip(
                LOOKUP_COLUMNS,
                (i, channel, type_, every, execution, dim, key, profile),
                strict=True,
            ):
                batch[name].append(value)
        # Only the key's hash, its profile and the minute are read from the table: the other
        # columns of every row of the batch's profiles would cost far more to read. (Equal
        # hashes of two keys of the same profile would be needed to mistake one for another.)
        found_rows = store.select_with_batch(
            "SELECT i, found FROM (SELECT toUInt32(i) AS i, profile, sipHash64(channel, type, "
            "toUInt8(every_execution), execution, dim, key, profile) AS hkey FROM {batch}) AS b "
            "ALL INNER JOIN (SELECT hkey, profile, toUInt32(max(last)) AS found "
            "FROM {db}.unique_last WHERE org = %(org)s AND campaign = %(campaign)s "
            "AND last >= toDateTime(%(horizon)s, 'UTC') AND profile IN (SELECT profile FROM {batch}) "
            "AND hkey IN (SELECT sipHash64(channel, type, toUInt8(every_execution), execution, "
            "dim, key, profile) FROM {batch}) GROUP BY hkey, profile) AS l USING (hkey, profile)",
            {"org": org, "campaign": campaign, "horizon": horizon},
            batch,
        )
        for i, last in found_rows:
            stored[keys[int(i)]] = int(last)
    return stored


def recording(database: str) -> threading.Lock:
    """The lock that makes one batch's moves at a time in this process."""
    return _lock(database)


def turn(
    take: WindowTurn | None, rows: Sequence[tuple[int, Event]]
) -> AbstractContextManager[None]:
    """The rows' campaigns' turn at the window among a cluster's nodes, if ``take`` is given."""
    if take is None:
        return nullcontext()
    return take(sorted({(org, e.campaign) for org, e in rows}))


#: A rebuild takes the profiles in slices of about this many events, so that the engine's
#: grouping of one slice fits in memory however large the campaigns are.
REBUILD_SLICE_EVENTS = 5_000_000


def rebuild_sql(since: int, slices: int = 1, part: int = 0) -> str:
    """``INSERT … SELECT`` of the moves of every (group, profile) with events since ``since``
    (epoch seconds) as if each were new: the tables' content, computed from the events.
    With ``slices`` > 1, only the profiles whose hash falls in slice ``part``."""
    return f"""
INSERT INTO {{db}}.unique_moves ({", ".join(MOVE_COLUMNS)})
SELECT org, campaign, channel, type, every_execution, execution, dim, key, profile,
       toDateTime(0, 'UTC'), max(minute)
FROM (
    SELECT org, campaign, channel, type, every AS every_execution,
           if(every = 1, '', run) AS execution, dim, key, profile, minute
    FROM (
        SELECT org, campaign, channel, type, run, tupleElement(pair, 1) AS dim,
               tupleElement(pair, 2) AS key, profile, minute
        FROM (
            SELECT org, campaign, channel, type, execution AS run, profile,
                   toStartOfMinute(time) AS minute,
                   arrayConcat([('', ''), ('{SERIES_DIM}', toString(intDiv(toUInt32(time), {SERIES_BUCKET_S}) * {SERIES_BUCKET_S}))],
                   arrayFilter(p -> tupleElement(p, 2) != '', [
                       ('reason', reason), ('recipient_domain', recipient_domain),
                       ('platform', toString(platform)), ('interaction', toString(interaction)),
                       ('element', element), ('variant', variant)])) AS pairs
            FROM {{db}}.events
            WHERE type IN ({", ".join(f"'{t}'" for t in UNIQUE_TYPES)})
              AND time >= toDateTime({int(since)}, 'UTC')
              AND cityHash64(profile) % {int(slices)} = {int(part)}
        )
        ARRAY JOIN pairs AS pair
    )
    ARRAY JOIN [toUInt8(0), toUInt8(1)] AS every
)
GROUP BY org, campaign, channel, type, every_execution, execution, dim, key, profile
"""  # noqa: S608 - only an int and constants go in


def rebuild(store: Store, now: float | None = None) -> None:
    """Recompute both tables from the events of the horizon (after a crash mid-insert, or
    once when the tables are new)."""
    since = int(now if now is not None else time.time()) - HORIZON_S
    with recording(store.database):
        clear(store)
        ((events,),) = store.execute(
            "SELECT count() FROM {db}.events WHERE time >= toDateTime(%(since)s, 'UTC')",
            {"since": since},
        )
        slices = max(1, -(-int(events) // REBUILD_SLICE_EVENTS))
        for part in range(slices):
            store.execute(rebuild_sql(since, slices, part))


def clear(store: Store) -> None:
    """Drop every partition of both tables (on each host of a cluster), and forget what the
    store remembers of them."""
    recent = store.recent_lasts()
    if recent is not None:
        recent.clear()
    store.clear_tables(TABLES)
