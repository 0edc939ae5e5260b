"""The human/machine switch of the report page (issue 19, SPEC §11) in a real browser: on the
email tab, Human shows exactly the human opens and clicks posted (Machine the machine ones), the
same as the API's answer for that engagement; the choice stays in the address through a reload
and a tab switch, goes along with the live stream and the exports, and is remembered for the
user who made it (the address winning over it), not for another; the switch is keyboard
operable and shows only on the tabs with opens or clicks; the machine share of opens is shown
next to it whatever the switch says.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from dashboard import (
    EDITOR,
    OTHER,
    Site,
    browser_for_tests,
    create_users,
    expected_value,
    same_number,
    save_screenshot,
    shown_numbers,
    sign_in,
    visit,
    wait_for_report,
)
from playwright.sync_api import Browser, BrowserContext, Page, expect

from conftest import post, start_app

CAMPAIGN = "human-or-machine"
LOCALE = {"locale": "en-US", "timezone_id": "UTC"}
DELIVERED = 12
#: Opens per profile: people open some mails twice; a machine (a privacy proxy) once each.
HUMAN_OPENS = {"h-1": 2, "h-2": 1, "h-3": 1}  # 4 opens by 3 profiles
MACHINE_OPENS = {f"m-{i}": 1 for i in range(6)}  # 6 opens by 6 profiles
HUMAN_CLICKS = {"h-1": 1, "h-2": 1}  # 2 clicks by 2 profiles
MACHINE_CLICKS = {"m-0": 1, "m-1": 1, "m-2": 1}  # 3 clicks by 3 profiles (a scanner)
#: The push tab: 2 opens by people, 1 by a machine.
PUSH_OPENS = {"ph-1": False, "ph-2": False, "pm-1": True}
STATS = "[data-widget='email.statistics'] td[data-total='true'][data-metric='{}']"
QUALITY = "[data-widget='email.engagement_quality'] [data-metric='{}']"


def _events() -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    # Delivered well before anything was opened: no "too fast to be a person" rule applies.
    delivered_at = (now - timedelta(hours=2)).isoformat()
    engaged_at = (now - timedelta(hours=1)).isoformat()

    def one(
        type_: str, profile: str, when: str, channel: str = "email", **fields: Any
    ) -> dict[str, Any]:
        return {
            "id": uuid.uuid4().hex,
            "time": when,
            "campaign": CAMPAIGN,
            "channel": channel,
            "type": type_,
            "profile": profile,
            **fields,
        }

    events = [one("delivered", f"d-{i}", delivered_at) for i in range(DELIVERED)]
    for opens, clicks, machine in (
        (HUMAN_OPENS, HUMAN_CLICKS, False),
        (MACHINE_OPENS, MACHINE_CLICKS, True),
    ):
        for profile, times in opens.items():
            events += [one("open", profile, engaged_at, machine=machine) for _ in range(times)]
        for profile, times in clicks.items():
            events += [one("click", profile, engaged_at, machine=machine) for _ in range(times)]
    events += [one("delivered", p, delivered_at, "push") for p in PUSH_OPENS]
    events += [one("open", p, engaged_at, "push", machine=m) for p, m in PUSH_OPENS.items()]
    return events


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = start_app(tmp_path_factory.mktemp("engagement-page") / "data")
    try:
        create_users(server)
        site = Site(server, server.key("ingest", "read"), [CAMPAIGN])
        with site.api() as client:
            answer = post(client, _events())
        assert not answer["rejected"], answer["rejected"][:3]
        yield site
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with browser_for_tests() as chromium:
        yield chromium


def report_of(site: Site, tab: str, engagement: str) -> dict[str, Any]:
    with site.api() as client:
        response = client.get(
            f"/v1/campaigns/{quote(CAMPAIGN, safe='')}/report",
            params={"tab": tab, "engagement": engagement},
        )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    assert found["engagement"] == engagement
    return found


def page_url(site: Site, query: str) -> str:
    return f"{site.page_url(CAMPAIGN)}?{query}"


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def wait_for_engagement(page: Page, tab: str, engagement: str) -> None:
    """Until the page shows the report of `tab` counting `engagement`'s opens and clicks."""
    wait_for_report(page, tab)
    page.wait_for_function(
        "want => document.querySelector('#report-head').dataset.engagement === want",
        arg=engagement,
    )
    page.locator("[data-widget] [data-metric]").first.wait_for()


def number(page: Page, selector: str) -> float:
    value = page.locator(selector).first.get_attribute("data-value")
    assert value not in (None, ""), selector
    return float(value)


def checked(page: Page) -> str:
    """The engagement the switch shows as chosen."""
    radios = page.get_by_role("radiogroup", name="Opens and clicks").get_by_role("radio")
    chosen = [
        radios.nth(i).get_attribute("value")
        for i in range(radios.count())
        if radios.nth(i).is_checked()
    ]
    assert len(chosen) == 1, chosen
    return str(chosen[0])


def assert_page_matches_api(page: Page, report: dict[str, Any]) -> None:
    """Every number of every widget shown equals the API's for the same engagement."""
    widgets = {w["id"]: w for w in report["widgets"]}
    shown = shown_numbers(page)
    assert shown
    wrong = [
        s for s in shown if not same_number(s["value"], expected_value(widgets[s["widget"]], s))
    ]
    assert not wrong, wrong[:5]


def test_human_shows_the_human_counts_and_stays_through_reload_tabs_and_exports(
    browser: Browser, site: Site
) -> None:
    human_opens = sum(HUMAN_OPENS.values())
    machine_opens = sum(MACHINE_OPENS.values())
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        page.goto(page_url(site, "tab=email"))
        wait_for_engagement(page, "email", "all")
        switch = page.get_by_role("radiogroup", name="Opens and clicks")
        expect(switch).to_be_visible()
        assert checked(page) == "all"
        assert number(page, STATS.format("opens")) == human_opens + machine_opens
        assert number(page, STATS.format("unique_opens")) == len(HUMAN_OPENS) + len(MACHINE_OPENS)
        assert_page_matches_api(page, report_of(site, "email", "all"))

        # The machine share of opens, next to the switch: 6 of 10.
        share = page.locator("#machine-share")
        expect(share).to_be_visible()
        expect(share).to_have_text("Machine opens: 60.0% of opens (6 of 10)")
        value = page.locator("#machine-share [data-metric='machine_open_share']")
        assert value.get_attribute("data-value") == "0.6"

        asked_before = len(v.requests)
        switch.get_by_role("radio", name="Human").check()
        wait_for_engagement(page, "email", "human")
        assert query_of(page)["engagement"] == ["human"]
        assert number(page, STATS.format("opens")) == human_opens == 4
        assert number(page, STATS.format("unique_opens")) == len(HUMAN_OPENS) == 3
        assert number(page, STATS.format("clicks")) == sum(HUMAN_CLICKS.values()) == 2
        assert number(page, STATS.format("unique_clicks")) == len(HUMAN_CLICKS) == 2
        assert number(page, STATS.format("delivered")) == DELIVERED  # not an open or a click
        assert number(page, STATS.format("open_rate")) == pytest.approx(3 / DELIVERED)
        # The split itself does not follow the switch.
        assert number(page, QUALITY.format("human_opens")) == human_opens
        assert number(page, QUALITY.format("machine_opens")) == machine_opens
        assert_page_matches_api(page, report_of(site, "email", "human"))
        expect(share).to_have_text("Machine opens: 60.0% of opens (6 of 10)")
        save_screenshot(page, "engagement-email-human")
        # Every report and live request since the choice counts human ones only.
        streams = [u for u in v.requests[asked_before:] if "/live?" in u or "/report?" in u]
        assert streams and all(
            parse_qs(urlsplit(u).query).get("engagement") == ["human"] for u in streams
        ), streams

        # The exports: the tab's link and each widget's carry it, and the CSV counts human opens.
        tab_link = page.locator("#export-tab").get_attribute("href") or ""
        assert parse_qs(urlsplit(tab_link).query)["engagement"] == ["human"]
        widget_link = (
            page.locator("[data-widget='email.statistics'] a.csv").get_attribute("href") or ""
        )
        assert parse_qs(urlsplit(widget_link).query)["engagement"] == ["human"]
        response = v.context.request.get(site.url + widget_link)
        assert response.status == 200, response.text()
        header, *rows = list(csv.reader(io.StringIO(response.text())))
        total = next(r for r in rows if r and r[0] == "Total")
        assert total[header.index("Opens")] == str(human_opens), rows
        assert total[header.index("Clicks")] == str(sum(HUMAN_CLICKS.values())), rows

        page.reload()
        wait_for_engagement(page, "email", "human")
        assert checked(page) == "human"
        assert number(page, STATS.format("opens")) == human_opens

        # A tab without opens or clicks has no switch and counts as before; the choice comes back.
        page.get_by_role("tab", name="Campaign", exact=True).click()
        wait_for_engagement(page, "campaign", "all")
        expect(page.locator("#engagement-bar")).to_be_hidden()
        assert query_of(page)["engagement"] == ["human"]
        page.get_by_role("tab", name="Email", exact=True).click()
        wait_for_engagement(page, "email", "human")
        assert checked(page) == "human"
        assert number(page, STATS.format("opens")) == human_opens
        tab_link = page.locator("#export-tab").get_attribute("href") or ""
        assert parse_qs(urlsplit(tab_link).query)["engagement"] == ["human"]

        # The push tab has the switch and its own machine share: 1 of 3 opens.
        page.get_by_role("tab", name="Push", exact=True).click()
        wait_for_engagement(page, "push", "human")
        expect(page.locator("#engagement-bar")).to_be_visible()
        expect(share).to_have_text("Machine opens: 33.3% of opens (1 of 3)")
        opens = "[data-widget='push.statistics'] td[data-total='true'][data-metric='opens']"
        assert number(page, opens) == 2
        # Neither the overview's request nor the period check ever carried it.
        assert not [u for u in v.requests if "/v1/campaigns?" in u and "engagement" in u]
        assert not v.foreign_requests(site)
        assert not v.errors, v.errors


def test_the_choice_is_remembered_per_user_and_the_address_wins(
    browser: Browser, site: Site
) -> None:
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        # The test before chose Human for this user: start from nothing chosen.
        answer = v.context.request.put(
            f"{site.url}/v1/me/settings",
            data={"engagement": "all"},
            headers={"X-Requested-With": "livereport"},
        )
        assert answer.status == 200, answer.text()
        page.goto(page_url(site, "tab=email"))
        wait_for_engagement(page, "email", "all")
        # From the keyboard: the arrow keys move along the group and choose.
        page.get_by_role("radio", name="All").focus()
        page.keyboard.press("ArrowRight")
        wait_for_engagement(page, "email", "human")
        expect(page.get_by_role("radio", name="Human")).to_be_focused()
        page.keyboard.press("ArrowRight")
        wait_for_engagement(page, "email", "machine")
        assert number(page, STATS.format("opens")) == sum(MACHINE_OPENS.values())
        assert number(page, STATS.format("clicks")) == sum(MACHINE_CLICKS.values())
        page.keyboard.press("ArrowLeft")
        wait_for_engagement(page, "email", "human")
        wait_for_saved(v.context, site, "human")

        # Remembered: an address without it shows the user's last choice.
        page.goto(page_url(site, "tab=email"))
        wait_for_engagement(page, "email", "human")
        assert checked(page) == "human"
        assert query_of(page)["engagement"] == ["human"]
        # The address wins, and a shared link does not change what is remembered.
        page.goto(page_url(site, "tab=email&engagement=machine"))
        wait_for_engagement(page, "email", "machine")
        assert checked(page) == "machine"
        assert number(page, STATS.format("opens")) == sum(MACHINE_OPENS.values())
        page.goto(page_url(site, "tab=email&engagement=all"))
        wait_for_engagement(page, "email", "all")
        everyone = sum(HUMAN_OPENS.values()) + sum(MACHINE_OPENS.values())
        assert number(page, STATS.format("opens")) == everyone
        page.goto(page_url(site, "tab=email"))
        wait_for_engagement(page, "email", "human")

        # Remembered for the user, not the browser: another browser shows it too.
        with visit(browser, site, **LOCALE) as elsewhere:
            elsewhere.page.goto(page_url(site, "tab=email"))
            wait_for_engagement(elsewhere.page, "email", "human")
            assert checked(elsewhere.page) == "human"
        # Another user in the same browser has not chosen anything: All.
        sign_in(v.context, site, OTHER)
        page.goto(page_url(site, "tab=email"))
        wait_for_engagement(page, "email", "all")
        assert checked(page) == "all"
        # And the first one's choice is still theirs.
        sign_in(v.context, site, EDITOR)
        page.goto(page_url(site, "tab=email"))
        wait_for_engagement(page, "email", "human")
        assert not v.errors, v.errors
        # Back to All for the tests after this one.
        page.get_by_role("radio", name="All").check()
        wait_for_engagement(page, "email", "all")
        wait_for_saved(v.context, site, "all")


def test_a_setting_is_checked_and_kept_per_user(site: Site) -> None:
    """PUT /v1/me/settings: known names and values only, any role, a session only."""
    with httpx.Client(base_url=site.url, headers={"X-Requested-With": "livereport"}) as client:
        assert (
            client.post("/v1/signin", json={"email": OTHER[0], "password": OTHER[1]}).status_code
            == 200
        )
        assert client.get("/v1/me").json()["settings"] == {"engagement": "all"}
        for body, wrong in (
            ({"engagement": "bots"}, "settings.engagement"),
            ({"colour": "red"}, "colour"),
            ({}, "at least one"),
        ):
            refused = client.put("/v1/me/settings", json=body)
            assert refused.status_code == 400 and wrong in refused.json()["error"], refused.text
        saved = client.put("/v1/me/settings", json={"engagement": "machine"})
        assert saved.status_code == 200 and saved.json() == {"settings": {"engagement": "machine"}}
        assert client.get("/v1/me").json()["settings"] == {"engagement": "machine"}
        assert client.put("/v1/me/settings", json={"engagement": "all"}).status_code == 200
    with site.api() as keyed:  # an API key has no settings
        assert keyed.put("/v1/me/settings", json={"engagement": "human"}).status_code == 403


def wait_for_saved(context: BrowserContext, site: Site, engagement: str) -> None:
    """Until the server holds the user's choice (the page saves it in the background)."""
    deadline = time.monotonic() + 15
    while True:
        found = context.request.get(f"{site.url}/v1/me").json()["settings"]["engagement"]
        if found == engagement:
            return
        assert time.monotonic() < deadline, (
            f"the server still remembers {found!r}, not {engagement!r}"
        )
        time.sleep(0.1)


def test_an_engagement_the_server_does_not_know_is_refused_with_its_reason(
    browser: Browser, site: Site
) -> None:
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        page.goto(page_url(site, "tab=email&engagement=bots"))
        problem = page.locator("#tab-problem")
        expect(problem).to_be_visible()
        expect(problem).to_contain_text("engagement")
        expect(page.locator("input[name='engagement']:checked")).to_have_count(0)
        # Picking one shows the report again.
        page.get_by_role("radio", name="Human").check()
        wait_for_engagement(page, "email", "human")
        expect(problem).to_be_hidden()
        assert number(page, STATS.format("opens")) == sum(HUMAN_OPENS.values())
        assert not v.errors, v.errors


def test_the_switch_fits_a_phone(browser: Browser, site: Site) -> None:
    with visit(browser, site, viewport={"width": 375, "height": 740}, **LOCALE) as v:
        page = v.page
        page.goto(page_url(site, "tab=email&engagement=human"))
        wait_for_engagement(page, "email", "human")
        for name in ("All", "Human", "Machine"):
            expect(page.get_by_role("radio", name=name)).to_be_visible()
        expect(page.locator("#machine-share")).to_be_visible()
        overflow: dict[str, Any] = page.evaluate(
            """() => ({ page: document.documentElement.scrollWidth,
                        wide: [...document.querySelectorAll('#report-head *')]
                          .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1)
                          .map(el => el.id || el.className || el.tagName) })"""
        )
        assert overflow["page"] <= 375, overflow
        assert not overflow["wide"], overflow
        save_screenshot(page, "engagement-phone")
        assert not v.errors, v.errors
