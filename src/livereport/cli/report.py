"""`livereport report`, `campaigns` and `variants`: the reports on the terminal, from a
server's API or from the data directory opened in this process (the same JSON either way)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from livereport.cli.common import (
    answer,
    ask,
    config_of,
    failures,
    on_data_directory,
    out,
    place_options,
    server_to_ask,
    url_part,
)
from livereport.errors import LivereportError
from livereport.events import Channel
from livereport.report.catalogue import (
    ENGAGEMENTS,
    OVERVIEW_SORTS,
    PERIODS,
    STATUSES,
    TABS,
    VARIANT_RATES,
    variant_channels,
)
from livereport.report.render import render_report

F = TypeVar("F", bound=Callable[..., Any])


def _period_options(period_help: str, from_help: str) -> Callable[[F], F]:
    """--period, --from and --to: the period a command reads (report/period.py)."""

    def add(f: F) -> F:
        f = click.option(
            "--to",
            "end",
            default=None,
            metavar="TIME",
            help="The end of a custom period (excluded); without it, until now.",
        )(f)
        f = click.option("--from", "start", default=None, metavar="TIME", help=from_help)(f)
        return click.option(
            "--period", default=None, type=click.Choice(list(PERIODS)), help=period_help
        )(f)

    return add


_FROM_HELP = "The start of a custom period: RFC 3339 with an offset, a whole minute."

_engagement_option = click.option(
    "--engagement",
    default="all",
    show_default=True,
    type=click.Choice(list(ENGAGEMENTS)),
    help="Which opens and clicks count: all, only people's (human) or only machines' (machine).",
)


def _usage(check: Callable[[], Any]) -> Any:
    """What ``check`` makes of the command's options; its refusal is bad usage (exit 2)."""
    try:
        return check()
    except LivereportError as exc:
        raise click.UsageError(exc.message) from None


@click.command()
@click.argument("campaign")
@click.option(
    "--tab",
    default="campaign",
    show_default=True,
    type=click.Choice(list(TABS)),
    help="The tab to show.",
)
@click.option("--execution", default=None, help="Only this execution.")
@_period_options(
    "A period ending now (default 24h, the live window); not with --from.",
    "The start of a custom period: RFC 3339 with an offset, a whole minute (2026-11-30T08:00:00Z).",
)
@click.option(
    "--compare",
    is_flag=True,
    help="Show the KPIs of the previous period of the same length beside them.",
)
@_engagement_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@place_options("read", org=False)
def report(
    campaign: str,
    tab: str,
    execution: str | None,
    period: str | None,
    start: str | None,
    end: str | None,
    compare: bool,
    engagement: str,
    as_json: bool,
    data: Path | None,
    url: str | None,
    key: str | None,
) -> None:
    """Show a campaign's report tab in the terminal: the live last 24 hours, or any period."""
    from livereport.report.period import asked

    given = {
        "period": period,
        "from": start,
        "to": end,
        "compare": "previous" if compare else None,
        "engagement": None if engagement == "all" else engagement,
    }
    with failures():
        asked_for = _usage(lambda: asked(period, start, end, given["compare"]))
        server = server_to_ask(data, url, key, running=True)
        if server is not None:
            params = {"tab": tab, "execution": execution or None, **given}
            body = ask(server, "GET", f"/v1/campaigns/{url_part(campaign)}/report", params=params)
        else:
            retention = config_of(data).retention_days

            def local(store: Any, org: int) -> Any:
                from livereport.report.build import Reports

                reports = Reports(store, retention_days=retention)
                window = None if asked_for.default else reports.window(org, campaign, asked_for)
                return reports.report(
                    org,
                    campaign,
                    tab,
                    execution,
                    window=window,
                    compare=asked_for.compare,
                    engagement=engagement,
                )

            body = on_data_directory(data, local)
        answer(body, as_json, lambda found: render_report(out, found))


@click.command()
@_period_options("A period ending now (default 24h); not with --from.", _FROM_HELP)
@click.option(
    "--search", default=None, help="Only campaigns whose id contains this text (any case)."
)
@click.option(
    "--channel",
    default=None,
    type=click.Choice([c.value for c in Channel]),
    help="Only campaigns with events on this channel.",
)
@click.option(
    "--status",
    default=None,
    type=click.Choice(list(STATUSES)),
    help="Only campaigns of this status.",
)
@click.option(
    "--sort",
    default=None,
    type=click.Choice(list(OVERVIEW_SORTS)),
    help="What to sort by (default: last activity).",
)
@click.option(
    "--asc", is_flag=True, help="Smallest first (the default is largest, or newest, first)."
)
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1, 500), help="Campaigns to show."
)
@click.option(
    "--offset", default=0, show_default=True, type=click.IntRange(0), help="Campaigns to skip."
)
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@place_options("read", org=False)
def campaigns(
    period: str | None,
    start: str | None,
    end: str | None,
    search: str | None,
    channel: str | None,
    status: str | None,
    sort: str | None,
    asc: bool,
    limit: int,
    offset: int,
    as_json: bool,
    data: Path | None,
    url: str | None,
    key: str | None,
) -> None:
    """Every campaign at a glance: status, key numbers and activity over a period."""
    from livereport.report import overview
    from livereport.report.period import asked
    from livereport.report.render import render_overview

    given = {
        "period": period,
        "from": start,
        "to": end,
        "q": search,
        "channel": channel,
        "status": status,
        "sort": sort,
        "order": "asc" if asc else None,
        "limit": str(limit),
        "offset": str(offset),
    }
    with failures():
        asked_for = _usage(lambda: asked(period, start, end))
        listing = _usage(
            lambda: overview.listing(*(given.get(name) for name in overview.LISTING_PARAMS))
        )
        server = server_to_ask(data, url, key, running=True)
        if server is not None:
            body = ask(server, "GET", "/v1/campaigns", params=given)
        else:
            retention = config_of(data).retention_days

            def local(store: Any, org: int) -> Any:
                from livereport.report.build import Reports

                return Reports(store, retention_days=retention).campaigns(
                    org, None, asked_for, listing
                )

            body = on_data_directory(data, local)
        answer(body, as_json, lambda found: render_overview(out, found))


@click.command()
@click.argument("campaign")
@click.option(
    "--channel",
    default="email",
    show_default=True,
    type=click.Choice(variant_channels()),
    help="The channel whose variants are compared.",
)
@click.option(
    "--metric",
    default=None,
    type=click.Choice(list(VARIANT_RATES)),
    help="The rate compared (default: the channel's open rate, else its click, delivery or error rate).",
)
@click.option(
    "--control",
    default=None,
    help="The variant the others are compared with (default: the first by name).",
)
@click.option("--execution", default=None, help="Only this execution.")
@_period_options(
    "A period ending now (default: the campaign's whole life); not with --from.", _FROM_HELP
)
@_engagement_option
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@place_options("read", org=False)
def variants(
    campaign: str,
    channel: str,
    metric: str | None,
    control: str | None,
    execution: str | None,
    period: str | None,
    start: str | None,
    end: str | None,
    engagement: str,
    as_json: bool,
    data: Path | None,
    url: str | None,
    key: str | None,
) -> None:
    """Compare a campaign's variants on one rate: lift, interval and a verdict you may trust
    however often you look."""
    from livereport.report.period import asked
    from livereport.report.render import render_variants

    given = {
        "channel": channel,
        "metric": metric,
        "control": control,
        "execution": execution,
        "period": period,
        "from": start,
        "to": end,
        "engagement": None if engagement == "all" else engagement,
    }
    with failures():
        asked_for = _usage(lambda: asked(period if period or start else "life", start, end))
        server = server_to_ask(data, url, key, running=True)
        if server is not None:
            path = f"/v1/campaigns/{url_part(campaign)}/variants"
            body = ask(server, "GET", path, params=given)
        else:
            retention = config_of(data).retention_days

            def local(store: Any, org: int) -> Any:
                from livereport.report.build import Reports

                reports = Reports(store, retention_days=retention)
                window = reports.window(org, campaign, asked_for)
                return reports.variants(
                    org,
                    campaign,
                    channel,
                    metric,
                    control,
                    execution,
                    window=window,
                    engagement=engagement,
                )

            body = on_data_directory(data, local)
        answer(body, as_json, lambda found: render_variants(out, found))
