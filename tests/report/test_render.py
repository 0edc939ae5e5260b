"""The terminal view of a report (``livereport report``) and the CLI's tables: the whole 24 h
window in the charts, labels in the headers, and nothing cut off at 80 columns."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from rich.console import Console

from livereport.report.build import describe_widget
from livereport.report.catalogue import DIMENSIONS, METRICS, TABS, Kind, metrics_for, widgets_of
from livereport.report.render import (
    Column,
    downsample,
    fit_tables,
    format_value,
    render_report,
    sparkline,
)

BUCKETS = 288  # 24 h of 5-minute buckets
LONG_REASON = "Message rejected by the receiving server's content filter policy for this sender"
LONG_DOMAIN = "northwind-traders-international-holdings.example.com"


def value(name: str, n: int) -> Any:
    """Large counts (the width of a busy campaign's numbers) and rates."""
    return 0.1234 + n / 100 if METRICS[name].ratio else 12_345_678 + n


def data_of(widget: dict[str, Any], spike: int | None = None) -> dict[str, Any]:
    names = widget["metrics"]
    kind = widget["kind"]
    if kind == Kind.KPI:
        return {"metrics": {name: value(name, i) for i, name in enumerate(names)}}
    if kind == Kind.SERIES:
        series = {name: [0] * BUCKETS for name in names}
        for values in series.values():
            values[spike if spike is not None else BUCKETS // 2] = 5
        t = [f"2026-12-0{1 + i // 288}T00:00:00Z" for i in range(BUCKETS)]
        return {"bucket": "5m", "t": t, "series": series}
    if kind == Kind.CHANNELS:
        rows = [
            {"key": c, "metrics": {n: value(n, 1) for n in names if n in metrics_for(c)}}
            for c in TABS
            if c != "campaign"
        ]
        return {"by": "channel", "rows": rows, "total": {n: value(n, 2) for n in names}}
    by = widget["dimension"] or "execution"
    keys = (
        ["morning", "", "evening-run-with-a-long-name"]
        if by == "execution"
        else [LONG_REASON, LONG_DOMAIN, "", "hard"]
    )
    rows = [
        {"key": k, "metrics": {n: value(n, i) for n in names}, "share": 0.25}
        for i, k in enumerate(keys)
    ]
    return {"by": by, "sort": names[0], "rows": rows, "total": {n: value(n, 9) for n in names}}


def report_of(tab: str, spike: int | None = None) -> dict[str, Any]:
    widgets = []
    for w in widgets_of(tab):
        described = describe_widget(w)
        widgets.append({**described, "data": data_of(described, spike)})
    return {
        "campaign": "spring-sale",
        "channel": tab,
        "tab": tab,
        "title": TABS[tab],
        "window": {"from": "2026-12-01T10:00:00Z", "to": "2026-12-02T10:00:00Z"},
        "as_of": "2026-12-02T09:59:30.5Z",
        "empty": False,
        "executions": [],
        "widgets": widgets,
    }


def shown(report: dict[str, Any], width: int = 80) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, highlight=False)
    render_report(console, report)
    text: str = console.file.getvalue()  # type: ignore[attr-defined]
    return text


def bars(text: str) -> list[str]:
    return re.findall(r"[▁▂▃▄▅▆▇█]{2,}", text)


# the 24 h chart


@pytest.mark.parametrize("spike", [0, 100, BUCKETS - 49, BUCKETS - 1])
def test_the_chart_covers_the_whole_24_hours(spike: int) -> None:
    text = shown(report_of("sms", spike))
    lines = bars(text)
    assert lines, text
    assert all("█" in line for line in lines), text  # wherever in the day the events were
    assert all(len(line) == len(lines[0]) for line in lines)
    assert "Last 24 h" in text and "Last 5 min" in text


def test_the_chart_uses_the_width_it_has_in_whole_buckets() -> None:
    narrow, wide = bars(shown(report_of("sms"), 80))[0], bars(shown(report_of("sms"), 200))[0]
    assert len(wide) > len(narrow) >= 24
    assert BUCKETS % len(narrow) == 0 and BUCKETS % len(wide) == 0
    per_bar = 24 * 60 // len(narrow)
    unit = f"{per_bar // 60} h" if per_bar % 60 == 0 else f"{per_bar} min"
    assert f"({unit} per bar)" in shown(report_of("sms"), 80)


def test_downsample_sums_counts_and_averages_rates() -> None:
    assert downsample([1, 2, 3, 4, None, 6], 3) == [3, 7, 6]
    assert downsample([0.5, 0.7, None, 0.2], 2, rate=True) == [pytest.approx(0.6), 0.2]
    assert sparkline([0, 1, 100]) == "▁▂█"  # a little is not nothing


# labels and fitting


@pytest.mark.parametrize("tab", list(TABS))
def test_breakdown_headers_are_labels_not_ids(tab: str) -> None:
    text = shown(report_of(tab), 200)
    for w in widgets_of(tab):
        if w.kind in (Kind.BREAKDOWN, Kind.REASONS):
            assert DIMENSIONS[w.dimension or ""].label in text
        for name in w.metrics:
            assert METRICS[name].label in text
    ids = [i for i in (*DIMENSIONS, *METRICS) if "_" in i] + ["directmail", "inapp"]
    assert not [i for i in ids if i in text], text
    if tab == "campaign":
        assert "Direct mail" in text and "In-app" in text


def key_shown(key: str, by: str) -> str:
    if by == "channel":
        return TABS[key]
    return key or ("(no execution)" if by == "execution" else "(none)")


@pytest.mark.parametrize("tab", list(TABS))
def test_every_tab_fits_80_columns_and_shows_every_number_and_key_whole(tab: str) -> None:
    report = report_of(tab)
    text = shown(report, 80)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for widget in report["widgets"]:
        data = widget["data"]
        for row in [
            *data.get("rows", []),
            {"metrics": data.get("total") or data.get("metrics", {})},
        ]:
            for name, number in row["metrics"].items():
                assert format_value(name, number) in text, (name, number)
            if "key" in row:  # free text breaks at spaces, a long word after a separator
                for word in key_shown(row["key"], data["by"]).split():
                    pieces = re.findall(r"[^/.\-]+[/.\-]?", word) if len(word) > 24 else [word]
                    assert all(p in text for p in pieces), (word, text)


def test_a_table_too_wide_continues_below_repeating_its_first_column() -> None:
    columns = [Column("id"), *(Column(f"metric {n}", "right") for n in range(12))]
    rows = [["key-0001", *(f"{10**9 + n:,}" for n in range(12))]]
    tables = fit_tables(columns, rows, 80)
    assert len(tables) > 1
    console = Console(file=io.StringIO(), width=80, color_system=None)
    for table in tables:
        console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert text.count("key-0001") == len(tables) and "…" not in text
    assert all(f"{10**9 + n:,}" in text for n in range(12))


def test_ids_stay_whole_and_free_text_breaks_at_spaces_then_separators() -> None:
    rule = "exchange+diagnostic:exchange-recipient-rejected"
    path = "tests/bounces/corpus/generated/o365html-exchange-access-denied-035.eml"
    columns = [Column("file", wrap=True), Column("reason", wrap=True), Column("rule")]
    tables = fit_tables(columns, [[path, "Invalid Recipient", rule]], 72)
    console = Console(file=io.StringIO(), width=72, color_system=None)
    for table in tables:
        console.print(table)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert rule in text and "…" not in text
    assert all(part in text for part in ("tests/", "generated/", "Invalid", "Recipient"))
