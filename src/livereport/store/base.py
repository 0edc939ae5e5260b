"""What a storage backend must do: the few methods ingest and reports call.

chDB (embedded) and the ClickHouse server share one schema and one set of SQL; a backend only
differs in how it connects, runs a statement and inserts rows.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from clickhouse_driver.errors import Error as DriverError
from clickhouse_driver.util.escape import escape_params

from livereport.errors import DiskFault, fault_of_errno, fault_of_text
from livereport.events import Event
from livereport.store.lasts import RecentLasts

#: Columns of the raw events table, in insert order.
EVENT_COLUMNS: tuple[str, ...] = (
    "org",
    "id",
    "time",
    "ms",
    "received",
    "campaign",
    "channel",
    "type",
    "profile",
    "execution",
    "variant",
    "reason",
    "code",
    "bounce",
    "smtp_status",
    "smtp_code",
    "smtp_diagnostic",
    "recipient_domain",
    "platform",
    "interaction",
    "element",
    "url",
    "machine",
    "machine_rule",
)


def event_row(org: int, e: Event, received: int) -> tuple[Any, ...]:
    """One event as the values of :data:`EVENT_COLUMNS`, in their order: what every backend
    inserts. Enum members as their values (the server's driver would send an Enum's name)."""
    return (
        org,
        e.id,
        e.time_ms // 1000,
        e.time_ms % 1000,
        received,
        e.campaign,
        str(e.channel),
        str(e.type),
        e.profile,
        e.execution,
        e.variant,
        e.reason,
        e.code,
        str(e.bounce),
        e.smtp_status,
        e.smtp_code,
        e.smtp_diagnostic,
        e.recipient_domain,
        str(e.platform),
        str(e.interaction),
        e.element,
        e.url,
        int(e.machine),
        e.machine_rule,
    )


#: Tables partitioned by day, dropped together when they leave the retention period.
PARTITIONED_TABLES: tuple[str, ...] = (
    "events",
    "minute_counts",
    "minute_uniques",
    "dim_counts",
    "dim_uniques",
    "campaigns",
    "campaign_hours",
    "campaign_days",
    "unique_last",
    "unique_minutes",
    "engagement_counts",
    "engagement_uniques",
)
#: Tables of an org's data kept whole, not by day: their aggregates (min, max, bit or) do
#: not mind a row added twice, so a rebuild adds to them without dropping anything.
WHOLE_TABLES: tuple[str, ...] = ("campaign_life",)
#: The live window's tables (store/window.py) and the days they keep: today and the two
#: before, whatever the retention (a window starts at most 26 hours back).
WINDOW_TABLES: frozenset[str] = frozenset({"unique_last", "unique_minutes"})
WINDOW_KEEP_DAYS = 2
#: A cluster's tables on each host are named with this suffix; the names without it are the
#: Distributed tables over them (store/schema.py).
LOCAL_SUFFIX = "_local"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def check_identifier(name: str) -> str:
    """Database names come from configuration; refuse anything that is not a plain name."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"database name {name!r} is not valid; expected letters, digits and _")
    return name


def bind(sql: str, params: Mapping[str, Any] | None, database: str) -> str:
    """Put ``{db}`` and client-side escaped ``%(name)s`` values into a statement."""
    sql = sql.replace("{db}", database)
    if not params:
        return sql
    return str(sql % escape_params(params, None))


#: ClickHouse's error codes (``SELECT errorCodeToName(243)``): its own check of free space
#: before a write, and the C++ exceptions it passes on with no code of their own.
NOT_ENOUGH_SPACE = 243
STD_EXCEPTION = 1001
#: chDB raises every engine error as text that starts "Code: 243. DB::Exception: …"; an error
#: of the system (writing, opening, syncing a file) adds "errno: 28, strerror: …".
_CODE = re.compile(r"\bCode: (\d+)\.")
_ERRNO = re.compile(r"\berrno: (\d+)\b")
#: A C++ filesystem error carries the system's message for the errno, not its number.
_STRERROR_FAULTS = {
    os.strerror(number).lower(): fault_of_errno(number)
    for number in (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
}


def clickhouse_code(exc: BaseException) -> int | None:
    """The ClickHouse error code of a failure: the driver's ``.code``, the ``Code: NNN.``
    chDB's text starts with; None when it has none (a socket error, say)."""
    if isinstance(exc, DriverError):
        return int(exc.code) if exc.code is not None else None
    found = _CODE.search(str(exc))
    return int(found[1]) if found else None


def clickhouse_fault(exc: BaseException) -> DiskFault | None:
    """The disk fault behind an engine's error, by its code and the errno it carries: no
    space (NOT_ENOUGH_SPACE, ENOSPC, EDQUOT) or a read-only disk (EROFS)."""
    if isinstance(exc, OSError):
        return fault_of_errno(exc.errno)
    text = str(exc)
    code = clickhouse_code(exc)
    if code is None:  # no code to read: the wording is all there is
        return fault_of_text(text)
    if code == NOT_ENOUGH_SPACE:
        return DiskFault.NO_SPACE
    number = _ERRNO.search(text)
    if number:
        return fault_of_errno(int(number[1]))
    if code == STD_EXCEPTION:
        lowered = text.lower()
        return next((f for message, f in _STRERROR_FAULTS.items() if message in lowered), None)
    return None


#: Gives a batch's (org, campaign) pairs their turn at the live window (ingest/seen.py).
WindowTurn = Callable[[Sequence[tuple[int, str]]], AbstractContextManager[None]]


class Store(Protocol):
    """A ClickHouse database holding livereport's schema: the embedded engine (store/chdb.py),
    a server or a cluster (store/server.py), or the report layer's view of either
    (store/tenant.py). What only some can do is asked by a method every one has, whose answer
    says when it cannot."""

    database: str
    #: The cluster the tables are spread over; "" for one engine or one server.
    cluster: str

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement (``{db}`` and ``%(name)s`` are bound here) and return its rows."""
        ...

    def select_with_batch(
        self, sql: str, params: Mapping[str, Any] | None, batch: Mapping[str, list[Any]]
    ) -> list[tuple[Any, ...]]:
        """A SELECT that reads ``batch`` (columns by name) as the table ``{batch}``."""
        ...

    def insert_events(
        self, rows: Sequence[tuple[int, Event]], received: int, turn: WindowTurn | None = None
    ) -> None:
        """Store events of several orgs in one insert; return only once they are on disk.
        ``turn``, when given, is held while the live window of the rows' campaigns is
        written (a cluster's nodes take turns there), not while the events are inserted."""
        ...

    def iter_event_keys(self, since: int) -> Iterator[tuple[int, str]]:
        """Yield (org, id) of every stored event with time >= since (epoch seconds)."""
        ...

    def hosts(self) -> Sequence[Store]:
        """A store on each host of the cluster, their tables named with :data:`LOCAL_SUFFIX`;
        this store alone without a cluster. The caller closes those it did not have."""
        ...

    def drop_partitions_before(self, day: date) -> list[str]:
        """Drop every daily partition older than ``day`` (of each host's tables on a cluster);
        return the partitions dropped."""
        ...

    def clear_tables(self, tables: Sequence[str]) -> None:
        """Drop every partition of these tables (of each host's on a cluster)."""
        ...

    def writes(self) -> tuple[int, int] | None:
        """(writes finished, writes running) when this process is the engine's one writer;
        None for a server, which has writers this process does not see."""
        ...

    def write_marks(
        self, org: int, campaigns: Sequence[str]
    ) -> dict[str, tuple[int, int] | None] | None:
        """Each campaign's mark (store/chdb.py WriteMarks) when this process is the engine's
        one writer; None for a server."""
        ...

    def recent_lasts(self) -> RecentLasts | None:
        """The live window's memory of the last minutes this process wrote (store/lasts.py),
        when it is the engine's one writer; None for a server."""
        ...

    def close(self) -> None:
        """Release the connection; the data stays."""
        ...


def retention_start(retention_days: int, now: float) -> date:
    """The UTC day of the oldest moment still within retention: partitions of earlier days
    hold only events older than retention and are dropped."""
    return (datetime.fromtimestamp(now, UTC) - timedelta(days=retention_days)).date()


def partition_cutoff(table: str, day: date, today: date | None = None) -> int:
    """The oldest daily partition (YYYYMMDD) a table keeps when retention starts at ``day``:
    the live window's tables need only their last days (store/window.py), the rest all of
    retention."""
    if table.removesuffix("_local") in WINDOW_TABLES:
        today = today or datetime.now(UTC).date()
        day = max(day, today - timedelta(days=WINDOW_KEEP_DAYS))
    return int(day.strftime("%Y%m%d"))


def drop_partitions_before(store: Store, day: date) -> list[str]:
    """Drop every daily partition older than ``day``; return the partitions dropped."""
    return store.drop_partitions_before(day)


def drop_local_partitions(store: Store, day: date, suffix: str = "") -> list[str]:
    """Retention on one host: drop its partitions older than ``day`` (the live window's tables
    keep fewer days, :func:`partition_cutoff`), of the tables named with ``suffix``."""
    rows = store.execute(
        "SELECT DISTINCT table, partition FROM system.parts "
        "WHERE database = %(db)s AND active AND table IN %(tables)s",
        {"db": store.database, "tables": tuple(t + suffix for t in PARTITIONED_TABLES)},
    )
    dropped = []
    for table, partition in sorted(rows):
        if partition.isdigit() and int(partition) < partition_cutoff(table, day):
            store.execute(f"ALTER TABLE {{db}}.{table} DROP PARTITION {int(partition)}")
            dropped.append(f"{table}:{partition}")
    return dropped


def clear_local_tables(store: Store, tables: Sequence[str], suffix: str = "") -> None:
    """Drop every partition of these tables on one host (named with ``suffix``)."""
    rows = store.execute(
        "SELECT DISTINCT table, partition FROM system.parts "
        "WHERE database = %(db)s AND active AND table IN %(tables)s",
        {"db": store.database, "tables": tuple(t + suffix for t in tables)},
    )
    for table, partition in sorted(rows):
        store.execute(f"ALTER TABLE {{db}}.{table} DROP PARTITION {int(partition)}")


def stored_event(
    store: Store, org: int, campaign: str, event_id: str, columns: Sequence[str]
) -> tuple[Any, ...] | None:
    """The ``columns`` of one stored event of the org's campaign, then its time in epoch
    milliseconds; None when there is none. Found by id, the events table's key."""
    unknown = [c for c in columns if c not in EVENT_COLUMNS]
    if unknown:
        raise ValueError(f"{unknown[0]!r} is not a column of the events table")
    rows = store.execute(
        f"SELECT {', '.join(columns)}, toUnixTimestamp(time) * 1000 + ms FROM {{db}}.events "  # noqa: S608
        "WHERE org = %(org)s AND id = %(id)s AND campaign = %(campaign)s LIMIT 1",
        {"org": org, "id": event_id, "campaign": campaign},
    )
    return tuple(rows[0]) if rows else None


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as an RFC 3339 UTC time."""
    return datetime.fromtimestamp(int(ms) / 1000, UTC).isoformat().replace("+00:00", "Z")
