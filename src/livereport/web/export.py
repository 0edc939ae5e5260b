"""CSV exports of a report: a whole tab (each widget's title, then its rows) or one widget.

Built from the same report JSON the API serves, with the catalogue's labels. Text cells that
a spreadsheet would run as a formula are neutralised with a leading apostrophe.
``GET /v1/campaigns/{c}/export.csv?tab=…[&widget=…][&execution=…]``.
"""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from livereport.errors import NotFound
from livereport.report.catalogue import DIMENSIONS, METRICS, TABS, Kind
from livereport.web.auth import authenticate_caller
from livereport.web.params import query_param, services_of

if TYPE_CHECKING:
    pass

Cell = str | int | float | None
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Cell) -> str:
    """A cell as text; text a spreadsheet would treat as a formula gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _label(name: str) -> str:
    return METRICS[name].label if name in METRICS else name


def widget_rows(widget: dict[str, Any]) -> list[list[Cell]]:
    """One widget of a report as a header row and data rows (totals last)."""
    kind = Kind(widget["kind"])
    data: dict[str, Any] = widget["data"]
    names: list[str] = list(widget["metrics"])
    labels: list[Cell] = [_label(n) for n in names]
    if kind == Kind.KPI:
        return [["Metric", "Value"], *([_label(n), data["metrics"].get(n)] for n in names)]
    if kind == Kind.SERIES:
        series: dict[str, list[Cell]] = data["series"]
        rows: list[list[Cell]] = [["Time (UTC)", *labels]]
        for i, t in enumerate(data["t"]):
            rows.append([t, *(series[n][i] for n in names)])
        return rows
    if kind == Kind.CHANNELS:
        first = "Channel"
    elif kind == Kind.STATISTICS:
        first = "Execution"
    else:
        first = DIMENSIONS[data["by"]].label
    with_share = kind == Kind.REASONS
    header: list[Cell] = [first, *labels, *(["Share"] if with_share else [])]
    rows = [header]
    for row in data["rows"]:
        values: list[Cell] = [row["metrics"].get(n) for n in names]
        rows.append([row["key"], *values, *([row.get("share")] if with_share else [])])
    total: dict[str, Any] = data.get("total") or {}
    share: list[Cell] = [1 if data["rows"] else None] if with_share else []
    rows.append(["Total", *(total.get(n) for n in names), *share])
    return rows


def _write(rows: list[list[Cell]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


def tab_csv(report: dict[str, Any]) -> str:
    """The whole tab: what was exported, then each widget's title and rows, a blank line apart."""
    rows: list[list[Cell]] = [
        ["Campaign", report["campaign"]],
        ["Tab", report["title"]],
        ["Execution", report.get("execution") or "all"],
        ["Window (UTC)", report["window"]["from"], report["window"]["to"]],
        ["As of", report["as_of"]],
    ]
    for widget in report["widgets"]:
        rows += [[], [widget["title"]], *widget_rows(widget)]
    return _write(rows)


def widget_csv(report: dict[str, Any], widget_id: str) -> str:
    for widget in report["widgets"]:
        if widget["id"] == widget_id:
            return _write(widget_rows(widget))
    raise NotFound(
        f"widget {widget_id[:80]!r} is not on the {report['title']} tab; "
        f"expected one of {', '.join(w['id'] for w in report['widgets'])}"
    )


def filename(*parts: str) -> str:
    safe = "-".join(re.sub(r"[^A-Za-z0-9._-]+", "_", p).strip("._") or "x" for p in parts)
    return safe[:150] + ".csv"




async def get_export(request: Request) -> Response:
    services = services_of(request)
    org = authenticate_caller(request, services.metadata).org_id
    campaign = request.path_params["campaign"]
    widget = query_param(request, "widget")
    tab = query_param(request, "tab") or (widget.split(".", 1)[0] if widget else "campaign")
    if tab not in TABS:
        raise NotFound(f"tab {tab[:40]!r} does not exist; expected one of {', '.join(TABS)}")
    execution = query_param(request, "execution")
    report = await run_in_threadpool(services.reports.report, org, campaign, tab, execution)
    if widget is None:
        text, name = tab_csv(report), filename(campaign, tab)
    else:
        text, name = widget_csv(report, widget), filename(campaign, widget)
    # A byte order mark, so spreadsheets read the file as UTF-8.
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
