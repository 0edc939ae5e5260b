"""The store as the report layer sees it: every statement that reads an org's tables must
name exactly one org, or it is refused before it reaches the engine.

Isolation between orgs rests on each report query filtering on the org of the caller's
credential; this is the one place that checks it, whatever the query. Maintenance that
reads every org (duplicate memory, rollup repair, retention) uses the plain store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from livereport.errors import LivereportError
from livereport.events import Event
from livereport.store.base import PARTITIONED_TABLES, WHOLE_TABLES, Store, WindowTurn
from livereport.store.lasts import RecentLasts

_TABLE = re.compile(r"\{db\}\.([A-Za-z_][A-Za-z0-9_]*)")
_TENANT_TABLES = frozenset(PARTITIONED_TABLES) | frozenset(WHOLE_TABLES)


class MissingOrg(LivereportError):
    """A report query without an org: a bug, refused so that it cannot show other orgs' data."""

    status = 500


def check_org(sql: str, params: Mapping[str, Any] | None) -> None:
    """Refuse a statement that reads an org's tables without an ``%(org)s`` filter bound to
    one org id."""
    if not _TENANT_TABLES & set(_TABLE.findall(sql)):
        return
    org = (params or {}).get("org")
    if isinstance(org, bool) or not isinstance(org, int) or org <= 0 or "%(org)s" not in sql:
        raise MissingOrg(
            "internal error: a report query without an org was refused; see the server log"
        )


class TenantStore:
    """Wraps a store for the report layer: reads only, each one of a single org."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.database = store.database
        self.cluster = store.cluster

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        check_org(sql, params)
        return self._store.execute(sql, params)

    def select_with_batch(
        self, sql: str, params: Mapping[str, Any] | None, batch: Mapping[str, list[Any]]
    ) -> list[tuple[Any, ...]]:
        check_org(sql, params)
        return self._store.select_with_batch(sql, params, batch)

    def insert_events(
        self, rows: Sequence[tuple[int, Event]], received: int, turn: WindowTurn | None = None
    ) -> None:
        raise MissingOrg("internal error: the report layer does not write events")

    def iter_event_keys(self, since: int) -> Iterator[tuple[int, str]]:
        raise MissingOrg("internal error: the report layer does not read every org's ids")

    def hosts(self) -> Sequence[Store]:
        raise MissingOrg("internal error: the report layer does not reach hosts one by one")

    def drop_partitions_before(self, day: date) -> list[str]:
        raise MissingOrg("internal error: the report layer does not drop partitions")

    def clear_tables(self, tables: Sequence[str]) -> None:
        raise MissingOrg("internal error: the report layer does not clear tables")

    def writes(self) -> tuple[int, int] | None:
        return self._store.writes()

    def write_marks(
        self, org: int, campaigns: Sequence[str]
    ) -> dict[str, tuple[int, int] | None] | None:
        """The campaigns' marks (store/chdb.py WriteMarks) of a store whose one writer is this
        process, else None: a ClickHouse server has writers this process does not see."""
        return self._store.write_marks(org, campaigns)

    def recent_lasts(self) -> RecentLasts | None:
        return None  # the report layer never records moves

    def close(self) -> None:
        self._store.close()
