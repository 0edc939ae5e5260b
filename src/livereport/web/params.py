"""What every route reads from a request: the app's services, its clock, checked query
parameters, and the ingest pipeline's context for the caller's org."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from livereport.bounces.org import org_rules
from livereport.errors import BadRequest
from livereport.ingest import pipeline
from livereport.ingest.machine import disabled_rules
from livereport.report.catalogue import DEFAULT_ENGAGEMENT, ENGAGEMENTS
from livereport.report.period import Asked, asked
from livereport.web.services import Services

#: Longest value of a query parameter; `metrics` lists may be longer.
PARAM_LIMIT = 256
#: The characters Python's ``str.strip`` removes, as a regex class that reads the same in
#: Python and in ECMA-262 (the OpenAPI document's dialect), unlike ``\s``.
SPACE = "[\\u0009-\\u000d\\u001c-\\u0020\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
#: Text that is not blank: it has a character ``str.strip`` keeps.
NOT_BLANK = "[^" + SPACE[1:]


def services_of(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


@dataclass(frozen=True)
class Clock:
    """Where the app reads the time to decide who may come in: wall time for the expiry of
    keys, sessions and locks, monotonic time for the keys' request rates. The system's
    clocks, unless the app is given others (tests move theirs forward instead of sleeping)."""

    now: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic


def clock_of(request: Request) -> Clock:
    """The app's :class:`Clock` (given to web/app.py ``create_app``)."""
    found: Clock = request.app.state.clock
    return found


def check_query(request: Request, accepted: Collection[str]) -> None:
    """Refuse a query parameter the route does not take (a typo would otherwise be ignored
    silently), naming it and the ones the route takes."""
    unknown = sorted(set(request.query_params) - set(accepted))
    if unknown:
        takes = f"expected only {', '.join(sorted(accepted))}" if accepted else "expected none"
        raise BadRequest(f"{unknown[0]}: unknown query parameter; {takes} (see /v1/openapi.json)")


def query_param(
    request: Request, name: str, default: str | None = None, limit: int = PARAM_LIMIT
) -> str | None:
    """The parameter, or ``default`` when absent; refused when longer than ``limit``. An
    empty value is a value: the route decides whether it means anything."""
    value = request.query_params.get(name, default)
    if value is not None and len(value) > limit:
        raise BadRequest(f"{name}: expected at most {limit} characters")
    return value


def required_param(request: Request, name: str, hint: str, limit: int = PARAM_LIMIT) -> str:
    value = query_param(request, name, limit=limit)
    if not value:
        raise BadRequest(f"{name}: is required; expected {hint}")
    return value


def choice_param(request: Request, name: str, choices: Collection[str], default: str) -> str:
    """A parameter with a closed set of values; absent, the default (empty is not absent)."""
    value = query_param(request, name, default)
    assert value is not None
    if value not in choices:
        raise BadRequest(f"{name}: {value[:40]!r} is unknown; expected one of {', '.join(choices)}")
    return value


def ingest_context(request: Request, org: int) -> pipeline.Context:
    """The pipeline's context for a request of this org: now, the retention, the org's own
    bounce rules, the metrics, the app's memory of recent deliveries and clicks."""
    s = services_of(request)
    metadata = s.metadata
    return pipeline.Context(
        org,
        datetime.now(UTC),
        timedelta(days=s.config.retention_days),
        lambda: org_rules(metadata, org),
        request.app.state.observed.ingest,
        machine_off=lambda: disabled_rules(metadata, org),
        memory=request.app.state.machine_memory,
    )


def period_param(request: Request) -> Asked:
    """The period a report request names: ``period``, or ``from`` and ``to``, ``compare`` and
    ``tz`` (report/period.py)."""
    return asked(
        query_param(request, "period"),
        query_param(request, "from"),
        query_param(request, "to"),
        query_param(request, "compare"),
        query_param(request, "tz"),
    )


def engagement_param(request: Request) -> str:
    """Which opens and clicks a report counts: all (the default), human or machine."""
    return choice_param(request, "engagement", ENGAGEMENTS, DEFAULT_ENGAGEMENT)
