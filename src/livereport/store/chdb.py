"""The embedded backend: ClickHouse in this process through chDB, data in a directory."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import chdb
import msgspec

from livereport.errors import StorageUnavailable
from livereport.events import Event
from livereport.store import window
from livereport.store.base import (
    EVENT_COLUMNS,
    WindowTurn,
    bind,
    check_identifier,
    clear_local_tables,
    clickhouse_fault,
    drop_local_partitions,
    event_row,
)
from livereport.store.lasts import RecentLasts

_encode = msgspec.json.Encoder().encode
_INSERT = (
    b"INSERT INTO %s.events ("
    + ", ".join(EVENT_COLUMNS).encode()
    + b") FORMAT JSONCompactEachRow\n"
)

_MOVES = (
    b"INSERT INTO %s.unique_moves ("
    + ", ".join(window.MOVE_COLUMNS).encode()
    + b") FORMAT JSONCompactEachRow\n"
)

# chDB keeps one engine per process: every ChdbStore of a process must share its path.
# Statements on one connection run one at a time, so inserts get a connection of their
# own and reads share a small pool: a dashboard query never waits behind an insert. A read
# may then see an insert half done (its materialized views commit one table at a time), so
# the engine counts writes: the tab cache keeps only reports built while none ran.
READ_CONNECTIONS = 4
_READS = ("SELECT", "WITH", "SHOW", "EXISTS", "DESCRIBE")
_engines: dict[str, _Engine] = {}
_engines_lock = threading.Lock()


class _Engine:
    """The connections of this process's one embedded engine."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.writer = chdb.connect(path)  # type: ignore[no-untyped-call]
        self.writer_lock = threading.Lock()
        self._idle: list[Any] = []
        self._opened = 0
        self._available = threading.Condition()
        self._writes_lock = threading.Lock()
        self._writes_done = 0
        self._writes_running = 0
        #: By database: the last minutes this process wrote (store/window.py RecentLasts).
        self.recent_lasts: dict[str, RecentLasts] = {}
        self.marks = WriteMarks()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._writes_lock:
            self._writes_running += 1
        try:
            yield
        finally:
            with self._writes_lock:
                self._writes_running -= 1
                self._writes_done += 1

    def writes(self) -> tuple[int, int]:
        with self._writes_lock:
            return self._writes_done, self._writes_running

    @contextmanager
    def reader(self) -> Iterator[Any]:
        with self._available:
            while not self._idle and self._opened >= READ_CONNECTIONS:
                self._available.wait()
            if self._idle:
                conn = self._idle.pop()
            else:
                self._opened += 1
                conn = None
        if conn is None:
            try:
                conn = chdb.connect(self.path)  # type: ignore[no-untyped-call]
            except BaseException:
                with self._available:
                    self._opened -= 1
                    self._available.notify()
                raise
        try:
            yield conn
        finally:
            with self._available:
                self._idle.append(conn)
                self._available.notify()


class WriteMarks:
    """Which writes this process began, per campaign: what a reader needs to know that a
    campaign's stored events did not change between two moments.

    This process is the only writer of its directory. Every insert of events takes a new
    number for each of its campaigns before it writes, and every other write (a rebuild, a
    reclassification, a partition dropped) one for all of them. A campaign's :meth:`mark` is
    then (the last other write's number, its last insert's number), or None while either is
    running: equal marks at two moments, neither None, mean nothing of the campaign was
    written in between, and what a read made in between saw is what is stored still.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0
        self._inserts: dict[tuple[str, int, str], int] = {}
        self._inserting: dict[tuple[str, int, str], int] = {}
        self._other = 0
        self._others_running = 0

    @contextmanager
    def inserting(self, database: str, campaigns: set[tuple[int, str]]) -> Iterator[None]:
        keys = [(database, org, campaign) for org, campaign in campaigns]
        with self._lock:
            self._next += 1
            for key in keys:
                self._inserts[key] = self._next
                self._inserting[key] = self._inserting.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                for key in keys:
                    left = self._inserting.pop(key) - 1
                    if left:
                        self._inserting[key] = left

    @contextmanager
    def rewriting(self) -> Iterator[None]:
        with self._lock:
            self._next += 1
            self._other = self._next
            self._others_running += 1
        try:
            yield
        finally:
            with self._lock:
                self._others_running -= 1

    def marks(
        self, database: str, org: int, campaigns: Sequence[str]
    ) -> dict[str, tuple[int, int] | None]:
        with self._lock:
            if self._others_running:
                return dict.fromkeys(campaigns)
            return {
                campaign: None
                if (database, org, campaign) in self._inserting
                else (self._other, self._inserts.get((database, org, campaign), 0))
                for campaign in campaigns
            }


def _engine(path: Path) -> _Engine:
    key = str(path.resolve())
    with _engines_lock:
        if _engines and key not in _engines:
            raise StorageUnavailable(
                f"this process already has an embedded engine on {next(iter(_engines))}; "
                "one process serves one data directory"
            )
        if key not in _engines:
            path.mkdir(parents=True, exist_ok=True)
            _engines[key] = _Engine(key)
        return _engines[key]


class ChdbStore:
    #: One engine in this process: no cluster.
    cluster = ""

    def __init__(self, path: Path, database: str = "livereport") -> None:
        self.database = check_identifier(database)
        self._engine = _engine(path)

    def hosts(self) -> list[ChdbStore]:
        return [self]

    def drop_partitions_before(self, day: date) -> list[str]:
        return drop_local_partitions(self, day)

    def clear_tables(self, tables: Sequence[str]) -> None:
        clear_local_tables(self, tables)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        statement = bind(sql, params, self.database)
        read = statement.lstrip()[:8].upper().startswith(_READS)
        if read:
            return self._select(statement)
        with self._engine.marks.rewriting(), self._engine.reader() as conn, self._engine.writing():
            cursor = conn.cursor()
            try:
                cursor.execute(statement)
                return list(cursor.fetchall() or ())
            except Exception as exc:  # chDB raises bare RuntimeError for every engine error
                raise _unavailable(exc) from exc
            finally:
                cursor.close()

    def select_with_batch(
        self, sql: str, params: Mapping[str, Any] | None, batch: Mapping[str, list[Any]]
    ) -> list[tuple[Any, ...]]:
        """A SELECT that reads ``batch`` (columns by name) as the table ``{batch}``."""
        statement = bind(sql, params, self.database).replace("{batch}", "Python(batch)")
        return self._select(statement, batch)

    def _select(
        self, statement: str, batch: Mapping[str, list[Any]] | None = None
    ) -> list[tuple[Any, ...]]:
        """A read on a pooled connection, its result decoded from JSONCompact. chDB's
        ``Python(batch)`` finds ``batch`` among the local variables of this frame."""
        with self._engine.reader() as conn:
            try:
                found = conn.query(statement, "JSONCompact").bytes()
            except Exception as exc:
                raise _unavailable(exc) from exc
        return _rows(found)

    def writes(self) -> tuple[int, int]:
        """(writes finished, writes running) in this process's engine."""
        return self._engine.writes()

    def insert_events(
        self, rows: Sequence[tuple[int, Event]], received: int, turn: WindowTurn | None = None
    ) -> None:
        if not rows:
            return
        # The window's distinct profiles first: recording them again after a failed insert
        # moves nothing, so a retry cannot count a profile twice (store/window.py).
        with window.recording(self.database), window.turn(turn, rows):
            plan = window.plan(self, rows)
            if plan.moves:
                try:
                    self._write(_MOVES % self.database.encode(), [_encode(m) for m in plan.moves])
                except BaseException:
                    self.recent_lasts().clear()  # the engine may hold part of the moves
                    raise
            plan.stored()
        lines = [_INSERT % self.database.encode()]
        lines.extend(_encode(event_row(org, e, received)) for org, e in rows)
        with self._engine.marks.inserting(self.database, {(org, e.campaign) for org, e in rows}):
            self._write(lines[0], lines[1:])

    def _write(self, head: bytes, lines: list[bytes]) -> None:
        body = b"\n".join([head, *lines]).decode()
        with self._engine.writer_lock, self._engine.writing():
            cursor = self._engine.writer.cursor()
            try:
                cursor.execute(body)
            except Exception as exc:
                raise _unavailable(exc) from exc
            finally:
                cursor.close()

    def write_marks(self, org: int, campaigns: Sequence[str]) -> dict[str, tuple[int, int] | None]:
        """Each campaign's :class:`WriteMarks` mark in this database."""
        return self._engine.marks.marks(self.database, org, campaigns)

    def recent_lasts(self) -> RecentLasts:
        """The live window's memory of recent last minutes: this process is the only writer of
        its directory, so what it wrote is what the tables hold."""
        caches = self._engine.recent_lasts
        found = caches.get(self.database)
        if found is None:  # made once, not at every insert
            found = caches.setdefault(self.database, RecentLasts())
        return found

    def iter_event_keys(self, since: int) -> Iterator[tuple[int, str]]:
        parts = self.execute(
            "SELECT DISTINCT partition FROM system.parts WHERE database = %(db)s "
            "AND table = 'events' AND active ORDER BY partition",
            {"db": self.database},
        )
        for (partition,) in parts:
            yield from self.execute(
                "SELECT org, id FROM {db}.events WHERE toYYYYMMDD(time) = %(p)s "
                "AND time >= %(since)s",
                {"p": int(partition), "since": since},
            )

    def close(self) -> None:
        """The engine lives as long as the process: chDB cannot reopen a path once closed."""

    def shutdown(self) -> None:
        """Close the engine's connections for good, so that its directory can be removed
        (benchmarks on temporary directories); this process cannot open it again."""
        engine = self._engine
        with engine.writer_lock, engine._available:
            while engine._idle:
                engine._idle.pop().close()
            engine.writer.close()


_decode = msgspec.json.Decoder().decode
#: Types JSON output may quote (64-bit and wider integers), made numbers again.
_WIDE = ("UInt64", "Int64", "UInt128", "Int128", "UInt256", "Int256")


def _rows(body: bytes) -> list[tuple[Any, ...]]:
    """The rows of a JSONCompact result as tuples. Reads use JSONCompact rather than the
    cursor: decoding it takes a tenth of the time for a few thousand rows."""
    if not body:
        return []
    result = _decode(body)
    rows = [tuple(row) for row in result["data"]]
    wide = [i for i, column in enumerate(result["meta"]) if column["type"].startswith(_WIDE)]
    if wide and rows and any(isinstance(rows[0][i], str) for i in wide):
        rows = [
            tuple(int(v) if i in wide and isinstance(v, str) else v for i, v in enumerate(row))
            for row in rows
        ]
    return rows


def _unavailable(exc: Exception) -> StorageUnavailable:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StorageUnavailable(
        f"the embedded ClickHouse engine failed: {text[:500]}", clickhouse_fault(exc)
    )
