"""The live window's distinct profiles at its edges (report/test_window_uniques.py), on one
ClickHouse server and PostgreSQL; and an existing server database upgraded."""

from __future__ import annotations

from cluster.backends import _use_backend, backend, keys, server  # noqa: F401
from conftest import clickhouse_servers, new_storage
from livereport.store.server import ServerStore
from report.test_window_uniques import *  # noqa: F403  (the same tests, collected again here)
from report.test_window_uniques import UPGRADE

BACKEND = "server"


def test_an_existing_server_database_fills_the_window_tables_when_it_upgrades() -> None:
    found: dict[str, object] = {}
    exec(UPGRADE, found)  # the test's own script, shared with the chDB test
    port = clickhouse_servers("server")[0].tcp
    store = ServerStore(f"clickhouse://127.0.0.1:{port}/{new_storage()}")
    try:
        found["check_upgrade"](store)  # type: ignore[operator]
    finally:
        store.close()


# The chDB upgrade test runs once, in report/test_window_uniques.py.
del test_an_existing_database_fills_the_window_tables_when_it_upgrades  # noqa: F821
