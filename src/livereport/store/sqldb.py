"""The metadata database: a small protocol, SQLite for one machine, PostgreSQL for a cluster.

The metadata SQL is written once, in the subset both databases share (``?`` placeholders,
``ON CONFLICT``, ``CREATE TABLE IF NOT EXISTS``); PostgreSQL gets it through
:func:`translate` and :func:`translate_ddl`. Each database maps its driver's errors to
livereport's in one function: a unique key refusing a row is :class:`UniqueViolation`, a
database that cannot be reached, or whose disk is full or read-only, is StorageUnavailable.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import psycopg

from livereport.errors import DiskFault, StorageUnavailable

_AUTOINCREMENT = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.IGNORECASE)
_REAL = re.compile(r"\bREAL\b")
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_INSERT_OR = re.compile(r"^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+", re.IGNORECASE)
#: Any number, so that two nodes creating the schema at once take turns.
_SCHEMA_LOCK = 7_336_514


class UniqueViolation(Exception):
    """A unique key (or primary key) already holds the row's value: the caller says what
    already exists. On PostgreSQL it ends the block's transaction, so raise, do not go on."""


@dataclass(frozen=True)
class Rows:
    """What a statement returned: its rows, all read at once (metadata reads are small, and
    a failure then surfaces where the statement ran), and how many rows it changed."""

    rows: list[Any]
    rowcount: int

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class Connection(Protocol):
    """One connection, inside the transaction of a :meth:`Database.connect` block."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement of the shared SQL subset with ``?`` placeholders."""
        ...

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an INSERT into a table with a numbered ``id``; return the new row's id."""
        ...

    def executescript(self, script: str) -> None:
        """Run ``;``-separated DDL (the schema); nodes starting together take turns."""
        ...


class Database(Protocol):
    """The metadata database: SQLite (:class:`SQLite`) or PostgreSQL (:class:`PostgreSQL`)."""

    def connect(self) -> AbstractContextManager[Connection]:
        """A connection whose block is one transaction: committed when the block ends,
        rolled back when it raises."""
        ...

    def close(self) -> None:
        """Release the connections kept open; the data stays."""
        ...


# SQLite


class SQLite:
    """A SQLite file; each block opens it anew, so that keys and users made by the CLI work
    at once on a running server that shares the data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Password and key hashes: the file is made readable by its owner only, and SQLite
        # gives its WAL files the database file's mode.
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with self._errors():
            db = sqlite3.connect(path, isolation_level=None)
            try:
                # Kept in the file: set once here, so that opening it to read never writes.
                db.execute("PRAGMA journal_mode=WAL")
            finally:
                db.close()
            # SQLite deletes the WAL's index file when its last connection closes and must
            # create it again on the next open, which fails on a full disk: one idle
            # connection keeps it, so that reads go on working while the disk is full.
            self._keeper = sqlite3.connect(path, check_same_thread=False)
            self._keeper.execute("SELECT count(*) FROM sqlite_master").fetchall()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        # The transaction begins at the block's first write (BEGIN IMMEDIATE, waiting for
        # the write lock): a block that only reads takes no lock and works on a full or
        # read-only disk, and a read before the first write sees the latest rows, as on
        # PostgreSQL (READ COMMITTED).
        with self._errors():
            db = sqlite3.connect(self.path, timeout=10, isolation_level="IMMEDIATE")
        try:
            with self._errors():
                db.execute("PRAGMA foreign_keys=ON")
            yield _SQLiteConnection(db, self._errors)
            with self._errors():
                db.commit()
        finally:
            db.close()  # rolls back what was not committed

    def close(self) -> None:
        self._keeper.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            mapped = sqlite_error(exc, self.path.name)
            if mapped is exc:
                raise
            raise mapped from exc


def sqlite_error(exc: sqlite3.Error, name: str) -> Exception:
    """A SQLite error of the file ``name`` as livereport's, by its (extended) result code."""
    # Set on the errors SQLite raises (Python 3.11+), not on one made by hand.
    code: int | None = getattr(exc, "sqlite_errorcode", None)
    if code in (sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
        return UniqueViolation(str(exc))
    if not isinstance(exc, sqlite3.OperationalError):
        return exc  # a mistake in the SQL or a broken file: not a passing condition
    # full, read-only, I/O error, locked, cannot open
    return StorageUnavailable(
        f"the metadata database {name} cannot be used ({exc}); "
        "check the data directory's free space and permissions, then retry",
        _SQLITE_FAULTS.get(code & 0xFF) if code is not None else None,
    )


_SQLITE_FAULTS = {
    sqlite3.SQLITE_FULL: DiskFault.NO_SPACE,
    sqlite3.SQLITE_READONLY: DiskFault.READ_ONLY,
}


class _SQLiteConnection:
    def __init__(
        self, db: sqlite3.Connection, errors: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self._db = db
        self._errors = errors

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        with self._errors():
            cursor = self._db.execute(sql, params)
            return Rows(cursor.fetchall(), cursor.rowcount)

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._errors():
            cursor = self._db.execute(sql, params)
        if cursor.lastrowid is None:
            raise ValueError(f"{sql[:60]!r} made no row with a numbered id")
        return cursor.lastrowid

    def executescript(self, script: str) -> None:
        # One process writes the file at a time: SQLite's own lock lets the others wait.
        with self._errors():
            self._db.executescript(script)


# PostgreSQL


def translate_ddl(sql: str) -> str:
    """SQLite DDL to PostgreSQL: auto-numbered ids and floating point columns."""
    return _REAL.sub("DOUBLE PRECISION", _AUTOINCREMENT.sub("BIGSERIAL PRIMARY KEY", sql))


def serial_tables(schema: str) -> frozenset[str]:
    """The tables whose ``id`` is numbered by the database: inserts return it."""
    tables = set()
    for statement in schema.split(";"):
        match = _CREATE_TABLE.search(statement)
        if match and _AUTOINCREMENT.search(statement):
            tables.add(match.group(1).lower())
    return frozenset(tables)


@lru_cache(maxsize=512)
def translate(sql: str, serial: frozenset[str]) -> tuple[str, bool]:
    """A statement with ``?`` placeholders as PostgreSQL's, and whether it returns an id."""
    text = sql.replace("%", "%%").replace("?", "%s")
    match = _INSERT_OR.match(text)
    if match:  # INSERT OR IGNORE: the same as ON CONFLICT DO NOTHING on any unique key
        if match.group(1).upper() == "REPLACE":
            raise NotImplementedError("INSERT OR REPLACE: use ON CONFLICT … DO UPDATE")
        text = "INSERT " + text[match.end() :] + " ON CONFLICT DO NOTHING"
    insert = _INSERT_INTO.match(text)
    returns_id = bool(
        insert and insert.group(1).lower() in serial and "RETURNING" not in text.upper()
    )
    if returns_id:
        text += " RETURNING id"
    return text, returns_id


class PostgreSQL:
    """A small pool of connections to one PostgreSQL database."""

    def __init__(self, url: str, schema: str, size: int = 8) -> None:
        self.url = url
        self._serial = serial_tables(schema)
        self._idle: list[psycopg.Connection[Any]] = []
        self._size = size
        self._lock = threading.Lock()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            with _postgres_errors():
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        healthy = False
        try:
            with _postgres_errors(), conn.transaction():
                yield _PostgresConnection(conn, self._serial)
            healthy = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        finally:
            with self._lock:
                if healthy and len(self._idle) < self._size:
                    self._idle.append(conn)
                    conn = None
            if conn is not None:
                conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _PostgresConnection:
    def __init__(self, conn: psycopg.Connection[Any], serial: frozenset[str]) -> None:
        self._conn = conn
        self._serial = serial

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        text, returns_id = translate(sql, self._serial)
        with _postgres_errors():
            cursor = self._conn.execute(text, tuple(params))
            rows = cursor.fetchall() if cursor.description is not None and not returns_id else []
            return Rows(rows, cursor.rowcount)

    def insert(self, sql: str, params: Sequence[Any] = ()) -> int:
        text, returns_id = translate(sql, self._serial)
        if not returns_id:
            raise ValueError(f"{sql[:60]!r} is not an insert into a table with a numbered id")
        with _postgres_errors():
            row = self._conn.execute(text, tuple(params)).fetchone()
        if row is None:
            raise ValueError(f"{sql[:60]!r} made no row")
        return int(row[0])

    def executescript(self, script: str) -> None:
        with _postgres_errors(), self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in script.split(";"):
                if statement.strip():
                    self._conn.execute(translate_ddl(statement).strip())


#: SQLSTATEs (PostgreSQL's appendix A) livereport tells apart.
UNIQUE_VIOLATION = "23505"
_POSTGRES_FAULTS = {
    "53100": DiskFault.NO_SPACE,  # disk_full
    "25006": DiskFault.READ_ONLY,  # read_only_sql_transaction: a standby, or made read-only
}


@contextmanager
def _postgres_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.Error as exc:
        mapped = postgres_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc


def postgres_error(exc: psycopg.Error) -> Exception:
    """A PostgreSQL error as livereport's, by its SQLSTATE."""
    state = exc.sqlstate
    if state == UNIQUE_VIOLATION:
        return UniqueViolation(str(exc).strip())
    # No SQLSTATE: no connection. psycopg's OperationalError holds the classes of a server
    # that cannot serve: 08 connection, 53 resources (a full disk), 57 shutting down.
    if state in _POSTGRES_FAULTS or isinstance(exc, psycopg.OperationalError):
        return StorageUnavailable(
            f"the PostgreSQL metadata database cannot be used ({str(exc).strip()}); check "
            "LIVEREPORT_DATABASE and that the server is reachable, then retry",
            _POSTGRES_FAULTS.get(state or ""),
        )
    return exc  # a mistake in the SQL: not a passing condition
