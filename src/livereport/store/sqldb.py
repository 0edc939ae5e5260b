"""PostgreSQL behind the few sqlite3 calls the metadata code makes, for cluster mode.

Metadata keeps one SQL text in the subset both databases share (``?`` placeholders,
``ON CONFLICT``, ``CREATE TABLE IF NOT EXISTS``). This shim only translates what differs:
placeholders, the DDL types, ``lastrowid`` (through ``RETURNING id``) and the error
classes, which it raises as sqlite3's so the callers catch one kind.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg

_AUTOINCREMENT = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.IGNORECASE)
_REAL = re.compile(r"\bREAL\b")
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)
_INSERT_OR = re.compile(r"^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+", re.IGNORECASE)
#: Any number, so that two nodes creating the schema at once take turns.
_SCHEMA_LOCK = 7_336_514


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
            raise sqlite3.NotSupportedError("INSERT OR REPLACE: use ON CONFLICT … DO UPDATE")
        text = "INSERT " + text[match.end() :] + " ON CONFLICT DO NOTHING"
    insert = _INSERT_INTO.match(text)
    returns_id = bool(
        insert and insert.group(1).lower() in serial and "RETURNING" not in text.upper()
    )
    if returns_id:
        text += " RETURNING id"
    return text, returns_id


class Cursor:
    """The part of sqlite3.Cursor the metadata code uses."""

    def __init__(self, cursor: psycopg.Cursor[Any] | None, lastrowid: int | None = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount if cursor is not None else -1

    def fetchone(self) -> Any:
        if self._cursor is None or self._cursor.description is None:
            return None
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        if self._cursor is None or self._cursor.description is None:
            return []
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Connection:
    """One PostgreSQL connection in autocommit mode, spoken to like sqlite3's."""

    def __init__(self, conn: psycopg.Connection[Any], serial: frozenset[str]) -> None:
        self._conn = conn
        self._serial = serial

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if sql.lstrip().upper().startswith("PRAGMA"):
            return Cursor(None)  # SQLite's settings have no meaning here
        text, returns_id = translate(sql, self._serial)
        with _errors():
            cursor = self._conn.execute(text, tuple(params))
            if returns_id:
                row = cursor.fetchone()
                return Cursor(cursor, int(row[0]) if row else None)
            return Cursor(cursor)

    def executescript(self, script: str) -> None:
        with _errors(), self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in script.split(";"):
                if statement.strip():
                    self._conn.execute(translate_ddl(statement).strip())


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
            with _errors():
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        healthy = False
        try:
            yield Connection(conn, self._serial)
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


@contextmanager
def _errors() -> Iterator[None]:
    """PostgreSQL's errors as the sqlite3 classes the metadata code already catches."""
    try:
        yield
    except psycopg.errors.IntegrityError as exc:
        raise sqlite3.IntegrityError(str(exc).strip()) from exc
    except psycopg.OperationalError as exc:  # unreachable, shutting down, disk full
        raise sqlite3.OperationalError(str(exc).strip()) from exc
