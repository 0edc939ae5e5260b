"""The campaign overview and the org totals pages (issue 18) in a real browser: each row shows
the numbers of the API and of the events posted, counted here by hand; a sortable header sorts
on the server; the status filter, the search, the page and the period live in the address and
survive a reload; a campaign's link carries the period; an id made of markup stays text; the
totals page shows each channel's totals and the leading campaigns of the metric chosen; nothing
is fetched from another host, and a phone never scrolls sideways.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest
from dashboard import Site, browser_for_tests, create_users, event, same_number, visit
from playwright.sync_api import Browser, Page, expect

from conftest import post, start_app

#: campaign → (channel, {type: how many}, how long ago); each event its own profile.
PLAN: dict[str, tuple[str, dict[str, int], timedelta]] = {
    "alpha": ("email", {"sent": 5, "delivered": 4, "open": 2, "bounce": 1}, timedelta(minutes=2)),
    "beta": ("email", {"sent": 3, "delivered": 3, "open": 1, "click": 1}, timedelta(minutes=3)),
    "gamma-sms": ("sms", {"sent": 2, "delivered": 1}, timedelta(minutes=4)),
    "delta-done": ("email", {"delivered": 6}, timedelta(minutes=30)),
    "prior-day": ("email", {"sent": 4}, timedelta(hours=30)),
    "old-one": ("email", {"sent": 2, "delivered": 2}, timedelta(days=3)),
    "<img src=x onerror=alert(1)>": ("email", {"sent": 1}, timedelta(minutes=5)),
}
MARKUP = "<img src=x onerror=alert(1)>"
#: Tiny campaigns, one delivered email each, finished 20 minutes ago: more than a page.
BULK = [f"bulk-{i:03d}" for i in range(105)]
TOTAL = len(PLAN) + len(BULK)
ROW_METRICS = (
    "sent",
    "delivered",
    "delivery_rate",
    "open_rate",
    "click_rate",
    "bounce_rate",
    "complaint_rate",
)
PHONE = {"width": 390, "height": 844}


def _at(ago: timedelta, e: dict[str, Any]) -> dict[str, Any]:
    return {**e, "time": (datetime.now(UTC) - ago).isoformat()}


def _events() -> list[dict[str, Any]]:
    events = []
    for campaign, (channel, types, ago) in PLAN.items():
        for type_, n in types.items():
            extra = {"bounce": "hard", "reason": "Invalid Recipient"} if type_ == "bounce" else {}
            events += [_at(ago, event(campaign, type_, channel, **extra)) for _ in range(n)]
    events += [_at(timedelta(minutes=20), event(name, "delivered")) for name in BULK]
    return events


def by_hand(campaign: str, type_: str, within: timedelta = timedelta(hours=24)) -> int:
    """Events of one type a campaign had in the last `within`, from the plan above."""
    counted = 0
    if campaign in PLAN:
        _, types, ago = PLAN[campaign]
        counted = types.get(type_, 0) if ago < within else 0
    elif campaign in BULK:
        counted = 1 if type_ == "delivered" else 0
    return counted


def email_by_hand(type_: str) -> int:
    return sum(by_hand(c, type_) for c in [*PLAN, *BULK] if PLAN.get(c, ("email",))[0] == "email")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = start_app(tmp_path_factory.mktemp("overview-page") / "data")
    try:
        create_users(server)
        site = Site(server, server.key("ingest", "read"), [*PLAN, *BULK])
        with site.api() as client:
            answer = post(client, _events())
            assert not answer["rejected"], answer["rejected"]
        yield site
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with browser_for_tests() as chromium:
        yield chromium


def api(site: Site, path: str, **params: str) -> dict[str, Any]:
    with site.api() as client:
        response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def settled(page: Page) -> None:
    """Until the rows shown are those of the view in the address."""
    page.wait_for_function(
        """() => { const card = document.querySelector('#list-card');
                   return card.dataset.view !== undefined && card.getAttribute('aria-busy') !== 'true'
                     && card.dataset.view === location.search.slice(1); }"""
    )


def shown_campaigns(page: Page) -> list[str]:
    rows: list[str] = page.locator("#campaign-rows tr").evaluate_all(
        "rows => rows.map(r => r.dataset.campaign)"
    )
    return rows


def cell(page: Page, campaign: str, metric: str) -> str:
    row = page.locator(f"#campaign-rows tr[data-campaign='{campaign}']")
    return row.locator(f"[data-metric='{metric}']").get_attribute("data-value") or ""


def query_of(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_rows_show_the_numbers_of_the_api_and_of_the_events(browser: Browser, site: Site) -> None:
    listed = {c["campaign"]: c for c in api(site, "/v1/campaigns", limit="500")["campaigns"]}
    with visit(browser, site) as v:
        page = v.page
        page.goto(f"{site.url}/campaigns?limit=200")  # delta-done is older than 100 bulk ones
        settled(page)
        for campaign in ("alpha", "beta", "gamma-sms", "delta-done"):
            row = listed[campaign]
            for metric in ROW_METRICS:
                value = cell(page, campaign, metric)
                assert same_number(value, row["metrics"][metric]), (campaign, metric, value)
            assert int(cell(page, campaign, "sent")) == by_hand(campaign, "sent")
            assert int(cell(page, campaign, "delivered")) == by_hand(campaign, "delivered")
            events = sum(PLAN[campaign][1].values())
            assert (
                int(cell(page, campaign, "events_in_window")) == events == row["events_in_window"]
            )
            spark = page.locator(f"tr[data-campaign='{campaign}'] svg.sparkline")
            assert spark.get_attribute("data-values") == ",".join(map(str, row["sparkline"]))
            assert sum(row["sparkline"]) == events
            expect(spark).to_have_attribute(
                "aria-label", f"Events per hour: {', '.join(map(str, row['sparkline']))}"
            )
        alpha = page.locator("tr[data-campaign='alpha']")
        expect(alpha.locator("[data-metric='delivery_rate']")).to_have_text("80.0%")  # 4 of 5
        expect(alpha.locator("[data-metric='bounce_rate']")).to_have_text("20.0%")  # 1 of 5
        expect(alpha.locator("[data-metric='click_rate']")).to_have_text("0.0%")
        expect(
            page.locator("tr[data-campaign='delta-done'] [data-metric='bounce_rate']")
        ).to_have_text("–")
        expect(alpha.locator(".status")).to_have_text("Sending")
        expect(page.locator("tr[data-campaign='delta-done'] .status")).to_have_text("Finished")
        expect(page.locator("tr[data-campaign='old-one'] .status")).to_have_text("Quiet")
        expect(page.locator("tr[data-campaign='gamma-sms'] .chip")).to_have_text("SMS")
        expect(page.locator("#list-summary")).to_contain_text(f"{TOTAL} campaigns")
        expect(page.locator("#list-summary")).to_contain_text("4 sending now")
        assert not v.errors, v.errors
        assert not v.foreign_requests(site), v.foreign_requests(site)


def test_a_sortable_header_sorts_on_the_server(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        page = v.page
        page.goto(f"{site.url}/campaigns?q=a")  # alpha, beta, gamma-sms, delta-done, old-one
        settled(page)
        header = page.locator("#campaigns th[data-col='sent']")
        expect(header).to_have_attribute("aria-sort", "none")
        header.get_by_role("button", name="Sent").click()
        settled(page)
        expect(header).to_have_attribute("aria-sort", "descending")
        assert query_of(page)["sort"] == ["sent"]
        expected = [
            c["campaign"] for c in api(site, "/v1/campaigns", q="a", sort="sent")["campaigns"]
        ]
        assert shown_campaigns(page) == expected
        assert expected[:3] == ["alpha", "beta", "gamma-sms"]  # 5, 3, 2 sent
        sent = [int(cell(page, c, "sent")) for c in expected]
        assert sent == sorted(sent, reverse=True)

        header.get_by_role("button", name="Sent").click()
        settled(page)
        expect(header).to_have_attribute("aria-sort", "ascending")
        assert query_of(page)["order"] == ["asc"]
        ascending = shown_campaigns(page)
        assert ascending == [
            c["campaign"]
            for c in api(site, "/v1/campaigns", q="a", sort="sent", order="asc")["campaigns"]
        ]
        assert ascending[-1] == "alpha" and ascending != expected

        page.locator("#campaigns th[data-col='campaign']").get_by_role("button").click()
        settled(page)
        assert shown_campaigns(page) == sorted(expected)
        expect(page.locator("#campaigns th[data-col='sent']")).to_have_attribute(
            "aria-sort", "none"
        )
        assert not v.errors, v.errors
        assert not v.foreign_requests(site)


def test_the_status_filter_and_the_search_survive_a_reload(browser: Browser, site: Site) -> None:
    statuses = api(site, "/v1/campaigns")["statuses"]
    assert statuses == {"sending": 4, "finished": 1 + len(BULK), "quiet": 2}
    with visit(browser, site) as v:
        page = v.page
        page.goto(f"{site.url}/campaigns")
        settled(page)
        for status, count in statuses.items():
            expect(page.locator(f".status-choice[data-status='{status}']")).to_have_attribute(
                "data-count", str(count)
            )
        expect(page.locator(".status-choice[data-status='all']")).to_contain_text(str(TOTAL))
        page.get_by_role("button", name="Quiet").click()
        settled(page)
        assert shown_campaigns(page) == ["prior-day", "old-one"]  # the last active first
        assert query_of(page)["status"] == ["quiet"]
        page.reload()
        settled(page)
        assert shown_campaigns(page) == ["prior-day", "old-one"]
        expect(page.get_by_role("button", name="Quiet")).to_have_attribute("aria-pressed", "true")

        page.get_by_role("button", name="Sending").click()
        settled(page)
        assert sorted(shown_campaigns(page)) == sorted(["alpha", "beta", "gamma-sms", MARKUP])
        page.get_by_label("Search campaigns").fill("ALP")
        expect(page.locator("#campaign-rows tr")).to_have_count(1)
        assert shown_campaigns(page) == ["alpha"]
        assert query_of(page)["q"] == ["ALP"]
        page.reload()
        settled(page)
        expect(page.get_by_label("Search campaigns")).to_have_value("ALP")
        assert shown_campaigns(page) == ["alpha"]

        page.get_by_label("Search campaigns").fill("nothing like this")
        expect(page.locator("#list-empty")).to_have_text(
            "No campaign id contains “nothing like this” among the campaigns sending now."
        )
        expect(page.locator("#campaign-rows tr")).to_have_count(0)
        page.locator("#channel").select_option("sms")
        page.get_by_label("Search campaigns").fill("")
        expect(page.locator("#campaign-rows tr")).to_have_count(1)
        assert shown_campaigns(page) == ["gamma-sms"]
        assert query_of(page)["channel"] == ["sms"]
        assert not v.errors, v.errors
        assert not v.foreign_requests(site)


def test_the_pager_shows_where_it_is_and_goes_on(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        page = v.page
        page.goto(f"{site.url}/campaigns?sort=campaign")
        settled(page)
        pager = page.locator("#pager-range")
        expect(pager).to_have_text(f"1–100 of {TOTAL}")
        expect(page.locator("#campaign-rows tr")).to_have_count(100)
        expect(page.get_by_role("button", name="Previous")).to_be_disabled()
        first_page = shown_campaigns(page)
        page.get_by_role("button", name="Next").click()
        settled(page)
        expect(pager).to_have_text(f"101–{TOTAL} of {TOTAL}")
        expect(page.get_by_role("button", name="Next")).to_be_disabled()
        rest = shown_campaigns(page)
        assert len(rest) == TOTAL - 100
        assert first_page + rest == sorted([*PLAN, *BULK])
        assert query_of(page)["offset"] == ["100"]
        page.reload()
        settled(page)
        expect(pager).to_have_text(f"101–{TOTAL} of {TOTAL}")

        # A smaller page from the address.
        page.goto(f"{site.url}/campaigns?sort=campaign&limit=30&offset=30")
        settled(page)
        expect(pager).to_have_text(f"31–60 of {TOTAL}")
        assert shown_campaigns(page) == sorted([*PLAN, *BULK])[30:60]
        page.get_by_role("button", name="Previous").click()
        settled(page)
        expect(pager).to_have_text(f"1–30 of {TOTAL}")
        assert "offset" not in query_of(page)
        assert not v.errors, v.errors
        assert not v.foreign_requests(site)


def test_a_period_survives_a_reload_and_goes_with_the_campaign_link(
    browser: Browser, site: Site
) -> None:
    with visit(browser, site) as v:
        page = v.page
        page.goto(f"{site.url}/campaigns?q=old-one")
        settled(page)
        assert cell(page, "old-one", "delivered") == "0"  # three days ago
        page.select_option("#period", "7d")
        settled(page)
        assert query_of(page)["period"] == ["7d"]
        assert (
            int(cell(page, "old-one", "delivered"))
            == by_hand("old-one", "delivered", timedelta(days=7))
            == 2
        )
        expect(page.locator("#period-title")).to_have_text("Last 7 days")
        page.reload()
        settled(page)
        expect(page.locator("#period")).to_have_value("7d")
        assert cell(page, "old-one", "delivered") == "2"
        link = page.get_by_role("link", name="old-one", exact=True)
        href = link.get_attribute("href") or ""
        assert urlsplit(href).path == "/campaigns/old-one"
        assert parse_qs(urlsplit(href).query) == {"period": ["7d"]}
        link.click()
        page.wait_for_url("**/campaigns/old-one?**")
        expect(page.locator("#period")).to_have_value("7d")
        assert query_of(page)["period"] == ["7d"]
        assert not v.errors, v.errors
        assert not v.foreign_requests(site)


def test_a_campaign_id_made_of_markup_shows_as_text(browser: Browser, site: Site) -> None:
    with visit(browser, site) as v:
        page = v.page
        page.goto(f"{site.url}/campaigns?q={quote('<img')}")
        settled(page)
        link = page.get_by_role("link", name=MARKUP, exact=True)
        expect(link).to_be_visible()
        assert unquote(link.get_attribute("href") or "") == f"/campaigns/{MARKUP}"
        page.wait_for_timeout(300)
        assert page.locator("#campaign-rows img").count() == 0
        assert v.dialogs == [], v.dialogs
        page.goto(f"{site.url}/totals?top=sent")
        top = page.locator(f"#top-rows tr[data-campaign='{MARKUP}']")
        expect(top.get_by_role("link", name=MARKUP, exact=True)).to_be_visible()
        assert page.locator("#top-rows img").count() == 0
        assert v.dialogs == [] and not v.errors, (v.dialogs, v.errors)


def totals_settled(page: Page, view: str) -> None:
    page.wait_for_function(
        "view => document.querySelector('#totals-head').dataset.view === view", arg=view
    )


def test_the_totals_page_shows_the_api_and_the_hand_counts(browser: Browser, site: Site) -> None:
    totals = api(site, "/v1/totals")
    email = totals["channels"]["email"]["metrics"]
    assert email["sent"] == email_by_hand("sent") == 9
    assert email["delivered"] == email_by_hand("delivered") == 13 + len(BULK)
    with visit(browser, site) as v:
        page = v.page
        page.goto(f"{site.url}/campaigns")
        page.get_by_role("link", name="Org totals").click()
        page.wait_for_url("**/totals")
        totals_settled(page, "24h|false|email|sent")
        card = page.locator("[data-channel='email']")
        for metric in ("sent", "delivered", "bounces", "delivery_rate"):
            value = card.locator(f".tile-value[data-metric='{metric}']").get_attribute("data-value")
            assert float(value or "nan") == email[metric], metric
        expect(card.locator(".tile-value[data-metric='sent']")).to_have_text("9")
        sms = page.locator("[data-channel='sms'] .tile-value[data-metric='sent']")
        expect(sms).to_have_attribute("data-value", str(by_hand("gamma-sms", "sent")))
        # Channels without a single event have no card.
        expect(page.locator("[data-channel='push']")).to_have_count(0)

        rows = page.locator("#top-rows tr")
        shown = rows.evaluate_all("rows => rows.map(r => r.dataset.campaign)")
        assert shown == [c["campaign"] for c in totals["top"]["campaigns"]]
        assert shown[:2] == ["alpha", "beta"]  # 5 and 3 emails sent

        page.get_by_label("Ranked by").select_option("delivered")
        totals_settled(page, "24h|false|email|delivered")
        top = api(site, "/v1/totals", top="delivered")["top"]["campaigns"]
        assert [c["campaign"] for c in top][:2] == ["delta-done", "alpha"]  # 6 and 4 delivered
        shown = rows.evaluate_all("rows => rows.map(r => r.dataset.campaign)")
        assert shown == [c["campaign"] for c in top]
        values = page.locator("#top-rows [data-metric='delivered']").evaluate_all(
            "cells => cells.map(c => Number(c.dataset.value))"
        )
        assert values == [c["value"] for c in top]
        expect(page.locator("#top-value-head")).to_have_text("Delivered")
        assert query_of(page)["top"] == ["delivered"]

        page.locator("#top-channel").select_option("sms")
        totals_settled(page, "24h|false|sms|delivered")
        options = page.locator("#top-metric option").evaluate_all("os => os.map(o => o.value)")
        assert "unique_clicks" in options and "opens" not in options  # SMS has no opens
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-campaign", "gamma-sms")

        page.get_by_label("Compare with previous period").check()
        totals_settled(page, "24h|true|sms|delivered")
        # The 24 hours before: only prior-day's 4 emails sent, 30 hours ago.
        previous = api(site, "/v1/totals", compare="previous")["previous"]["channels"]["email"]
        assert previous["metrics"]["sent"] == by_hand("prior-day", "sent", timedelta(hours=48)) == 4
        change = page.locator("[data-channel='email'] [data-change-of='sent']")
        expect(change).to_have_attribute("data-previous", "4")
        expect(change).to_have_text("+5 (+125.0 %)")
        assert query_of(page)["compare"] == ["previous"]
        page.reload()
        totals_settled(page, "24h|true|sms|delivered")
        expect(change).to_have_text("+5 (+125.0 %)")
        assert not v.errors, v.errors
        assert not v.foreign_requests(site)


def test_nothing_overflows_a_phone(browser: Browser, site: Site) -> None:
    with visit(browser, site, viewport=PHONE) as v:
        page = v.page
        for path in ("/campaigns", "/totals"):
            page.goto(site.url + path)
            page.locator("#campaign-rows tr, #top-rows tr").first.wait_for()
            page.wait_for_timeout(250)  # scroll cues settle on the next frames
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (path, width)
            wide = page.evaluate(
                """() => [...document.querySelectorAll('body *')]
                     .filter(el => el.checkVisibility() && !el.closest('.table-wrap')
                       && el.getBoundingClientRect().right > window.innerWidth + 1)
                     .map(el => el.id || el.className || el.tagName)"""
            )
            assert wide == [], (path, wide)
        page.goto(f"{site.url}/campaigns")
        box = page.locator(".campaigns-wrap")
        expect(box).to_have_attribute("data-more", "right")
        expect(page.locator(f"#{box.get_attribute('aria-describedby')}")).to_have_text(
            "→ Scroll for more columns"
        )
        assert not v.errors, v.errors
        assert not v.foreign_requests(site)
