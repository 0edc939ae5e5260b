"""The terminal view of a report tab (``livereport report``), drawn from its JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from livereport.report.catalogue import METRICS, Format

_SPARK = "▁▂▃▄▅▆▇█"


def format_value(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if name in METRICS and METRICS[name].format == Format.RATE:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1%}"
    return f"{value:,}"


def _label(name: str) -> str:
    return METRICS[name].label if name in METRICS else name


def _wide_table(widget: dict[str, Any], data: dict[str, Any]) -> Table:
    """Many metrics: one line per metric, one column per key (an execution, say)."""
    names = list(widget["metrics"])
    keys = [Text(str(r["key"]) or "(none)") for r in data["rows"]]
    table = Table("")
    for header in [*keys, Text("Total", style="bold")]:  # Table() itself takes only str headers
        table.add_column(header)
    for column in table.columns[1:]:
        column.justify = "right"
    for name in names:
        cells = [format_value(name, r["metrics"].get(name)) for r in data["rows"]]
        table.add_row(_label(name), *cells, format_value(name, data["total"].get(name)))
    return table


def _rows_table(widget: dict[str, Any], data: dict[str, Any]) -> Table:
    names = list(widget["metrics"])
    if len(names) > 7 and data.get("total") is not None:
        return _wide_table(widget, data)
    table = Table(data.get("by", "key"), *(_label(n) for n in names), expand=False)
    for column in table.columns[1:]:
        column.justify = "right"
    has_share = any(r.get("share") is not None for r in data["rows"]) and widget["kind"] == "reasons"
    if has_share:
        table.add_column("Share", justify="right")
    for row in data["rows"]:
        cells = [Text(str(row["key"]) or "(none)")]  # untrusted: Text never parses markup
        cells += [Text(format_value(n, row["metrics"].get(n))) for n in names]
        if has_share:
            cells.append(Text(format_value("share", row.get("share"))))
        table.add_row(*cells)
    if data.get("total") is not None:
        cells = [Text("Total", style="bold")]
        cells += [Text(format_value(n, data["total"].get(n)), style="bold") for n in names]
        if has_share:
            cells.append(Text("100.0%" if data["rows"] else "–", style="bold"))
        table.add_row(*cells)
    return table


def _series(data: dict[str, Any]) -> Table:
    table = Table("Metric", "Last 24 h", "Total", "Last bucket")
    for name, values in data["series"].items():
        numbers = [v or 0 for v in values]
        top = max(numbers) or 1
        spark = "".join(_SPARK[min(7, int(v / top * 7))] for v in numbers[-48:])
        table.add_row(_label(name), spark, f"{sum(numbers):,}", f"{numbers[-1]:,}")
    return table


def widget_view(widget: dict[str, Any]) -> Any:
    data = widget["data"]
    if widget["kind"] == "kpi":
        table = Table(*(_label(n) for n in data["metrics"]))
        table.add_row(*(format_value(n, v) for n, v in data["metrics"].items()))
        return table
    if widget["kind"] == "series":
        return _series(data)
    return _rows_table(widget, data)


def render_report(console: Console, report: dict[str, Any]) -> None:
    title = Text.assemble(
        (report["title"], "bold"), " — ", report["campaign"],
        f"   {report['window']['from']} → {report['window']['to']}   as of {report['as_of']}",
    )  # fmt: skip
    console.print(title)
    if report.get("empty"):
        console.print(f"No {report['title']} events in the last 24 hours.")
        return
    for widget in report["widgets"]:
        console.print(Panel(Group(widget_view(widget)), title=Text(widget["title"]), title_align="left"))
