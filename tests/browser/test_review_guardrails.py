"""Guardrail warnings and the approved-reply suggestion in Chromium: the reviewer sees why a
draft is flagged, cannot send it unedited, and can send the suggested reply instead, knowing
which ticket's approved reply it came from."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from shared.models import Review
from tests.browser.conftest import sign_in
from tests.browser.harness import seed

pytestmark = pytest.mark.browser

# A real failure of the bundled model (demo sample): a phone number the ticket never gave.
DRAFT = (
    "Dear Peter,\n\nPlease call our team at +1 (800) 555-0199 to check your order.\n\n"
    "The Support Team"
)
SUGGESTED = (
    "Dear Peter,\n\nI am sorry your order #48213 is late. The carrier has it; it arrives "
    "within 2 days, and the tracking link in your confirmation e-mail shows each step.\n\n"
    "The Support Team"
)
SOURCE_TICKET = 4242  # not the ticket on screen: the id must come from the suggestion's data


def _flagged(db: Engine) -> int:
    with Session(db) as s:
        (tid,) = seed(
            s,
            [
                {
                    "subject": "Where is my order #48213?",
                    "customer_name": "Peter Okafor",
                    "customer_email": "peter@example.com",
                    "messages": ["My parcel was due last Friday; tracking says in transit."],
                    "result": {
                        "category": "delivery",
                        "category_confidence": 0.88,
                        "warnings": [
                            {
                                "code": "contact",
                                "message": "Contact details found in neither the ticket, the "
                                "knowledge base nor the settings: +1 (800) 555-0199.",
                                "blocking": True,
                                "fixed": False,
                            },
                            {
                                "code": "signature",
                                "message": "Signed as 'The Support Team'.",
                                "blocking": False,
                                "fixed": True,
                            },
                        ],
                        "suggestion": {
                            "reply": SUGGESTED,
                            "source": f"Based on the reply approved for #{SOURCE_TICKET}",
                            "ticket_id": SOURCE_TICKET,
                            "template_id": None,
                            "similarity": 0.91,
                        },
                    },
                    "draft": DRAFT,
                }
            ],
        )
    return tid


def test_blocking_warning_and_suggestion_in_the_review_page(page: Page, browser_db: Engine) -> None:
    tid = _flagged(browser_db)
    sign_in(page, "ana")
    page.keyboard.press("j")
    expect(page.locator("#subject")).to_have_text("Where is my order #48213?")

    items = page.locator("#warnings li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_be_visible()
    expect(items.nth(0)).to_contain_text("555-0199")
    expect(items.nth(0)).to_contain_text("edit the reply before sending")
    expect(items.nth(1)).to_contain_text("(fixed)")

    expect(page.locator("#suggestion-source")).to_have_text(
        f"Based on the reply approved for #{SOURCE_TICKET} (similarity 0.91)"
    )

    # Approving the flagged draft as it is: refused in plain words, nothing recorded.
    page.click("#approve")
    expect(page.locator("#notice")).to_contain_text("This draft cannot be sent as it is")
    expect(page.locator("#notice")).to_contain_text("555-0199")
    expect(page.locator("#notice")).not_to_contain_text("decision 'edit'")
    with Session(browser_db) as s:
        assert s.exec(select(Review)).first() is None

    # The suggested reply replaces the draft; sending it is an edit, which is accepted.
    page.locator("#suggestion button", has_text="Use this reply").click()
    expect(page.locator("#draft")).to_have_value(SUGGESTED)
    expect(page.locator("#approve")).to_have_text("Send my edit (a)")
    page.click("#approve")
    expect(page.locator("#notice")).to_contain_text(f"Saved your edit of #{tid}")
    with Session(browser_db) as s:
        r = s.exec(select(Review).where(Review.ticket_id == tid)).one()
    assert r.decision == "edit" and r.final_reply == SUGGESTED and r.reviewer == "ana"
