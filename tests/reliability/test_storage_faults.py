"""A full or read-only disk is known by the error's code (ClickHouse's, the errno, SQLite's
result code), and told to an ingest client in the same words whichever store raised it; the
wording of an error is read only when it carries no code."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest
from chdb._exceptions import ChdbError
from clickhouse_driver.errors import NetworkError, ServerException

from livereport.errors import DiskFault, StorageUnavailable, fault_of_errno, storage_failure
from livereport.store.base import clickhouse_code, clickhouse_fault
from livereport.store.sqldb import SQLite, UniqueViolation, sqlite_error

FULL = (
    "the disk of the data directory is full, so these events were not stored; reports "
    "still answer, and ingest resumes by itself once space is freed: retry later"
)
READ_ONLY = (
    "the disk of the data directory is read-only, so these events were not stored; "
    "reports still answer, and ingest resumes by itself once it is writable: retry later"
)


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        # chDB: the code is in the text, as the engine raised it on a full tmpfs
        (
            ChdbError(
                "Code: 243. DB::Exception: Cannot reserve 1.00 MiB, not enough space. "
                "(NOT_ENOUGH_SPACE)"
            ),
            DiskFault.NO_SPACE,
        ),
        (
            ChdbError(
                "Code: 75. DB::ErrnoException: Cannot write to file /d/data.bin, errno: 28, "
                "strerror: No space left on device. (CANNOT_WRITE_TO_FILE_DESCRIPTOR)"
            ),
            DiskFault.NO_SPACE,
        ),
        (
            ChdbError(
                "Code: 76. DB::ErrnoException: Cannot open file /d/x.bin, errno: 30, "
                "strerror: Read-only file system. (CANNOT_OPEN_FILE)"
            ),
            DiskFault.READ_ONLY,
        ),
        (
            ChdbError(
                "Code: 1001. DB::Exception: std::__1::__fs::filesystem::filesystem_error: "
                f"filesystem error: in create_directories: {os.strerror(errno.ENOSPC)} "
                '["/d/tmp"]. (STD_EXCEPTION)'
            ),
            DiskFault.NO_SPACE,
        ),
        (ChdbError("Code: 62. DB::Exception: Syntax error: not enough space"), None),
        # the server's driver: the code is an attribute
        (ServerException("DB::Exception: Cannot reserve 1.00 MiB", 243), DiskFault.NO_SPACE),
        (ServerException("DB::Exception: Table is in readonly mode", 242), None),
        (NetworkError("Code: 210. Connection refused (localhost:9000)"), None),
        # the system: the errno
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), DiskFault.NO_SPACE),
        (OSError(errno.EDQUOT, os.strerror(errno.EDQUOT)), DiskFault.NO_SPACE),
        (OSError(errno.EROFS, os.strerror(errno.EROFS)), DiskFault.READ_ONLY),
        (OSError(errno.ECONNREFUSED, "no space left on device"), None),  # the number decides
        # no code at all: the wording is the fallback
        (RuntimeError("write failed: No space left on device"), DiskFault.NO_SPACE),
        (RuntimeError("something else"), None),
    ],
)
def test_the_fault_of_an_engine_error_is_read_from_its_code(
    error: BaseException, fault: DiskFault | None
) -> None:
    assert clickhouse_fault(error) == fault


def test_the_code_of_an_engine_error() -> None:
    assert clickhouse_code(ChdbError("Code: 243. DB::Exception: Cannot reserve")) == 243
    assert clickhouse_code(ServerException("DB::Exception: x", 241)) == 241
    assert clickhouse_code(RuntimeError("no code here")) is None


def test_errno_values() -> None:
    assert fault_of_errno(errno.ENOSPC) is DiskFault.NO_SPACE
    assert fault_of_errno(errno.EDQUOT) is DiskFault.NO_SPACE
    assert fault_of_errno(errno.EROFS) is DiskFault.READ_ONLY
    assert fault_of_errno(errno.EIO) is None
    assert fault_of_errno(None) is None


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (StorageUnavailable("the embedded ClickHouse engine failed: …", DiskFault.NO_SPACE), FULL),
        (StorageUnavailable("the ClickHouse server failed: …", DiskFault.READ_ONLY), READ_ONLY),
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), FULL),
        (OSError(errno.EROFS, os.strerror(errno.EROFS)), READ_ONLY),
        # a StorageUnavailable made from a message alone carries no fault: its words decide
        (StorageUnavailable("… (attempt to write a readonly database) …"), READ_ONLY),
    ],
)
def test_an_ingest_client_is_told_the_fault_in_the_same_words(
    error: BaseException, message: str
) -> None:
    told = storage_failure(error)
    assert isinstance(told, StorageUnavailable)
    assert told.message == message and told.status == 503
    assert told.fault is not None


def test_other_failures_are_told_as_they_are() -> None:
    other = StorageUnavailable("the embedded ClickHouse engine failed: Code: 60. no table")
    assert storage_failure(other) is other
    told = storage_failure(RuntimeError("Code: 999. DB::Exception: something else"))
    assert told.message == "storing the events failed: Code: 999. DB::Exception: something else"


def test_sqlite_names_a_full_database_by_its_result_code(tmp_path: Path) -> None:
    database = SQLite(tmp_path / "m.sqlite3")
    try:
        with database.connect() as db:
            db.executescript("CREATE TABLE t (k TEXT PRIMARY KEY)")
        with pytest.raises(StorageUnavailable) as full, database.connect() as db:
            # A ceiling on the file's pages stands in for a full disk: SQLITE_FULL either way.
            db.execute("PRAGMA max_page_count = 2")
            db.execute("INSERT INTO t (k) VALUES (?)", ("x" * 20_000,))
        assert full.value.fault is DiskFault.NO_SPACE
        assert "m.sqlite3 cannot be used" in full.value.message
        assert storage_failure(full.value).message == FULL
    finally:
        database.close()


def test_sqlite_names_a_unique_violation(tmp_path: Path) -> None:
    database = SQLite(tmp_path / "m.sqlite3")
    try:
        with database.connect() as db:
            db.executescript("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT UNIQUE)")
            db.execute("INSERT INTO t (k, v) VALUES (?, ?)", ("a", "1"))
        for row in (("a", "2"), ("b", "1")):  # the primary key, another unique key
            with pytest.raises(UniqueViolation), database.connect() as db:
                db.execute("INSERT INTO t (k, v) VALUES (?, ?)", row)
    finally:
        database.close()


def test_sqlite_names_a_read_only_database_by_its_result_code(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    SQLite(path).close()
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        with pytest.raises(sqlite3.OperationalError) as refused:
            reader.execute("CREATE TABLE t (k TEXT)")
    finally:
        reader.close()
    told = sqlite_error(refused.value, path.name)
    assert isinstance(told, StorageUnavailable) and told.fault is DiskFault.READ_ONLY
    assert storage_failure(told).message == READ_ONLY


def test_sqlite_errors_without_a_code_are_no_disk_fault() -> None:
    told = sqlite_error(sqlite3.OperationalError("database is locked"), "m.sqlite3")
    assert isinstance(told, StorageUnavailable) and told.fault is None
    assert told.message == (
        "the metadata database m.sqlite3 cannot be used (database is locked); "
        "check the data directory's free space and permissions, then retry"
    )
    mistake = sqlite3.ProgrammingError("wrong number of bindings")
    assert sqlite_error(mistake, "m.sqlite3") is mistake
