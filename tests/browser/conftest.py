"""Browser tests: Debian's Chromium driven by Playwright against ``ticketflow api`` on a free
loopback port, over a fresh PostgreSQL database (the production path: claims use SKIP LOCKED)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from sqlalchemy.engine import Engine
from sqlmodel import Session

from shared.db import make_engine
from tests.browser.harness import API_KEY, CHROMIUM, seed, serve
from tests.conftest import _truncate_all

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def api_server(_pg_migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(_pg_migrated, tmp_path_factory.mktemp("browser-api")) as base:
        yield base


@pytest.fixture
def browser_db(_pg_migrated: str) -> Iterator[Engine]:
    engine = make_engine(_pg_migrated)
    _truncate_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def seeded(browser_db: Engine) -> list[int]:
    with Session(browser_db) as s:
        return seed(s)


@pytest.fixture(scope="session")
def playwright_() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-chromium.sh (make system-deps)")
    b = playwright_.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield b
    b.close()


@pytest.fixture
def context(browser: Browser, api_server: str) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=api_server, viewport={"width": 1400, "height": 900})
    yield ctx
    ctx.close()


def sign_in(page: Page, name: str, key: str = API_KEY) -> None:
    page.goto("/ui")
    page.fill("#si-name", name)
    page.fill("#si-key", key)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("#queue-list li")


@pytest.fixture
def page(context: BrowserContext) -> Page:
    p = context.new_page()
    p.set_default_timeout(10_000)
    return p
