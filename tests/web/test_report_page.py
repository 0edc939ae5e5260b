"""The report page in a real browser (issue 16): a campaign id that names nothing gets one
clear "no such campaign" page and no live stream that keeps asking; a breakdown drawn as a
donut or bars gives each of its keys a colour of its own, past the sixth, the same in both and
in the table beside the chart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dashboard import Site, browser_for_tests, create_users, event, open_tab, visit
from playwright.sync_api import Browser, expect

from conftest import post, start_app
from livereport.bounces.rules import DEFAULT_CATEGORY

REASONS = "many-reasons"
#: Twelve bounce reasons, each bounced a different number of times: a clear order.
BOUNCED = {str(reason): 13 - n for n, reason in enumerate(list(DEFAULT_CATEGORY)[:12])}
CATEGORY = {str(reason): str(category) for reason, category in DEFAULT_CATEGORY.items()}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = start_app(tmp_path_factory.mktemp("report-page") / "data")
    try:
        create_users(server)
        site = Site(server, server.key("ingest", "read"), [REASONS])
        with site.api() as client:
            post(
                client,
                [
                    event(REASONS, "bounce", reason=reason, bounce=CATEGORY[reason])
                    for reason, times in BOUNCED.items()
                    for _ in range(times)
                ],
            )
        yield site
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with browser_for_tests() as chromium:
        yield chromium


def test_an_unknown_campaign_says_so_once_and_stops_asking(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        page = v.page
        streams: list[str] = []
        live = "/v1/campaigns/no-such-campaign/live"
        page.on("request", lambda r: streams.append(r.url) if live in r.url else None)
        page.goto(site.page_url("no-such-campaign"))
        message = page.locator("#not-found")
        expect(message).to_be_visible()
        expect(message.get_by_role("heading", name="No such campaign")).to_be_visible()
        expect(message).to_contain_text("“no-such-campaign”")
        expect(message.get_by_role("link", name="All campaigns")).to_have_attribute(
            "href", "/campaigns"
        )
        expect(page).to_have_title("No such campaign · livereport")
        # One message: no report head, live status, tabs, problem or connection notice beside it.
        expect(page.get_by_text("no such campaign", exact=False)).to_have_count(1)
        for hidden in ("#report-head", "#live-status", "#tabs", "#panel", "#connection-notice"):
            expect(page.locator(hidden)).to_be_hidden()
        expect(page.get_by_text("Reconnecting")).to_have_count(0)
        # The stream asked once, was told 404, and does not ask again (back-off starts at 1 s).
        page.wait_for_timeout(4000)
        assert len(streams) == 1, streams
        assert not v.errors, v.errors


def _chart(page: Any, widget: str) -> dict[str, Any]:
    """The labels and colours Chart.js draws for a widget's chart."""
    found: dict[str, Any] = page.evaluate(
        """id => {
            const chart = Chart.getChart(document.querySelector(`[data-widget="${id}"] canvas`));
            return { labels: chart.data.labels, colours: chart.data.datasets[0].backgroundColor };
        }""",
        widget,
    )
    return found


def _rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def test_every_slice_of_a_donut_has_a_colour_of_its_own(browser: Browser, site: Site) -> None:
    widget = next(
        w for w in site.report(REASONS, "email")["widgets"] if w["id"] == "email.bounce_reasons"
    )
    with visit(browser, site) as v:
        page = v.page
        open_tab(page, site, REASONS, "email")
        card = page.locator("[data-widget='email.bounce_reasons']")
        expect(card.locator("canvas")).to_have_count(1)
        donut = _chart(page, "email.bounce_reasons")
        ranked = sorted(BOUNCED, key=lambda r: -BOUNCED[r])
        # Nine reasons on their own, past the sixth, then the rest as Other.
        assert donut["labels"] == [*ranked[:9], "Other"]
        assert len(set(donut["colours"])) == len(donut["colours"]), donut
        # The table beside it lists every reason; its marks are the slices' colours.
        marks = card.locator("tbody tr").evaluate_all(
            """rows => rows.map(r => [r.dataset.key, r.querySelector('.swatch').style.background])"""
        )
        assert [key for key, _ in marks] == ranked
        colour = dict(zip(donut["labels"], donut["colours"], strict=True))
        for key, mark in marks:
            assert mark == _rgb(colour.get(key, colour["Other"])), (key, mark)
        # As bars, each reason keeps its colour.
        bars = page.evaluate(
            """async widget => {
                const { chartData } = await import("/static/js/charts.js");
                const model = chartData(widget, "bars", { metrics: {}, dimensions: {} });
                return { labels: model.labels, colours: model.datasets[0].backgroundColor };
            }""",
            widget,
        )
        assert bars == donut
        assert not v.errors, v.errors
