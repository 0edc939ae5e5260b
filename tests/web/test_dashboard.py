"""The dashboard in a real browser (issue 3's acceptance): Debian's Chromium, headless, driven by
Playwright against a `livereport serve` child process. Numbers are read off the page through
data-widget / data-metric / data-value, as outside scripts do, and compared with the API.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard import (
    ARTIFACTS,
    EDITOR,
    SALE,
    TABS,
    XSS_CAMPAIGN,
    XSS_ELEMENT,
    XSS_REASON,
    Site,
    create_users,
    event,
    expected_value,
    open_tab,
    same_number,
    save_screenshot,
    seeded_site,
    shown_numbers,
    visit,
    wait_for_report,
)
from playwright.sync_api import Browser, Page, expect

import conftest
from conftest import Server, post
from livereport.report.catalogue import METRICS, Format
from livereport.web.export import NO_EXECUTION, metric_cell

pytest_plugins = ["browser_fixture"]

RATES = {"share", *(m.name for m in METRICS.values() if m.format == Format.RATE)}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with seeded_site(tmp_path_factory.mktemp("dashboard")) as s:
        yield s


def _check_numbers(page: Page, report: dict[str, Any]) -> int:
    widgets = {w["id"]: w for w in report["widgets"]}
    checked = 0
    for shown in shown_numbers(page):
        expected = expected_value(widgets[shown["widget"]], shown)
        assert same_number(shown["value"], expected), (shown, expected)
        if expected is None:
            assert shown["text"] == "–", shown
        elif shown["metric"] not in RATES:
            assert shown["text"] == f"{expected:,}", shown  # thousands separators
        else:
            assert shown["text"].endswith("%"), shown  # rates as percentages
            assert abs(float(shown["text"].rstrip("%").replace(",", "")) - expected * 100) < 0.051
        checked += 1
    return checked


def test_sign_in_then_the_campaign_list(browser: Browser, site: Site) -> None:
    with visit(browser, site, user=None) as v:
        v.page.goto(f"{site.url}/campaigns")
        expect(v.page).to_have_url(re.compile(r"/signin\?next=%2Fcampaigns$"))
        v.page.get_by_label("Email").fill(EDITOR[0])
        v.page.get_by_label("Password").fill("not the password")
        v.page.get_by_role("button", name="Sign in").click()
        expect(v.page.get_by_role("alert")).to_contain_text("do not match")
        v.page.get_by_label("Password").fill(EDITOR[1])
        v.page.get_by_role("button", name="Sign in").click()
        expect(v.page).to_have_url(f"{site.url}/campaigns")
        row = v.page.locator(f'tr[data-campaign="{SALE}"]')
        expect(row).to_be_visible()
        with site.api() as client:
            listed = {c["campaign"]: c for c in client.get("/v1/campaigns").json()["campaigns"]}
        events = row.locator('[data-metric="events_in_window"]')
        assert int(events.get_attribute("data-value") or -1) == listed[SALE]["events_in_window"]
        expect(row.get_by_role("listitem")).to_have_count(6)  # all six channels
        v.page.get_by_label("Search campaigns").fill("web-s")
        expect(v.page.locator("tr[data-campaign]")).to_have_count(1)
        v.page.get_by_label("Search campaigns").fill("nothing like this")
        expect(v.page.get_by_text("No campaign id contains")).to_be_visible()
        save_screenshot(v.page, "campaigns")
        v.page.get_by_label("Search campaigns").fill("")
        row.get_by_role("link").click()
        wait_for_report(v.page, "campaign")
        assert not v.errors


def test_every_tab_shows_the_numbers_of_the_api(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        open_tab(v.page, site, SALE, "campaign")
        for tab, name in TABS.items():
            v.page.get_by_role("tab", name=name, exact=True).click()
            wait_for_report(v.page, tab)
            report = site.report(SALE, tab)
            ids = [w["id"] for w in report["widgets"]]
            for wid in ids:
                expect(v.page.locator(f'[data-widget="{wid}"]')).to_be_visible()
            v.page.wait_for_timeout(300)  # let the charts settle before the screenshot
            assert _check_numbers(v.page, report) > 0, tab
            save_screenshot(v.page, f"tab-{tab}")
            save_screenshot(v.page, f"tab-{tab}-full", full_page=True)
        assert not v.errors, v.errors
        assert not v.foreign_requests(site)


def test_a_number_changes_without_reload_after_new_events(browser: Browser, site: Site) -> None:
    campaign = "live-test"
    with site.api() as client:
        post(client, [event(campaign, "delivered") for _ in range(2)])
    with visit(browser, site) as v:
        open_tab(v.page, site, campaign, "campaign")
        delivered = v.page.locator('[data-widget="campaign.statistics"] [data-metric="delivered"]')
        expect(delivered).to_have_attribute("data-value", "2")
        expect(v.page.locator("#live-status")).to_have_attribute("data-state", "live")
        expect(v.page.locator("#as-of")).to_contain_text("as of")
        v.page.evaluate("window.__not_reloaded = true")
        with site.api() as client:
            post(client, [event(campaign, "delivered") for _ in range(3)])
        expect(delivered).to_have_attribute("data-value", "5", timeout=10_000)
        expect(delivered).to_have_text("5")
        assert v.page.evaluate("window.__not_reloaded") is True


def test_the_page_says_when_the_live_connection_drops_and_comes_back(
    browser: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server(tmp_path / "data").start()
    try:
        site = Site(server, server.key("ingest", "read"))
        with site.api() as client:
            post(client, [event("drop-test", "sent")])
        create_users(server)
        with visit(browser, site) as v:
            open_tab(v.page, site, "drop-test", "email")
            expect(v.page.locator("#live-status")).to_have_attribute("data-state", "live")
            server.stop(9)  # the server dies with the stream open
            notice = v.page.locator("#connection-notice")
            expect(notice).to_contain_text("connection was lost", timeout=10_000)
            expect(v.page.locator("#live-status")).to_have_attribute("data-state", "lost")
            save_screenshot(v.page, "connection-lost")
            monkeypatch.setattr(conftest, "free_port", lambda: server.port)  # the same address
            server.start()
            expect(notice).to_contain_text("is back", timeout=30_000)
            expect(v.page.locator("#live-status")).to_have_attribute("data-state", "live")
    finally:
        server.stop(9)


def test_help_button_explains_the_widget(browser: Browser, site: Site) -> None:
    report = site.report(SALE, "email")
    widget = next(w for w in report["widgets"] if w["id"] == "email.bounce_reasons")
    with visit(browser, site) as v:
        open_tab(v.page, site, SALE, "email")
        button = v.page.get_by_role("button", name="About Bounce reasons")
        button.focus()
        v.page.keyboard.press("Enter")
        dialog = v.page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading")).to_have_text(widget["title"])
        expect(dialog).to_contain_text(widget["help"])
        save_screenshot(v.page, "help-dialog")
        v.page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(button).to_be_focused()


def test_tables_sort_by_any_column(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        open_tab(v.page, site, SALE, "web")
        table = v.page.locator("[data-widget='web.interactions_by_element'] table")
        header = table.get_by_role("columnheader", name="Element")
        header.get_by_role("button").click()
        expect(header).to_have_attribute("aria-sort", "ascending")
        keys = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.key)")
        assert keys == sorted(keys, key=str.lower) or keys == sorted(keys)
        header = table.get_by_role("columnheader", name="Interactions", exact=True)
        header.get_by_role("button").click()
        expect(header).to_have_attribute("aria-sort", "descending")
        values = table.locator("tbody [data-metric='interactions']").evaluate_all(
            "cells => cells.map(c => Number(c.dataset.value))"
        )
        assert values == sorted(values, reverse=True) and len(values) > 1
        expect(table.locator("tfoot tr")).to_have_count(1)  # the total stays last


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_csv_of_the_tab_and_of_a_widget_equal_the_api(browser: Browser, site: Site) -> None:
    report = site.report(SALE, "email")
    widgets = {w["id"]: w for w in report["widgets"]}
    with visit(browser, site) as v:
        open_tab(v.page, site, SALE, "email")
        with v.page.expect_download() as tab_download:
            v.page.get_by_role("link", name="Export tab as CSV").click()
        tab_rows = _rows(Path(tab_download.value.path()).read_text(encoding="utf-8"))
        with v.page.expect_download() as widget_download:
            v.page.get_by_role("link", name="Download Email statistics as CSV").click()
        widget_rows = _rows(Path(widget_download.value.path()).read_text(encoding="utf-8"))
    assert tab_rows[0] == ["Campaign", SALE]
    titles = [r[0] for i, r in enumerate(tab_rows) if r and i and not tab_rows[i - 1]]
    assert titles == [w["title"] for w in report["widgets"]]
    # the statistics widget: one row per execution, then the total; values as the API's
    stats = widgets["email.statistics"]
    header, *body = widget_rows
    assert header[0] == "Execution" and len(header) == 1 + len(stats["metrics"])
    keys = [r["key"] or NO_EXECUTION for r in stats["data"]["rows"]]
    for row in body:
        source = (
            stats["data"]["total"]
            if row[0] == "Total"
            else stats["data"]["rows"][keys.index(row[0])]["metrics"]
        )
        for name, cell in zip(stats["metrics"], row[1:], strict=True):
            # rates as fractions rounded to four decimals, counts as they are
            expected = metric_cell(name, source[name])
            assert cell == expected if isinstance(expected, str) else same_number(cell, expected), (
                row[0],
                name,
                cell,
                source[name],
            )
    assert [r[0] for r in body] == [*keys, "Total"]
    # the same rows sit in the tab's CSV under the widget's title
    start = tab_rows.index(["Email statistics"])
    assert tab_rows[start + 1 : start + 1 + len(widget_rows)] == widget_rows
    reasons = widgets["email.bounce_reasons"]["data"]["rows"]
    start = tab_rows.index(["Bounce reasons"])
    for row, source in zip(tab_rows[start + 2 :], reasons, strict=False):
        assert row[0] == source["key"] and int(row[1]) == source["metrics"]["bounces"]


def test_untrusted_strings_show_as_text_and_never_run(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        page = v.page
        page.goto(f"{site.url}/campaigns")
        expect(page.get_by_role("link", name=XSS_CAMPAIGN, exact=True)).to_be_visible()
        page.get_by_role("link", name=XSS_CAMPAIGN, exact=True).click()
        wait_for_report(page, "campaign")
        expect(page.get_by_role("heading", level=1)).to_have_text(XSS_CAMPAIGN)
        page.get_by_role("tab", name="Email", exact=True).click()
        wait_for_report(page, "email")
        reasons = page.locator("[data-widget='email.excluded_reasons']")
        expect(reasons.get_by_role("rowheader", name=XSS_REASON)).to_be_visible()
        page.get_by_role("tab", name="Web", exact=True).click()
        wait_for_report(page, "web")
        elements = page.locator("[data-widget='web.interactions_by_element']")
        expect(elements.get_by_role("rowheader", name=XSS_ELEMENT)).to_be_visible()
        save_screenshot(page, "untrusted-strings")
        page.wait_for_timeout(500)
        assert page.locator("img[src='x'], script:not([src])").count() == 0
        assert v.dialogs == []
        assert not v.errors


def test_a_tab_without_events_says_so(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        open_tab(v.page, site, XSS_CAMPAIGN, "push")
        expect(v.page.locator("#tab-empty")).to_contain_text(
            "No events on the Push channel in the last 24 hours"
        )
        expect(v.page.locator("[data-widget]")).to_have_count(0)
        save_screenshot(v.page, "empty-tab")


def test_an_unknown_campaign_says_so(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        v.page.goto(site.page_url("never-sent-anything", "email"))
        # the whole page says so (tests/web/test_report_page.py has the details)
        expect(v.page.locator("#not-found")).to_contain_text("No such campaign")
        expect(v.page.locator("#live-status")).to_have_attribute("data-state", "stopped")


def test_sign_out(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        v.page.goto(f"{site.url}/campaigns")
        v.page.get_by_role("button", name="Sign out").click()
        expect(v.page).to_have_url(re.compile(r"/signin$"))
        v.page.goto(site.page_url(SALE, "email"))
        expect(v.page).to_have_url(re.compile(r"/signin\?next="))


def test_execution_filter_and_time_zone(browser: Browser, site: Site) -> None:
    report = site.report(SALE, "email", execution="morning")
    with visit(browser, site, timezone_id="Europe/Paris") as v:
        page = v.page
        open_tab(page, site, SALE, "email")
        page.get_by_label("Execution").select_option("morning")
        expect(page).to_have_url(re.compile(r"execution=morning"))
        stats = page.locator("[data-widget='email.statistics'] [data-metric='sent'][data-total]")
        total = next(w for w in report["widgets"] if w["id"] == "email.statistics")["data"]["total"]
        expect(stats).to_have_attribute("data-value", str(total["sent"]))
        assert _check_numbers(page, report) > 0
        zone = page.get_by_label("Times in")
        expect(zone.locator("option").first).to_have_text("Browser time (Europe/Paris)")
        expect(page.locator("#as-of")).to_contain_text("(Europe/Paris)")
        zone.select_option("utc")
        expect(page.locator("#as-of")).to_contain_text("(UTC)")
        page.reload()
        wait_for_report(page, "email")
        expect(page.locator("#as-of")).to_contain_text("(UTC)")  # the choice is remembered
        expect(page.get_by_label("Execution")).to_have_value("morning")


def test_print_view_hides_the_controls(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        page = v.page
        open_tab(page, site, SALE, "email")
        page.emulate_media(media="print")
        expect(page.get_by_role("button", name="Modify")).to_be_hidden()
        expect(page.get_by_role("tablist")).to_be_hidden()
        expect(page.locator("#print-meta")).to_contain_text("Email tab")
        expect(page.locator("[data-widget='email.statistics']")).to_be_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.pdf(path=str(ARTIFACTS / "print-email.pdf"), format="A4", print_background=True)
        save_screenshot(page, "print-email", full_page=True)


def test_no_request_leaves_the_app(browser: Browser, site: Site) -> None:
    with visit(browser, site, user=None) as v:
        page = v.page
        page.goto(f"{site.url}/signin")
        page.get_by_label("Email").fill(EDITOR[0])
        page.get_by_label("Password").fill(EDITOR[1])
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{site.url}/campaigns")
        page.get_by_role("link", name=SALE).click()
        for tab, name in TABS.items():
            page.get_by_role("tab", name=name, exact=True).click()
            wait_for_report(page, tab)
        page.get_by_role("button", name="Modify", exact=True).click()
        page.get_by_role("button", name="Cancel", exact=True).click()
        page.wait_for_timeout(500)
        assert len(v.requests) > 10
        assert v.foreign_requests(site) == []
