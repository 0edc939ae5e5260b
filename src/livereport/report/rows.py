"""A widget of a report as rows: the table a CSV export writes (web/export.py) and the terminal
draws (report/render.py), read once from the widget's JSON (report/build.py).

The rows say what each value is (its metric, or a reason's share) and leave how it reads to
each door: a fraction of 1 in a CSV cell, a percentage on a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from livereport.report.catalogue import DIMENSIONS, METRICS, TABS, Kind

Value = int | float | None
#: The name of a reason's share of the total, beside the metrics of a row.
SHARE = "share"
#: The names of rows whose key is empty, as the dashboard shows them.
NO_EXECUTION = "(no execution)"
NO_KEY = "(none)"
TOTAL = "Total"


@dataclass(frozen=True)
class Column:
    """A column of values: ``name`` is its metric (or :data:`SHARE`), ``label`` its header."""

    name: str
    label: str


@dataclass(frozen=True)
class Cell:
    """One value, and what it is of: a metric's name, or :data:`SHARE`."""

    name: str
    value: Value


@dataclass(frozen=True)
class Row:
    """A row: its key as shown (a channel's name, ``(none)``, a time …) and its values."""

    key: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class WidgetRows:
    """A widget's table: the header of the key column, the value columns, the rows and the
    total row (None for KPIs and series, which have none).

    KPIs have a row per metric and one column of values; series a row per bucket start and a
    column per metric; the others a row per key (an execution, a channel, a dimension's key)
    and a column per metric, with a reason's share last."""

    key: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    total: Row | None = None


def metric_label(name: str) -> str:
    """A metric's label; any other name as it is."""
    return METRICS[name].label if name in METRICS else name


def key_name(kind: Kind, key: str) -> str:
    """A row's key as the dashboard shows it: a channel by its tab's name, and a name for
    the rows without a key."""
    if kind == Kind.CHANNELS:
        return TABS.get(key, key)
    if key == "":
        return NO_EXECUTION if kind == Kind.STATISTICS else NO_KEY
    return key


def _cells(names: list[str], values: Mapping[str, Value]) -> tuple[Cell, ...]:
    return tuple(Cell(name, values.get(name)) for name in names)


def widget_rows(widget: Mapping[str, Any]) -> WidgetRows:
    """One widget of a report's JSON (``{"kind", "metrics", "data", …}``) as rows."""
    kind = Kind(widget["kind"])
    data: Mapping[str, Any] = widget["data"]
    names: list[str] = list(widget["metrics"])
    columns = tuple(Column(name, metric_label(name)) for name in names)
    if kind == Kind.KPI:
        values: Mapping[str, Value] = data["metrics"]
        return WidgetRows(
            key="Metric",
            columns=(Column("value", "Value"),),
            rows=tuple(Row(metric_label(n), (Cell(n, values.get(n)),)) for n in names),
        )
    if kind == Kind.SERIES:
        series: Mapping[str, list[Value]] = data["series"]
        return WidgetRows(
            key="Time (UTC)",
            columns=columns,
            rows=tuple(
                Row(t, tuple(Cell(n, series[n][i]) for n in names)) for i, t in enumerate(data["t"])
            ),
        )
    if kind == Kind.CHANNELS:
        first = "Channel"
    elif kind == Kind.STATISTICS:
        first = "Execution"
    else:
        first = DIMENSIONS[data["by"]].label
    rows = [Row(key_name(kind, row["key"]), _cells(names, row["metrics"])) for row in data["rows"]]
    total = Row(TOTAL, _cells(names, data.get("total") or {}))
    if kind == Kind.REASONS:
        columns += (Column(SHARE, "Share"),)
        rows = [
            Row(row.key, (*row.cells, Cell(SHARE, raw.get(SHARE))))
            for row, raw in zip(rows, data["rows"], strict=True)
        ]
        # The reasons together are the whole total; with no reason, there is no share.
        total = Row(TOTAL, (*total.cells, Cell(SHARE, 1.0 if rows else None)))
    return WidgetRows(key=first, columns=columns, rows=tuple(rows), total=total)
