"""The dashboard's layout on a phone, a laptop, a desktop and paper (issue 16, must-fix 4 and 5):
at 390 px, 1,024 px and 1,440 px and in print media, on every tab of a campaign with data, no
widget's content is cut off without a cue or outside its card, no two widgets or header elements
overlap, the phone's single column follows the desktop's reading order, and the rates of the
statistics table are in sight at 1,440 px without scrolling. A reasons table (bounce, error and
exclusion reasons) is shown whole, every row and column, even with every default bounce reason;
the default layout of every tab leaves no empty cell between its widgets; and the top bar of a
375 px phone keeps a long email on the brand's row, cut with an ellipsis. The checks run in the
page (layout_audit.js) on the boxes the browser laid out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from dashboard import (
    SALE,
    TABS,
    Site,
    event,
    open_tab,
    save_screenshot,
    seeded_site,
)
from dashboard import visit as visit_site
from playwright.sync_api import Browser, Page, expect

from conftest import post
from livereport.bounces.rules import DEFAULT_CATEGORY
from livereport.report.catalogue import METRICS, WIDGETS_BY_ID, Format

pytest_plugins = ["browser_fixture"]

AUDIT = (Path(__file__).resolve().parent / "layout_audit.js").read_text(encoding="utf-8")
#: A phone (iPhone 12 to 15), a small laptop, a desktop; heights as those screens have.
SCREENS = {390: 844, 1024: 768, 1440: 900}
#: The page's width on paper, in CSS pixels (96 a inch) less the print style's 12 mm margins.
PAPER = {"a4-portrait": 703, "a4-landscape": 1032}
#: The rates of the email statistics table.
RATES = sorted(
    n for n in WIDGETS_BY_ID["email.statistics"].metrics if METRICS[n].format == Format.RATE
)
REPORT = {
    "cards": "[data-widget]",
    "headers": [".topbar", ".page-head", "#tabs", "#tab-problem"],
    "overlap": [
        ".topbar .brand",
        ".topbar .crumbs",
        "#account-email",
        "#signout",
        ".title-block > *",
        "#controls > *",
        "#tabs",
    ],
    "inSight": ", ".join(f"[data-widget$='.statistics'] [data-metric='{m}']" for m in RATES),
    # every row of a reasons table, whatever it is drawn beside: no scrolling box may cut one
    "whole": "[data-kind='reasons'] .table-wrap tr",
}
CAMPAIGNS = {
    "cards": ".card",
    "headers": [".topbar", ".page-head"],
    "overlap": [
        ".topbar .brand",
        ".topbar .crumbs",
        "#account-email",
        "#signout",
        ".page-head h1",
        "#list-summary",
        ".page-head .controls > *",
    ],
}


#: A user whose email is far wider than a phone's top bar.
LONG_EMAIL = (
    "maximilian.alexander.von-hohenzollern-sigmaringen@marketing-operations.example-enterprise.com",
    "long-email-password-1",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with seeded_site(tmp_path_factory.mktemp("layout")) as s:
        # Every default bounce reason, a different number of times each: a long reasons table.
        bounces = [
            event(SALE, "bounce", reason=str(reason), bounce=str(category), execution="evening")
            for n, (reason, category) in enumerate(DEFAULT_CATEGORY.items())
            for _ in range(len(DEFAULT_CATEGORY) - n)
        ]
        with s.api() as client:
            post(client, bounces)
        email, password = LONG_EMAIL
        s.server.create_user(email, "viewer", password)
        yield s


def audit(page: Page, options: dict[str, Any], *, paper: bool = False) -> dict[str, Any]:
    page.wait_for_timeout(250)  # charts and scroll cues settle on the next frames
    result: dict[str, Any] = page.evaluate(AUDIT, {**options, "print": paper})
    return result


def _tour(browser: Browser, site: Site, width: int, paper: int | None = None) -> dict[str, Any]:
    """Every tab of the seeded campaign audited on a screen `width` wide, or printed on paper
    `paper` wide after being opened on that screen, as a reader prints the page they see."""
    height = SCREENS.get(width, 900)
    found: dict[str, Any] = {}
    with visit_site(browser, site, viewport={"width": width, "height": height}) as v:
        page = v.page
        for tab in TABS:
            open_tab(page, site, SALE, tab)
            if paper is None:
                found[tab] = audit(page, REPORT)
                save_screenshot(page, f"layout-{width}-{tab}", full_page=True)
            else:
                page.emulate_media(media="print")
                page.set_viewport_size({"width": paper, "height": height})
                found[tab] = audit(page, REPORT, paper=True)
                save_screenshot(page, f"layout-{paper}-print-{tab}", full_page=True)
                page.set_viewport_size({"width": width, "height": height})
                page.emulate_media(media="screen")
        page.goto(f"{site.url}/campaigns")
        page.locator(f'tr[data-campaign="{SALE}"]').wait_for()
        if paper is not None:
            page.emulate_media(media="print")
            page.set_viewport_size({"width": paper, "height": height})
        found["campaign list"] = audit(page, CAMPAIGNS, paper=paper is not None)
        save_screenshot(page, f"layout-{paper or width}-campaign-list", full_page=True)
        assert not v.errors, v.errors
        assert not v.foreign_requests(site)
    return found


@pytest.fixture(scope="module")
def tour(browser: Browser, site: Site) -> Callable[..., dict[str, Any]]:
    """The audits of a screen width (or of paper after a 1,440 px screen), made once a module."""

    @cache
    def run(width: int, paper: int | None = None) -> dict[str, Any]:
        return _tour(browser, site, width, paper)

    return run


def _problems(found: dict[str, Any]) -> dict[str, list[str]]:
    return {page: result["problems"] for page, result in found.items() if result["problems"]}


@pytest.mark.parametrize("width", SCREENS)
def test_nothing_cut_off_or_overlapping_on_screen(
    tour: Callable[..., dict[str, Any]], width: int
) -> None:
    found = tour(width)
    assert all(found[tab]["cards"] for tab in TABS), "every tab shows its widgets"
    assert _problems(found) == {}


@pytest.mark.parametrize("paper", PAPER)
def test_nothing_cut_off_or_overlapping_on_paper(
    tour: Callable[..., dict[str, Any]], paper: str
) -> None:
    found = tour(1440, PAPER[paper])
    assert all(found[tab]["cards"] for tab in TABS), "every tab prints its widgets"
    assert _problems(found) == {}


def _reading_order(cards: list[dict[str, Any]]) -> list[str]:
    """Row by row from the top, left to right in a row."""
    return [c["id"] for c in sorted(cards, key=lambda c: (round(c["top"]), c["left"]))]


def test_the_phone_shows_one_column_in_the_desktop_reading_order(
    tour: Callable[..., dict[str, Any]],
) -> None:
    desktop, laptop, phone = tour(1440), tour(1024), tour(390)
    for tab in TABS:
        cards = phone[tab]["cards"]
        assert len(cards) > 1, tab
        # one column: every card as wide as the others, each below the one before
        assert max(c["left"] for c in cards) - min(c["left"] for c in cards) < 1, tab
        assert max(c["width"] for c in cards) - min(c["width"] for c in cards) < 1, tab
        stacked = sorted(cards, key=lambda c: c["top"])
        for above, below in pairwise(stacked):
            assert below["top"] >= above["top"] + above["height"] - 1, (tab, above, below)
        order = [c["id"] for c in stacked]
        assert order == _reading_order(desktop[tab]["cards"]), tab
        assert order == _reading_order(laptop[tab]["cards"]), tab


def test_the_rates_of_the_statistics_table_are_in_sight_at_1440(
    tour: Callable[..., dict[str, Any]],
) -> None:
    email = tour(1440)["email"]
    assert email["checked"] >= 3 * len(RATES)  # two executions and the total, each rate
    assert email["hidden"] == []


def test_a_table_too_wide_for_a_phone_says_so_and_scrolls_from_the_keyboard(
    browser: Browser, site: Site
) -> None:
    with visit_site(browser, site, viewport={"width": 390, "height": 844}) as v:
        page = v.page
        open_tab(page, site, SALE, "campaign")
        box = page.locator("[data-widget='campaign.channels'] .table-wrap")
        expect(box).to_have_attribute("data-more", "right")
        cue = page.locator(f"#{box.get_attribute('aria-describedby')}")
        expect(cue).to_be_visible()
        expect(cue).to_have_text("→ Scroll for more columns")
        box.focus()  # the Tab key reaches it: it has tabindex 0 and a name
        expect(box).to_have_accessible_name("Channels table (scrolls)")
        for _ in range(40):  # the arrow key scrolls a few columns' worth at a time
            page.keyboard.press("ArrowRight")
        expect(box).to_have_attribute("data-more", "left")
        expect(cue).to_have_text("← Scroll for more columns")
        assert box.evaluate("el => el.scrollLeft + el.clientWidth >= el.scrollWidth - 1")
        # the last column is now in sight: its cells are inside the box
        last = page.locator("[data-widget='campaign.channels'] tfoot td").last
        inside = box.evaluate(
            """(el, cell) => { const b = el.getBoundingClientRect(), c = cell.getBoundingClientRect();
                return c.left >= b.left - 1 && c.right <= b.right + 1; }""",
            last.element_handle(),
        )
        assert inside
        assert not v.errors, v.errors


def test_every_bounce_reason_is_in_the_seeded_campaign(site: Site) -> None:
    """Guard the data of the tests above: the bounce reasons table is as long as it gets."""
    widgets = {w["id"]: w for w in site.report(SALE, "email")["widgets"]}
    reasons = {r["key"] for r in widgets["email.bounce_reasons"]["data"]["rows"]}
    assert reasons >= {str(r) for r in DEFAULT_CATEGORY}


def holes(cards: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """The empty cells (column, row) of a 12-column grid above its lowest widget's bottom."""
    taken = {
        (x, y)
        for g in (c["grid"] for c in cards)
        for x in range(g["x"], g["x"] + g["w"])
        for y in range(g["y"], g["y"] + g["h"])
    }
    bottom = max(c["grid"]["y"] + c["grid"]["h"] for c in cards)
    return [(x, y) for y in range(bottom) for x in range(12) if (x, y) not in taken]


def test_the_default_layouts_leave_no_holes(
    tour: Callable[..., dict[str, Any]], site: Site
) -> None:
    """As the server lays a tab out for a user who never changed it, and as the grid shows it
    on a desktop and a laptop (where a long table's row may have grown), every cell is taken."""
    with site.api() as client:  # an API key is answered the default layout
        for tab in TABS:
            response = client.get(f"/v1/layouts/{tab}")
            assert response.status_code == 200, response.text
            layout = response.json()
            assert layout["default"] and not layout["removed"], tab
            assert holes([{"grid": p} for p in layout["widgets"]]) == [], tab
    for width in (1440, 1024):
        for tab in TABS:
            cards = tour(width)[tab]["cards"]
            assert all(c["grid"] for c in cards), (width, tab)
            assert holes(cards) == [], (width, tab, [c["grid"] | {"id": c["id"]} for c in cards])


def test_a_long_email_on_a_phone_keeps_to_the_top_bar(browser: Browser, site: Site) -> None:
    """375 px wide: the brand, the email and Sign out share the first row, the email cut with an
    ellipsis (its title shows it whole), the breadcrumb below; nothing spills or overlaps."""
    with visit_site(browser, site, user=LONG_EMAIL, viewport={"width": 375, "height": 812}) as v:
        page = v.page
        page.goto(f"{site.url}/campaigns")
        page.locator(f'tr[data-campaign="{SALE}"]').wait_for()
        email = page.locator("#account-email")
        expect(email).to_have_text(LONG_EMAIL[0])
        found = audit(page, CAMPAIGNS)
        save_screenshot(page, "layout-375-long-email")
        assert found["problems"] == []
        boxes = {
            name: page.locator(selector).bounding_box()
            for name, selector in (
                ("bar", ".topbar"),
                ("brand", ".topbar .brand"),
                ("email", "#account-email"),
                ("signout", "#signout"),
                ("crumbs", ".topbar .crumbs"),
            )
        }
        assert all(boxes.values()), boxes
        bar, brand, mail, signout, crumbs = (
            boxes[k] or {} for k in ("bar", "brand", "email", "signout", "crumbs")
        )
        middle = {k: b["y"] + b["height"] / 2 for k, b in boxes.items() if b}
        assert abs(middle["email"] - middle["brand"]) < 4, boxes  # one row
        assert abs(middle["signout"] - middle["brand"]) < 4, boxes
        assert crumbs["y"] >= brand["y"] + brand["height"] - 1, boxes  # the breadcrumb below
        assert signout["x"] + signout["width"] <= 375 and mail["x"] + mail["width"] <= signout["x"]
        assert bar["height"] <= 100, boxes  # two rows at most
        cut = email.evaluate(
            "el => el.scrollWidth > el.clientWidth && getComputedStyle(el).textOverflow"
        )
        assert cut == "ellipsis"
        assert LONG_EMAIL[0] in (email.get_attribute("title") or "")
        assert not v.errors, v.errors
