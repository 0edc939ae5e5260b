"""Reports as JSON-ready values: totals, breakdowns, series and whole tabs.

What the dashboard draws is exactly what these return (every page has a JSON twin).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from livereport.errors import BadRequest, NotFound
from livereport.events import CAMPAIGN, Channel
from livereport.report import overview
from livereport.report import period as periods
from livereport.report import variants as comparisons
from livereport.report.catalogue import (
    BUCKETS,
    DEFAULT_BUCKET,
    DEFAULT_ENGAGEMENT,
    DEFAULT_PERIOD,
    DIMENSIONS,
    ENGAGEMENTS,
    KEY_COLOURS,
    METRICS,
    OVERVIEW_METRICS,
    OVERVIEW_SORTS,
    PERIOD_NAMES,
    PERIODS,
    SCOPES,
    SPLIT_METRICS,
    STATUSES,
    TABS,
    VIS_LABELS,
    WINDOW_SECONDS,
    Kind,
    Widget,
    breakdown_metrics,
    engagement_channels,
    metrics_for,
    sort_metric,
    variant_channels,
    variant_rates,
    widgets_of,
)
from livereport.report.query import (
    ReportScope,
    TabTallies,
    Tally,
    Window,
    campaign_exists,
    campaign_first,
    executions,
    high_water_mark,
    isoformat,
    needed,
    tallies,
    total_tally,
)
from livereport.store.base import Store

# The widgets of a tab are independent: they are built side by side, so a tab takes about as
# long as its slowest widget rather than the sum of all of them.
_WIDGETS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="report-widget")


class _Shared:
    """The tallies of one tab: two widgets asking the same question share one answer."""

    def __init__(self) -> None:
        self._found: dict[tuple[Any, ...], Future[dict[Any, Tally]]] = {}
        self._lock = threading.Lock()

    def tallies(
        self, store: Store, scope: ReportScope, start: int, end: int, **kw: Any
    ) -> dict[Any, Tally]:
        names = kw.get("names")
        dimension = kw.get("dimension")
        key = (
            scope,
            start,
            end,
            kw.get("group"),
            dimension.name if dimension else None,
            kw.get("bucket"),
            None if names is None else frozenset(names),
            kw.get("raw"),
            kw.get("count_all"),
        )
        with self._lock:
            found = self._found.get(key)
            owner = found is None
            if found is None:
                found = self._found[key] = Future()
        if not owner:
            return found.result()
        try:
            result = tallies(store, scope, start, end, **kw)
        except BaseException as exc:
            found.set_exception(exc)
            raise
        found.set_result(result)
        return result


def check_scope(channel: str) -> str:
    if channel not in SCOPES:
        raise BadRequest(
            f"channel: {channel[:40]!r} is unknown; expected one of {', '.join(SCOPES)}"
        )
    return channel


def check_execution(scope: ReportScope, known: list[str]) -> None:
    """An execution the campaign has no events of in the window is most likely a typo: a 400
    listing the known ones, rather than a report of zeros."""
    if scope.execution is not None and scope.execution not in known:
        listed = ", ".join(known) if known else "none (the campaign has no named executions)"
        raise BadRequest(
            f"execution: {scope.execution[:64]!r} has no events of campaign "
            f"{scope.campaign[:128]!r} in the window; expected one of: {listed}; or leave it "
            "out for every execution"
        )


def check_engagement(engagement: str) -> str:
    if engagement not in ENGAGEMENTS:
        raise BadRequest(
            f"engagement: {engagement[:40]!r} is unknown; expected one of {', '.join(ENGAGEMENTS)}"
        )
    return engagement


def check_tab(tab: str) -> str:
    if tab not in TABS:
        raise NotFound(f"tab {tab[:40]!r} does not exist; expected one of {', '.join(TABS)}")
    return tab


class Reports:
    """Answers report questions for one org at a time; the org always comes from the caller's
    credential, never from the request.

    Whole tabs are cached per (org, campaign, tab, execution) and minute of the window, and
    a cached tab is served only while the campaign's high-water mark (its events in the
    window, by the rollups) has not moved: one cheap query instead of a dozen. ``raw``
    computes everything from the raw events instead of the rollups, without cache: the
    baseline of bench/query.py.
    """

    CACHED_TABS = 256

    def __init__(
        self, store: Store, *, raw: bool = False, cache: bool = True, retention_days: int = 30
    ) -> None:
        self.store = store
        self.raw = raw
        self.retention_days = retention_days
        self.cache = cache and not raw
        self._cached: OrderedDict[tuple[Any, ...], tuple[int, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._flights: dict[tuple[Any, ...], Future[dict[str, Any]]] = {}
        self.hits = 0
        self.misses = 0
        #: Loads answered by a build another caller had started at the same mark.
        self.shared = 0

    def _writes(self) -> tuple[int, int] | None:
        """(writes finished, writes running) of an engine that counts them (chDB), else None.
        A ClickHouse server cannot say, and can show half an insert: the app turns the cache
        off there."""
        return self.store.writes()

    def _scope(
        self,
        org: int,
        campaign: str,
        channel: str,
        execution: str | None,
        window: Window,
        engagement: str = "all",
    ) -> ReportScope:
        check_scope(channel)
        check_engagement(engagement)
        if not campaign_exists(self.store, org, campaign):
            raise NotFound(f"campaign {campaign[:128]!r} has no events; check its id")
        scope = ReportScope(org, campaign, channel, execution or None, engagement)
        if scope.execution is not None:
            check_execution(
                scope, executions(self.store, scope, window.start, window.end, self.raw)
            )
        return scope

    def check_campaign(
        self, org: int, campaign: str, execution: str | None = None, now: float | None = None
    ) -> None:
        """What a report of the campaign would refuse, checked before one is built (a live
        stream, before it starts): 404 without events, 400 for an unknown execution."""
        window = Window.at(time.time() if now is None else now)
        self._scope(org, campaign, CAMPAIGN, execution, window)

    def window(
        self, org: int, campaign: str, asked: periods.Asked, now: float | None = None
    ) -> Window:
        """The window a request's period parameters name (report/period.py)."""
        return periods.resolve(
            asked,
            time.time() if now is None else now,
            self.retention_days,
            lambda: campaign_first(self.store, org, campaign),
        )

    def _kept(self, window: Window) -> bool:
        """Whether the window lies within the retention: before it, events are gone, and its
        zeros are no sign of a quiet campaign."""
        return window.start >= window.as_of - self.retention_days * 86_400 - 60

    def campaigns(
        self,
        org: int,
        now: float | None = None,
        asked: periods.Asked | None = None,
        listing: overview.Listing | None = None,
    ) -> dict[str, Any]:
        """The campaign overview: every campaign's numbers over the period, one page of them
        (report/overview.py)."""
        at = time.time() if now is None else now
        window = overview.org_window(
            self.store, org, asked or periods.Asked(), at, self.retention_days
        )
        earliest = int(at) - self.retention_days * 86_400
        return overview.overview(self.store, org, window, listing or overview.Listing(), earliest)

    def org_totals(
        self,
        org: int,
        asked: periods.Asked,
        channel: str,
        top: str,
        limit: int,
        min_volume: int,
        now: float | None = None,
    ) -> dict[str, Any]:
        at = time.time() if now is None else now
        window = overview.org_window(self.store, org, asked, at, self.retention_days)
        return overview.org_totals(
            self.store, org, window, channel, top, limit, min_volume, asked.compare
        )

    def totals(
        self,
        org: int,
        campaign: str,
        channel: str,
        execution: str | None = None,
        now: float | None = None,
        window: Window | None = None,
        compare: bool = False,
        engagement: str = "all",
    ) -> dict[str, Any]:
        window = window or Window.at(time.time() if now is None else now)
        scope = self._scope(org, campaign, channel, execution, window, engagement)
        names = metrics_for(channel)
        tally = total_tally(self.store, scope, window.start, window.end, names, self.raw)
        found = {**_head(scope, window), "metrics": tally.compute(names)}
        if compare:
            before = window.previous()
            earlier = total_tally(self.store, scope, before.start, before.end, names, self.raw)
            found["previous"] = {
                **before.json(),
                "complete": self._kept(before),
                "metrics": earlier.compute(names),
            }
        return found

    def breakdown(
        self,
        org: int,
        campaign: str,
        channel: str,
        by: str,
        execution: str | None = None,
        now: float | None = None,
        window: Window | None = None,
        engagement: str = "all",
    ) -> dict[str, Any]:
        window = window or Window.at(time.time() if now is None else now)
        scope = self._scope(org, campaign, channel, execution, window, engagement)
        if by not in DIMENSIONS:
            raise BadRequest(f"by: {by[:40]!r} is unknown; expected one of {', '.join(DIMENSIONS)}")
        if not breakdown_metrics(DIMENSIONS[by], channel):
            valid = [d for d in DIMENSIONS if breakdown_metrics(DIMENSIONS[d], channel)]
            raise BadRequest(
                f"by: {by} does not apply to {channel}; expected one of {', '.join(valid)}"
            )
        return {**_head(scope, window), **self._breakdown(scope, window, by, None)}

    def variants(
        self,
        org: int,
        campaign: str,
        channel: str,
        metric: str | None = None,
        control: str | None = None,
        execution: str | None = None,
        now: float | None = None,
        window: Window | None = None,
        engagement: str = "all",
    ) -> dict[str, Any]:
        """The campaign's variants on ``channel`` compared on one rate (report/variants.py):
        each variant's funnel, and its lift and verdict against the control (by default the
        first variant by name). Events without a variant are left out."""
        window = window or Window.at(time.time() if now is None else now)
        scope = self._scope(org, campaign, channel, execution, window, engagement)
        rate = comparisons.rate_of(channel, metric)
        found = self._breakdown(scope, window, "variant", None)
        rows = sorted(
            (str(row["key"]), row["metrics"])
            for row in found["rows"]
            if row["key"] not in ("", None)
        )
        return {**_head(scope, window), **comparisons.variants_json(rate, rows, control)}

    def _breakdown(
        self,
        scope: ReportScope,
        window: Window,
        by: str,
        names: tuple[str, ...] | None,
        keep_unnamed: bool = False,
        tally: Callable[..., dict[Any, Tally]] = tallies,
    ) -> dict[str, Any]:
        """Rows per key. ``keep_unnamed``: a statistics table also shows the events without an
        execution (key "") beside named ones, so that its rows add up to its total."""
        dimension = DIMENSIONS[by]
        names = names or breakdown_metrics(dimension, scope.channel)
        main = sort_metric(dimension, scope.channel)
        if main not in names:
            main = names[0]
        if by == "execution":
            groups = tally(
                self.store,
                scope,
                window.start,
                window.end,
                group="execution",
                names=names,
                raw=self.raw,
            )
            if not keep_unnamed or len(groups) == 1:
                groups.pop("", None)
        else:
            groups = tally(
                self.store,
                scope,
                window.start,
                window.end,
                group="key",
                dimension=dimension,
                names=names,
                raw=self.raw,
            )
        rows = [{"key": key, "metrics": tally.compute(names)} for key, tally in groups.items()]
        rows.sort(key=lambda r: (-(r["metrics"].get(main) or 0), str(r["key"])))
        total = sum(int(r["metrics"].get(main) or 0) for r in rows)
        for row in rows:
            value = int(row["metrics"].get(main) or 0)
            row["share"] = value / total if total else None
        return {"by": by, "sort": main, "rows": rows}

    def series(
        self,
        org: int,
        campaign: str,
        channel: str,
        metrics: list[str],
        bucket: str | None = None,
        execution: str | None = None,
        now: float | None = None,
        window: Window | None = None,
        engagement: str = "all",
    ) -> dict[str, Any]:
        window = window or Window.at(time.time() if now is None else now)
        scope = self._scope(org, campaign, channel, execution, window, engagement)
        allowed = metrics_for(channel)
        unknown = [m for m in metrics if m not in allowed]
        if unknown or not metrics:
            raise BadRequest(
                f"metrics: {', '.join(unknown) or '(none)'} not available for {channel}; "
                f"expected a comma-separated list of {', '.join(allowed)}"
            )
        return {**_head(scope, window), **self._series(scope, window, tuple(metrics), bucket)}

    def _series(
        self,
        scope: ReportScope,
        window: Window,
        names: tuple[str, ...],
        bucket: str | None,
        tally: Callable[..., dict[Any, Tally]] = tallies,
    ) -> dict[str, Any]:
        name = bucket or (DEFAULT_BUCKET if window.is_day else periods.default_bucket(window))
        if name not in BUCKETS:
            raise BadRequest(
                f"bucket: {name[:20]!r} is unknown; expected one of {', '.join(BUCKETS)}"
            )
        periods.check_points(window, name)
        size = BUCKETS[name].seconds
        if name == "1d" and window.tz != "UTC":  # the days of the zone asked, from midnight
            starts = periods.day_starts(window.start, window.end, window.tz)
            groups = tally(
                self.store,
                scope,
                window.start,
                window.end,
                bucket=size,
                names=names,
                raw=self.raw,
                day_tz=window.tz,
            )
        else:
            if window.is_day:  # whole buckets, the last one holding now
                first = _series_start(window, name)
                count = WINDOW_SECONDS // size
                read_from = first
            else:  # every minute of the period, the first and last buckets maybe in part
                first = window.start // size * size
                count = -(-(window.end - first) // size)
                read_from = window.start
            groups = tally(
                self.store, scope, read_from, window.end, bucket=size, names=names, raw=self.raw
            )
            starts = [first + i * size for i in range(count)]
        values = [groups.get(s, Tally()).compute(names) for s in starts]
        return {
            "bucket": name,
            "tz": window.tz if name == "1d" else "UTC",
            "t": [isoformat(s) for s in starts],
            "series": {n: [v[n] for v in values] for n in names},
        }

    def report(
        self,
        org: int,
        campaign: str,
        tab: str,
        execution: str | None = None,
        now: float | None = None,
        share: bool = False,
        known: tuple[int, ...] | None = None,
        window: Window | None = None,
        compare: bool = False,
        engagement: str = "all",
    ) -> dict[str, Any]:
        """A whole tab. ``share``: join a build of the same tab that another caller started at
        the same high-water mark (live streams), instead of building it again; every caller
        then gets the very same report (as of that build), to read and not to change.
        ``known``: (high-water mark, window end, …) the caller read just before (a live
        stream's watcher), used instead of reading the mark again while the window holds."""
        check_tab(tab)
        window = window or Window.at(time.time() if now is None else now)
        check_engagement(engagement)
        if self.raw:
            scope = self._scope(org, campaign, tab, execution, window, engagement)
            return self._report(scope, window, tab, compare)
        # The watcher's mark counts the live 24 hours: of no use for another period.
        if known is not None and known[1] == window.end and window.is_day:
            mark = known[0]
        else:
            mark = high_water_mark(self.store, org, campaign, window.start, window.end)
        # Events in the window prove the campaign exists; without, ask the campaigns table.
        scope = (
            ReportScope(org, campaign, tab, execution or None, engagement)
            if mark
            else self._scope(org, campaign, tab, execution, window, engagement)
        )
        key = (
            org,
            campaign,
            tab,
            scope.execution,
            window.start,
            window.end,
            window.tz,
            compare,
            engagement,
        )
        with self._lock:
            found = self._cached.get(key) if self.cache else None
            if found is not None and found[0] == mark:
                self._cached.move_to_end(key)
                self.hits += 1
                # The numbers are those of now: only the moment they are current as of moves.
                return {**found[1], "as_of": isoformat(window.as_of)}
            self.misses += 1
            # Live streams asking for the same tab at the same mark share one build: the
            # streams of a campaign all wake after a change and build it once between them.
            # (A build another caller started may miss an insert that was still committing
            # its views then; a stream gets it at the next change, a plain request never
            # shares, so it always sees what was acknowledged before it.)
            flight = self._flights.get((key, mark)) if share else None
            owner = flight is None
            if flight is None and share:
                flight = self._flights[(key, mark)] = Future()
        if not share:
            return {**self._cache_build(key, mark, scope, window, tab, compare)}
        assert flight is not None
        if not owner:
            self.shared += 1
            return flight.result()
        try:
            built = self._cache_build(key, mark, scope, window, tab, compare)
        except BaseException as exc:
            flight.set_exception(exc)
            raise
        else:
            flight.set_result(built)
        finally:
            with self._lock:
                self._flights.pop((key, mark), None)
        return built

    def _cache_build(
        self,
        key: tuple[Any, ...],
        mark: int,
        scope: ReportScope,
        window: Window,
        tab: str,
        compare: bool,
    ) -> dict[str, Any]:
        """Build a tab, and keep it when nothing was written while it was built."""
        before = self._writes()
        report = self._report(scope, window, tab, compare)
        if not self.cache:
            return report
        if before is not None and (before[1] or self._writes() != before):
            # A write ran while the tab was built: it may show part of an insert. Serve it,
            # but do not keep it; the next load builds the tab again.
            return report
        with self._lock:
            self._cached[key] = (mark, report)
            self._cached.move_to_end(key)
            while len(self._cached) > self.CACHED_TABS:
                self._cached.popitem(last=False)
        return report

    def _report(
        self, scope: ReportScope, window: Window, tab: str, compare: bool = False
    ) -> dict[str, Any]:
        shown = {name for w in widgets_of(tab) for name in w.metrics}
        tally: Callable[..., dict[Any, Tally]]
        if self.raw or scope.engagement != "all":  # the tab's broad statements count all opens
            tally = _Shared().tallies
            named = _WIDGETS.submit(
                executions, self.store, scope, window.start, window.end, self.raw
            )
        else:  # a few broad statements for the whole tab
            dimensions = [
                DIMENSIONS[w.dimension]
                for w in widgets_of(tab)
                if w.dimension is not None
                and w.dimension != "execution"
                and not DIMENSIONS[w.dimension].engagement  # read by tallies() itself
            ]
            has_series = any(w.kind == Kind.SERIES for w in widgets_of(tab))
            tab_tallies = TabTallies(
                self.store,
                scope,
                window.start,
                window.end,
                dimensions,
                needed(shown)[1],
                _series_start(window, DEFAULT_BUCKET) if has_series and window.is_day else None,
            )
            tally = tab_tallies.tallies
            named = _WIDGETS.submit(tab_tallies.executions)
        # Counts of every type (whether the tab is empty), distinct profiles only as shown.
        # Submitted first, so it is running before any widget waits for it.
        total = _WIDGETS.submit(
            lambda: tally(
                self.store,
                scope,
                window.start,
                window.end,
                names=shown,
                raw=self.raw,
                count_all=True,
            ).get("", Tally())
        )
        earlier: Future[Tally] | None = None
        if compare and any(w.kind == Kind.KPI for w in widgets_of(tab)):
            before = window.previous()
            earlier = _WIDGETS.submit(
                lambda: tallies(
                    self.store, scope, before.start, before.end, names=shown, raw=self.raw
                ).get("", Tally())
            )
        built = [
            _WIDGETS.submit(self._widget, w, scope, window, total, tally, earlier)
            for w in widgets_of(tab)
        ]
        known = named.result()
        check_execution(scope, known)
        widgets = [b.result() for b in built]
        has_events = any(
            total.result().counts.values()
        )  # every distinct profile has counted events
        return {
            **_head(scope, window),
            "tab": tab,
            "title": TABS[tab],
            "empty": not has_events,
            "executions": known,
            "widgets": widgets,
        }

    def _widget(
        self,
        w: Widget,
        scope: ReportScope,
        window: Window,
        totals: Future[Tally],
        tally: Callable[..., dict[Any, Tally]],
        earlier: Future[Tally] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any]
        if w.kind == Kind.KPI:
            data = {"metrics": totals.result().compute(w.metrics)}
            if earlier is not None:
                data["previous"] = earlier.result().compute(w.metrics)
                before = window.previous()
                data["previous_period"] = {**before.json(), "complete": self._kept(before)}
        elif w.kind == Kind.STATISTICS:
            data = self._breakdown(scope, window, "execution", w.metrics, True, tally)
            data["total"] = totals.result().compute(w.metrics)
        elif w.kind in (Kind.BREAKDOWN, Kind.REASONS):
            assert w.dimension is not None
            data = self._breakdown(scope, window, w.dimension, w.metrics, tally=tally)
            data["total"] = totals.result().compute(w.metrics)
        elif w.kind == Kind.SERIES:
            data = self._series(scope, window, w.metrics, None, tally)
        else:  # channels
            groups = tally(
                self.store,
                scope,
                window.start,
                window.end,
                group="channel",
                names=w.metrics,
                raw=self.raw,
            )
            rows = []
            for channel in Channel:
                names = tuple(m for m in w.metrics if m in metrics_for(channel))
                found = groups.get(channel.value, Tally())
                rows.append({"key": channel.value, "metrics": found.compute(names)})
            data = {
                "by": "channel",
                "rows": rows,
                "total": totals.result().compute(metrics_for(CAMPAIGN)),
            }
        return {**describe_widget(w), "data": data}


def _series_start(window: Window, bucket: str) -> int:
    """The start of a series' first bucket: the buckets end with the one holding now."""
    size = BUCKETS[bucket].seconds
    return (int(window.as_of) // size) * size - (WINDOW_SECONDS // size - 1) * size


def describe_widget(w: Widget) -> dict[str, Any]:
    return {
        "id": w.id,
        "title": w.title,
        "help": w.help,
        "kind": w.kind.value,
        "metrics": list(w.metrics),
        "dimension": w.dimension,
        "visualisation": w.visualisation.value,
        "visualisations": [v.value for v in w.visualisations],
        "size": {"w": w.size[0], "h": w.size[1]},
    }


def describe_catalogue() -> dict[str, Any]:
    """The catalogue as JSON: what the dashboard and the docs read. The dashboard keeps no
    copy of it: names, colours and lists all come from here (web/static/js/catalogue.js)."""
    return {
        "metrics": {
            m.name: {
                "label": m.label,
                "help": m.help,
                "format": m.format.value,
                "ratio": list(m.ratio) if m.ratio else None,
                "colour": m.colour,
                "lower_is_better": m.lower_is_better,
                "split": m.name in SPLIT_METRICS,
            }
            for m in METRICS.values()
        },
        "channels": {scope: list(metrics_for(scope)) for scope in SCOPES},
        "dimensions": {
            d.name: {"label": d.label, "colours": dict(KEY_COLOURS.get(d.name, {}))}
            for d in DIMENSIONS.values()
        },
        "tabs": [
            {"id": tab, "title": title, "widgets": [describe_widget(w) for w in widgets_of(tab)]}
            for tab, title in TABS.items()
        ],
        "visualisations": {vis.value: label for vis, label in VIS_LABELS.items()},
        "periods": [
            {"id": name, "label": label, "phrase": phrase, "seconds": PERIODS[name]}
            for name, (label, phrase) in PERIOD_NAMES.items()
        ],
        "default_period": DEFAULT_PERIOD,
        "buckets": list(BUCKETS),
        "bucket_seconds": {b.name: b.seconds for b in BUCKETS.values()},
        "engagement": {
            "values": list(ENGAGEMENTS),
            "default": DEFAULT_ENGAGEMENT,
            "channels": engagement_channels(),
        },
        "variant_rates": {c: list(variant_rates(c)) for c in variant_channels()},
        "overview": {
            "metrics": list(OVERVIEW_METRICS),
            "sorts": list(OVERVIEW_SORTS),
            "statuses": list(STATUSES),
        },
    }


def _head(scope: ReportScope, window: Window) -> dict[str, Any]:
    head: dict[str, Any] = {
        "campaign": scope.campaign,
        "channel": scope.channel,
        "window": window.json(),
        "as_of": isoformat(window.as_of),
        **periods.head(window),
        "engagement": scope.engagement,
    }
    if scope.execution is not None:
        head["execution"] = scope.execution
    return head
