"""The report page over any period (issue 18) in a real browser: a period picked shows the
numbers of its events, stays in the address through a reload, a tab switch and the exports; a
custom from/to (browser time) shows its range; the comparison with the previous period shows
each KPI's change, greyed when the previous volume is small; the picker holds on a phone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from dashboard import Site, browser_for_tests, create_users, event, visit, wait_for_report
from playwright.sync_api import Browser, Page, expect

from conftest import post, start_app

CAMPAIGN = "whole-life"
#: Delivered emails, by how long ago they happened.
AGO = {
    timedelta(minutes=30): 4,
    timedelta(hours=5): 3,
    timedelta(days=3): 5,
    timedelta(days=10): 7,
}
ZONE = "America/New_York"
KPI = "[data-widget='campaign.statistics'] .tile-value[data-metric='delivered']"


def delivered_between(start: timedelta, end: timedelta = timedelta(0)) -> int:
    """Delivered emails from `start` ago to `end` ago."""
    return sum(n for ago, n in AGO.items() if end < ago <= start)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = start_app(tmp_path_factory.mktemp("periods-page") / "data")
    try:
        create_users(server)
        site = Site(server, server.key("ingest", "read"), [CAMPAIGN])
        now = datetime.now(UTC)
        events = []
        for ago, times in AGO.items():
            for _ in range(times):
                events.append({**event(CAMPAIGN, "delivered"), "time": (now - ago).isoformat()})
        with site.api() as client:
            post(client, events)
        yield site
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with browser_for_tests() as chromium:
        yield chromium


def page_url(site: Site, query: str = "") -> str:
    return site.page_url(CAMPAIGN) + (f"?{query}" if query else "")


def wait_for_period(page: Page, key: str) -> None:
    """Until the numbers on the page are those of the period `key` (a preset, or from/to)."""
    page.wait_for_function(
        "key => document.querySelector('#report-head').dataset.period === key", arg=key
    )
    page.locator(KPI).wait_for()


def delivered(page: Page) -> int:
    return int(page.locator(KPI).get_attribute("data-value") or "-1")


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_a_period_picked_survives_reload_tabs_and_exports(browser: Browser, site: Site) -> None:
    with visit(browser, site, timezone_id=ZONE) as v:
        page = v.page
        page.goto(page_url(site))
        wait_for_report(page, "campaign")
        wait_for_period(page, "24h")
        assert delivered(page) == delivered_between(timedelta(hours=24)) == 7
        expect(page.locator("#report-eyebrow")).to_contain_text("Campaign live report")
        expect(page.locator("#report-eyebrow")).to_contain_text("Last 24 hours")

        page.select_option("#period", "7d")
        wait_for_period(page, "7d")
        assert delivered(page) == 12
        assert query_of(page)["period"] == ["7d"]
        expect(page.locator("#report-eyebrow")).to_contain_text("Last 7 days")
        expect(page.locator("#report-eyebrow")).to_contain_text("live report")
        expect(page.locator("#live-text")).to_have_text("Live")

        page.reload()
        wait_for_period(page, "7d")
        assert delivered(page) == 12
        expect(page.locator("#period")).to_have_value("7d")

        page.get_by_role("tab", name="Email", exact=True).click()
        wait_for_report(page, "email")
        wait_for_period_on(page, "7d", "email.sending_performance")
        assert query_of(page)["period"] == ["7d"]
        page.get_by_role("tab", name="Campaign", exact=True).click()
        wait_for_report(page, "campaign")
        wait_for_period(page, "7d")
        assert delivered(page) == 12
        assert query_of(page) == {"tab": ["campaign"], "period": ["7d"]}

        # The exports: the tab's link and each widget's carry the period, and follow it.
        tab_link = page.locator("#export-tab").get_attribute("href") or ""
        assert parse_qs(urlsplit(tab_link).query)["period"] == ["7d"]
        widget_link = (
            page.locator("[data-widget='campaign.statistics'] a.csv").get_attribute("href") or ""
        )
        assert parse_qs(urlsplit(widget_link).query)["period"] == ["7d"]
        response = v.context.request.get(site.url + tab_link)
        assert response.status == 200, response.text()
        rows = list(csv.reader(io.StringIO(response.text())))
        window = next(r for r in rows if r and r[0].startswith("Window"))
        start = datetime.fromisoformat(window[1])
        assert abs(start - (datetime.now(UTC) - timedelta(days=7))) < timedelta(minutes=3), window
        assert any(r and r[0] == "Delivered" and "12" in r[1:] for r in rows), rows
        assert not v.errors, v.errors


def wait_for_period_on(page: Page, key: str, widget: str) -> None:
    page.wait_for_function(
        "key => document.querySelector('#report-head').dataset.period === key", arg=key
    )
    page.locator(f"[data-widget='{widget}'] [data-metric='delivered']").first.wait_for()


def test_a_custom_period_shows_its_range(browser: Browser, site: Site) -> None:
    now = datetime.now(UTC)
    local = ZoneInfo(ZONE)
    start = (now - timedelta(days=4)).astimezone(local).replace(second=0, microsecond=0)
    end = (now - timedelta(days=2)).astimezone(local).replace(second=0, microsecond=0)
    with visit(browser, site, timezone_id=ZONE) as v:
        page = v.page
        page.goto(page_url(site))
        wait_for_report(page, "campaign")
        page.select_option("#period", "custom")
        expect(page.locator("#custom-period")).to_be_visible()
        # Outside the retention: the server's reason, and the view stays as it was.
        page.fill(
            "#period-from", (now - timedelta(days=40)).astimezone(local).strftime("%Y-%m-%dT%H:%M")
        )
        page.fill("#period-to", end.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Show period").click()
        expect(page.locator("#period-error")).to_contain_text("retention")
        assert "from" not in query_of(page)

        page.fill("#period-from", start.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Show period").click()
        page.wait_for_function(
            "() => (document.querySelector('#report-head').dataset.period || '').includes('/')"
        )
        assert delivered(page) == delivered_between(timedelta(days=4), timedelta(days=2)) == 5
        query = query_of(page)
        # RFC 3339 with the browser's offset (New York: -05:00 or -04:00).
        assert datetime.fromisoformat(query["from"][0]) == start
        assert datetime.fromisoformat(query["to"][0]) == end
        assert query["from"][0].endswith(start.strftime("%z")[:3] + ":" + start.strftime("%z")[3:])
        expect(page.locator("#report-eyebrow")).not_to_contain_text("live")
        expect(page.locator("#period-title")).to_contain_text("–")
        expect(page.locator("#live-text")).to_contain_text("Past period")

        page.reload()
        wait_for_report(page, "campaign")
        page.locator(KPI).wait_for()
        page.wait_for_function("() => document.querySelector('#report-head').dataset.period")
        assert delivered(page) == 5
        expect(page.locator("#period")).to_have_value("custom")
        expect(page.locator("#period-from")).to_have_value(start.strftime("%Y-%m-%dT%H:%M"))
        assert not v.errors, v.errors


def test_compare_shows_each_kpis_change(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        page = v.page
        page.goto(page_url(site, "period=7d"))
        wait_for_report(page, "campaign")
        wait_for_period(page, "7d")
        expect(page.locator("[data-change-of]")).to_have_count(0)
        page.get_by_label("Compare with previous period").check()
        change = page.locator("[data-widget='campaign.statistics'] [data-change-of='delivered']")
        expect(change).to_be_visible()
        # 12 delivered in the last 7 days, 7 in the 7 days before: few, so greyed with a reason.
        assert change.get_attribute("data-previous") == "7"
        assert change.get_attribute("data-change") == "5"
        expect(change).to_contain_text("+5 (+71.4 %)")
        expect(change).to_have_class("change change-small")
        assert "Small volume" in (change.get_attribute("title") or "")
        # Nothing entered in either period: no change to speak of.
        expect(page.locator("[data-change-of='entered_profiles']")).to_have_text("—")
        assert query_of(page)["compare"] == ["previous"]
        page.reload()
        wait_for_period(page, "7d")
        expect(page.get_by_label("Compare with previous period")).to_be_checked()
        expect(change).to_contain_text("+5")
        assert not v.errors, v.errors


def test_the_period_picker_holds_on_a_phone(browser: Browser, site: Site) -> None:
    now = datetime.now(UTC)
    start = (now - timedelta(days=4)).replace(second=0, microsecond=0).isoformat()
    with visit(browser, site, viewport={"width": 375, "height": 740}) as v:
        page = v.page
        page.goto(page_url(site, f"from={start.replace('+00:00', 'Z')}&compare=previous"))
        wait_for_report(page, "campaign")
        page.locator(KPI).wait_for()
        for control in ("#period", "#compare", "#period-from", "#period-to"):
            expect(page.locator(control)).to_be_visible()
        overflow: dict[str, Any] = page.evaluate(
            """() => ({ page: document.documentElement.scrollWidth,
                        wide: [...document.querySelectorAll('#report-head *')]
                          .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
                          .map(el => el.id || el.className || el.tagName) })"""
        )
        assert overflow["page"] <= 375, overflow
        assert not overflow["wide"], overflow
        assert not v.errors, v.errors
