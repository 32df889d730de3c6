"""The workspace in Chromium: filters, claims by two reviewers at once, keyboard decisions,
edits, rejection reasons, bulk rejection, plain error messages, and customer text kept inert."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from shared.models import Review, Ticket
from tests.browser.conftest import sign_in
from tests.browser.harness import seed

pytestmark = pytest.mark.browser


def _review(db: Engine, ticket_id: int) -> Review:
    with Session(db) as s:
        return s.exec(select(Review).where(Review.ticket_id == ticket_id)).one()


def test_filters_counts_and_search(page: Page, seeded: list[int]) -> None:
    sign_in(page, "ana")
    expect(page.locator("#queue-total")).to_have_text("5 awaiting in this filter")
    category = page.locator("select[name=category]")
    expect(category.locator("option[value=other]")).to_have_text("other (2)")
    category.select_option("delivery")
    expect(page.locator("#queue-list li")).to_have_count(1)
    expect(page.locator("#queue-list li .subject")).to_contain_text("Where is my parcel?")
    assert "category=delivery" in page.url  # a reload keeps the filter
    page.click("#filter-form button[type=reset]")
    expect(page.locator("#queue-list li")).to_have_count(5)
    page.fill("input[name=q]", "cruise")
    expect(page.locator("#queue-list li")).to_have_count(1)
    expect(page.locator("#queue-list li .subject")).to_contain_text("WIN A FREE CRUISE")
    page.fill("input[name=q]", "")
    page.locator("select[name=needs_triage]").select_option("true")
    expect(page.locator("#queue-list li")).to_have_count(1)
    expect(page.locator("#queue-list li .subject")).to_contain_text("Change my address")


def test_two_reviewers_pressing_next_at_once_get_different_tickets(
    browser: Browser, api_server: str, page: Page, seeded: list[int], browser_db: Engine
) -> None:
    other = browser.new_context(base_url=api_server)  # a second reviewer: own cookies, storage
    try:
        bob = other.new_page()
        sign_in(page, "ana")
        sign_in(bob, "bob")
        # both key presses are dispatched before either request returns
        press = "document.dispatchEvent(new KeyboardEvent('keydown', {key: 'j'}))"
        page.evaluate(press)
        bob.evaluate(press)
        expect(page.locator("#draft")).to_be_visible()
        expect(bob.locator("#draft")).to_be_visible()
        a = page.locator("#subject").inner_text()
        b = bob.locator("#subject").inner_text()
        assert {a, b} == {"Charged twice for order 4411", "Where is my parcel?"}
        with Session(browser_db) as s:
            held = {t.claimed_by: t.subject for t in s.exec(select(Ticket)) if t.claimed_by}
        assert held == {"ana": a, "bob": b}
        # bob clicks ana's ticket in his list: a plain refusal, not the ticket
        bob.locator("#queue-list li", has_text=a).click()
        expect(bob.locator("#notice")).to_contain_text("Someone else (ana) has ticket")
        expect(bob.locator("#subject")).to_have_text(b)
    finally:
        other.close()


def test_keyboard_approve_then_the_next_ticket_opens(
    page: Page, seeded: list[int], browser_db: Engine
) -> None:
    sign_in(page, "ana")
    page.keyboard.press("j")
    expect(page.locator("#subject")).to_have_text("Charged twice for order 4411")
    page.keyboard.press("a")
    expect(page.locator("#notice")).to_contain_text(f"Approved #{seeded[0]}")
    expect(page.locator("#subject")).to_have_text("Where is my parcel?")
    r = _review(browser_db, seeded[0])
    assert r.decision == "approve" and r.reviewer == "ana" and not r.edited
    expect(page.locator("#st-mine")).to_have_text("1")
    expect(page.locator("#queue-list li")).to_have_count(4)


def test_edit_then_approve_is_recorded_as_edit(
    page: Page, seeded: list[int], browser_db: Engine
) -> None:
    sign_in(page, "ana")
    page.keyboard.press("j")
    expect(page.locator("#subject")).to_have_text("Charged twice for order 4411")
    page.keyboard.press("e")
    expect(page.locator("#draft")).to_be_focused()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nP.S. Your refund id is R-77.")
    expect(page.locator("#approve")).to_have_text("Send my edit (a)")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    expect(page.locator("#notice")).to_contain_text("decision: edit")
    r = _review(browser_db, seeded[0])
    assert r.decision == "edit" and r.edited and r.final_reply
    assert r.final_reply.endswith("P.S. Your refund id is R-77.")


def test_an_empty_edit_gets_plain_words(page: Page, seeded: list[int], browser_db: Engine) -> None:
    sign_in(page, "ana")
    page.keyboard.press("j")
    page.fill("#draft", "   ")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    expect(page.locator("#notice")).to_have_text("Write the reply before saving an edit.")
    with Session(browser_db) as s:
        assert s.exec(select(Review)).first() is None


def test_reject_asks_for_a_reason_and_keeps_the_edit(
    page: Page, seeded: list[int], browser_db: Engine
) -> None:
    sign_in(page, "ana")
    page.keyboard.press("j")
    page.fill("#draft", "My rewritten reply")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(page.locator("#reject-dialog")).to_be_visible()
    expect(page.locator("#reject-edit-note")).to_be_visible()
    page.click("#reject-confirm")  # no reason yet: the dialog stays
    expect(page.locator("#reject-dialog")).to_be_visible()
    page.fill("#reject-reason", "Duplicate of an earlier ticket")
    page.click("#reject-confirm")
    expect(page.locator("#notice")).to_contain_text(f"Rejected #{seeded[0]}")
    r = _review(browser_db, seeded[0])
    assert r.decision == "reject" and r.final_reply is None and r.note
    assert r.note.startswith("Duplicate of an earlier ticket")
    assert "My rewritten reply" in r.note


def test_bulk_reject_a_selection(page: Page, seeded: list[int], browser_db: Engine) -> None:
    sign_in(page, "ana")
    for subject in ("WIN A FREE CRUISE", "Gewinnspiel"):
        page.locator("#queue-list li", has_text=subject).locator("input[type=checkbox]").check()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    page.click("#bulk-reject")
    expect(page.locator("#reject-reason")).to_have_value("spam")
    page.click("#reject-confirm")
    expect(page.locator("#notice")).to_have_text("Rejected 2.")
    expect(page.locator("#queue-list li")).to_have_count(3)
    for tid in seeded[3:]:
        r = _review(browser_db, tid)
        assert r.decision == "reject" and r.note == "spam" and r.reviewer == "ana"


def test_shortcuts_help_labels_and_prompt(
    page: Page, seeded: list[int], browser_db: Engine
) -> None:
    sign_in(page, "ana")
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    expect(page.locator("#labels")).to_contain_text("runner-ups: billing 6%")
    expect(page.locator("#passages a")).to_have_attribute(
        "href", "https://help.example.com/refunds"
    )
    expect(page.locator("#thread")).to_contain_text("statement.pdf")
    page.keyboard.press("j")  # moves on (giving #1 back), and k returns to it
    expect(page.locator("#subject")).to_have_text("Where is my parcel?")
    page.keyboard.press("k")
    expect(page.locator("#subject")).to_have_text("Charged twice for order 4411")
    page.keyboard.press("p")
    expect(page.locator("#prompt")).to_contain_text("You are a customer support agent.")
    page.keyboard.press("l")
    expect(page.locator("#labels select").first).to_be_focused()
    page.locator("#labels select").first.select_option("billing")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    expect(page.locator("#notice")).to_contain_text("Approved")
    assert _review(browser_db, seeded[0]).corrected_category == "billing"


XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'


def test_customer_text_is_inert(page: Page, browser_db: Engine) -> None:
    """Markup in every customer field is shown as text and never runs."""
    with Session(browser_db) as s:
        seed(
            s,
            [
                {
                    "subject": f"Subject {XSS}",
                    "customer_name": f"Name {XSS}",
                    "customer_email": f'x"{XSS}@example.com',
                    "messages": [f"Body {XSS}", f"Second message {XSS}"],
                    "result": {"category": "other", "category_confidence": 0.5},
                    "cite": 0,
                    "draft": f"Draft {XSS}",
                }
            ],
        )
    sign_in(page, "ana")
    page.keyboard.press("j")
    expect(page.locator("#subject")).to_have_text(f"Subject {XSS}")
    expect(page.locator("#thread .msg-body").nth(1)).to_have_text(f"Second message {XSS}")
    expect(page.locator("#ticket")).to_contain_text(f"Name {XSS}")
    page.keyboard.press("p")
    expect(page.locator("#prompt pre").nth(1)).to_contain_text(XSS)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#ticket img, #queue-list img, #ticket script").count() == 0
