"""What every route reads from a request: the app's services, checked query parameters, and
the ingest pipeline's context for the caller's org."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from starlette.requests import Request

from livereport.bounces.org import org_rules
from livereport.errors import BadRequest
from livereport.ingest import pipeline

if TYPE_CHECKING:
    from livereport.web.app import Services

#: Longest value of a query parameter; `metrics` lists may be longer.
PARAM_LIMIT = 256


def services_of(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def query_param(
    request: Request, name: str, default: str | None = None, limit: int = PARAM_LIMIT
) -> str | None:
    """The parameter (an empty value counts as absent), refused when longer than ``limit``."""
    value = request.query_params.get(name) or default
    if value is not None and len(value) > limit:
        raise BadRequest(f"{name}: expected at most {limit} characters")
    return value


def required_param(request: Request, name: str, hint: str, limit: int = PARAM_LIMIT) -> str:
    value = query_param(request, name, limit=limit)
    if not value:
        raise BadRequest(f"{name}: is required; expected {hint}")
    return value


def ingest_context(request: Request, org: int) -> pipeline.Context:
    """The pipeline's context for a request of this org: now, the retention, the org's own
    bounce rules, the metrics."""
    s = services_of(request)
    metadata = s.metadata
    return pipeline.Context(
        org, datetime.now(UTC), timedelta(days=s.config.retention_days),
        lambda: org_rules(metadata, org), request.app.state.observed.ingest,
    )  # fmt: skip
