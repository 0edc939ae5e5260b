"""The terminal view of a report tab (``livereport report``), drawn from its JSON, and the
tables of the other commands: every table fits the terminal's width without hiding data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.console import Console, Group, JustifyMethod
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from livereport.report.catalogue import BUCKETS, METRICS, TABS, Format
from livereport.report.rows import SHARE, Cell, WidgetRows, metric_label, widget_rows

_SPARK = "▁▂▃▄▅▆▇█"
#: A wrapping column may fold a word longer than this (a long file name, say) onto more lines.
_FOLD = 24
#: The least a column of free text is given, when nothing else can give way.
_NARROWEST = 8
#: What a panel's borders and padding take of the width.
_PANEL = 4


# tables that fit


@dataclass(frozen=True)
class Column:
    """A column of a terminal table. A ``wrap`` column holds free text (names, reasons, paths),
    which breaks at spaces first, then a long word after a separator (``/``, ``-``, ``.``…);
    the cells of the others (ids, numbers, codes, times) are never broken. Headers break at
    spaces."""

    header: str | Text
    justify: JustifyMethod = "left"
    wrap: bool = False


#: Where a word too long for its column may break: after one of these.
_SEPARATORS = re.compile(r"[^\s/\\\-_.,:;@+=&?]*[/\\\-_.,:;@+=&?]+|\S+")


def _chrome(columns: int) -> int:
    """Borders and padding of a boxed table of so many columns."""
    return 3 * columns + 1


def _words(text: Text) -> int:
    return max((cell_len(w) for w in text.plain.split()), default=0)


def _lines(text: Text) -> int:
    return max((cell_len(line) for line in text.plain.splitlines()), default=0)


def _text(value: str | Text) -> Text:
    return value if isinstance(value, Text) else Text(value)


def _measure(column: Column, cells: Sequence[Text]) -> tuple[int, int, int]:
    """A column's widths: natural (nothing broken), soft (free text broken at spaces only,
    headers too) and least (long words broken as well, down to ``_FOLD``)."""
    header = _text(column.header)
    longest = max((_lines(c) for c in cells), default=0)
    word = max((_words(c) for c in cells), default=0) if column.wrap else longest
    natural = max(longest, _lines(header), 1)
    soft = max(word, _words(header), 1)
    least = max(min(soft, _FOLD), _words(header), 1) if column.wrap else soft
    return natural, soft, least


def _break(text: Text, width: int) -> Text:
    """Free text in lines of ``width`` at most: at spaces, else after a separator, else
    anywhere. Styles are kept; nothing is dropped but the spaces lines break at."""
    if _lines(text) <= width:
        return text
    plain, starts, line = text.plain, [], 0
    for found in re.finditer(r"\S+\s*", plain):
        for piece in _SEPARATORS.finditer(found.group()):
            begin = found.start() + piece.start()
            end = found.start() + piece.end()
            while end - begin > width:  # no separator to break at: fold
                if begin > line:
                    starts.append(line := begin)
                begin += width
                starts.append(line := begin)
            if cell_len(plain[line:end].rstrip()) > width:
                starts.append(line := begin)
    lines = text.divide(starts) if starts else [text]
    for part in lines:
        part.rstrip()
    return Text("\n").join(lines)


def fit_tables(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str | Text]],
    width: int,
    *,
    key: bool = True,
    total: bool = False,
    title: str | None = None,
) -> list[Table]:
    """The rows as one table as wide as ``width`` at most, or several when the columns cannot
    all fit side by side: each then repeats the first column (with ``key``), which names the
    row. Nothing is cut off: free text wraps, ids and numbers are never broken. ``total``:
    the last row is a total, set apart; ``title`` goes above the first table. Strings are
    shown as given, never read as markup."""
    headers = [_text(c.header) for c in columns]
    cells = [[_text(c) for c in row] for row in rows]
    measures = [_measure(c, [row[i] for row in cells]) for i, c in enumerate(columns)]
    tables: list[Table] = []
    for group in _groups([m[2] for m in measures], width, key):
        room = width - _chrome(len(group))
        widths = [measures[i][0] for i in group]
        for level in (1, 2):  # break at spaces first, then long words too
            widths = _shrink(widths, [measures[i][level] for i in group], room)
        # Still too wide (a very narrow terminal): free text gives way before ids do.
        least = [
            min(measures[i][2], _NARROWEST) if columns[i].wrap else measures[i][2] for i in group
        ]
        widths = _shrink(widths, least, room)
        table = Table(title=None if tables or title is None else Text(title))
        for i, size in zip(group, widths, strict=True):
            table.add_column(headers[i], justify=columns[i].justify, width=size, overflow="fold")
        for n, row in enumerate(cells):
            shown = [
                _break(row[i], w) if columns[i].wrap else row[i]
                for i, w in zip(group, widths, strict=True)
            ]
            table.add_row(*shown, end_section=total and n == len(cells) - 2)
        tables.append(table)
    return tables


def _groups(floor: Sequence[int], width: int, key: bool) -> list[list[int]]:
    """Columns in order, as many side by side as fit; each group repeats the key column.
    As few groups as that takes, of about as many columns each when they fit so."""
    first = [0] if key else []

    def fits(group: list[int]) -> bool:
        return sum(floor[j] for j in group) + _chrome(len(group)) <= width

    greedy: list[list[int]] = []
    current = list(first)
    for i in range(len(first), len(floor)):
        if len(current) > len(first) and not fits([*current, i]):
            greedy.append(current)
            current = list(first)
        current.append(i)
    greedy.append(current)
    rest, count = list(range(len(first), len(floor))), len(greedy)
    even = [
        [*first, *rest[n * len(rest) // count : (n + 1) * len(rest) // count]] for n in range(count)
    ]
    return even if all(fits(g) for g in even) else greedy


def _shrink(natural: Sequence[int], floor: Sequence[int], room: int) -> list[int]:
    """Widths within ``room``: the widest columns give way first, none below its floor."""
    widths = list(natural)
    for _ in range(sum(widths) - room):
        wider = [i for i, w in enumerate(widths) if w > floor[i]]
        if not wider:
            break
        widths[max(wider, key=lambda i: widths[i])] -= 1
    return widths


# the report


def format_value(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if name in METRICS and METRICS[name].format == Format.RATE:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.1%}"
    return f"{value:,}"


def _shown(cell: Cell) -> str:
    return format_value(cell.name, cell.value)


def _bold(text: str) -> Text:
    return Text(text, style="bold")


def _statistics(table: WidgetRows, width: int) -> list[Table]:
    """Metrics as rows, one column per execution and the total (as the dashboard lists them):
    the widget's rows turned on their side. Keys are untrusted text (Text never reads markup)."""
    assert table.total is not None
    columns = [Column("Metric"), *(Column(Text(r.key), "right") for r in table.rows)]
    columns.append(Column(_bold("Total"), "right"))
    rows = [
        [column.label, *(_shown(r.cells[i]) for r in table.rows), _shown(table.total.cells[i])]
        for i, column in enumerate(table.columns)
    ]
    return fit_tables(columns, rows, width)


def _breakdown(table: WidgetRows, width: int) -> list[Table]:
    """One row per key (a reason, a domain, a channel…), the metrics as columns, the total last;
    the share of reasons only when some reason has one."""
    assert table.total is not None
    share = any(c.value is not None for r in table.rows for c in r.cells if c.name == SHARE)
    shown = [i for i, c in enumerate(table.columns) if c.name != SHARE or share]
    columns = [
        Column(table.key, wrap=True),
        *(Column(table.columns[i].label, "right") for i in shown),
    ]
    rows: list[list[str | Text]] = [
        [Text(r.key), *(_shown(r.cells[i]) for i in shown)] for r in table.rows
    ]
    rows.append([_bold("Total"), *(_bold(_shown(table.total.cells[i])) for i in shown)])
    return fit_tables(columns, rows, width, total=True)


def downsample(values: Sequence[float | None], marks: int, *, rate: bool = False) -> list[float]:
    """``values`` in ``marks`` consecutive groups: the sum of each (the mean, for a rate)."""
    size = len(values)
    found = []
    for i in range(marks):
        group = [v for v in values[i * size // marks : (i + 1) * size // marks] if v is not None]
        if rate:
            found.append(sum(group) / len(group) if group else 0.0)
        else:
            found.append(float(sum(group)))
    return found


def sparkline(values: Sequence[float]) -> str:
    """One bar per value, the tallest for the largest; any value above zero shows above it."""
    top = max(values, default=0) or 1
    return "".join(_SPARK[0 if v <= 0 else 1 + min(6, int(v / top * 6))] for v in values)


def _marks(buckets: int, room: int) -> int:
    """As many bars as fit, each the same number of buckets: a divisor of ``buckets``."""
    fitting = [d for d in range(1, buckets + 1) if buckets % d == 0 and d <= room]
    return max(fitting, default=1)


def _duration(seconds: int) -> str:
    if seconds % 86_400 == 0 and seconds > 86_400:
        return f"{seconds // 86_400} d"
    return f"{seconds // 3600} h" if seconds % 3600 == 0 else f"{seconds // 60} min"


def _series(table: WidgetRows, bucket_name: str, width: int, live: bool = True) -> list[Table]:
    """Each metric over the whole window as one line of bars, as many as the width allows."""
    series = {c.name: [r.cells[i].value for r in table.rows] for i, c in enumerate(table.columns)}
    bucket = BUCKETS[bucket_name].seconds if bucket_name in BUCKETS else 300
    count = max((len(v) for v in series.values()), default=1) or 1
    rates = {n: n in METRICS and METRICS[n].format == Format.RATE for n in series}
    labels = [c.label for c in table.columns]
    totals = ["–" if rates[n] else format_value(n, sum(v or 0 for v in series[n])) for n in series]
    lasts = [format_value(n, v[-1] if v else None) for n, v in series.items()]
    metric, total, last = (
        Column("Metric"),
        Column("Total", "right"),
        Column(f"Last {_duration(bucket)}", "right"),
    )
    measures = [
        _measure(column, [Text(c) for c in cells])
        for column, cells in ((metric, labels), (total, totals), (last, lasts))
    ]
    room = width - _chrome(4) - sum(natural for natural, _, _ in measures)
    if room < _FOLD:  # break the other headers rather than lose bars
        room = width - _chrome(4) - sum(least for _, _, least in measures)
    marks = _marks(count, room)
    span = bucket * count
    shown = f"Last {_duration(span)}" if live else _duration(span)
    bars = Column(f"{shown} ({_duration(span // marks)} per bar)")
    rows = [
        [label, sparkline(downsample(series[n], marks, rate=rates[n])), summed, latest]
        for n, label, summed, latest in zip(series, labels, totals, lasts, strict=True)
    ]
    return fit_tables([metric, bars, total, last], rows, width)


def widget_view(widget: dict[str, Any], width: int = 76, live: bool = True) -> Group:
    """A widget's data as tables at most ``width`` wide; ``live``: its period ends now."""
    data = widget["data"]
    kind = widget["kind"]
    table = widget_rows(widget)
    if kind == "kpi":  # a row per metric, drawn as a column per metric
        cells = [row.cells[0] for row in table.rows]
        labels = [row.key for row in table.rows]
        rows = [[_shown(c) for c in cells]]
        if "previous" in data:  # compared with the period before: its values and the change
            before = data["previous"]
            rows.append([format_value(c.name, before.get(c.name)) for c in cells])
            rows.append([change(c.name, c.value, before.get(c.name)) for c in cells])
            columns = [Column(""), *(Column(text, "right") for text in labels)]
            rows = [
                [label, *row] for label, row in zip(("now", "before", "change"), rows, strict=True)
            ]
            tables = fit_tables(columns, rows, width)
        else:
            columns = [Column(text, "right") for text in labels]
            tables = fit_tables(columns, rows, width, key=False)
    elif kind == "series":
        tables = _series(table, data.get("bucket") or "", width, live)
    elif kind == "statistics":
        tables = _statistics(table, width)
    else:
        tables = _breakdown(table, width)
    return Group(*tables)


def change(name: str, now: Any, before: Any) -> str:
    """A KPI's change against the period before: absolute and relative for a count, in
    points for a rate; "–" when either side has no value."""
    if now is None or before is None:
        return "–"
    if name in METRICS and METRICS[name].format == Format.RATE:
        return f"{(now - before) * 100:+.2f} pt"
    delta = now - before
    relative = f" ({delta / before:+.1%})" if before else ""
    return f"{delta:+,}{relative}"


_PERIOD_WORDS = {
    "1h": "the last hour",
    "24h": "the last 24 hours",
    "7d": "the last 7 days",
    "30d": "the last 30 days",
    "life": "the campaign's life",
}


def _moment(iso: str, shape: str) -> str:
    return datetime.fromisoformat(iso).strftime(shape)


def render_report(console: Console, report: dict[str, Any]) -> None:
    console.print(Text.assemble((report["title"], "bold"), " — ", report["campaign"]))
    window = report["window"]
    words = _PERIOD_WORDS.get(report.get("period", "24h"), "a period of your choice")
    console.print(
        Text.assemble(
            f"{words[0].upper()}{words[1:]}: "
            f"{_moment(window['from'], '%Y-%m-%d %H:%M')} → {_moment(window['to'], '%Y-%m-%d %H:%M')}"
            f" UTC, as of {_moment(report['as_of'], '%H:%M:%S')}",
            *((", execution ", (report["execution"], "bold")) if report.get("execution") else ()),
        )
    )
    if report.get("empty"):
        words = _PERIOD_WORDS.get(report.get("period", "24h"), "this period")
        console.print(f"No {report['title']} events in {words}.")
        return
    for widget in report["widgets"]:
        view = widget_view(widget, console.width - _PANEL, report.get("live", True))
        console.print(Panel(view, title=Text(widget["title"]), title_align="left"))


_STATUS_STYLES = {"sending": "green", "finished": "cyan", "quiet": "dim"}


def render_overview(console: Console, body: dict[str, Any]) -> None:
    """The campaign overview (``GET /v1/campaigns``) as a table, one page of it."""
    words = _PERIOD_WORDS.get(body.get("period", "24h"), "a period of your choice")
    shown = len(body["campaigns"])
    first = body["offset"] + 1 if shown else 0
    console.print(
        Text.assemble(
            (f"{words[0].upper()}{words[1:]}", "bold"),
            f": {_moment(body['from'], '%Y-%m-%d %H:%M')} → {_moment(body['to'], '%Y-%m-%d %H:%M')} UTC"
            f" · campaigns {first:,}–{body['offset'] + shown:,} of {body['total']:,}"
            f" · sending {body['statuses']['sending']:,}, finished {body['statuses']['finished']:,},"
            f" quiet {body['statuses']['quiet']:,}",
        )
    )
    if not shown:
        console.print("No campaign matches." if body["campaigns_total"] else "No campaigns yet.")
        return
    names = list(body["campaigns"][0]["metrics"])
    columns = [
        Column("Campaign", wrap=True),
        Column("Status"),
        *(Column(metric_label(n), "right") for n in names),
        Column("Activity"),
    ]
    rows: list[list[str | Text]] = [
        [
            Text(row["campaign"]),  # untrusted: shown as given, never read as markup
            Text(row["status"], style=_STATUS_STYLES.get(row["status"], "")),
            *(format_value(n, row["metrics"][n]) for n in names),
            sparkline([float(v) for v in row["sparkline"]]),
        ]
        for row in body["campaigns"]
    ]
    for table in fit_tables(columns, rows, console.width):
        console.print(table)


_VERDICT_WORDS = {
    "too_early": ("too early", "dim"),
    "leading": ("leading", ""),
    "trailing": ("trailing", ""),
    "even": ("even", ""),
    "better": ("better", "bold green"),
    "worse": ("worse", "bold red"),
}


def _lift(lift: dict[str, Any] | None) -> tuple[str, str]:
    """A lift as shown: relative with its interval ("+10.2% (+1.0% to +19.4%)"), else absolute
    in points when the control's rate is 0; and the p-value."""
    if lift is None:
        return "control", "–"
    if lift["relative"] is not None:
        low, high = lift["relative_low"], lift["relative_high"]
        shown = f"{lift['relative']:+.1%}"
        if low is not None and high is not None:
            shown += f" ({low:+.1%} to {high:+.1%})"
    elif lift["absolute"] is not None:
        shown = f"{lift['absolute'] * 100:+.2f} pt"
    else:
        shown = "–"
    return shown, f"{lift['p_value']:.3g}"


def render_variants(console: Console, body: dict[str, Any]) -> None:
    """A variant comparison (``GET /v1/campaigns/{campaign}/variants``) as a table."""
    window = body["window"]
    words = _PERIOD_WORDS.get(body.get("period", "life"), "a period of your choice")
    console.print(
        Text.assemble(
            (f"{metric_label(body['metric'])} by variant", "bold"),
            " — ",
            body["campaign"],
            f" ({TABS.get(body['channel'], body['channel'])})",
        )
    )
    console.print(
        f"{words[0].upper()}{words[1:]}: {_moment(window['from'], '%Y-%m-%d %H:%M')} → "
        f"{_moment(window['to'], '%Y-%m-%d %H:%M')} UTC"
    )
    if not body["variants"]:
        console.print("No event of the period has a variant.")
        return
    columns = [
        Column("Variant", wrap=True),
        Column(metric_label(body["exposures"]), "right"),
        Column(metric_label(body["successes"]), "right"),
        Column(metric_label(body["metric"]), "right"),
        Column("Lift (95% interval)", "right"),
        Column("p", "right"),
        Column("Verdict"),
    ]
    rows: list[list[str | Text]] = []
    for variant in body["variants"]:
        lift, p = _lift(variant["lift"])
        word, style = (
            _VERDICT_WORDS.get(variant["lift"]["verdict"], ("", ""))
            if variant["lift"]
            else ("", "")
        )
        rows.append(
            [
                Text(variant["variant"]),  # untrusted: shown as given, never read as markup
                f"{variant['exposures']:,}",
                f"{variant['successes']:,}",
                format_value(body["metric"], variant["rate"]),
                lift,
                p,
                Text(word, style=style),
            ]
        )
    for table in fit_tables(columns, rows, console.width):
        console.print(table)
    if body["winner"] is not None:
        console.print(Text.assemble("Winner: ", (body["winner"], "bold")))
    elif len(body["variants"]) < 2:
        console.print("One variant only: nothing to compare yet.")
    elif any(v["lift"] and v["lift"]["verdict"] == "too_early" for v in body["variants"]):
        console.print(
            f"Too early for a verdict: each variant needs {body['min_exposures']:,} "
            f"{metric_label(body['exposures']).lower()}, and {body['min_successes']:,} of them with "
            f"and {body['min_failures']:,} without {metric_label(body['successes']).lower()}."
        )
    else:
        console.print(
            "No winner yet: a lead is not called until it would hold however often you look."
        )
