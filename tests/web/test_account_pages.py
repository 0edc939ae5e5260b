"""The account page (password change, from the user menu) and the invitation page in a real
browser (issue 16): Debian's Chromium, headless, driven by Playwright against a
`livereport serve` child process."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from dashboard import Site, save_screenshot, visit
from playwright.sync_api import Browser, Page, expect

from conftest import start_app
from livereport.store.metadata import Metadata

pytest_plugins = ["browser_fixture"]

PHONE = {"width": 375, "height": 740}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = start_app(tmp_path_factory.mktemp("accounts") / "data")
    try:
        yield Site(server, server.key("admin"))
    finally:
        server.stop()


def _user(site: Site, role: str = "editor") -> tuple[str, str]:
    user = (f"{role}-{uuid.uuid4().hex[:8]}@example.com", f"{role}-password-{uuid.uuid4().hex[:6]}")
    site.server.create_user(user[0], role, user[1])
    return user


def _signs_in(site: Site, user: tuple[str, str]) -> bool:
    answer = httpx.post(
        f"{site.url}/v1/signin",
        json={"email": user[0], "password": user[1]},
        headers={"X-Requested-With": "livereport"},
    )
    return answer.status_code == 200


def _invite(site: Site, email: str, role: str = "editor") -> str:
    with site.api() as admin:
        made = admin.post("/v1/admin/invites", json={"email": email, "role": role})
    assert made.status_code == 200, made.text
    link: str = made.json()["link"]
    return link


def _fits(page: Page) -> bool:
    """Nothing wider than the phone's screen (no sideways scrolling; a mobile browser widens
    its layout viewport to the content, so the screen's width is the measure)."""
    return int(page.evaluate("document.documentElement.scrollWidth")) <= PHONE["width"]


def _change(page: Page, current: str, new: str, repeat: str | None = None) -> None:
    page.get_by_label("Current password", exact=True).fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Repeat the new password", exact=True).fill(new if repeat is None else repeat)
    page.get_by_role("button", name="Change password").click()


def test_a_user_changes_their_password_from_the_user_menu(browser: Browser, site: Site) -> None:
    user = _user(site, "viewer")
    new = "changed-in-the-browser"
    with visit(browser, site, user) as v, visit(browser, site, user) as elsewhere:
        page = v.page
        page.goto(f"{site.url}/campaigns")
        page.locator(".account").get_by_role("link", name=user[0]).click()
        expect(page).to_have_url(f"{site.url}/account")
        expect(page.locator("#me-email")).to_have_text(user[0])
        expect(page.locator("#me-role")).to_contain_text("Viewer")
        alert = page.locator("#password-error")
        _change(page, user[1], "short")
        expect(alert).to_contain_text("at least 10 characters (it has 5)")
        _change(page, user[1], new, repeat=new + "!")
        expect(alert).to_contain_text("The two new passwords differ")
        _change(page, "not-my-password", new)
        expect(alert).to_contain_text("this is not your current password")
        expect(page.get_by_label("Current password", exact=True)).to_be_focused()
        assert _signs_in(site, user)  # the refused tries changed nothing
        _change(page, user[1], new)
        done = page.get_by_role("status")
        expect(done).to_have_text("Your password is changed. 2 other sessions were signed out.")
        expect(alert).to_be_empty()
        expect(page.get_by_label("New password", exact=True)).to_have_value("")
        save_screenshot(page, "account-password-changed")
        # The other browser's session (and the API sign-in above) ended; this one goes on.
        elsewhere.page.goto(f"{site.url}/campaigns")
        expect(elsewhere.page).to_have_url(re.compile(r"/signin\?next=%2Fcampaigns$"))
        page.reload()
        expect(page).to_have_url(f"{site.url}/account")
        expect(page.locator("#me-email")).to_have_text(user[0])
        assert not v.errors, v.errors
        assert not v.foreign_requests(site)
    assert not _signs_in(site, user)
    assert _signs_in(site, (user[0], new))


def test_the_account_page_fits_a_phone(browser: Browser, site: Site) -> None:
    user = _user(site)
    with visit(browser, site, user, viewport=PHONE, is_mobile=True, has_touch=True) as v:
        v.page.goto(f"{site.url}/account")
        expect(v.page.get_by_role("button", name="Change password")).to_be_visible()
        assert _fits(v.page)
        save_screenshot(v.page, "account-phone", full_page=True)


def test_an_invited_person_chooses_a_password_and_is_signed_in(
    browser: Browser, site: Site
) -> None:
    email = f"guest-{uuid.uuid4().hex[:6]}@example.com"
    link = _invite(site, email)
    with visit(browser, site, user=None) as v:
        page = v.page
        page.goto(link)
        summary = page.locator("#invite-summary")
        expect(summary).to_have_text(
            f"Join default as an editor with the email {email}. Choose a password to create your account."
        )
        expect(page.get_by_label("Email")).to_have_value(email)
        expect(page.get_by_label("Invitation token")).to_be_hidden()  # it came with the link
        alert = page.locator("#invite-error")
        page.get_by_label("Password", exact=True).fill("short")
        page.get_by_label("Repeat the password", exact=True).fill("short")
        page.get_by_role("button", name="Create my account").click()
        expect(alert).to_contain_text("The password needs at least 10 characters")
        page.get_by_label("Password", exact=True).fill("guest-password-1")
        page.get_by_label("Repeat the password", exact=True).fill("guest-password-2")
        page.get_by_role("button", name="Create my account").click()
        expect(alert).to_contain_text("differ")
        save_screenshot(page, "invite-form")
        page.get_by_label("Repeat the password", exact=True).fill("guest-password-1")
        page.get_by_role("button", name="Create my account").click()
        expect(page).to_have_url(f"{site.url}/campaigns")  # signed in at once
        expect(page.locator(".account").get_by_role("link", name=email)).to_be_visible()
        # The link works once: opened again, it says so and offers the sign-in.
        page.goto(link)
        problem = page.get_by_role("alert").filter(has_text="already used")
        expect(problem).to_contain_text(f"sign in at /signin as {email}")
        expect(page.locator("#invite-form")).to_be_hidden()
        expect(problem.get_by_role("link", name="Go to sign-in")).to_be_visible()
        assert not v.errors, v.errors
        assert not v.foreign_requests(site)
    assert _signs_in(site, (email, "guest-password-1"))


def test_expired_and_unknown_invitations_say_what_to_do(browser: Browser, site: Site) -> None:
    metadata = Metadata(site.server.data / "metadata.sqlite3")
    late, _ = metadata.create_invite(
        metadata.org(), f"late-{uuid.uuid4().hex[:6]}@example.com", "viewer", days=-1
    )
    with visit(browser, site, user=None) as v:
        page = v.page
        page.goto(f"{site.url}/invite#{late}")
        expect(page.locator("#invite-problem")).to_contain_text("This invitation expired on")
        expect(page.locator("#invite-problem")).to_contain_text("ask an admin for a new one")
        expect(page.locator("#invite-form")).to_be_hidden()
        save_screenshot(page, "invite-expired")
        page.goto(f"{site.url}/invite#inv_cut-sho")
        page.reload()  # a new fragment alone does not load the page again
        expect(page.locator("#invite-problem")).to_contain_text(
            "This invitation is unknown: check that the link"
        )
        assert not v.errors, v.errors


def test_a_token_without_a_link_can_be_pasted(browser: Browser, site: Site) -> None:
    email = f"paste-{uuid.uuid4().hex[:6]}@example.com"
    token = _invite(site, email, "viewer").split("#", 1)[1]
    with visit(browser, site, user=None, viewport=PHONE, is_mobile=True, has_touch=True) as v:
        page = v.page
        page.goto(f"{site.url}/invite")
        field = page.get_by_label("Invitation token")
        expect(field).to_be_visible()
        assert _fits(page)
        save_screenshot(page, "invite-phone", full_page=True)
        page.get_by_label("Password", exact=True).fill("pasted-password-1")
        page.get_by_label("Repeat the password", exact=True).fill("pasted-password-1")
        field.fill("not a token")
        page.get_by_role("button", name="Create my account").click()
        expect(page.locator("#invite-error")).to_contain_text("it starts with inv_")
        field.fill("inv_nothing-like-it")
        page.get_by_role("button", name="Create my account").click()
        expect(page.locator("#invite-error")).to_contain_text("This invitation is unknown")
        expect(field).to_be_visible()  # a typed token can be corrected
        field.fill(token)
        page.get_by_role("button", name="Create my account").click()
        expect(page).to_have_url(f"{site.url}/campaigns")
        assert not v.errors, v.errors
    assert _signs_in(site, (email, "pasted-password-1"))


def test_hostile_names_in_an_invitation_show_as_text(browser: Browser, site: Site) -> None:
    metadata = Metadata(site.server.data / "metadata.sqlite3")
    org = metadata.create_org(f"<img src=x onerror=alert('org')>{uuid.uuid4().hex[:4]}")
    email = f"<script>alert('email')</script>{uuid.uuid4().hex[:4]}@example.com"
    token, invite = metadata.create_invite(org, email, "admin", days=1)
    with visit(browser, site, user=None) as v:
        page = v.page
        page.goto(f"{site.url}/invite#{token}")
        summary = page.locator("#invite-summary")
        expect(summary).to_contain_text(
            f"Join {org.name} as an admin with the email {invite.email}."
        )
        assert summary.locator("img, script").count() == 0
        page.get_by_label("Password", exact=True).fill("hostile-password-1")
        page.get_by_label("Repeat the password", exact=True).fill("hostile-password-1")
        page.get_by_role("button", name="Create my account").click()
        expect(page).to_have_url(f"{site.url}/campaigns")
        page.goto(f"{site.url}/account")
        expect(page.locator("#me-email")).to_have_text(invite.email)
        expect(page.locator(".account").get_by_role("link", name=invite.email)).to_be_visible()
        page.goto(f"{site.url}/invite#{token}")
        expect(page.locator("#invite-problem")).to_contain_text(
            f"sign in at /signin as {invite.email}"
        )
        assert page.locator("main img:not(.brand img), main script").count() == 0
        assert v.dialogs == [] and not v.errors, (v.dialogs, v.errors)
