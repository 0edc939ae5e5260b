"""The browser of the dashboard's browser tests, taken with ``pytest_plugins =
["browser_fixture"]``: Debian's Chromium, headless, one for each test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashboard import browser_for_tests
from playwright.sync_api import Browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with browser_for_tests() as chromium:
        yield chromium
