"""Helpers of the dashboard tests: a seeded server, users, Debian's Chromium through Playwright,
and reading numbers off the page the way an outside script would (data-widget, data-metric).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from conftest import Server, post, start_app
from livereport import simulate

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
TABS = {
    "campaign": "Campaign",
    "email": "Email",
    "inapp": "In-app",
    "push": "Push",
    "sms": "SMS",
    "web": "Web",
    "directmail": "Direct mail",
}

EDITOR = ("ed@example.com", "editor-password-1")
OTHER = ("olga@example.com", "editor-password-2")
VIEWER = ("vic@example.com", "viewer-password-3")

SALE = "web-sale"
XSS_CAMPAIGN = "<script>alert('campaign')<script>\"><img src=x onerror=alert('id')>"
XSS_REASON = "<script>alert('reason')</script>"
XSS_ELEMENT = "\"><img src=x onerror=alert('element')>"


@dataclass
class Site:
    """A running server with users, a key and campaigns to look at."""

    server: Server
    key: str
    campaigns: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def api(self) -> httpx.Client:
        return self.server.client(self.key)

    def report(self, campaign: str, tab: str, execution: str | None = None) -> dict[str, Any]:
        params = {"tab": tab, **({"execution": execution} if execution else {})}
        with self.api() as client:
            response = client.get(f"/v1/campaigns/{quote(campaign, safe='')}/report", params=params)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def page_url(self, campaign: str, tab: str | None = None) -> str:
        return f"{self.url}/campaigns/{quote(campaign, safe='')}" + (f"?tab={tab}" if tab else "")


def event(
    campaign: str, type_: str, channel: str | None = "email", **fields: Any
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "time": datetime.now(UTC).isoformat(),
        "campaign": campaign,
        "type": type_,
        "profile": f"p-{uuid.uuid4().hex[:8]}",
        **({"channel": channel} if channel else {}),
        **fields,
    }


def create_users(server: Server) -> None:
    for (email, password), role in ((EDITOR, "editor"), (OTHER, "editor"), (VIEWER, "viewer")):
        server.create_user(email, role, password)


def seed(server: Server) -> Site:
    """A realistic campaign on every channel, and one whose strings try to inject markup."""
    create_users(server)
    site = Site(server, server.key("ingest", "read"), [SALE, XSS_CAMPAIGN])
    now = datetime.now(UTC)
    events = simulate.generate(
        seed=7,
        campaign=SALE,
        profiles=600,
        start=now - timedelta(hours=3),
        end=now,
        executions=("morning", "evening"),
    )
    with httpx.Client(timeout=60) as client:
        result = simulate.post_events(client, site.url, site.key, events)
    assert result["rejected"] == 0, result
    with site.api() as client:
        post(
            client,
            [
                event(XSS_CAMPAIGN, "entered", None),
                event(XSS_CAMPAIGN, "sent"),
                event(XSS_CAMPAIGN, "excluded", reason=XSS_REASON),
                event(XSS_CAMPAIGN, "excluded", reason='=HYPERLINK("http://x")'),
                event(XSS_CAMPAIGN, "impression", "web", element=XSS_ELEMENT),
                event(XSS_CAMPAIGN, "interaction", "web", element=XSS_ELEMENT, interaction="click"),
            ],
        )
    return site


@contextmanager
def started_site(directory: Path, campaigns: list[str], *, process: bool = False) -> Iterator[Site]:
    """A server of its own on `directory`, with the users and an ingest and read key for
    these campaigns (the test sends their events), stopped afterwards: in this process, or
    with `process` a `livereport serve` of its own."""
    server = Server(directory / "data").start() if process else start_app(directory / "data")
    try:
        create_users(server)
        yield Site(server, server.key("ingest", "read"), campaigns)
    finally:
        server.stop()


@contextmanager
def seeded_site(directory: Path) -> Iterator[Site]:
    """A server of its own on `directory`, seeded, stopped afterwards."""
    server = start_app(directory / "data")
    try:
        yield seed(server)
    finally:
        server.stop()


@contextmanager
def browser_for_tests() -> Iterator[Browser]:
    """Debian's Chromium, headless, with nothing that calls home."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `./dev test` installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Visit:
    """A browser context of one user, with every request it made and every dialog it saw."""

    context: BrowserContext
    page: Page
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign_requests(self, site: Site) -> list[str]:
        own = urlsplit(site.url).netloc
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != own
        ]


@contextmanager
def visit(
    browser: Browser, site: Site, user: tuple[str, str] | None = EDITOR, **options: Any
) -> Iterator[Visit]:
    """A fresh context (its own cookies), signed in as `user` through the API, closed after."""
    options.setdefault("viewport", VIEWPORT)
    context = browser.new_context(accept_downloads=True, **options)
    page = context.new_page()
    v = Visit(context, page)
    context.on("request", lambda request: v.requests.append(request.url))
    page.on("dialog", lambda dialog: (v.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: v.errors.append(str(error)))
    try:
        if user is not None:
            sign_in(context, site, user)
        yield v
    finally:
        context.close()


def sign_in(context: BrowserContext, site: Site, user: tuple[str, str]) -> None:
    response = context.request.post(
        f"{site.url}/v1/signin",
        data={"email": user[0], "password": user[1]},
        headers={"X-Requested-With": "livereport"},
    )
    assert response.status == 200, response.text()


def open_tab(page: Page, site: Site, campaign: str, tab: str) -> None:
    """Open a campaign on a tab and wait until its report is drawn."""
    page.goto(site.page_url(campaign, tab))
    wait_for_report(page, tab)


def wait_for_report(page: Page, tab: str) -> None:
    page.get_by_role("tab", name=TABS[tab], exact=True).wait_for()
    page.wait_for_function(
        """tab => document.querySelector(`[role=tab][aria-selected=true]`)?.dataset.tab === tab
           && (document.querySelector('[data-widget]') || !document.querySelector('#tab-empty').hidden)""",
        arg=tab,
    )


def shown_numbers(page: Page) -> list[dict[str, Any]]:
    """Every number on the page, as an outside script reads it."""
    result: list[dict[str, Any]] = page.evaluate(
        """() => [...document.querySelectorAll('[data-widget] [data-metric]')].map(el => {
            // the row's key, or the cell's own (a statistics table: a column per execution)
            const row = el.closest('tr');
            const key = el.dataset.key ?? (row ? row.dataset.key : undefined);
            return {
              widget: el.closest('[data-widget]').dataset.widget,
              metric: el.dataset.metric, value: el.dataset.value, text: el.textContent,
              key: key === undefined ? null : key,
              total: !!(el.dataset.total || (row && row.dataset.total)),
              visible: !!el.offsetParent,
            };
        })"""
    )
    return result


def expected_value(widget: dict[str, Any], shown: dict[str, Any]) -> Any:
    """The API's value for a number shown in a widget (tile, table cell or legend)."""
    data = widget["data"]
    metric = shown["metric"]
    if widget["kind"] == "kpi":
        return data["metrics"][metric]
    if widget["kind"] == "series":
        return data["series"][metric][data["t"].index(shown["key"])]
    if shown["total"]:
        return (1 if data["rows"] else None) if metric == "share" else data["total"][metric]
    row = next(r for r in data["rows"] if r["key"] == shown["key"])
    return row["share"] if metric == "share" else row["metrics"][metric]


def same_number(shown: str, expected: Any) -> bool:
    if expected is None:
        return shown == ""
    return shown != "" and float(shown) == float(expected)


def save_screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
