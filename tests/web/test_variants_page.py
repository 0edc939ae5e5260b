"""The Variants card of the report page (issue 19) in a real browser: on a channel tab it shows
each variant with the counts and rate of GET /v1/campaigns/{c}/variants, the lift with its
interval, a verdict chip and the winner; a variant whose true lift is large is called better and
named the winner; a name made of markup stays text; a campaign with one variant, a tab without
rates and a refused answer show no card; the SMS tab compares click rates by default; the rate
chosen is asked for, kept per tab across a reload; the period of the address goes along; a new
variant posted while the page is open appears after the live update, with the card asked again
at most every 5 seconds; and the card fits a 375 px phone, its table scrolling inside it.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from dashboard import Site, browser_for_tests, create_users, event, open_tab, save_screenshot, visit
from playwright.sync_api import Browser, Page, Request, expect

from conftest import post, start_app
from livereport.report.catalogue import VARIANT_RATES, metrics_for
from livereport.simulate import generate

AUDIT = (Path(__file__).resolve().parent / "layout_audit.js").read_text(encoding="utf-8")
AB = "spring-ab"
SMS = "sms-ab"
MARKUP = "ab <img src=x onerror=alert('id')> & co"
XSS_VARIANT = "<img src=x onerror=alert(1)>"
SOLO = "solo-send"
LIVE = "live-ab"
#: en-US in UTC: the page's numbers read "+10.2 %" whatever the machine's locale.
LOCALE = {"locale": "en-US", "timezone_id": "UTC"}
PHONE = {"width": 375, "height": 812}
#: The live stream's report, then the card's next turn (at most 5 s later).
LIVE_MS = 15_000
GREEN = "rgb(231, 246, 238)"  # --ok-soft
#: The API's verdict (on a higher or lower rate) as the card reads it where less is better.
FLIPPED = {"better": "worse", "worse": "better", "leading": "trailing", "trailing": "leading"}
LIFT = re.compile(r"^([+-]?\d+\.\d) % \(([+-]?\d+\.\d) % to ([+-]?\d+\.\d) %\)$")


def _rates(channel: str) -> list[str]:
    return [r for r in VARIANT_RATES if r in metrics_for(channel)]


def _send(site: Site, events: list[dict[str, Any]]) -> None:
    with site.api() as client:
        for i in range(0, len(events), 5000):
            answer = post(client, events[i : i + 5000])
            assert not answer["rejected"], answer["rejected"][:3]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    now = datetime.now(UTC)
    span = {"start": now - timedelta(hours=6), "end": now - timedelta(minutes=1)}
    server = start_app(tmp_path_factory.mktemp("variants-page") / "data")
    try:
        create_users(server)
        site = Site(server, server.key("ingest", "read"), [AB, SMS, MARKUP, SOLO, LIVE])
        # B's recipients open twice as often: called better long before 5,000 profiles.
        _send(
            site,
            generate(
                seed=1919,
                campaign=AB,
                channels=("email",),
                profiles=5000,
                variants=("A", "B"),
                lifts={"B": 2.0},
                **span,
            ),
        )
        _send(
            site,
            generate(
                seed=23, campaign=SMS, channels=("sms",), profiles=600, variants=("X", "Y"), **span
            ),
        )
        _send(
            site,
            generate(
                seed=5,
                campaign=MARKUP,
                channels=("email",),
                profiles=300,
                variants=("A", XSS_VARIANT),
                **span,
            ),
        )
        _send(
            site,
            generate(
                seed=6, campaign=SOLO, channels=("email",), profiles=300, variants=("only",), **span
            ),
        )
        _send(
            site,
            [event(LIVE, type_, variant=v) for v in ("A", "B") for type_ in ("sent", "delivered")],
        )
        yield site
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with browser_for_tests() as chromium:
        yield chromium


def variants_of(site: Site, campaign: str, **params: str) -> dict[str, Any]:
    with site.api() as client:
        response = client.get(f"/v1/campaigns/{quote(campaign, safe='')}/variants", params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def answered(page: Page, tab: str, metric: str) -> None:
    """Until the card holds the answer for `tab` and `metric` (shown or not)."""
    page.wait_for_function(
        "want => (document.querySelector('#variants').dataset.view || '').startsWith(want[0] + '|')"
        " && document.querySelector('#variants').dataset.view.endsWith('|' + want[1])",
        arg=[tab, metric],
    )


def asked(v: Any, campaign: str) -> list[dict[str, list[str]]]:
    """The query of every request for the campaign's variants the page made."""
    path = f"/v1/campaigns/{quote(campaign, safe='')}/variants"
    return [parse_qs(urlsplit(u).query) for u in v.requests if urlsplit(u).path == path]


def shown_rows(page: Page) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = page.locator("#variants-rows tr").evaluate_all(
        """rows => rows.map(r => ({
            variant: r.querySelector('th').textContent, control: r.dataset.control === 'true',
            cells: Object.fromEntries([...r.querySelectorAll('td[data-col]')].map(c => [c.dataset.col, c.dataset.value])),
            lift: r.querySelector('.lift').textContent, verdict: r.querySelector('.verdict').textContent,
        }))"""
    )
    return rows


def same_as_api(page: Page, answer: dict[str, Any]) -> None:
    rows = shown_rows(page)
    assert [r["variant"] for r in rows] == [v["variant"] for v in answer["variants"]]
    for row, want in zip(rows, answer["variants"], strict=True):
        assert int(row["cells"]["exposures"]) == want["exposures"], row
        assert int(row["cells"]["successes"]) == want["successes"], row
        assert float(row["cells"]["rate"]) == pytest.approx(want["rate"]), row
        assert row["control"] == want["control"]


def test_the_card_shows_each_variant_as_the_api_does(browser: Browser, site: Site) -> None:
    answer = variants_of(site, AB, channel="email")
    assert answer["period"] == "life" and answer["winner"] == "B"
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        open_tab(page, site, AB, "email")
        card = page.get_by_role("region", name="Variants", exact=True)
        expect(card).to_be_visible()
        answered(page, "email", "open_rate")
        same_as_api(page, answer)
        options = page.locator("#variants-metric option").evaluate_all("os => os.map(o => o.value)")
        assert options == _rates("email")
        expect(page.get_by_label("Compared on")).to_have_value("open_rate")
        # The page shows its last 24 hours, the card the campaign's whole life (no period asked).
        assert asked(v, AB)[0] == {"channel": ["email"], "metric": ["open_rate"]}
        expect(page.locator("#variants-note")).to_contain_text("over the campaign's whole life")
        control = page.locator("#variants-rows tr[data-variant='A']")
        expect(control.locator(".verdict")).to_have_text("control")
        expect(control.locator(".lift")).to_have_text("–")
        b = page.locator("#variants-rows tr[data-variant='B']")
        chip = b.locator(".verdict")
        expect(chip).to_have_text("better")
        assert chip.evaluate("el => getComputedStyle(el).backgroundColor") == GREEN
        assert "clearly higher than the control's" in (chip.get_attribute("title") or "")
        # The lift as "+95.3 % (+80.1 % to +110.6 %)", the API's relative lift and interval.
        lift = next(x["lift"] for x in answer["variants"] if x["variant"] == "B")
        found = LIFT.match(b.locator(".lift").inner_text())
        assert found, b.locator(".lift").inner_text()
        shown = [float(x) for x in found.groups()]
        want = [lift["relative"] * 100, lift["relative_low"] * 100, lift["relative_high"] * 100]
        assert shown == pytest.approx(want, abs=0.051)
        verdict = page.locator("#variants-verdict")
        expect(verdict).to_have_attribute("data-winner", "B")
        expect(verdict).to_contain_text("Winner: B")
        expect(verdict.locator(".variants-winner")).to_have_text("B")
        card.scroll_into_view_if_needed()
        save_screenshot(page, "variants-card")
        assert not v.errors, v.errors
        assert not v.foreign_requests(site), v.foreign_requests(site)


def test_a_variant_named_in_markup_stays_text(browser: Browser, site: Site) -> None:
    answer = variants_of(site, MARKUP, channel="email")
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        open_tab(page, site, MARKUP, "email")
        answered(page, "email", "open_rate")
        expect(page.locator("#variants")).to_be_visible()
        same_as_api(page, answer)
        name = page.locator(f'#variants-rows tr[data-variant="{XSS_VARIANT}"] th')
        expect(name).to_have_text(XSS_VARIANT)
        expect(page.locator("#campaign-title")).to_have_text(MARKUP)
        page.wait_for_timeout(300)  # an onerror would have fired by now
        assert page.locator("main img").count() == 0
        assert not v.dialogs and not v.errors, (v.dialogs, v.errors)


def test_no_card_for_one_variant_a_tab_without_rates_or_a_refused_answer(
    browser: Browser, site: Site
) -> None:
    assert len(variants_of(site, SOLO, channel="email")["variants"]) == 1
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        open_tab(page, site, SOLO, "email")
        answered(page, "email", "open_rate")
        expect(page.locator("#variants")).to_be_hidden()
        # In-app has no rate to compare: not even asked.
        open_tab(page, site, AB, "inapp")
        expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
        expect(page.locator("#variants")).to_be_hidden()
        assert asked(v, AB) == []
        # A 400 (a period the server refuses, say) hides the card too.
        page.route(
            "**/variants?**",
            lambda route: route.fulfill(
                status=400,
                json={"error": "period: refused"},
                headers={"Content-Type": "application/json"},
            ),
        )
        page.get_by_role("tab", name="Email", exact=True).click()
        answered(page, "email", "open_rate")
        expect(page.locator("#variants")).to_be_hidden()
        assert len(asked(v, AB)) == 1
        assert not v.errors, v.errors


def test_the_sms_tab_compares_click_rates_by_default(browser: Browser, site: Site) -> None:
    answer = variants_of(site, SMS, channel="sms")
    assert answer["metric"] == "click_rate"
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        open_tab(page, site, SMS, "sms")
        answered(page, "sms", "click_rate")
        expect(page.locator("#variants")).to_be_visible()
        expect(page.get_by_label("Compared on")).to_have_value("click_rate")
        options = page.locator("#variants-metric option").evaluate_all("os => os.map(o => o.value)")
        assert options == _rates("sms")
        expect(page.locator("#variants-table thead th").nth(3)).to_have_text("Click rate")
        same_as_api(page, answer)
        assert asked(v, SMS)[0] == {"channel": ["sms"], "metric": ["click_rate"]}
        assert not v.errors, v.errors


def test_the_rate_chosen_is_asked_for_and_kept_per_tab(browser: Browser, site: Site) -> None:
    clicks = variants_of(site, AB, channel="email", metric="click_rate")
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        open_tab(page, site, AB, "email")
        answered(page, "email", "open_rate")
        page.get_by_label("Compared on").select_option("click_rate")
        answered(page, "email", "click_rate")
        expect(page.locator("#variants")).to_have_attribute("data-rate", "click_rate")
        assert asked(v, AB)[-1]["metric"] == ["click_rate"]
        same_as_api(page, clicks)
        expect(page.locator("#variants-table thead th").nth(2)).to_have_text("Unique clicks")
        page.reload()
        answered(page, "email", "click_rate")
        expect(page.get_by_label("Compared on")).to_have_value("click_rate")
        expect(page.locator("#variants")).to_have_attribute("data-rate", "click_rate")
        same_as_api(page, clicks)
        # A rate where less is better reads the API's verdicts the other way round: a clearly
        # higher bounce rate does worse, and the winner is the variant with the lower one.
        page.get_by_label("Compared on").select_option("bounce_rate")
        answered(page, "email", "bounce_rate")
        bounces = variants_of(site, AB, channel="email", metric="bounce_rate")
        same_as_api(page, bounces)
        raw = bounces["variants"][1]["lift"]["verdict"]
        flipped = FLIPPED.get(raw, raw)
        expect(page.locator("#variants-rows tr[data-variant='B'] .verdict")).to_have_text(
            flipped.replace("_", " ")
        )
        winner = {"better": "B", "worse": "A"}.get(flipped, "")
        expect(page.locator("#variants-verdict")).to_have_attribute("data-winner", winner)
        # Another tab keeps its own choice: the email tab's is not the SMS tab's.
        page.get_by_label("Compared on").select_option("delivery_rate")
        answered(page, "email", "delivery_rate")
        open_tab(page, site, SMS, "sms")
        answered(page, "sms", "click_rate")
        expect(page.get_by_label("Compared on")).to_have_value("click_rate")
        assert not v.errors, v.errors


def test_the_period_of_the_address_goes_along(browser: Browser, site: Site) -> None:
    hour = variants_of(site, AB, channel="email", period="1h")
    life = variants_of(site, AB, channel="email")
    assert hour["variants"][0]["exposures"] < life["variants"][0]["exposures"]
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        page.goto(f"{site.page_url(AB, 'email')}&period=1h")
        answered(page, "email", "open_rate")
        assert asked(v, AB)[0] == {"channel": ["email"], "metric": ["open_rate"], "period": ["1h"]}
        same_as_api(page, hour)
        expect(page.locator("#variants-note")).to_contain_text("in the last hour")
        page.select_option("#period", "life")
        page.wait_for_function(
            "() => (document.querySelector('#variants').dataset.view || '').includes('|life|')"
        )
        assert asked(v, AB)[-1]["period"] == ["life"]
        same_as_api(page, life)
        assert not v.errors, v.errors


def test_a_new_variant_appears_after_the_live_update(browser: Browser, site: Site) -> None:
    with visit(browser, site, **LOCALE) as v:
        page = v.page
        times: list[float] = []

        def note(request: Request) -> None:
            if urlsplit(request.url).path.endswith("/variants"):
                times.append(time.monotonic())

        page.on("request", note)
        open_tab(page, site, LIVE, "email")
        answered(page, "email", "open_rate")
        expect(page.locator("#variants-rows tr")).to_have_count(2)
        page.evaluate("window.sameDocument = true")  # gone if the page reloads
        _send(site, [event(LIVE, "delivered", variant="C")])
        row = page.locator("#variants-rows tr[data-variant='C']")
        expect(row).to_be_visible(timeout=LIVE_MS)
        expect(row.locator("td[data-col='exposures']")).to_have_attribute("data-value", "1")
        expect(row.locator(".verdict")).to_have_text("too early")
        expect(page.locator("#variants-verdict")).to_contain_text(
            "Too early: each variant needs at least 1,000 delivered"
        )
        # Several reports in a row: one more request, not one each.
        for _ in range(3):
            _send(site, [event(LIVE, "delivered", variant="C")])
            page.wait_for_timeout(300)
        expect(row.locator("td[data-col='exposures']")).to_have_attribute(
            "data-value", "4", timeout=LIVE_MS
        )
        assert page.evaluate("window.sameDocument === true")
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(times) >= 3 and min(gaps) > 4.5, gaps
        assert not v.errors, v.errors


def test_the_card_fits_a_phone(browser: Browser, site: Site) -> None:
    with visit(browser, site, viewport=PHONE, **LOCALE) as v:
        page = v.page
        open_tab(page, site, AB, "email")
        answered(page, "email", "open_rate")
        card = page.locator("#variants")
        card.scroll_into_view_if_needed()
        page.wait_for_timeout(250)  # scroll cues settle on the next frames
        found = page.evaluate(
            AUDIT,
            {
                "cards": "#variants",
                "headers": [".topbar", ".page-head", "#tabs"],
                "overlap": [".variants-head > *"],
                "print": False,
            },
        )
        save_screenshot(page, "variants-375")
        assert found["problems"] == []
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        box = card.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        wrap = page.locator(".variants-wrap")
        expect(wrap).to_have_attribute("data-more", re.compile("right"))
        expect(page.locator(f"#{wrap.get_attribute('aria-describedby')}")).to_contain_text(
            "Scroll for more columns"
        )
        assert not v.errors, v.errors
