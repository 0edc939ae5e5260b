"""Crash repair of the rollups. One insert reaches the events table and each materialized
view's table as separate commits, so a crash between them leaves rollups that disagree with
the events; the writer journals the days each insert touches, and those days are rebuilt here."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from livereport.errors import StorageUnavailable
from livereport.store import window
from livereport.store.base import WHOLE_TABLES, Store, check_identifier

#: The views that read unique_moves, not the events table.
WINDOW_VIEWS = frozenset({"unique_last_mv", "unique_minutes_mv"})

_TARGET = re.compile(r"\bTO\s+`?\w+`?\.`?(\w+)`?", re.IGNORECASE)


def rollup_views(store: Store) -> list[tuple[str, str]]:
    """(target table, SELECT over the events table) of every materialized view."""
    rows = store.execute(
        "SELECT name, as_select, create_table_query FROM system.tables "
        "WHERE database = %(db)s AND engine = 'MaterializedView' ORDER BY name",
        {"db": store.database},
    )
    views = []
    source = f"FROM {store.database}.events "
    for name, select, create in rows:
        if name in WINDOW_VIEWS:  # fed by unique_moves, rebuilt by store/window.py
            continue
        target = _TARGET.search(create)
        if target is None or select.count(source) != 1:
            raise StorageUnavailable(
                f"cannot rebuild the rollups of view {name}: it does not read {store.database}.events"
                " once into a TO table; rebuild it by hand"
            )
        views.append((check_identifier(target[1]), select))
    return views


def rebuild_rollups(store: Store, days: Iterable[int]) -> None:
    """Recompute every rollup's partitions of these days (YYYYMMDD) from the events table,
    and the live window's distinct profiles."""
    days = sorted({int(d) for d in days})
    window.rebuild(store)
    source = f"FROM {store.database}.events "
    for target, select in rollup_views(store):
        for day in days:
            if target not in WHOLE_TABLES:
                store.execute(f"ALTER TABLE {{db}}.{target} DROP PARTITION {day}")
            # Identifiers come from system.tables and the day is an int: nothing user-given.
            day_events = (
                f"FROM (SELECT * FROM {{db}}.events WHERE toYYYYMMDD(time) = {day}) AS events "  # noqa: S608
            )
            store.execute(f"INSERT INTO {{db}}.{target} " + select.replace(source, day_events))


class InsertJournal:
    """A file naming the days of the insert in progress; present after a crash mid-insert."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def begin(self, days: Iterable[int]) -> None:
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps(sorted(set(days))), encoding="ascii")
        os.replace(scratch, self.path)  # whole or absent, never half written

    def end(self) -> None:
        self.path.unlink(missing_ok=True)

    def pending_days(self) -> list[int] | None:
        """The days of an insert that never ended, or None when the last one ended."""
        try:
            return [int(d) for d in json.loads(self.path.read_text(encoding="ascii"))]
        except FileNotFoundError:
            return None

    def repair(self, store: Store) -> list[int]:
        """Rebuild the rollups of an insert that never ended; return the days rebuilt."""
        days = self.pending_days()
        if days is None:
            return []
        rebuild_rollups(store, days)
        self.end()
        return days
