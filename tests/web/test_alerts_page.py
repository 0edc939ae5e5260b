"""Alerts on the dashboard (issue 17) in a real browser: a report page opened before a storm of
bounces shows the alerts it raises within seconds, without a reload (the live stream's `alerts`
event), one line per alert in the colour of its severity with the value the API reports; an
editor acknowledges one there, a viewer has no button to; the list of the campaign's alerts
shows them; the campaign list wears a badge on the campaigns with open alerts; a campaign id
made of markup stays text; and all of it fits a 375 px phone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from dashboard import (
    EDITOR,
    VIEWER,
    Site,
    event,
    open_tab,
    save_screenshot,
    started_site,
    visit,
)
from playwright.sync_api import Browser, Locator, Page, expect

from conftest import post

pytest_plugins = ["browser_fixture"]

AUDIT = (Path(__file__).resolve().parent / "layout_audit.js").read_text(encoding="utf-8")
STORM = "storm-sale"
MARKUP = "<b>html</b>"
#: Two rules on every campaign's email: 50 bounces of 100 sent crosses both.
RULES = [
    {
        "id": "bounces",
        "metric": "bounce_rate",
        "channel": "email",
        "above": 0.1,
        "span_minutes": 15,
        "min_volume": 50,
        "severity": "critical",
        "notify": [],
    },
    {
        "id": "bounces-early",
        "metric": "bounce_rate",
        "channel": "email",
        "above": 0.05,
        "span_minutes": 15,
        "min_volume": 50,
        "severity": "warning",
        "notify": [],
    },
]
#: What the evaluator has to notice, judge and push down the stream: "within seconds".
WITHIN_MS = 15_000
#: en-US: the page's numbers read "50.0%" whatever the machine's locale.
LOCALE = {"locale": "en-US", "timezone_id": "UTC"}
SEVERITY_COLOUR = {"critical": "rgb(180, 35, 24)", "warning": "rgb(181, 71, 8)"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """Two campaigns that exist (one entered profile each) and no alert yet; the rules saved
    by an admin key through the API."""
    # A `livereport serve` process: in-process, the markup campaign's live banner did not
    # come after the badge test had opened its page, in three runs on a loaded machine (and
    # came in four later ones); until that is understood, the module keeps its process.
    directory = tmp_path_factory.mktemp("alerts-page")
    with started_site(directory, [STORM, MARKUP], process=True) as site:
        with site.server.client(site.server.key("admin")) as admin:
            response = admin.put("/v1/alert-rules", json=RULES)
            assert response.status_code == 200, response.text
        with site.api() as client:
            post(client, [event(c, "entered", None) for c in (STORM, MARKUP)])
        yield site


_stormed: set[str] = set()


def storm(site: Site, campaign: str) -> None:
    """100 emails sent, 50 of them bounced hard: a bounce rate of 0.5 (once per campaign)."""
    if campaign in _stormed:
        return
    _stormed.add(campaign)
    with site.api() as client:
        post(
            client,
            [event(campaign, "sent") for _ in range(100)]
            + [
                event(campaign, "bounce", bounce="hard", reason="Mailbox does not exist")
                for _ in range(50)
            ],
        )


def alerts_of(site: Site, campaign: str, state: str = "all") -> list[dict[str, Any]]:
    with site.api() as client:
        response = client.get("/v1/alerts", params={"campaign": campaign, "state": state})
    assert response.status_code == 200, response.text
    found = response.json()
    result: list[dict[str, Any]] = found if isinstance(found, list) else found["alerts"]
    return result


def stormed(site: Site, campaign: str) -> list[dict[str, Any]]:
    """The campaign's firing alerts once the storm raised both."""
    storm(site, campaign)
    deadline = time.monotonic() + WITHIN_MS / 1000
    while time.monotonic() < deadline:
        firing = alerts_of(site, campaign, "firing")
        if len(firing) == len(RULES):
            return firing
        time.sleep(0.25)
    raise AssertionError(f"the storm raised no alert on {campaign!r}: {alerts_of(site, campaign)}")


def banner_line(page: Page, rule: str) -> Locator:
    return page.locator(f"#alert-banner [data-rule='{rule}']")


def test_a_storm_raises_the_banner_live_with_the_value_of_the_api(
    browser: Browser, site: Site
) -> None:
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        open_tab(page, site, STORM, "campaign")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
        expect(page.locator("#alert-banner")).to_be_hidden()
        page.evaluate("window.sameDocument = true")  # gone if the page reloads
        storm(site, STORM)
        banner = page.locator("#alert-banner")
        expect(banner).to_be_visible(timeout=WITHIN_MS)
        expect(banner.locator(".alert-line")).to_have_count(2, timeout=WITHIN_MS)
        assert page.evaluate("window.sameDocument === true")
        api = {a["rule"]: a for a in alerts_of(site, STORM, "firing")}
        assert set(api) == {"bounces", "bounces-early"}
        assert api["bounces"]["value"] == pytest.approx(0.5)
        # The worst first, each in its severity's colour and named, with the API's raw value.
        expect(banner).to_have_attribute("data-severity", "critical")
        expect(banner.get_by_role("heading")).to_have_text("2 alerts firing")
        rules = banner.locator(".alert-line").evaluate_all(
            "lines => lines.map(l => l.dataset.rule)"
        )
        assert rules == ["bounces", "bounces-early"]
        for rule, severity in (("bounces", "critical"), ("bounces-early", "warning")):
            line = banner_line(page, rule)
            expect(line).to_have_attribute("data-severity", severity)
            expect(line.locator(".severity-tag")).to_have_text(severity.capitalize())
            assert (
                line.locator(".severity-tag").evaluate("el => getComputedStyle(el).backgroundColor")
                == SEVERITY_COLOUR[severity]
            )
            value = line.locator("[data-metric='bounce_rate']")
            assert float(value.get_attribute("data-value") or "nan") == pytest.approx(
                api[rule]["value"]
            )
        critical = banner_line(page, "bounces")
        expect(critical).to_contain_text(
            "Bounce rate 50.0% over the last 15 min (above 10.0%) — Email · since "
        )
        expect(critical).to_contain_text("rule bounces")
        expect(banner_line(page, "bounces-early")).to_contain_text("(above 5.0%)")
        assert (
            page.evaluate(
                "getComputedStyle(document.querySelector('#alert-banner')).borderLeftColor"
            )
            == SEVERITY_COLOUR["critical"]
        )
        # Above the tabs.
        assert page.evaluate(
            """document.querySelector('#alert-banner').compareDocumentPosition(
               document.querySelector('#tabs')) & Node.DOCUMENT_POSITION_FOLLOWING"""
        )
        save_screenshot(page, "alerts-banner")
        assert not v.errors, v.errors


def test_an_editor_acknowledges_an_alert_from_the_banner(browser: Browser, site: Site) -> None:
    stormed(site, STORM)
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        open_tab(page, site, STORM, "campaign")
        line = banner_line(page, "bounces")
        button = line.get_by_role("button", name="Acknowledge", exact=True)
        expect(button).to_be_visible(timeout=WITHIN_MS)
        button.click()
        expect(line).to_contain_text(f"acknowledged by {EDITOR[0]}")
        expect(line.get_by_role("button", name="Acknowledge")).to_have_count(0)
        # The other alert is still waiting for someone.
        expect(
            banner_line(page, "bounces-early").get_by_role("button", name="Acknowledge")
        ).to_be_visible()
        acked = {a["rule"]: a for a in alerts_of(site, STORM, "firing")}
        assert acked["bounces"]["acknowledged_by"] == EDITOR[0]
        assert acked["bounces-early"]["acknowledged_by"] is None
        # A reload keeps it: it comes from the server.
        page.reload()
        expect(banner_line(page, "bounces")).to_contain_text(
            f"acknowledged by {EDITOR[0]}", timeout=WITHIN_MS
        )
        assert not v.errors, v.errors


def test_a_viewer_sees_the_alerts_but_no_button_to_acknowledge(
    browser: Browser, site: Site
) -> None:
    stormed(site, STORM)
    with visit(browser, site, user=VIEWER, **LOCALE) as v:
        page = v.page
        open_tab(page, site, STORM, "campaign")
        expect(page.locator("#alert-banner .alert-line")).to_have_count(2, timeout=WITHIN_MS)
        expect(
            page.locator("#alert-banner").get_by_role("button", name="Acknowledge")
        ).to_have_count(0)
        assert not v.errors, v.errors


def test_the_alerts_list_shows_the_campaigns_alerts(browser: Browser, site: Site) -> None:
    firing = {a["rule"]: a for a in stormed(site, STORM)}
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        open_tab(page, site, STORM, "campaign")
        page.get_by_role("button", name="Alerts", exact=True).click()
        dialog = page.get_by_role("dialog", name="Alerts of this campaign")
        expect(dialog).to_be_visible()
        rows = dialog.locator("tbody tr")
        expect(rows).to_have_count(len(firing))
        for rule, alert in firing.items():
            row = dialog.locator(f"tr[data-rule='{rule}']")
            expect(row).to_have_attribute("data-state", "firing")
            expect(row).to_have_attribute("data-severity", alert["severity"])
            expect(row.locator("td").first).to_have_text("Firing")
            expect(row.get_by_role("rowheader")).to_have_text(rule)
            expect(row.locator("[data-metric='volume']")).to_have_attribute(
                "data-value", str(alert["volume"])
            )
            expect(row.locator("[data-metric='bounce_rate']")).to_have_text("50.0%")
            if alert["acknowledged_by"]:
                expect(row).to_contain_text(alert["acknowledged_by"])
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        # The banner's "All alerts" opens the same list.
        page.get_by_role("button", name="All alerts").click()
        expect(dialog).to_be_visible()
        expect(rows).to_have_count(len(firing))
        assert not v.errors, v.errors


def test_the_campaign_list_badges_campaigns_with_open_alerts(browser: Browser, site: Site) -> None:
    stormed(site, STORM)
    stormed(site, MARKUP)
    with site.api() as client:
        rows = {c["campaign"]: c for c in client.get("/v1/campaigns").json()["campaigns"]}
    assert rows[STORM]["open_alerts"] == 2 and rows[STORM]["alert_severity"] == "critical"
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        page.goto(f"{site.url}/campaigns")
        badge = page.locator(f'tr[data-campaign="{STORM}"] .alert-badge')
        expect(badge).to_have_text("2 alerts")
        expect(badge).to_have_accessible_name(
            "2 firing alerts, the worst critical: show the alerts"
        )
        expect(badge).to_have_attribute("data-severity", "critical")
        assert (
            badge.evaluate("el => getComputedStyle(el).backgroundColor")
            == SEVERITY_COLOUR["critical"]
        )
        # The markup campaign: its id as text, its badge beside it, no element made of it.
        cells = page.locator("tbody th").evaluate_all("cells => cells.map(c => c.textContent)")
        assert f"{MARKUP}2 alerts" in cells, cells
        assert page.locator("tbody b").count() == 0
        # The badge leads to the campaign's alerts.
        page.locator("tbody tr").filter(has_text=MARKUP).locator(".alert-badge").click()
        dialog = page.get_by_role("dialog", name="Alerts of this campaign")
        expect(dialog).to_be_visible()
        expect(dialog.locator("tbody tr")).to_have_count(2)
        expect(page.locator("#campaign-title")).to_have_text(MARKUP)
        shown = urlsplit(page.url)
        assert (shown.path, shown.fragment) == (f"/campaigns/{quote(MARKUP, safe='')}", "alerts")
        assert page.locator("b").count() == 0
        assert not v.errors, v.errors


def test_alerts_of_a_campaign_named_in_markup_stay_text(browser: Browser, site: Site) -> None:
    stormed(site, MARKUP)
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        open_tab(page, site, MARKUP, "campaign")
        expect(page.locator("#alert-banner .alert-line")).to_have_count(2, timeout=WITHIN_MS)
        expect(page.locator("#campaign-title")).to_have_text(MARKUP)
        assert page.locator("b").count() == 0
        assert not v.dialogs and not v.errors, (v.dialogs, v.errors)


def test_the_banner_and_the_list_fit_a_phone(browser: Browser, site: Site) -> None:
    stormed(site, STORM)
    with visit(browser, site, viewport={"width": 375, "height": 812}, **LOCALE) as v:
        page = v.page
        open_tab(page, site, STORM, "campaign")
        expect(page.locator("#alert-banner .alert-line")).to_have_count(2, timeout=WITHIN_MS)
        page.wait_for_timeout(250)
        found = page.evaluate(
            AUDIT,
            {
                "cards": "[data-widget]",
                "headers": [".topbar", ".page-head", "#alert-banner", "#tabs"],
                "overlap": [
                    ".title-block > *",
                    "#controls > *",
                    "#alert-banner .alert-banner-head > *",
                    "#alert-banner .alert-line > *",
                    "#tabs",
                ],
                "print": False,
            },
        )
        save_screenshot(page, "alerts-375-banner", full_page=True)
        assert found["problems"] == []
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.get_by_role("button", name="All alerts").click()
        expect(page.locator("#alerts-dialog tbody tr")).to_have_count(2)
        page.wait_for_timeout(250)
        found = page.evaluate(
            AUDIT, {"cards": "#alerts-dialog", "headers": [], "overlap": [], "print": False}
        )
        save_screenshot(page, "alerts-375-list")
        assert found["problems"] == []
        box = page.locator("#alerts-dialog").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
        # The campaign list with its badge.
        page.goto(f"{site.url}/campaigns")
        expect(page.locator(f'tr[data-campaign="{STORM}"] .alert-badge')).to_be_visible()
        found = page.evaluate(
            AUDIT,
            {
                "cards": ".card",
                "headers": [".topbar", ".page-head"],
                "overlap": [".page-head h1", "#list-summary", ".page-head .controls > *"],
                "print": False,
            },
        )
        save_screenshot(page, "alerts-375-campaign-list")
        assert found["problems"] == []
        assert not v.errors, v.errors


def put_rules(site: Site, rules: list[dict[str, Any]]) -> None:
    with site.server.client(site.server.key("admin")) as admin:
        response = admin.put("/v1/alert-rules", json=rules)
        assert response.status_code == 200, response.text


def test_the_banner_goes_when_the_alerts_resolve(browser: Browser, site: Site) -> None:
    """Thresholds raised above the storm resolve its alerts: the open page drops the banner by
    itself and lists them as resolved. (The rules are put back after.)"""
    stormed(site, STORM)
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        open_tab(page, site, STORM, "campaign")
        banner = page.locator("#alert-banner")
        expect(banner.locator(".alert-line")).to_have_count(2, timeout=WITHIN_MS)
        page.evaluate("window.sameDocument = true")
        put_rules(site, [{**rule, "above": 0.9} for rule in RULES])
        try:
            # Open alerts are judged again every few seconds (alerts/service.py PERIODIC_S).
            expect(banner).to_be_hidden(timeout=30_000)
            assert page.evaluate("window.sameDocument === true")
            expect(page.locator("#alert-status")).to_have_text("No alert is firing any more.")
            page.get_by_role("button", name="Alerts", exact=True).click()
            rows = page.locator("#alerts-dialog tbody tr")
            expect(rows).to_have_count(2)
            for row in rows.all():
                expect(row).to_have_attribute("data-state", "resolved")
                expect(row.locator("td").first).to_have_text("Resolved")
                expect(row.locator("time")).to_have_count(2)  # fired, resolved
            assert not v.errors, v.errors
        finally:
            put_rules(site, RULES)
