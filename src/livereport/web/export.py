"""CSV exports of a report: a whole tab (each widget's title, then its rows) or one widget.

Built from the same report JSON the API serves, as the rows the terminal draws too
(report/rows.py): the catalogue's labels, and the dashboard's names for rows without a key.
Rates and shares keep the JSON's meaning, a fraction of 1, rounded to four decimals (0.2500
is 25 %), so a spreadsheet can show them as percentages. Text cells that a spreadsheet would run as a formula are neutralised with a
leading apostrophe. ``GET /v1/campaigns/{c}/export.csv?tab=…[&widget=…][&execution=…]``.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from livereport.errors import BadRequest
from livereport.report.catalogue import METRICS, TABS, Format, widgets_of
from livereport.report.rows import NO_EXECUTION as NO_EXECUTION
from livereport.report.rows import SHARE, widget_rows
from livereport.web.auth import authenticate_caller
from livereport.web.params import engagement_param, period_param, query_param, services_of

Cell = str | int | float | None
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Decimals of rates and shares: 0.1234 is 12.34 %.
FRACTION_DECIMALS = 4


def neutralise(value: Cell) -> str:
    """A cell as text; text a spreadsheet would treat as a formula gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def fraction(value: Cell) -> Cell:
    """A rate or a share, rounded and written with a fixed number of decimals."""
    return f"{value:.{FRACTION_DECIMALS}f}" if isinstance(value, int | float) else value


def metric_cell(name: str, value: Cell) -> Cell:
    """A metric's value (or a share) as exported: rates and shares as fractions, counts as
    they are."""
    rate = name == SHARE or (name in METRICS and METRICS[name].format == Format.RATE)
    return fraction(value) if rate else value


def csv_rows(widget: dict[str, Any]) -> list[list[Cell]]:
    """One widget of a report as a header row and data rows (totals last)."""
    table = widget_rows(widget)
    rows: list[list[Cell]] = [[table.key, *(c.label for c in table.columns)]]
    for row in (*table.rows, *((table.total,) if table.total else ())):
        rows.append([row.key, *(metric_cell(c.name, c.value) for c in row.cells)])
    return rows


def _write(rows: list[list[Cell]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


_ENGAGEMENT_LABELS = {"all": "all", "human": "human only", "machine": "machine only"}


def tab_csv(report: dict[str, Any]) -> str:
    """The whole tab: what was exported, then each widget's title and rows, a blank line apart."""
    rows: list[list[Cell]] = [
        ["Campaign", report["campaign"]],
        ["Tab", report["title"]],
        ["Execution", report.get("execution") or "all"],
        ["Opens and clicks", _ENGAGEMENT_LABELS[report.get("engagement", "all")]],
        ["Window (UTC)", report["window"]["from"], report["window"]["to"]],
        ["As of", report["as_of"]],
    ]
    for widget in report["widgets"]:
        rows += [[], [widget["title"]], *csv_rows(widget)]
    return _write(rows)


def widget_csv(report: dict[str, Any], widget_id: str) -> str:
    for widget in report["widgets"]:
        if widget["id"] == widget_id:
            return _write(csv_rows(widget))
    raise AssertionError(f"{widget_id}: check_export lets only the tab's widgets through")


def check_export(tab: str | None, widget: str | None) -> tuple[str, str | None]:
    """The tab and widget asked for, checked against the catalogue before any query runs:
    a parameter naming nothing is a bad request (400), never another tab's export."""
    if tab is None and widget is not None:
        tab = widget.split(".", 1)[0]
        if tab not in TABS:  # the widget's prefix names no tab
            raise BadRequest(
                f"widget: {widget[:80]!r} does not exist; a widget id starts with its tab "
                f"({', '.join(f'{t}.' for t in TABS)}), see GET /v1/catalogue"
            )
    tab = "campaign" if tab is None else tab  # tab= (empty) names no tab
    if tab not in TABS:
        raise BadRequest(f"tab: {tab[:40]!r} does not exist; expected one of {', '.join(TABS)}")
    if widget is not None:
        ids = [w.id for w in widgets_of(tab)]
        if widget not in ids:
            raise BadRequest(
                f"widget: {widget[:80]!r} is not on the {TABS[tab]} tab; "
                f"expected one of {', '.join(ids)}"
            )
    return tab, widget


def filename(*parts: str) -> str:
    safe = "-".join(re.sub(r"[^A-Za-z0-9._-]+", "_", p).strip("._") or "x" for p in parts)
    return safe[:150] + ".csv"


async def get_export(request: Request) -> Response:
    services = services_of(request)
    org = authenticate_caller(request, services.metadata).org_id
    campaign = request.path_params["campaign"]
    tab, widget = check_export(query_param(request, "tab"), query_param(request, "widget"))
    execution = query_param(request, "execution")
    asked = period_param(request)
    engagement = engagement_param(request)

    def report_of() -> dict[str, Any]:
        window = None if asked.default else services.reports.window(org, campaign, asked)
        return services.reports.report(
            org, campaign, tab, execution, window=window, engagement=engagement
        )

    report = await run_in_threadpool(report_of)
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
