"""The copies of the catalogue's lists kept where the catalogue cannot reach (the SQL of the
migrations, the raw-events baseline, the live window) say the same as the catalogue (issue
20): a breakdown or a distinct-profile type added to one and not the others fails here."""

from __future__ import annotations

import re
from importlib import resources

from livereport.report import query
from livereport.report.catalogue import DIMENSIONS, METRICS
from livereport.store import window


def _migration(name: str) -> str:
    return (resources.files("livereport.store") / "migrations" / name).read_text(encoding="utf-8")


def _view(sql: str, view: str) -> str:
    found = re.search(rf"CREATE MATERIALIZED VIEW IF NOT EXISTS \{{db\}}\.{view} .*?;", sql, re.S)
    assert found, view
    return found.group(0)


def _pairs(sql: str) -> set[str]:
    """The breakdown names of the ('name', column) pairs an ``ARRAY JOIN`` expands."""
    return set(re.findall(r"\('(\w+)', (?:toString\()?[a-z_]+\)?\)", sql))


def _types(sql: str) -> tuple[str, ...]:
    found = re.search(r"WHERE type IN \(([^)]*)\)", sql)
    assert found, sql
    return tuple(re.findall(r"'(\w+)'", found.group(1)))


#: The breakdowns kept under a ``dim`` of the rollups (an execution is a column of its own).
ROLLED = {d.dim for d in DIMENSIONS.values() if d.dim != "execution" and not d.engagement}
#: The types whose distinct profiles some metric counts.
UNIQUE = {str(m.unique) for m in METRICS.values() if m.unique is not None}


def test_the_rollups_keep_every_breakdown_of_the_catalogue() -> None:
    rollups = _migration("0002_rollups.sql")
    assert _pairs(_view(rollups, "dim_counts_mv")) == ROLLED
    # Distinct profiles are never broken down by bounce category: no metric counts them.
    assert _pairs(_view(rollups, "dim_uniques_mv")) == ROLLED - {"bounce"}


def test_the_engagement_rollups_keep_the_breakdowns_of_opens_and_clicks() -> None:
    engaged = {
        d.dim
        for d in DIMENSIONS.values()
        if d.dim != "execution"
        and (d.types is None or {"open", "click"} <= {str(t) for t in d.types})
    }
    engagement = _migration("0005_engagement.sql")
    for view in ("engagement_counts_mv", "engagement_uniques_mv"):
        assert _pairs(_view(engagement, view)) - {""} == engaged, view
        assert set(_types(_view(engagement, view))) == {"open", "click"}


def test_the_distinct_profile_types_are_the_same_everywhere() -> None:
    rollups = _migration("0002_rollups.sql")
    assert set(window.UNIQUE_TYPES) == UNIQUE
    assert query.UNIQUE_TYPES == window.UNIQUE_TYPES
    for view in ("minute_uniques_mv", "dim_uniques_mv"):
        assert _types(_view(rollups, view)) == window.UNIQUE_TYPES, view
    assert _types(window.rebuild_sql(0)) == window.UNIQUE_TYPES


def test_the_raw_baseline_and_the_live_window_break_down_alike() -> None:
    assert _pairs(query._RAW_DIMS) == ROLLED | {"machine_rule"}
    # The live window counts distinct profiles, as dim_uniques does.
    assert _pairs(window.rebuild_sql(0)) == ROLLED - {"bounce"}
    assert {dim for dim, _ in window.dimension_keys(_event())} - {
        "",
        window.SERIES_DIM,
    } == ROLLED - {"bounce"}


def _backfills(sql: str) -> dict[str, str]:
    """The SELECT of each ``INSERT INTO {db}.table SELECT …`` of a migration, by table."""
    found = re.findall(r"^INSERT INTO \{db\}\.(\w+)\n(SELECT .*?)(?:;|\Z)", sql, re.S | re.M)
    return {table: select for table, select in found}


def _folded(sql: str) -> str:
    return " ".join(sql.split())


def test_each_backfill_is_the_select_of_its_view() -> None:
    """A migration that adds a rollup fills it with the events stored before, by the very
    SELECT its view runs on each insert afterwards: two copies of one query, which must not
    drift (the rollup would then count old and new events differently)."""
    checked = []
    for migration in sorted(resources.files("livereport.store").joinpath("migrations").iterdir()):
        sql = migration.read_text(encoding="utf-8")
        for table, select in _backfills(sql).items():
            view = _view(sql, f"{table}_mv")
            assert view.startswith(
                f"CREATE MATERIALIZED VIEW IF NOT EXISTS {{db}}.{table}_mv TO {{db}}.{table} AS\n"
            ), view
            assert _folded(view.split(" AS\n", 1)[1].rstrip(";")) == _folded(select), table
            checked.append(table)
    assert {"engagement_counts", "engagement_uniques", "campaign_hours"} <= set(checked)


def _event() -> window.Event:
    """An event that carries every breakdown key the live window knows."""
    return window.Event(
        id="e",
        time_ms=0,
        campaign="c",
        channel="push",
        type="interaction",
        profile="p",
        reason="r",
        recipient_domain="d.example",
        platform="ios",
        interaction="click",
        element="button",
        variant="A",
    )
