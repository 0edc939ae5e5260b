"""A widget's rows (report/rows.py), which the CSV export and the terminal both draw: the
columns and keys the dashboard shows, the rows without a key named, the total last."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from livereport.report.build import describe_widget
from livereport.report.catalogue import TABS, WIDGETS_BY_ID
from livereport.report.render import widget_view
from livereport.report.rows import (
    NO_EXECUTION,
    NO_KEY,
    SHARE,
    Cell,
    Column,
    Row,
    widget_rows,
)
from livereport.web.export import csv_rows


def widget(widget_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {**describe_widget(WIDGETS_BY_ID[widget_id]), "data": data}


def test_a_kpi_is_a_row_per_metric_with_its_value() -> None:
    table = widget_rows(
        widget(
            "email.engagement_quality",
            {
                "metrics": {
                    "human_opens": 7,
                    "machine_opens": 3,
                    "machine_open_share": 0.3,
                    "human_clicks": 2,
                    "machine_clicks": 0,
                }
            },
        )
    )
    assert table.key == "Metric" and table.columns == (Column("value", "Value"),)
    assert table.rows[2] == Row("Machine share of opens", (Cell("machine_open_share", 0.3),))
    assert [r.key for r in table.rows][:2] == ["Human opens", "Machine opens"]
    assert table.total is None


def test_a_series_is_a_row_per_bucket_and_a_column_per_metric() -> None:
    t = ["2026-12-01T10:00:00Z", "2026-12-01T10:05:00Z"]
    table = widget_rows(
        widget(
            "inapp.summary",
            {"bucket": "5m", "t": t, "series": {"impressions": [1, 2], "interactions": [0, None]}},
        )
    )
    assert table.key == "Time (UTC)"
    assert table.columns == (
        Column("impressions", "Impressions"),
        Column("interactions", "Interactions"),
    )
    assert table.rows[1] == Row(t[1], (Cell("impressions", 2), Cell("interactions", None)))
    assert table.total is None


def test_statistics_name_the_row_without_an_execution_and_end_with_the_total() -> None:
    rows = [{"key": "morning", "metrics": {"sent": 3}}, {"key": "", "metrics": {"sent": 1}}]
    table = widget_rows(
        widget("directmail.statistics", {"by": "execution", "rows": rows, "total": {"sent": 4}})
    )
    assert table.key == "Execution"
    assert [r.key for r in table.rows] == ["morning", NO_EXECUTION]
    assert table.total is not None and table.total.key == "Total"
    assert Cell("sent", 4) in table.total.cells
    assert Cell("errors", None) in table.total.cells  # a metric the JSON lacks has no value


def test_channels_are_named_as_their_tabs() -> None:
    rows = [{"key": "directmail", "metrics": {"sent": 2}}, {"key": "inapp", "metrics": {}}]
    table = widget_rows(widget("campaign.channels", {"by": "channel", "rows": rows, "total": {}}))
    assert table.key == "Channel"
    assert [r.key for r in table.rows] == [TABS["directmail"], TABS["inapp"]]
    assert table.rows[1].cells[0] == Cell("targeted", None)  # no such metric in-app


def test_a_breakdown_is_headed_by_its_dimension_and_names_an_empty_key() -> None:
    rows = [{"key": "", "metrics": {"opens": 1, "clicks": 0}}]
    table = widget_rows(
        widget("email.machine_rules", {"by": "machine_rule", "rows": rows, "total": {}})
    )
    assert table.key == "Machine rule"
    assert [r.key for r in table.rows] == [NO_KEY]
    assert [c.name for c in table.columns] == ["opens", "clicks"]


def test_reasons_end_with_their_share_the_total_with_the_whole() -> None:
    rows = [
        {"key": "mailbox full", "metrics": {"bounces": 3}, "share": 0.75},
        {"key": "blocked", "metrics": {"bounces": 1}, "share": 0.25},
    ]
    data = {"by": "bounce_reason", "rows": rows, "total": {"bounces": 4}}
    table = widget_rows(widget("email.bounce_reasons", data))
    assert table.key == "Bounce reason"
    assert table.columns[-1] == Column(SHARE, "Share")
    assert table.rows[0].cells == (Cell("bounces", 3), Cell(SHARE, 0.75))
    assert table.total is not None and table.total.cells[-1] == Cell(SHARE, 1.0)
    none = widget_rows(widget("email.bounce_reasons", {**data, "rows": [], "total": {}}))
    assert none.total is not None and none.total.cells[-1] == Cell(SHARE, None)


def test_the_csv_and_the_terminal_draw_the_same_rows() -> None:
    rows = [
        {"key": "=cmd()", "metrics": {"excluded": 5}, "share": 0.5},
        {"key": "", "metrics": {"excluded": 5}, "share": 0.5},
    ]
    shown = widget(
        "sms.excluded_reasons",
        {"by": "exclusion_reason", "rows": rows, "total": {"excluded": 10}},
    )
    table = widget_rows(shown)
    csv = csv_rows(shown)
    assert csv[0] == [table.key, *(c.label for c in table.columns)]
    assert [r[0] for r in csv[1:]] == [*(r.key for r in table.rows), "Total"]
    assert csv[1] == ["=cmd()", 5, "0.5000"]  # a fraction; neutralised only when written
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(widget_view(shown, 76))
    text = out.getvalue()
    for name in (table.key, *(c.label for c in table.columns), *(r.key for r in table.rows)):
        assert name in text
    assert "50.0%" in text and "100.0%" in text
