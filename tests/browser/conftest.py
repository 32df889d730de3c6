"""Browser tests: Debian's Chromium driven by Playwright against ``ticketflow api`` on a free
loopback port, over a fresh PostgreSQL database (the production path: claims use SKIP LOCKED)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from shared.db import make_engine
from tests.browser.harness import CHROMIUM, REVIEWERS, seed, serve
from tests.conftest import _truncate_all
from tests.factories import PASSWORD, make_user


@pytest.fixture(scope="session")
def api_server(_pg_migrated: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(_pg_migrated, tmp_path_factory.mktemp("browser-api")) as base:
        yield base


@pytest.fixture
def browser_db(_pg_migrated: str) -> Iterator[Engine]:
    """The server's database, emptied, with the reviewers ana and bob (password PASSWORD)."""
    engine = make_engine(_pg_migrated)
    _truncate_all(engine)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE audit_event, user_session, api_key, app_user CASCADE"))
    with Session(engine) as s:
        for name in REVIEWERS:
            make_user(s, name)
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


def log_in(page: Page, name: str, password: str = PASSWORD) -> None:
    """Through the login form, as a person does: /ui sends an anonymous visitor there."""
    page.goto("/ui")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def sign_in(page: Page, name: str) -> None:
    log_in(page, name)
    page.wait_for_url("**/ui")
    page.wait_for_selector("#queue-list li")
    expect(page.locator("#me")).to_contain_text(name)


@pytest.fixture
def page(context: BrowserContext) -> Page:
    p = context.new_page()
    p.set_default_timeout(10_000)
    return p
