"""From the catalogue to SQL on the rollups, and from rows back to metric values.

Every query reads the per-minute rollups of one org and campaign over the window; values
into SQL are always bound parameters, identifiers come only from the catalogue.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from livereport.events import CAMPAIGN, MATRIX, EventType
from livereport.report.catalogue import ENGAGEMENT_TYPES, METRICS, WINDOW_SECONDS, Dimension
from livereport.store import window
from livereport.store.base import Store

Value = int | float | None


def isoformat(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Window:
    """The minutes a report covers, [start, end): by default the last 24 hours, ``end`` being
    the end of the current minute (report/period.py makes the others). ``live``: the period
    includes now; ``period``: the preset it comes from, or "custom"; ``tz``: the time zone
    whose midnights start the day buckets of its series."""

    start: int
    end: int
    as_of: float
    live: bool = True
    period: str = "24h"
    tz: str = "UTC"

    @classmethod
    def at(cls, now: float) -> Window:
        end = (int(now) // 60 + 1) * 60
        return cls(end - WINDOW_SECONDS, end, now)

    @property
    def is_day(self) -> bool:
        """The live last 24 hours: the window the live tables and the tab cache serve."""
        return (
            self.live
            and self.end - self.start == WINDOW_SECONDS
            and self.end == Window.at(self.as_of).end
        )

    def previous(self) -> Window:
        """The period of the same length just before this one."""
        length = self.end - self.start
        return Window(self.start - length, self.start, self.as_of, False, self.period, self.tz)

    def json(self) -> dict[str, str]:
        return {"from": isoformat(self.start), "to": isoformat(self.end)}


@dataclass
class Tally:
    """Base aggregates of a set of events: counts per (type, bounce), distinct profiles per
    type, and opens and clicks split by who made them: per (type, machine)."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    uniques: dict[str, int] = field(default_factory=dict)
    split: dict[tuple[str, bool], int] = field(default_factory=dict)
    split_uniques: dict[tuple[str, bool], int] = field(default_factory=dict)

    def compute(self, names: Iterable[str]) -> dict[str, Value]:
        return {name: self.value(name) for name in names}

    def value(self, name: str) -> Value:
        metric = METRICS[name]
        if metric.machine is not None:
            found = self.split if metric.count is not None else self.split_uniques
            return found.get((metric.count or metric.unique, metric.machine), 0)  # type: ignore[arg-type]
        if metric.count is not None:
            return sum(
                n
                for (type_, bounce), n in self.counts.items()
                if type_ == metric.count and (metric.bounce is None or bounce == metric.bounce)
            )
        if metric.unique is not None:
            return self.uniques.get(metric.unique, 0)
        if metric.total:
            return sum(int(self.value(part) or 0) for part in metric.total)
        assert metric.ratio is not None
        numerator, denominator = (self.value(part) for part in metric.ratio)
        return (numerator or 0) / denominator if denominator else None


@dataclass(frozen=True)
class ReportScope:
    """Which rollup rows a query reads: one org, one campaign, a channel, maybe one execution.
    ``engagement``: which opens and clicks count (catalogue.ENGAGEMENTS): all, only those of
    people, or only those of machines; every other type is counted whole."""

    org: int
    campaign: str
    channel: str
    execution: str | None = None
    engagement: str = "all"

    def where(self, start: int, end: int) -> tuple[str, dict[str, Any]]:
        sql = (
            "org = %(org)s AND campaign = %(campaign)s "
            "AND minute >= toDateTime(%(start)s, 'UTC') AND minute < toDateTime(%(end)s, 'UTC')"
        )
        params: dict[str, Any] = {
            "org": self.org,
            "campaign": self.campaign,
            "start": start,
            "end": end,
        }
        # The campaign level needs no channel filter: entered events are its own, and the
        # other counts are sums over every channel.
        if self.channel != CAMPAIGN:
            sql += " AND channel = %(channel)s"
            params["channel"] = self.channel
        if self.execution is not None:
            sql += " AND execution = %(execution)s"
            params["execution"] = self.execution
        return sql, params


# The group expressions a query may use; callers pass names, never SQL.
_GROUPS = {
    "none": "''",
    "execution": "execution",
    "channel": "toString(channel)",
    "key": "key",
}


#: The event types whose distinct profiles the rollups keep (minute_uniques, dim_uniques).
UNIQUE_TYPES: tuple[str, ...] = window.UNIQUE_TYPES

# The same rows as the rollups, computed from the raw events at query time: the baseline the
# performance benchmark compares the rollups with (`Reports(store, raw=True)`), and a check
# that both give the same numbers.
_RAW_MINUTES = (
    "(SELECT org, campaign, channel, toStartOfMinute(time) AS minute, type, execution, bounce, "
    "profile, machine FROM {db}.events)"
)
_RAW_DIMS = (
    "(SELECT org, campaign, channel, tupleElement(pair, 1) AS dim, "
    "toStartOfMinute(time) AS minute, type, execution, bounce, tupleElement(pair, 2) AS key, "
    "profile, machine FROM {db}.events ARRAY JOIN arrayFilter(p -> tupleElement(p, 2) != '', ["
    "('reason', reason), ('bounce', toString(bounce)), ('recipient_domain', recipient_domain), "
    "('platform', toString(platform)), ('interaction', toString(interaction)), "
    "('element', element), ('variant', variant), ('machine_rule', machine_rule)]) AS pair)"
)
# A breakdown kept only among opens and clicks (Dimension.engagement), with the columns of
# dim_counts / dim_uniques.
_ENGAGED_DIM_COUNTS = (
    "(SELECT org, campaign, channel, dim, minute, type, execution, '' AS bounce, key, machine, "
    "events FROM {db}.engagement_counts)"
)
_ENGAGED_DIM_UNIQUES = (
    "(SELECT org, campaign, channel, dim, minute, type, execution, key, machine, profiles "
    "FROM {db}.engagement_uniques)"
)


# The two statements of a tally (counts, distinct profiles) run side by side, each on its own
# connection (a read connection of the embedded engine, a pooled server connection).
STATEMENTS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="report-statement")


def split_needed(names: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(types counted, types whose distinct profiles are counted) per human and machine that
    the metrics read."""
    counts: set[str] = set()
    uniques: set[str] = set()
    stack = list(names)
    while stack:
        metric = METRICS[stack.pop()]
        if metric.machine is not None:
            (counts if metric.count is not None else uniques).add(metric.count or metric.unique)  # type: ignore[arg-type]
        stack.extend(metric.total)
        stack.extend(metric.ratio or ())
    return frozenset(counts), frozenset(uniques)


def _engaged_sources(where: str, dimension: Dimension | None) -> tuple[str, str]:
    """The rollups of a report that counts only human or only machine opens and clicks
    (``%(machine)s`` bound): every other type from the rollups of all events, opens and clicks
    from the engagement rollups. Each side is filtered by ``where`` itself."""
    columns = "org, campaign, channel, minute, type, execution"
    split = " AND dim = ''"
    if dimension is not None:
        columns, split = "org, campaign, channel, dim, minute, type, execution, key", ""
    counts, uniques = (
        ("dim_counts", "dim_uniques") if dimension else ("minute_counts", "minute_uniques")
    )
    others = f"{where} AND type NOT IN %(engaged)s"
    people = f"{where} AND machine = %(machine)s{split}"
    return (  # the where clauses are this module's, their values bound parameters
        f"(SELECT {columns}, toString(bounce) AS bounce, events FROM {{db}}.{counts} "  # noqa: S608
        f"WHERE {others} UNION ALL SELECT {columns}, '' AS bounce, events "
        f"FROM {{db}}.engagement_counts WHERE {people})",
        f"(SELECT {columns}, profiles FROM {{db}}.{uniques} WHERE {others} "  # noqa: S608
        f"UNION ALL SELECT {columns}, profiles FROM {{db}}.engagement_uniques WHERE {people})",
    )


def needed(names: Iterable[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(types counted, types whose distinct profiles are counted) that the metrics read, the
    human and machine split (:func:`split_needed`) aside."""
    counts: set[str] = set()
    uniques: set[str] = set()
    stack = list(names)
    while stack:
        metric = METRICS[stack.pop()]
        if metric.machine is not None:
            continue
        if metric.count is not None:
            counts.add(metric.count)
        if metric.unique is not None:
            uniques.add(metric.unique)
        stack.extend(metric.total)
        stack.extend(metric.ratio or ())
    return frozenset(counts), frozenset(uniques)


def tallies(
    store: Store,
    scope: ReportScope,
    start: int,
    end: int,
    *,
    group: str = "none",
    dimension: Dimension | None = None,
    bucket: int | None = None,
    names: Iterable[str] | None = None,
    raw: bool = False,
    count_all: bool = False,
    day_tz: str | None = None,
) -> dict[Any, Tally]:
    """Base aggregates per group value (or per time bucket), read from the rollups (or, with
    ``raw``, computed from the raw events). ``day_tz``: buckets are the days of that time
    zone, each keyed by its midnight (``bucket`` is then ignored).

    With ``names``, only what those metrics read is queried: no counts query when none
    counts events, and distinct profiles only of the types they name. Distinct profiles are
    the costly part (exact sets merged minute by minute), so this matters on big campaigns.
    ``count_all`` counts events of every type even when the metrics count none.
    """
    where, params = scope.where(start, end)
    counts_from, uniques_from = "{db}.minute_counts", "{db}.minute_uniques"
    count_sum, unique_merge = "sum(events)", "uniqExactMerge(profiles)"
    if raw:
        counts_from = uniques_from = _RAW_MINUTES
        count_sum, unique_merge = "count()", "uniqExact(profile)"
    if dimension is not None:
        counts_from, uniques_from = "{db}.dim_counts", "{db}.dim_uniques"
        if dimension.engagement:
            counts_from, uniques_from = _ENGAGED_DIM_COUNTS, _ENGAGED_DIM_UNIQUES
        if raw:
            counts_from = uniques_from = _RAW_DIMS
        where += " AND dim = %(dim)s"
        params["dim"] = dimension.dim
        if dimension.types is not None:
            where += " AND type IN %(types)s"
            params["types"] = tuple(sorted(dimension.types))
    # Human and machine opens and clicks, whatever the engagement filter.
    split_counts, split_uniques, split_where = counts_from, uniques_from, where
    if not raw:
        split_counts, split_uniques = "{db}.engagement_counts", "{db}.engagement_uniques"
        split_where += "" if dimension is not None else " AND dim = ''"
    if scope.engagement != "all":
        params["machine"] = int(scope.engagement == "machine")
        params["engaged"] = tuple(str(t) for t in ENGAGEMENT_TYPES)
        if raw or (dimension is not None and dimension.engagement):  # a machine column to filter
            where += " AND (type NOT IN %(engaged)s OR machine = %(machine)s)"
        else:
            counts_from, uniques_from = _engaged_sources(where, dimension)
    counted, uniques = needed(names) if names is not None else (None, frozenset(UNIQUE_TYPES))
    split = split_needed(names) if names is not None else (frozenset(ENGAGEMENT_TYPES),) * 2
    if dimension is not None and dimension.types is not None:
        uniques &= dimension.types
        split = (split[0] & dimension.types, split[1] & dimension.types)
    uniques &= frozenset(UNIQUE_TYPES)
    key = _GROUPS[group]
    if bucket is not None:
        key = f"intDiv(toUInt32(minute), {int(bucket)}) * {int(bucket)}"
    if day_tz is not None:  # a checked zone name, bound as a constant
        key, params["day_tz"], bucket = "toUInt32(toStartOfDay(minute, %(day_tz)s))", day_tz, 86_400
    result: dict[Any, Tally] = defaultdict(Tally)
    # Table names and group expressions are constants of this module; values are bound.
    found_uniques = None
    series = bucket == window.SERIES_BUCKET_S and dimension is None
    if (
        uniques
        and not raw
        and (bucket is None or series)
        and scope.engagement == "all"
        and (dimension is None or not dimension.engagement)
        and window_usable(scope, start, group, uniques)
    ):
        found_uniques = STATEMENTS.submit(
            window_uniques, store, scope, start, end, group, dimension, uniques, series
        )
    if uniques and found_uniques is None:
        found_uniques = STATEMENTS.submit(
            store.execute,
            f"SELECT {key} AS g, toString(type), {unique_merge} "  # noqa: S608
            f"FROM {uniques_from} WHERE {where} AND type IN %(unique_types)s GROUP BY g, type",
            {**params, "unique_types": tuple(sorted(uniques))},
        )
    found_split = [
        (
            distinct,
            STATEMENTS.submit(
                store.execute,
                f"SELECT {key} AS g, toString(type), machine, {aggregate} "  # noqa: S608
                f"FROM {source} WHERE {split_where} AND type IN %(split_types)s "
                "GROUP BY g, type, machine",
                {**params, "split_types": tuple(sorted(str(t) for t in types))},
            ),
        )
        for distinct, types, source, aggregate in (
            (False, split[0], split_counts, count_sum),
            (True, split[1], split_uniques, unique_merge),
        )
        if types
    ]
    if counted is None or counted or count_all:
        rows = store.execute(
            f"SELECT {key} AS g, toString(type), toString(bounce), {count_sum} "  # noqa: S608
            f"FROM {counts_from} WHERE {where} GROUP BY g, type, bounce",
            params,
        )
        for g, type_, bounce, n in rows:
            tally = result[g]
            tally.counts[(type_, bounce)] = tally.counts.get((type_, bounce), 0) + int(n)
    if found_uniques is not None:
        found = found_uniques.result()
        if found is None:  # a profile seen after the window: merge the minutes' sets
            found = store.execute(
                f"SELECT {key} AS g, toString(type), {unique_merge} "  # noqa: S608
                f"FROM {uniques_from} WHERE {where} AND type IN %(unique_types)s GROUP BY g, type",
                {**params, "unique_types": tuple(sorted(uniques))},
            )
        for g, type_, n in found:
            result[g].uniques[type_] = int(n)
    for distinct, statement in found_split:
        for g, type_, machine, n in statement.result():
            tally = result[g]
            (tally.split_uniques if distinct else tally.split)[(type_, bool(machine))] = int(n)
    return dict(result)


def window_usable(scope: ReportScope, start: int, group: str, uniques: frozenset[str]) -> bool:
    """Whether a window's distinct profiles can be read from each profile's last occurrence
    (store/window.py): the window starts recently enough, and, at the campaign level, the
    types counted come from one channel only (a sum over channels would count a profile
    once per channel)."""
    if start < time.time() - window.USABLE_S:
        return False
    if scope.channel == CAMPAIGN and group != "channel":
        return all(len(MATRIX[EventType(t)]) == 0 for t in uniques)  # campaign-level types
    return True


def window_uniques(
    store: Store,
    scope: ReportScope,
    start: int,
    end: int,
    group: str,
    dimension: Dimension | None,
    uniques: frozenset[str],
    series: bool = False,
) -> list[tuple[Any, str, int]] | None:
    """Distinct profiles per group value and type: the profiles whose last occurrence lies in
    [start, end) — with ``series``, per 5-minute bucket. None when a profile's last
    occurrence is at or after ``end`` (it may have one inside the window too): the caller
    merges the minutes' sets then."""
    sql = (
        "org = %(org)s AND campaign = %(campaign)s AND minute >= toDateTime(%(start)s, 'UTC') "
        "AND type IN %(types)s AND dim = %(dim)s AND every_execution = %(every)s"
    )
    params: dict[str, Any] = {
        "org": scope.org,
        "campaign": scope.campaign,
        "start": start,
        "end": end,
        "types": tuple(sorted(uniques)),
        "dim": window.SERIES_DIM if series else dimension.dim if dimension is not None else "",
        "every": int(group != "execution" and scope.execution is None),
    }
    if scope.channel != CAMPAIGN:
        sql += " AND channel = %(channel)s"
        params["channel"] = scope.channel
    if scope.execution is not None:
        sql += " AND execution = %(execution)s"
        params["execution"] = scope.execution
    key = _GROUPS[group]
    if series:  # a bucket's rows all lie in its own minutes
        key = f"intDiv(toUInt32(minute), {window.SERIES_BUCKET_S}) * {window.SERIES_BUCKET_S}"
    rows = store.execute(
        f"SELECT {key} AS g, toString(type), "  # noqa: S608 - a constant of this module
        "sumIf(profiles, minute < toDateTime(%(end)s, 'UTC')), "
        "sumIf(profiles, minute >= toDateTime(%(end)s, 'UTC')) "
        f"FROM {{db}}.unique_minutes WHERE {sql} GROUP BY g, type",
        params,
    )
    if any(later for *_, later in rows):
        return None
    return [(g, type_, int(n)) for g, type_, n, _ in rows if n]


def total_tally(
    store: Store,
    scope: ReportScope,
    start: int,
    end: int,
    names: Iterable[str] | None = None,
    raw: bool = False,
    count_all: bool = False,
) -> Tally:
    found = tallies(store, scope, start, end, names=names, raw=raw, count_all=count_all)
    return found.get("", Tally())


def executions(
    store: Store, scope: ReportScope, start: int, end: int, raw: bool = False
) -> list[str]:
    """The named executions with events in the window (the scope's own execution is ignored)."""
    where, params = ReportScope(scope.org, scope.campaign, CAMPAIGN).where(start, end)
    source = _RAW_MINUTES if raw else "{db}.minute_counts"
    rows = store.execute(
        f"SELECT DISTINCT execution FROM {source} WHERE {where} AND execution != ''",  # noqa: S608
        params,
    )
    return sorted(e for (e,) in rows)


#: The campaign's events in [start, end), by the rollups (:func:`high_water_mark`; the live
#: streams' fingerprint reads it beside another count, web/live.py).
HIGH_WATER_SQL = (
    "SELECT sum(events) FROM {db}.minute_counts WHERE org = %(org)s "
    "AND campaign = %(campaign)s AND minute >= toDateTime(%(start)s, 'UTC') "
    "AND minute < toDateTime(%(end)s, 'UTC')"
)


def high_water_mark(store: Store, org: int, campaign: str, start: int, end: int) -> int:
    """Events of the campaign in the window, by the rollups: it grows with every insert that
    can change a report of the window (rows are only ever added), so a cached report is
    current while it stays the same and the window does not move."""
    rows = store.execute(
        HIGH_WATER_SQL, {"org": org, "campaign": campaign, "start": start, "end": end}
    )
    return int(rows[0][0] or 0) if rows else 0


def campaign_first(store: Store, org: int, campaign: str) -> int | None:
    """When the campaign's first stored event happened (epoch seconds), if it has one."""
    rows = store.execute(
        "SELECT toUInt32(minMerge(first)), count() FROM {db}.campaigns "
        "WHERE org = %(org)s AND campaign = %(campaign)s",
        {"org": org, "campaign": campaign},
    )
    return int(rows[0][0]) if rows and rows[0][1] else None


def campaign_exists(store: Store, org: int, campaign: str) -> bool:
    rows = store.execute(
        "SELECT 1 FROM {db}.campaigns WHERE org = %(org)s AND campaign = %(campaign)s LIMIT 1",
        {"org": org, "campaign": campaign},
    )
    return bool(rows)


class TabTallies:
    """Every tally a tab's widgets ask for, from at most four statements read side by side:
    the counts per channel and execution, the breakdown keys' counts of all its dimensions,
    the series' counts per bucket, and the distinct profiles of all of these at once (the
    live window's last occurrences). A tab used to send a statement or two per widget; each
    statement has a fixed cost of a few milliseconds on the engine, so fewer, broader
    statements make the tab cheaper while every number stays the one :func:`tallies` gives.
    Questions of another shape (another period or bucket size, or distinct profiles the
    last occurrences cannot answer) go to :func:`tallies` itself.
    """

    def __init__(
        self,
        store: Store,
        scope: ReportScope,
        start: int,
        end: int,
        dimensions: Iterable[Dimension],
        uniques: frozenset[str],
        series_start: int | None,
    ) -> None:
        self.store, self.scope, self.start, self.end = store, scope, start, end
        self.series_start = series_start
        self.dims = sorted({d.dim for d in dimensions})
        self.unique_types = uniques & frozenset(UNIQUE_TYPES)
        self.window = bool(self.unique_types) and all(
            window_usable(scope, start, group, self.unique_types) for group in ("none", "channel")
        )
        self._counts = STATEMENTS.submit(self._read_counts)
        self._dims = STATEMENTS.submit(self._read_dims) if self.dims else None
        self._series = STATEMENTS.submit(self._read_series) if series_start is not None else None
        self._uniques = STATEMENTS.submit(self._read_uniques) if self.window else None

    # the statements

    def _read_counts(self) -> list[tuple[Any, ...]]:
        # Every channel and execution: the executions list and the channels widget need them.
        where, params = ReportScope(self.scope.org, self.scope.campaign, CAMPAIGN).where(
            self.start, self.end
        )
        return self.store.execute(
            "SELECT toString(channel), execution, toString(type), toString(bounce), sum(events) "  # noqa: S608
            f"FROM {{db}}.minute_counts WHERE {where} GROUP BY channel, execution, type, bounce",
            params,
        )

    def _read_dims(self) -> list[tuple[Any, ...]]:
        where, params = self.scope.where(self.start, self.end)
        return self.store.execute(
            "SELECT dim, key, toString(type), toString(bounce), sum(events) "  # noqa: S608
            f"FROM {{db}}.dim_counts WHERE {where} AND dim IN %(dims)s GROUP BY dim, key, type, bounce",
            {**params, "dims": tuple(self.dims)},
        )

    def _read_series(self) -> list[tuple[Any, ...]]:
        assert self.series_start is not None
        size = window.SERIES_BUCKET_S
        where, params = self.scope.where(self.series_start, self.end)
        return self.store.execute(
            f"SELECT intDiv(toUInt32(minute), {size}) * {size} AS g, toString(type), "  # noqa: S608
            f"toString(bounce), sum(events) FROM {{db}}.minute_counts WHERE {where} "
            "GROUP BY g, type, bounce",
            params,
        )

    def _read_uniques(self) -> list[tuple[Any, ...]] | None:
        """(every, dim, execution, key, channel, type, profiles) of every group the tab shows,
        or None when a profile's last occurrence is after the window (see window_uniques)."""
        series = window.SERIES_DIM if self.series_start is not None else None
        sql = "org = %(org)s AND campaign = %(campaign)s AND type IN %(types)s AND dim IN %(dims)s"
        params: dict[str, Any] = {
            "org": self.scope.org,
            "campaign": self.scope.campaign,
            "end": self.end,
            "start": self.start,
            "series_start": min(self.series_start or self.start, self.start),
            "types": tuple(sorted(self.unique_types)),
            "series": series or "",
            "dims": tuple(["", *self.dims, *([series] if series else [])]),
        }
        if self.scope.channel != CAMPAIGN:
            sql += " AND channel = %(channel)s"
            params["channel"] = self.scope.channel
        if self.scope.execution is not None:
            sql += " AND every_execution = 0 AND execution = %(execution)s"
            params["execution"] = self.scope.execution
        else:  # all executions together, and each one for the statistics per execution
            sql += " AND (every_execution = 1 OR dim = '')"
        rows = self.store.execute(
            "SELECT every_execution, dim, execution, key, toString(channel), toString(type), "  # noqa: S608
            "sumIf(profiles, minute < toDateTime(%(end)s, 'UTC')), "
            "sumIf(profiles, minute >= toDateTime(%(end)s, 'UTC')) "
            f"FROM {{db}}.unique_minutes WHERE {sql} "
            "AND minute >= toDateTime(%(series_start)s, 'UTC') "
            "AND (minute >= toDateTime(%(start)s, 'UTC') OR dim = %(series)s) "
            "GROUP BY every_execution, dim, execution, key, channel, type",
            params,
        )
        if any(later for *_, later in rows):
            return None
        return [row[:-1] for row in rows if row[-2]]

    # the answers

    def tallies(
        self,
        store: Store,
        scope: ReportScope,
        start: int,
        end: int,
        *,
        group: str = "none",
        dimension: Dimension | None = None,
        bucket: int | None = None,
        names: Iterable[str] | None = None,
        raw: bool = False,
        count_all: bool = False,
        day_tz: str | None = None,
    ) -> dict[Any, Tally]:
        """What :func:`tallies` answers, from the tab's statements when they hold it."""
        series = bucket is not None
        counted, uniques = needed(names) if names is not None else (None, frozenset(UNIQUE_TYPES))
        types = dimension.types if dimension is not None else None
        if types is not None:
            uniques &= types
        uniques &= frozenset(UNIQUE_TYPES)
        shape_ok = (
            not raw
            and scope == self.scope
            and end == self.end
            and (
                start == self.series_start
                and bucket == window.SERIES_BUCKET_S
                and dimension is None
                if series
                else start == self.start
            )
            and (dimension is None or dimension.dim in self.dims)
            and (group in ("none", "execution", "channel") if dimension is None else group == "key")
        )
        found_uniques = self._uniques.result() if self._uniques is not None else None
        if (
            day_tz is not None
            or not shape_ok
            or (uniques and (found_uniques is None or not uniques <= self.unique_types))
        ):
            return tallies(
                store,
                scope,
                start,
                end,
                group=group,
                dimension=dimension,
                bucket=bucket,
                names=names,
                raw=raw,
                count_all=count_all,
                day_tz=day_tz,
            )
        result: dict[Any, Tally] = defaultdict(Tally)
        if counted is None or counted or count_all:
            for g, type_, bounce, n in self._count_rows(group, dimension, series):
                if types is None or type_ in types:
                    tally = result[g]
                    tally.counts[(type_, bounce)] = tally.counts.get((type_, bounce), 0) + int(n)
        if uniques:
            assert found_uniques is not None
            for g, type_, n in self._unique_rows(found_uniques, group, dimension, series):
                if type_ in uniques:
                    result[g].uniques[type_] = result[g].uniques.get(type_, 0) + int(n)
        split = [n for n in (names or ()) if METRICS[n].machine is not None]
        if split:  # the human and machine split: statements of its own
            found_split = tallies(
                store,
                scope,
                start,
                end,
                group=group,
                dimension=dimension,
                bucket=bucket,
                names=split,
                count_all=False,
            )
            for g, tally in found_split.items():
                result[g].split.update(tally.split)
                result[g].split_uniques.update(tally.split_uniques)
        return dict(result)

    def _count_rows(
        self, group: str, dimension: Dimension | None, series: bool
    ) -> Iterable[tuple[Any, str, str, Any]]:
        if series:
            assert self._series is not None
            yield from self._series.result()
        elif dimension is not None:
            assert self._dims is not None
            for dim, key, type_, bounce, n in self._dims.result():
                if dim == dimension.dim:
                    yield key, type_, bounce, n
        else:
            channel, execution = self.scope.channel, self.scope.execution
            for ch, run, type_, bounce, n in self._counts.result():
                if (channel == CAMPAIGN or ch == channel) and execution in (None, run):
                    g = {"none": "", "execution": run, "channel": ch}[group]
                    yield g, type_, bounce, n

    def _unique_rows(
        self, rows: list[tuple[Any, ...]], group: str, dimension: Dimension | None, series: bool
    ) -> Iterable[tuple[Any, str, Any]]:
        every = int(self.scope.execution is None and group != "execution")
        dim = window.SERIES_DIM if series else dimension.dim if dimension is not None else ""
        for row_every, row_dim, run, key, ch, type_, n in rows:
            if row_dim != dim or row_every != every:
                continue
            if series:
                yield int(key), type_, n
            elif dimension is not None:
                yield key, type_, n
            else:
                yield {"none": "", "execution": run, "channel": ch}[group], type_, n

    def executions(self) -> list[str]:
        """The named executions with events in the window, as :func:`executions` gives them."""
        return sorted({run for _, run, _, _, n in self._counts.result() if run and int(n)})
