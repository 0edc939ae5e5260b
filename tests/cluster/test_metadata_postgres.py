"""Metadata on PostgreSQL: the SQLite SQL of store/metadata/ through store/sqldb.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import POSTGRES, new_storage
from livereport.errors import BadRequest, StorageUnavailable
from livereport.store.metadata import Metadata
from livereport.store.server import ServerAddress
from livereport.store.sqldb import PostgreSQL, serial_tables, translate, translate_ddl


def closed(metadata: Metadata) -> None:
    """Close the pooled connections the test opened (a server keeps them for its lifetime)."""
    assert metadata._postgres is not None
    metadata._postgres.close()


@pytest.fixture
def metadata(tmp_path: Path) -> Iterator[Metadata]:
    url = f"{POSTGRES}?options=-csearch_path%3D{new_storage()}"
    m = Metadata(tmp_path / "unused.sqlite3", url)
    yield m
    closed(m)


def test_the_schema_and_the_basic_records_work_on_postgresql(
    metadata: Metadata, tmp_path: Path
) -> None:
    assert not (tmp_path / "unused.sqlite3").exists()
    first, second = metadata.create_org("first"), metadata.create_org("second")
    assert second.id == first.id + 1 and metadata.orgs() == [first, second]
    with pytest.raises(BadRequest, match="already exists"):  # a unique violation, as in SQLite
        metadata.create_org("first")
    plain, key = metadata.create_key(first, ["ingest", "read"], "a key")
    found = metadata.find_key(plain)
    assert found is not None and found.id == key.id and found.org_id == first.id
    metadata.revoke_key(first, key.id)
    assert metadata.find_key(plain) is None
    user = metadata.create_user(first, "Ann@Example.com", "editor", "a long enough password")
    assert metadata.check_password("ann@example.com", "a long enough password") == user
    metadata.save_layout(user.id, "email", '{"a": 1}')
    metadata.save_layout(user.id, "email", '{"a": 2}')  # ON CONFLICT … DO UPDATE
    assert metadata.layout(user.id, "email") == '{"a": 2}'
    metadata.create_session("s1", user.id, 100.0)
    assert metadata.delete_sessions(created_before=200.0, seen_before=200.0) == 1


def test_a_second_metadata_on_the_same_database_sees_the_same_rows(tmp_path: Path) -> None:
    url = f"{POSTGRES}?options=-csearch_path%3D{new_storage()}"
    a, b = Metadata(tmp_path / "a", url), Metadata(tmp_path / "b", url)
    org = a.create_org("shared")
    assert b.org("shared") == org
    closed(a)
    closed(b)


def test_translation_of_the_sqlite_dialect() -> None:
    schema = (
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, x REAL);\nCREATE TABLE u (k TEXT)"
    )
    assert serial_tables(schema) == frozenset({"t"})
    assert translate_ddl(schema.split(";")[0]) == (
        "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, x DOUBLE PRECISION)"
    )
    assert translate("INSERT INTO t (x) VALUES (?)", frozenset({"t"})) == (
        "INSERT INTO t (x) VALUES (%s) RETURNING id",
        True,
    )
    assert translate("INSERT INTO u (k) VALUES (?)", frozenset({"t"}))[1] is False
    assert translate("SELECT k FROM u WHERE k LIKE '5%' AND k = ?", frozenset()) == (
        "SELECT k FROM u WHERE k LIKE '5%%' AND k = %s",
        False,
    )
    assert translate("INSERT OR IGNORE INTO u (k) VALUES (?)", frozenset())[0] == (
        "INSERT INTO u (k) VALUES (%s) ON CONFLICT DO NOTHING"
    )
    with pytest.raises(NotImplementedError):
        translate("INSERT OR REPLACE INTO u (k) VALUES (?)", frozenset())


def test_an_unreachable_postgresql_is_a_clear_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageUnavailable, match="PostgreSQL metadata database cannot be used"):
        Metadata(tmp_path / "m", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    pool = PostgreSQL("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2", "")
    with pytest.raises(StorageUnavailable), pool.connect():
        pass


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://ch:9000/db", "expected clickhouse://"),
        ("clickhouse://ch:port/db", "bad port"),
        ("clickhouse://ch:9000/db;drop", "database name"),
        ("clickhouse://ch:9000/db?shards=2", "unknown options"),
        ("clickhouse://ch:9000/db?cluster=a-b", "not valid"),
    ],
)
def test_bad_clickhouse_urls_say_what_is_expected(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ServerAddress.parse(url)


def test_a_clickhouse_url_names_host_port_credentials_database_and_cluster() -> None:
    address = ServerAddress.parse("clickhouse://bob:s%40cret@ch-1:9440/events?cluster=main")
    assert address == ServerAddress("ch-1", 9440, "events", "bob", "s@cret", "main")
    assert ServerAddress.parse("clickhouse://ch").port == 9000
    assert ServerAddress.parse("clickhouse://ch").database == "livereport"


def test_a_cluster_without_postgresql_is_refused_with_the_reason(tmp_path: Path) -> None:
    from livereport import instance
    from livereport.config import Config

    config = Config.load({"LIVEREPORT_CLICKHOUSE": "clickhouse://ch:9000/db?cluster=main"})
    with pytest.raises(ValueError, match="LIVEREPORT_DATABASE must name the PostgreSQL"):
        instance.open_store(config)
