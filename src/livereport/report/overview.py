"""Every campaign of an org at a glance, and the org's totals, over any period.

The overview (``GET /v1/campaigns``) gives each campaign its channels, its key numbers over
the period, a sparkline of its activity and a status, and sorts, filters and pages them.
Its numbers are sums over the campaign's channels; a rate divides two such sums, and the
open and click rates only over the channels that report opens (email, push) or clicks
(email, SMS): an SMS delivered is no missed open. Unique opens and clicks are each
channel's distinct profiles, summed.

The work grows with the campaigns of the org, hardly with their events: one statement
lists them (``campaign_life``, a row each), one counts their events over the period (whole
days from ``campaign_days``, whole hours around them from ``campaign_hours``, the minutes at
the edges from ``minute_counts``), one finds those that sent in the last minutes (their
status), and the page alone gets its distinct profiles and its sparkline. Sorting by the
open or click rate needs the distinct profiles of every campaign.

The org totals (``GET /v1/totals``) are the numbers of each channel over all the org's
campaigns, distinct profiles counted once across campaigns, and the campaigns that lead
by one metric.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from livereport.errors import BadRequest
from livereport.events import CAMPAIGN, MATRIX, Channel, EventType
from livereport.report import period as periods
from livereport.report.catalogue import (
    METRICS,
    OVERVIEW_SORTS,
    SPLIT_METRICS,
    STATUSES,
    metrics_for,
)
from livereport.report.query import STATEMENTS, Tally, Value, Window, isoformat, needed
from livereport.store.base import Store
from livereport.store.window import USABLE_S

DEFAULT_SORT: Final = "last"
ORDERS: Final = ("desc", "asc")
#: A campaign is sending while messages went out (or were shown) this recently.
SENDING_S: Final = 15 * 60
#: A campaign with no event at all for this long is quiet.
QUIET_S: Final = 3600
#: The events that make a campaign "sending": messages sent, or in-app and web messages shown.
_SENDING_TYPES: Final = ("sent", "impression")
#: The overview's query parameters besides the period's, in the order :func:`listing` takes them.
LISTING_PARAMS: Final = ("q", "channel", "status", "sort", "order", "limit", "offset")
#: The longest text ``q`` may search for (campaign ids are at most 128 characters).
MAX_QUERY: Final = 200
DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 500
#: Points of a sparkline (at most; each a whole number of minutes).
SPARK_POINTS: Final = 24
#: Campaigns the org totals rank, by default and at most.
DEFAULT_TOP: Final = 10
MAX_TOP: Final = 100
#: A rate ranks a campaign only when its denominator reaches this, by default.
DEFAULT_MIN_VOLUME: Final = 100

_T = EventType
#: The channels whose deliveries count in the open rate, and in the click rate.
_OPEN_CHANNELS: Final = tuple(sorted(c.value for c in MATRIX[_T.OPEN]))
_CLICK_CHANNELS: Final = tuple(sorted(c.value for c in MATRIX[_T.CLICK]))
#: Every event type: ``campaign_hours`` keeps a ``<type>_events`` column of each.
_TYPES: Final = tuple(t.value for t in EventType)
_RANGE = "minute >= toDateTime(%(start)s, 'UTC') AND minute < toDateTime(%(end)s, 'UTC')"


@dataclass(frozen=True)
class Listing:
    """What a request asks of the overview, checked."""

    q: str = ""
    channel: str | None = None
    status: str | None = None
    sort: str = DEFAULT_SORT
    order: str = "desc"
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def listing(
    q: str | None = None,
    channel: str | None = None,
    status: str | None = None,
    sort: str | None = None,
    order: str | None = None,
    limit: str | None = None,
    offset: str | None = None,
) -> Listing:
    """Check the overview's parameters; each bad one gets a 400 that says what is expected."""
    channels = [c.value for c in Channel]
    if q is not None and len(q) > MAX_QUERY:
        raise BadRequest(f"q: expected at most {MAX_QUERY} characters of a campaign id")
    if channel is not None and channel not in channels:
        raise BadRequest(
            f"channel: {channel[:40]!r} is unknown; expected one of {', '.join(channels)}"
        )
    if status is not None and status not in STATUSES:
        raise BadRequest(
            f"status: {status[:40]!r} is unknown; expected one of {', '.join(STATUSES)}"
        )
    if sort is not None and sort not in OVERVIEW_SORTS:
        raise BadRequest(
            f"sort: {sort[:40]!r} is unknown; expected one of {', '.join(OVERVIEW_SORTS)}"
        )
    if order is not None and order not in ORDERS:
        raise BadRequest(f"order: {order[:40]!r} is unknown; expected desc or asc")
    return Listing(
        q=(q or "").strip(),
        channel=channel,
        status=status,
        sort=sort or DEFAULT_SORT,
        order=order or ("asc" if sort == "campaign" else "desc"),
        limit=whole("limit", limit, DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=whole("offset", offset, 0, 0, 10**9),
    )


def whole(name: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise BadRequest(f"{name}: {text[:40]!r} is not a whole number from {low} to {high:,}")
    return int(text)


def org_window(
    store: Store, org: int, asked: periods.Asked, now: float, retention_days: int
) -> Window:
    """The window of an org-wide request: ``life`` starts with the org's first stored event."""

    def first() -> int | None:
        rows = store.execute(
            "SELECT toUInt32(minMerge(first)), count() FROM {db}.campaigns WHERE org = %(org)s",
            {"org": org},
        )
        return int(rows[0][0]) if rows and rows[0][1] else None

    return periods.resolve(asked, now, retention_days, first)


def _spark_step(window: Window) -> int:
    """Seconds per sparkline point: whole minutes, at most :data:`SPARK_POINTS` points."""
    return max(1, math.ceil((window.end - window.start) / SPARK_POINTS / 60)) * 60


def overview(
    store: Store, org: int, window: Window, asked: Listing, earliest: int
) -> dict[str, Any]:
    """The page of campaigns ``asked`` names, with the number of campaigns it was cut from;
    ``earliest``: the start of the retention (epoch seconds)."""
    params: dict[str, Any] = {
        "org": org,
        "start": window.start,
        "end": window.end,
        "open_channels": _OPEN_CHANNELS,
        "click_channels": _CLICK_CHANNELS,
    }
    by_uniques = asked.sort in ("open_rate", "click_rate")
    # Side by side: each statement on its own connection.
    # Sorted by first event, every campaign needs its stored one (a few times slower).
    by_first = asked.sort == "first"
    lives_f = (
        STATEMENTS.submit(_kept_lives, store, org, None)
        if by_first
        else STATEMENTS.submit(_lives, store, org, earliest)
    )
    sums_f = STATEMENTS.submit(_period_sums, store, params)
    sending_f = STATEMENTS.submit(_sending, store, org, window.as_of)
    lives = lives_f.result()
    uniques_f = STATEMENTS.submit(_unique_sums, store, params, None, lives) if by_uniques else None
    sums, sending = sums_f.result(), sending_f.result()
    uniques: dict[str, dict[str, int]] = uniques_f.result() if uniques_f is not None else {}
    quiet_before = int(window.as_of) - QUIET_S
    statuses = {
        name: "sending"
        if name in sending
        else "quiet"
        if life["last"] < quiet_before
        else "finished"
        for name, life in lives.items()
    }
    chosen = []
    for name, life in lives.items():
        if asked.q and asked.q.casefold() not in name.casefold():
            continue
        if asked.channel is not None and asked.channel not in life["channels"]:
            continue
        chosen.append(name)
    by_status = {s: 0 for s in STATUSES}
    for name in chosen:
        by_status[statuses[name]] += 1
    if asked.status is not None:
        chosen = [name for name in chosen if statuses[name] == asked.status]
    ordered = _ordered(chosen, asked, lives, _sort_values(asked.sort, chosen, sums, uniques))
    page = ordered[asked.offset : asked.offset + asked.limit]
    step = _spark_step(window)
    page_uniques = (
        STATEMENTS.submit(_unique_sums, store, params, page, lives)
        if page and not by_uniques
        else None
    )
    # Campaigns older than the retention: their first event and channels among those kept.
    older = [name for name in page if not lives[name].get("whole", True)]
    kept_f = STATEMENTS.submit(_kept_lives, store, org, older) if older else None
    sparks = _sparklines(store, params, page, step) if page else {}
    if page_uniques is not None:
        uniques = page_uniques.result()
    kept = kept_f.result() if kept_f is not None else lives
    points = math.ceil((window.end - window.start) / step)
    campaigns = []
    for name in page:
        life = kept.get(name, lives[name])
        numbers = _row_numbers(sums.get(name, {}), uniques.get(name))
        spark = sparks.get(name, {})
        campaigns.append(
            {
                "campaign": name,
                "channels": sorted(life["channels"]),
                "first": isoformat(life["first"]),
                "last": isoformat(life["last"]),
                "status": statuses[name],
                "events_in_window": numbers.pop("events"),
                "metrics": numbers,
                "sparkline": [int(spark.get(i, 0)) for i in range(points)],
            }
        )
    return {
        "window": window.json(),
        "as_of": isoformat(window.as_of),
        **periods.head(window),
        "sparkline_step": step,
        "sort": asked.sort,
        "order": asked.order,
        "offset": asked.offset,
        "limit": asked.limit,
        "total": len(ordered),
        "campaigns_total": len(lives),
        "statuses": by_status,
        "campaigns": campaigns,
    }


#: The channels in the order of their bits in ``campaign_life.channels`` (the migration's).
_CHANNEL_BITS: Final = ("campaign", "email", "sms", "push", "inapp", "web", "directmail")
#: The channels (without the campaign level) of each value of those bits.
_CHANNELS_OF: Final = [
    [c for i, c in enumerate(_CHANNEL_BITS) if bits >> i & 1 and c != CAMPAIGN]
    for bits in range(1 << len(_CHANNEL_BITS))
]


def _lives(store: Store, org: int, earliest: int) -> dict[str, dict[str, Any]]:
    """Every campaign of the org with an event since ``earliest`` (the retention's start):
    its channels, first and last event (epoch seconds), from one row per campaign, and
    ``whole``: all its events lie within the retention. Without, its first event and
    channels may be of events gone; :func:`_kept_lives` has the stored ones."""
    found = {}
    # Filtered here rather than with HAVING, which made the statement several times slower.
    for campaign, bits, first, last in store.execute(
        "SELECT campaign, groupBitOrMerge(channels), toUInt32(minMerge(first)), "
        "toUInt32(maxMerge(last)) FROM {db}.campaign_life WHERE org = %(org)s GROUP BY campaign",
        {"org": org},
    ):
        if last >= earliest:
            found[campaign] = {
                "channels": _CHANNELS_OF[bits],
                "first": first,
                "last": last,
                "whole": first >= earliest,
            }
    return found


def _kept_lives(store: Store, org: int, campaigns: list[str] | None) -> dict[str, dict[str, Any]]:
    """The channels, first and last event of the campaigns (all when None) among the events
    still stored (the campaigns table, trimmed by retention with the events)."""
    only = " AND campaign IN %(campaigns)s" if campaigns is not None else ""
    return {
        campaign: {
            "channels": sorted(c for c in channels if c != CAMPAIGN),
            "first": int(first),
            "last": int(last),
        }
        for campaign, channels, first, last in store.execute(
            "SELECT campaign, groupUniqArray(toString(channel)), toUInt32(minMerge(first)), "  # noqa: S608
            f"toUInt32(maxMerge(last)) FROM {{db}}.campaigns WHERE org = %(org)s{only} "
            "GROUP BY campaign",
            {"org": org, "campaigns": tuple(campaigns or ())},
        )
    }


def _segments(start: int, end: int) -> dict[str, list[tuple[int, int]]]:
    """[start, end) cut in the whole days it holds, the whole hours around them, and the
    minutes at its edges (epoch seconds; empty pieces left out)."""
    first_hour, last_hour = -(-start // 3600) * 3600, end // 3600 * 3600
    if first_hour >= last_hour:  # no whole hour inside: the minutes alone
        return {"minute": [(start, end)], "hour": [], "day": []}
    first_day, last_day = -(-start // 86_400) * 86_400, end // 86_400 * 86_400
    days = [(first_day, last_day)] if first_day < last_day else []
    hours = [(first_hour, first_day), (last_day, last_hour)] if days else [(first_hour, last_hour)]
    pieces = {"minute": [(start, first_hour), (last_hour, end)], "hour": hours, "day": days}
    return {grain: [(lo, hi) for lo, hi in found if lo < hi] for grain, found in pieces.items()}


#: Where each grain's counts are, and the name of its time column.
_GRAINS: Final = {
    "day": ("{db}.campaign_days", "day"),
    "hour": ("{db}.campaign_hours", "hour"),
    "minute": ("{db}.minute_counts", "minute"),
}


def _counts(
    store: Store, params: Mapping[str, Any], by: str, sums: list[str], channel: str | None = None
) -> list[tuple[Any, ...]]:
    """Rows of (``by``, *``sums``) over [start, end) of ``params`` (of one channel, or all),
    ``sums`` being aggregates of ``events``, the ``<type>_events`` columns and ``channel``.
    Whole days are read from ``campaign_days``, the whole hours around them from
    ``campaign_hours``, and the minutes at the period's edges from ``minute_counts``: the
    rows read grow with the campaigns and days, hardly with the events."""
    columns = ", ".join(["events", *(f"{t}_events" for t in _TYPES)])
    from_minutes = ", ".join(
        ["events", *(f"if(type = '{t}', events, 0) AS {t}_events" for t in _TYPES)]
    )
    only = " AND channel = %(channel)s" if channel is not None else ""
    bound: dict[str, Any] = {**params, "channel": channel}
    branches = []
    for grain, pieces in _segments(params["start"], params["end"]).items():
        if not pieces:
            continue
        table, column = _GRAINS[grain]
        ranges = []
        for i, (lo, hi) in enumerate(pieces):
            bound[f"{grain}_lo{i}"], bound[f"{grain}_hi{i}"] = lo, hi
            ranges.append(
                f"({column} >= toDateTime(%({grain}_lo{i})s, 'UTC') "
                f"AND {column} < toDateTime(%({grain}_hi{i})s, 'UTC'))"
            )
        branches.append(
            f"SELECT campaign, channel, {from_minutes if grain == 'minute' else columns} "  # noqa: S608
            f"FROM {table} WHERE org = %(org)s{only} AND ({' OR '.join(ranges)})"
        )
    return store.execute(
        f"SELECT {by}, {', '.join(sums)} FROM ({' UNION ALL '.join(branches)}) GROUP BY {by}",  # noqa: S608
        bound,
    )


#: What the overview sums per campaign, by name.
_OVERVIEW_SUMS: Final[Mapping[str, str]] = {
    "events": "sum(events)",
    "sent": "sum(sent_events)",
    "delivered": "sum(delivered_events)",
    "bounces": "sum(bounce_events)",
    "spam_complaints": "sum(spam_complaint_events)",
    "open_delivered": "sumIf(delivered_events, channel IN %(open_channels)s)",
    "click_delivered": "sumIf(delivered_events, channel IN %(click_channels)s)",
}


def _period_sums(store: Store, params: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Every campaign's :data:`_OVERVIEW_SUMS` over the period. The open and click rates
    divide by the deliveries of the channels that report opens, or clicks."""
    names = list(_OVERVIEW_SUMS)
    rows = _counts(
        store,
        {**params, "open_channels": _OPEN_CHANNELS, "click_channels": _CLICK_CHANNELS},
        "campaign",
        list(_OVERVIEW_SUMS.values()),
    )
    return {row[0]: {n: int(v) for n, v in zip(names, row[1:], strict=True)} for row in rows}


def _type_tallies(
    store: Store,
    params: Mapping[str, Any],
    by: str,
    types: frozenset[str] | None = None,
    channel: str | None = None,
) -> dict[str, Tally]:
    """Per ``by`` (campaign or channel), the counts of ``types`` (all when None) over the
    period: from the hourly counts, and bounces by category from ``minute_counts`` (a
    reclassification changes categories, which the hourly counts do not keep)."""
    wanted = [t for t in _TYPES if t != "bounce" and (types is None or t in types)]
    found: dict[str, Tally] = defaultdict(Tally)
    if wanted:
        for key, *ns in _counts(store, params, by, [f"sum({t}_events)" for t in wanted], channel):
            found[key].counts.update({(t, ""): int(n) for t, n in zip(wanted, ns, strict=True)})
    if types is None or "bounce" in types:
        only = " AND channel = %(channel)s" if channel is not None else ""
        for key, category, n in store.execute(
            f"SELECT {by}, toString(bounce), sum(events) FROM {{db}}.minute_counts "  # noqa: S608
            f"WHERE org = %(org)s{only} AND type = 'bounce' AND {_RANGE} GROUP BY {by}, bounce",
            {**params, "channel": channel},
        ):
            found[key].counts[("bounce", category)] = int(n)
    return found


def _unique_sums(
    store: Store,
    params: Mapping[str, Any],
    campaigns: list[str] | None,
    lives: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, int]]:
    """Per campaign, unique opens and unique clicks: each channel's distinct profiles, summed."""
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for campaign, type_, n in _campaign_uniques(
        store, params, ("click", "open"), None, campaigns, lives
    ):
        found[campaign]["unique_opens" if type_ == "open" else "unique_clicks"] = n
    return found


def _campaign_uniques(
    store: Store,
    params: Mapping[str, Any],
    types: tuple[str, ...],
    channel: str | None,
    campaigns: list[str] | None,
    lives: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[tuple[str, str, int]]:
    """(campaign, type, distinct profiles) over the period of ``params``: each channel's
    (or only ``channel``'s) distinct profiles of each type, summed over the channels; of
    ``campaigns``, or every campaign of the org when None.

    A period that starts within the live window's reach is read from each profile's last
    occurrence (``unique_minutes``, store/window.py): a sum over the period's minutes per
    campaign, where merging every campaign's exact sets minute by minute costs as much as
    the profiles seen. A campaign with a profile seen again after the period's end has its
    sets merged instead, as every campaign has for a period starting earlier; of those,
    the campaigns whose whole life (``lives``) lies within the period are read from
    :data:`LIFETIMES` while none of their events changed."""
    bound: dict[str, Any] = {
        **params,
        "types": types,
        "channel": channel,
        "campaigns": tuple(campaigns or ()),
    }
    only = " AND campaign IN %(campaigns)s" if campaigns is not None else ""
    only += " AND channel = %(channel)s" if channel is not None else ""
    rows: list[tuple[str, str, int]] = []
    merge = campaigns
    if params["start"] >= time.time() - USABLE_S:
        later: set[str] = set()
        for campaign, type_, n, after in store.execute(
            "SELECT campaign, toString(type), sumIf(profiles, minute < toDateTime(%(end)s, 'UTC')), "  # noqa: S608
            "sumIf(profiles, minute >= toDateTime(%(end)s, 'UTC')) FROM {db}.unique_minutes "
            "WHERE org = %(org)s AND type IN %(types)s AND dim = '' AND every_execution = 1 "
            f"AND minute >= toDateTime(%(start)s, 'UTC'){only} GROUP BY campaign, type",
            bound,
        ):
            if after:
                later.add(campaign)
            elif n:
                rows.append((campaign, type_, int(n)))
        rows = [row for row in rows if row[0] not in later]
        if not later:
            return rows
        merge = sorted(later)
    summed = LIFETIMES.read(store, params, types, channel, merge, lives)
    rows.extend((campaign, type_, n) for (campaign, type_), n in summed.items() if n)
    return rows


def _summed(
    per_channel: Mapping[tuple[str, str], int], types: tuple[str, ...], channel: str | None
) -> dict[str, int]:
    """type → distinct profiles of one campaign, summed over its channels (or ``channel``'s)."""
    found = dict.fromkeys(types, 0)
    for (channel_, type_), n in per_channel.items():
        if type_ in found and (channel is None or channel_ == channel):
            found[type_] += n
    return found


def _merged_uniques(
    store: Store, params: Mapping[str, Any], types: tuple[str, ...], campaigns: list[str] | None
) -> dict[tuple[str, str, str], int]:
    """(campaign, channel, type) → distinct profiles over the period, the per-minute sets
    merged; of ``campaigns``, or every campaign of the org when None."""
    only = " AND campaign IN %(campaigns)s" if campaigns is not None else ""
    return {
        (campaign, channel, type_): int(n)
        for campaign, channel, type_, n in store.execute(
            "SELECT campaign, toString(channel), toString(type), uniqExactMerge(profiles) "  # noqa: S608
            f"FROM {{db}}.minute_uniques WHERE org = %(org)s AND type IN %(types)s "
            f"AND {_RANGE}{only} GROUP BY campaign, channel, type",
            {**params, "types": types, "campaigns": tuple(campaigns or ())},
        )
    }


def _by_campaign(
    merged: Mapping[tuple[str, str, str], int], types: tuple[str, ...], channel: str | None
) -> dict[tuple[str, str], int]:
    """(campaign, type) → profiles summed over channels (or ``channel``'s), from the
    (campaign, channel, type) numbers of :func:`_merged_uniques`."""
    found: dict[tuple[str, str], int] = defaultdict(int)
    for (campaign, channel_, type_), n in merged.items():
        if channel is None or channel_ == channel:
            found[(campaign, type_)] += n
    return found


class Lifetimes:
    """Each campaign's distinct profiles per channel and type over its whole stored life,
    kept between requests: the overview over 7 or 30 days sorted by open or click rate needs
    those of every campaign, and merging their exact sets costs as much as the profiles seen
    (hundreds of milliseconds at 10 M events), while most campaigns of such a period began
    and ended inside it and have not changed since.

    Only for a store whose one writer is this process (the embedded engine), which marks the
    writes of each campaign (store/chdb.py WriteMarks): a number is kept only when its
    campaign's mark was the same before and after the statement that counted it, and served
    only while the mark has not changed since — an event stored late, a rebuild or a
    partition dropped change it. A campaign counts from here only when its kept life (first
    to last stored event, all of them within the retention) lies within the period: over
    such a period its distinct profiles are those of its whole life.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        #: (database, org) → campaign → (mark, first, last, {(channel, type): profiles},
        #: {type: profiles of every channel}, the types counted). An org past ``capacity``
        #: campaigns starts again from none.
        self._kept: dict[
            tuple[str, int],
            dict[
                str,
                tuple[Any, int, int, dict[tuple[str, str], int], dict[str, int], frozenset[str]],
            ],
        ] = {}
        self.hits = 0
        self.misses = 0

    def read(
        self,
        store: Store,
        params: Mapping[str, Any],
        types: tuple[str, ...],
        channel: str | None,
        campaigns: list[str] | None,
        lives: Mapping[str, Mapping[str, Any]] | None,
    ) -> dict[tuple[str, str], int]:
        """(campaign, type) → distinct profiles over the period of ``params``, summed over the
        campaign's channels (or only ``channel``'s), of ``campaigns`` (every campaign of the
        org when None)."""
        org, start, end = params["org"], params["start"], params["end"]
        asked = list(lives or ()) if campaigns is None else campaigns
        whole = [
            c
            for c in asked
            if lives
            and c in lives
            and lives[c].get("whole", True)
            and start <= lives[c]["first"] < lives[c]["last"] + 1 <= end
        ]
        before = store.write_marks(org, whole)
        if lives is None or before is None:  # a store with other writers
            return _by_campaign(_merged_uniques(store, params, types, campaigns), types, channel)
        found: dict[tuple[str, str], int] = {}
        known: set[str] = set()
        wanted = frozenset(types)
        with self._lock:
            kept = self._kept.setdefault((store.database, org), {})
            for campaign in whole:
                entry = kept.get(campaign)
                if entry is None:
                    continue
                mark, first, last, numbers, sums, kept_types = entry
                life = lives[campaign]
                if (
                    mark != before[campaign]
                    or mark is None
                    or first != life["first"]
                    or last != life["last"]
                    or not wanted <= kept_types
                ):
                    continue
                known.add(campaign)
                summed = sums if channel is None else _summed(numbers, types, channel)
                for type_ in types:
                    found[(campaign, type_)] = summed[type_]
            self.hits += len(known)
            self.misses += len(asked) - len(known)
        rest = [c for c in asked if c not in known]
        if not rest:
            return found
        # Every campaign but a few: one statement over the org reads fewer rows than a list.
        merged = _merged_uniques(
            store, params, types, None if campaigns is None and len(rest) * 2 > len(asked) else rest
        )
        counted = set(rest) & set(whole)
        after = (store.write_marks(org, sorted(counted)) if counted else None) or {}
        by_campaign: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
        for (campaign, channel_, type_), n in merged.items():
            if campaign not in known:
                by_campaign[campaign][(channel_, type_)] = n
        for campaign, numbers in by_campaign.items():
            for type_, n in _summed(numbers, types, channel).items():
                found[(campaign, type_)] = n
        with self._lock:
            kept = self._kept.setdefault((store.database, org), {})
            if len(kept) + len(counted) > self.capacity:
                kept.clear()
            for campaign in counted:
                mark = before[campaign]
                if mark is None or after.get(campaign) != mark:
                    continue  # written meanwhile: the count may have missed part of it
                entry = kept.get(campaign)
                numbers = by_campaign.get(campaign, {})
                kept_types = wanted
                if entry is not None and entry[0] == mark:
                    numbers = {
                        **{k: v for k, v in entry[3].items() if k[1] not in wanted},
                        **numbers,
                    }
                    kept_types = wanted | entry[5]
                life = lives[campaign]
                kept[campaign] = (
                    mark,
                    life["first"],
                    life["last"],
                    numbers,
                    _summed(numbers, tuple(kept_types), None),
                    kept_types,
                )
        return found

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


#: The process's one :class:`Lifetimes`.
LIFETIMES: Final = Lifetimes()


def _sending(store: Store, org: int, now: float) -> set[str]:
    """The campaigns that sent (or showed) a message within :data:`SENDING_S`."""
    since = (int(now) - SENDING_S) // 60 * 60
    return {
        campaign
        for (campaign,) in store.execute(
            "SELECT DISTINCT campaign FROM {db}.minute_counts WHERE org = %(org)s "
            "AND minute >= toDateTime(%(since)s, 'UTC') AND type IN %(types)s",
            {"org": org, "since": since, "types": _SENDING_TYPES},
        )
    }


def _sparklines(
    store: Store, params: Mapping[str, Any], campaigns: list[str], step: int
) -> dict[str, dict[int, int]]:
    found: dict[str, dict[int, int]] = defaultdict(dict)
    for campaign, point, n in store.execute(
        "SELECT campaign, intDiv(toUInt32(minute) - %(start)s, %(step)s) AS point, sum(events) "  # noqa: S608
        f"FROM {{db}}.minute_counts WHERE org = %(org)s AND {_RANGE} "
        "AND campaign IN %(campaigns)s GROUP BY campaign, point",
        {**params, "campaigns": tuple(campaigns), "step": step},
    ):
        found[campaign][int(point)] = int(n)
    return found


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _row_numbers(sums: Mapping[str, int], uniques: Mapping[str, int] | None) -> dict[str, Value]:
    """A campaign's events in the period and its :data:`OVERVIEW_METRICS` (rates None with a
    denominator of 0)."""
    u = uniques or {}
    sent, delivered = sums.get("sent", 0), sums.get("delivered", 0)
    return {
        "events": sums.get("events", 0),
        "sent": sent,
        "delivered": delivered,
        "delivery_rate": _ratio(delivered, sent),
        "open_rate": _ratio(u.get("unique_opens", 0), sums.get("open_delivered", 0)),
        "click_rate": _ratio(u.get("unique_clicks", 0), sums.get("click_delivered", 0)),
        "bounce_rate": _ratio(sums.get("bounces", 0), sent),
        "complaint_rate": _ratio(sums.get("spam_complaints", 0), delivered),
    }


def _sort_values(
    sort: str,
    names: list[str],
    sums: Mapping[str, Mapping[str, int]],
    uniques: Mapping[str, Mapping[str, int]],
) -> dict[str, Value]:
    """The value of a number column for each campaign, computed from its sums alone."""
    empty: Mapping[str, int] = {}
    if sort in ("events", "sent", "delivered"):
        return {n: sums.get(n, empty).get(sort, 0) for n in names}
    if sort not in _RATES:
        return {}
    numerator, denominator = _RATES[sort]
    tops = uniques if numerator.startswith("unique_") else sums
    values: dict[str, Value] = {}
    for n in names:
        below = sums.get(n, empty).get(denominator, 0)
        values[n] = tops.get(n, empty).get(numerator, 0) / below if below else None
    return values


#: Each rate column: (its numerator, its denominator), as in :func:`_row_numbers`.
_RATES: Final = {
    "delivery_rate": ("delivered", "sent"),
    "open_rate": ("unique_opens", "open_delivered"),
    "click_rate": ("unique_clicks", "click_delivered"),
    "bounce_rate": ("bounces", "sent"),
    "complaint_rate": ("spam_complaints", "delivered"),
}


def _ordered(
    names: list[str],
    asked: Listing,
    lives: Mapping[str, Mapping[str, Any]],
    values: Mapping[str, Value],
) -> list[str]:
    """``names`` in the order asked, ties by name; campaigns without a value of the rate
    sorted by come last either way."""
    names = sorted(names)
    descending = asked.order == "desc"
    if asked.sort == "campaign":
        return names[::-1] if descending else names
    if asked.sort in ("first", "last"):
        return sorted(names, key=lambda n: lives[n][asked.sort], reverse=descending)
    valued = [n for n in names if values[n] is not None]
    unvalued = [n for n in names if values[n] is None]
    return sorted(valued, key=values.__getitem__, reverse=descending) + unvalued  # type: ignore[arg-type]


# --- the org totals --------------------------------------------------------------------------


def org_totals(
    store: Store,
    org: int,
    window: Window,
    channel: str,
    top: str,
    limit: int,
    min_volume: int,
    compare: bool = False,
) -> dict[str, Any]:
    """Every channel's numbers over all campaigns of the org, and the campaigns that lead by
    ``top`` on ``channel`` (a rate ranks only campaigns whose denominator reaches
    ``min_volume``)."""
    scopes = (CAMPAIGN, *(c.value for c in Channel))
    if channel not in scopes:
        raise BadRequest(
            f"channel: {channel[:40]!r} is unknown; expected one of {', '.join(scopes)}"
        )
    ranked = [m for m in metrics_for(channel) if m not in SPLIT_METRICS]
    if top not in ranked:
        raise BadRequest(
            f"top: {top[:40]!r} is not a metric of {channel}; expected one of "
            f"{', '.join(ranked)} (the human and machine split is not ranked)"
        )
    found = _channel_tallies(store, org, window.start, window.end)
    answer: dict[str, Any] = {
        "window": window.json(),
        "as_of": isoformat(window.as_of),
        **periods.head(window),
        "channels": {
            scope: {"metrics": found.get(scope, Tally()).compute(metrics_for(scope))}
            for scope in scopes
        },
    }
    if compare:
        before = window.previous()
        earlier = _channel_tallies(store, org, before.start, before.end)
        answer["previous"] = {
            **before.json(),
            "channels": {
                scope: {"metrics": earlier.get(scope, Tally()).compute(metrics_for(scope))}
                for scope in scopes
            },
        }
    answer["top"] = {
        "metric": top,
        "channel": channel,
        "min_volume": min_volume,
        "campaigns": _leaders(store, org, window, channel, top, limit, min_volume),
    }
    return answer


def _channel_tallies(store: Store, org: int, start: int, end: int) -> dict[str, Tally]:
    """Per channel, and the campaign level (every channel's counts summed, and its own
    entered profiles), the base aggregates over all campaigns: distinct profiles counted
    once across campaigns."""
    params = {"org": org, "start": start, "end": end}
    counting = STATEMENTS.submit(_type_tallies, store, params, "toString(channel)")
    # Opens and clicks of people and of machines (the campaign level reports neither).
    splitting = {
        column: STATEMENTS.submit(
            store.execute,
            f"SELECT toString(channel), toString(type), machine, {aggregate} "  # noqa: S608
            f"FROM {{db}}.{table} WHERE org = %(org)s AND dim = '' AND {_RANGE} "
            "GROUP BY channel, type, machine",
            params,
        )
        for column, table, aggregate in (
            ("split", "engagement_counts", "sum(events)"),
            ("split_uniques", "engagement_uniques", "uniqExactMerge(profiles)"),
        )
    }
    found: dict[str, Tally] = defaultdict(Tally)
    for channel, type_, n in store.execute(
        "SELECT toString(channel), toString(type), uniqExactMerge(profiles) "  # noqa: S608
        f"FROM {{db}}.minute_uniques WHERE org = %(org)s AND {_RANGE} "
        "GROUP BY channel, type",
        params,
    ):
        found[channel].uniques[type_] = int(n)
    for column, statement in splitting.items():
        for channel, type_, machine, n in statement.result():
            getattr(found[channel], column)[(type_, bool(machine))] = int(n)
    for channel, tally in counting.result().items():
        for scope in {channel, CAMPAIGN}:
            counts = found[scope].counts
            for key, n in tally.counts.items():
                counts[key] = counts.get(key, 0) + n
    return found


def _leaders(
    store: Store, org: int, window: Window, channel: str, top: str, limit: int, min_volume: int
) -> list[dict[str, Any]]:
    metric = METRICS[top]
    counted, uniques = needed([top])
    params: dict[str, Any] = {"org": org, "start": window.start, "end": window.end}
    scope = None if channel == CAMPAIGN else channel
    per: dict[str, Tally] = defaultdict(Tally)
    if counted:
        per.update(_type_tallies(store, params, "campaign", counted, scope))
    if uniques:
        types = tuple(sorted(uniques))
        for campaign, type_, n in _campaign_uniques(store, params, types, scope, None):
            per[campaign].uniques[type_] = n
    ranked: list[dict[str, Any]] = []
    for campaign, tally in per.items():
        value = tally.value(top)
        volume = tally.value(metric.ratio[1]) if metric.ratio else value
        if value is None or (metric.ratio and (volume or 0) < min_volume):
            continue
        ranked.append({"campaign": campaign, "value": value, "volume": volume})
    ranked.sort(key=lambda r: (-r["value"], r["campaign"]))
    return ranked[:limit]
