"""Periods: which minutes a report covers.

A request names a preset (``period=1h|24h|7d|30d|life``) or a custom range (``from=`` and
``to=``, RFC 3339 with a UTC offset, whole minutes; without ``to``: until now). Every report
endpoint reads the same parameters (docs/api.md, "Periods"). A preset ends with the current
minute and so stays live; ``life`` starts with the campaign's first event. A custom range
must lie within the retention: the events before it are gone, and a report of them would
show zeros that look like a quiet campaign.
"""

from __future__ import annotations

import functools
import math
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dtime

from livereport.errors import BadRequest
from livereport.report.catalogue import BUCKETS, DEFAULT_PERIOD, PERIODS
from livereport.report.query import Window, isoformat

PRESETS = PERIODS
COMPARE = ("previous",)
#: The bucket a series gets when none is asked: the first whose period length is at most
#: this many seconds, so that a chart has from about 60 to a few hundred points.
_BUCKET_FOR: tuple[tuple[int, str], ...] = (
    (2 * 3600, "1m"),
    (2 * 86_400, "5m"),
    (8 * 86_400, "1h"),
    (31 * 86_400, "6h"),
)
#: Most buckets one series may have.
MAX_POINTS = 2000
_EXPECTED = (
    "expected period= one of 1h, 24h, 7d, 30d, life, or from= (and optionally to=) as RFC 3339 "
    "times with an offset in whole minutes, e.g. from=2026-11-30T08:00:00Z"
)


@dataclass(frozen=True)
class Asked:
    """A request's period parameters, checked for form; :func:`resolve` makes the window."""

    preset: str = DEFAULT_PERIOD
    start: int | None = None
    end: int | None = None
    compare: bool = False
    tz: str = "UTC"

    @property
    def default(self) -> bool:
        return self.preset == DEFAULT_PERIOD and self.start is None


def asked(
    period: str | None,
    start: str | None,
    end: str | None,
    compare: str | None = None,
    tz: str | None = None,
) -> Asked:
    """Read ``period``, ``from``, ``to``, ``compare`` and ``tz`` (each None when not given)."""
    wants = compare is not None
    zone = time_zone(tz) if tz is not None else "UTC"
    if compare is not None and compare not in COMPARE:
        raise BadRequest(
            f"compare: {compare[:40]!r} is unknown; expected previous, or leave it out"
        )
    if period is not None and (start is not None or end is not None):
        raise BadRequest(f"period and from/to are both given; {_EXPECTED}")
    if period is not None:
        if period not in PRESETS:
            raise BadRequest(f"period: {period[:40]!r} is unknown; {_EXPECTED}")
        return Asked(preset=period, compare=wants, tz=zone)
    if end is not None and start is None:
        raise BadRequest(f"to is given without from; {_EXPECTED}")
    if start is None:
        return Asked(compare=wants, tz=zone)
    first = _minute("from", start)
    last = _minute("to", end) if end is not None else None
    if last is not None and last <= first:
        raise BadRequest(
            f"to ({end}) is not after from ({start}); expected a period of at least one minute"
        )
    return Asked(preset="custom", start=first, end=last, compare=wants, tz=zone)


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone(name: str) -> str:
    """An IANA time zone name the day buckets of a series follow (``tz=``), checked."""
    if name == "UTC" or name in _zones():
        return name
    raise BadRequest(
        f"tz: {name[:60]!r} is not a time zone name; expected an IANA name such as "
        "Europe/Paris or America/New_York, or UTC"
    )


def day_starts(start: int, end: int, tz: str) -> list[int]:
    """The starts (epoch seconds) of the days of ``tz`` that [start, end) touches: each at
    the zone's midnight, so a day across a DST change lasts 23 or 25 hours."""
    zone = zoneinfo.ZoneInfo(tz)
    day = datetime.fromtimestamp(start, zone).date()
    found: list[int] = []
    while True:
        midnight = int(datetime.combine(day, dtime(0), tzinfo=zone).timestamp())
        if midnight >= end:
            return found
        found.append(midnight)
        day += timedelta(days=1)


def _minute(name: str, text: str) -> int:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: {text[:40]!r} is not an RFC 3339 time; {_EXPECTED}") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise BadRequest(f"{name}: {text[:40]!r} has no UTC offset; add Z or +01:00, for instance")
    if when.second or when.microsecond:
        raise BadRequest(f"{name}: {text[:40]!r} is not a whole minute; expected seconds of 0")
    return int(when.timestamp())


def resolve(
    request: Asked, now: float, retention_days: int, first_event: Callable[[], int | None]
) -> Window:
    """The window of a request at ``now``; ``first_event`` gives the campaign's first event
    (epoch seconds), asked only for ``life``."""
    end_now = (int(now) // 60 + 1) * 60
    earliest = math.ceil((now - retention_days * 86_400) / 60) * 60
    if request.start is not None:
        end = request.end if request.end is not None else end_now
        if request.start < earliest:
            raise BadRequest(
                f"from: {isoformat(request.start)} is before the retention period "
                f"({retention_days} days): the events before {isoformat(earliest)} are gone; "
                "expected a later from"
            )
        if end > end_now:
            raise BadRequest(
                f"to: {isoformat(end)} is in the future; expected at most {isoformat(end_now)}, "
                "or leave to out for a period until now"
            )
        if end <= request.start:
            raise BadRequest("to is not after from; expected a period of at least one minute")
        return Window(request.start, end, now, end == end_now, "custom", request.tz)
    length = PRESETS[request.preset]
    if length is None:  # life: from the campaign's first event (within the retention)
        first = first_event()
        start = max(earliest, (first // 60) * 60) if first is not None else end_now - 60
        return Window(start, end_now, now, True, request.preset, request.tz)
    return Window(end_now - length, end_now, now, True, request.preset, request.tz)


def default_bucket(window: Window) -> str:
    """The bucket a series of the window gets when none is asked."""
    length = window.end - window.start
    for most, name in _BUCKET_FOR:
        if length <= most:
            return name
    return "1d"


def check_points(window: Window, bucket: str) -> None:
    size = BUCKETS[bucket].seconds
    points = math.ceil((window.end - window.start) / size)
    if points > MAX_POINTS:
        fewer = [
            b
            for b, v in BUCKETS.items()
            if math.ceil((window.end - window.start) / v.seconds) <= MAX_POINTS
        ]
        raise BadRequest(
            f"bucket: {bucket} makes {points:,} points over this period; expected at most "
            f"{MAX_POINTS:,}: one of {', '.join(fewer)}"
        )


def head(window: Window) -> dict[str, object]:
    """What every answer says of its period."""
    return {
        "period": window.period,
        "from": isoformat(window.start),
        "to": isoformat(window.end),
        "live": window.live,
    }
