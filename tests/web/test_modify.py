"""Modify mode in a real browser (SPEC §6, issue 3): resize by the corner, move by the title,
remove and add back, switch a visualisation, Save / Cancel / Reset; layouts per user and tab.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from dashboard import (
    OTHER,
    SALE,
    VIEWER,
    Site,
    open_tab,
    save_screenshot,
    seeded_site,
    visit,
    wait_for_report,
)
from playwright.sync_api import Browser, Page, expect

pytest_plugins = ["browser_fixture"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with seeded_site(tmp_path_factory.mktemp("modify")) as s:
        yield s


def _node(page: Page, wid: str) -> dict[str, int]:
    item = page.locator(f".grid-stack-item:has([data-widget='{wid}'])")
    return {k: int(item.get_attribute(f"gs-{k}") or 0) for k in ("x", "y", "w", "h")}


def _laid_out_as(node: dict[str, int], placed: dict[str, Any]) -> bool:
    """A card where a layout places it; taller and lower only as far as a row above it or its
    own grew to show a long table whole (grid.js fit())."""
    return (
        (node["x"], node["w"]) == (placed["x"], placed["w"])
        and node["y"] >= placed["y"]
        and node["h"] >= placed["h"]
    )


def test_modify_save_reload_another_browser_another_user_reset(
    browser: Browser, site: Site
) -> None:
    with site.api() as client:
        defaults = client.get("/v1/layouts/email").json()
    default_height = next(w for w in defaults["widgets"] if w["id"] == "email.sending_performance")[
        "h"
    ]
    with visit(browser, site) as v:
        page = v.page
        open_tab(page, site, SALE, "email")
        page.get_by_role("button", name="Modify", exact=True).click()
        expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
        # resize by dragging the bottom-right corner (down: the widget is as wide as the grid)
        item = page.locator(".grid-stack-item:has([data-widget='email.sending_performance'])")
        item.evaluate("el => el.scrollIntoView({block: 'start'})")  # room below to drag into
        handle = item.locator(".ui-resizable-se")
        box = handle.bounding_box()
        assert box is not None
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] - 10, box["y"] + 160, steps=12)
        page.mouse.move(box["x"] - 5, box["y"] + 170, steps=4)
        page.mouse.up()
        resized = _node(page, "email.sending_performance")
        assert resized["h"] > default_height, resized
        # remove another, switch a third to a table
        error_reasons = page.locator("[data-widget='email.error_reasons']")
        error_reasons.get_by_role("button", name="Remove").click()
        expect(error_reasons).to_have_count(0)
        add_back = page.get_by_role("button", name="Add Error reasons")
        expect(add_back).to_be_focused()
        categories = page.locator("[data-widget='email.bounce_categories']")
        categories.get_by_label("Visualisation of Bounce categories").select_option("table")
        expect(categories).to_have_attribute("data-visualisation", "table")
        expect(categories.locator("canvas")).to_have_count(0)
        save_screenshot(page, "modify-mode")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("button", name="Modify", exact=True)).to_be_visible()

        def check_saved(p: Page) -> None:
            open_tab(p, site, SALE, "email")
            assert _node(p, "email.sending_performance") == resized
            expect(p.locator("[data-widget='email.error_reasons']")).to_have_count(0)
            expect(p.locator("[data-widget='email.bounce_categories']")).to_have_attribute(
                "data-visualisation", "table"
            )
            expect(p.locator("[data-widget='email.bounce_categories'] table")).to_be_visible()

        page.reload()
        check_saved(page)
        with visit(browser, site) as second:  # the same user in another browser
            check_saved(second.page)
        with visit(browser, site, user=OTHER) as other:  # another user: the default
            open_tab(other.page, site, SALE, "email")
            for placed in defaults["widgets"]:
                assert _laid_out_as(_node(other.page, placed["id"]), placed), placed
        # Cancel forgets what was not saved; Reset brings back the default
        page.get_by_role("button", name="Modify", exact=True).click()
        page.get_by_role("button", name="Add Error reasons").click()
        expect(page.locator("[data-widget='email.error_reasons']")).to_be_visible()
        page.get_by_role("button", name="Cancel", exact=True).click()
        expect(page.locator("[data-widget='email.error_reasons']")).to_have_count(0)
        page.get_by_role("button", name="Modify", exact=True).click()
        page.get_by_role("button", name="Reset", exact=True).click()
        expect(page.locator("[data-widget='email.error_reasons']")).to_be_visible()
        for placed in defaults["widgets"]:
            assert _laid_out_as(_node(page, placed["id"]), placed), placed
            expect(page.locator(f"[data-widget='{placed['id']}']")).to_have_attribute(
                "data-visualisation", placed["visualisation"]
            )
        assert not v.errors, v.errors


def test_modify_mode_works_from_the_keyboard(browser: Browser, site: Site) -> None:
    with visit(browser, site, user=OTHER) as v:
        page = v.page
        open_tab(page, site, SALE, "push")
        page.get_by_role("button", name="Modify", exact=True).focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name="Save", exact=True)).to_be_focused()
        before = _node(page, "push.sending_performance")
        page.get_by_role("button", name="Narrower Push sending performance").focus()
        page.keyboard.press("Enter")
        page.keyboard.press("Enter")
        assert _node(page, "push.sending_performance")["w"] == before["w"] - 2
        page.get_by_role("button", name="Save", exact=True).focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("button", name="Modify", exact=True)).to_be_focused()
        page.reload()
        wait_for_report(page, "push")
        assert _node(page, "push.sending_performance")["w"] == before["w"] - 2
        # tabs: arrow keys move between them and open them
        page.get_by_role("tab", name="Push").focus()
        page.keyboard.press("ArrowRight")
        wait_for_report(page, "sms")
        expect(page.get_by_role("tab", name="SMS")).to_be_focused()
        expect(page).to_have_url(re.compile(r"tab=sms"))


def test_drag_a_widget_by_its_title_to_move_it(browser: Browser, site: Site) -> None:
    with visit(browser, site, viewport={"width": 1280, "height": 2400}) as v:  # all in view
        page = v.page
        open_tab(page, site, SALE, "push")
        assert _node(page, "push.failed")["y"] > 0
        page.get_by_role("button", name="Modify", exact=True).click()
        # the default layout has no empty cells: make some right of the first widget
        narrower = page.get_by_role("button", name="Narrower Push sending performance")
        for _ in range(6):
            narrower.click()
        assert _node(page, "push.sending_performance") == {"x": 0, "y": 0, "w": 6, "h": 4}
        title = page.locator("[data-widget='push.failed'] .widget-head")
        target = page.locator("[data-widget='push.sending_performance']").bounding_box()
        start = title.bounding_box()
        assert target is not None and start is not None
        page.mouse.move(start["x"] + 40, start["y"] + start["height"] / 2)
        page.mouse.down()
        # to the empty cells right of the first widget
        x, y = target["x"] + target["width"] + 60, target["y"] + 20
        page.mouse.move(x, y, steps=20)
        page.mouse.move(x + 5, y + 5, steps=5)
        page.mouse.up()
        assert _node(page, "push.failed") == {"x": 6, "y": 0, "w": 4, "h": 4}
        page.get_by_role("button", name="Move left Failed notifications").click()
        assert _node(page, "push.failed")["x"] < 6
        page.get_by_role("button", name="Cancel", exact=True).click()
        assert _node(page, "push.failed")["y"] > 0


def test_a_viewer_cannot_modify(browser: Browser, site: Site) -> None:
    with visit(browser, site, user=VIEWER) as v:
        open_tab(v.page, site, SALE, "email")
        expect(v.page.locator("[data-widget]").first).to_be_visible()
        expect(v.page.get_by_role("button", name="Modify")).to_have_count(0)
