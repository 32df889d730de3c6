"""Security as a browser sees it: login and logout, a wrong password, the CSP refusing inline
script, and a write without the CSRF token refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from shared.models import Review, Ticket
from tests.browser.conftest import log_in, sign_in

pytestmark = pytest.mark.browser


def test_login_and_logout(page: Page, seeded: list[int]) -> None:
    page.goto("/ui")
    assert "/login" in page.url  # nobody is let in without logging in
    sign_in(page, "ana")
    expect(page.locator("#me")).to_have_text("ana (reviewer)")
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto("/ui")
    assert "/login" in page.url  # the session is gone, not just the page
    r = page.request.get("/review")
    assert r.status == 401


def test_a_wrong_password_is_refused(page: Page, seeded: list[int]) -> None:
    log_in(page, "ana", "not her password")
    expect(page.locator("[role=alert]")).to_be_visible()
    assert "/login" in page.url
    assert page.request.get("/review").status == 401


def test_the_csp_blocks_injected_inline_script(page: Page, seeded: list[int]) -> None:
    sign_in(page, "ana")
    csp = page.request.get("/ui").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    ran = page.evaluate(
        """() => new Promise((resolve) => {
            const seen = [];
            document.addEventListener("securitypolicyviolation",
              (e) => seen.push(e.violatedDirective));
            window.__ran = false;
            const s = document.createElement("script");
            s.textContent = "window.__ran = true";
            document.body.appendChild(s);
            const b = document.createElement("button");
            b.setAttribute("onclick", "window.__ran = true");
            document.body.appendChild(b);
            b.click();
            setTimeout(() => resolve({ran: window.__ran, seen}), 200);
        })"""
    )
    assert ran["ran"] is False
    assert any(d.startswith("script-src") for d in ran["seen"]), ran


def test_a_write_without_the_csrf_token_is_refused(
    page: Page, seeded: list[int], browser_db: Engine
) -> None:
    sign_in(page, "ana")
    tid = seeded[0]
    status = page.evaluate(
        """async (tid) => {
            const bare = await fetch(`/tickets/${tid}/claim`, {method: "POST"});
            const body = JSON.stringify({decision: "approve", revision: 1});
            const decide = await fetch(`/tickets/${tid}/review`, {method: "POST", body,
              headers: {"Content-Type": "application/json"}});
            return [bare.status, decide.status, (await decide.json()).detail];
        }""",
        tid,
    )
    assert status[0] == 403 and status[1] == 403 and "CSRF" in status[2]
    with Session(browser_db) as s:
        assert s.get_one(Ticket, tid).claimed_by is None
        assert s.exec(select(Review)).first() is None
    # the same request with the page's token goes through
    ok = page.evaluate(
        """async (tid) => {
            const token = document.querySelector('meta[name="csrf-token"]').content;
            const r = await fetch(`/tickets/${tid}/claim`,
              {method: "POST", headers: {"X-CSRF-Token": token}});
            return r.status;
        }""",
        tid,
    )
    assert ok == 200
