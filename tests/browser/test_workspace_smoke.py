"""First light: the workspace loads in Chromium and opens the most urgent ticket on j."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_the_queue_loads_and_j_opens_the_most_urgent(page: Page, seeded: list[int]) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, "ana")
    expect(page.locator("#queue-list li")).to_have_count(5)
    page.keyboard.press("j")
    expect(page.locator("#subject")).to_have_text("Charged twice for order 4411")
    expect(page.locator("#thread .message")).to_have_count(2)
    assert not errors, errors
