"""The workspace after an approval: the reply's countdown and delivery status, Undo while the
reply is on hold (button or `u`), and the server's refusal once sending has started."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from shared.models import DeliveryStatus, OutboundMessage, Review, Ticket, utcnow
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def _approve_first(page: Page, ticket_id: int) -> None:
    sign_in(page, "ana")
    page.keyboard.press("j")
    expect(page.locator("#subject")).to_have_text("Charged twice for order 4411")
    page.keyboard.press("a")
    expect(page.locator("#notice")).to_contain_text(f"Approved #{ticket_id}.")


def _outbound(db: Engine, ticket_id: int) -> list[OutboundMessage]:
    with Session(db) as s:
        return list(s.exec(select(OutboundMessage).where(OutboundMessage.ticket_id == ticket_id)))


def test_undo_key_takes_the_approval_back_and_reopens_the_ticket(
    page: Page, seeded: list[int], browser_db: Engine
) -> None:
    first = seeded[0]
    _approve_first(page, first)
    row = page.locator(f"#recent-list li[data-id='{first}']")
    expect(row).to_contain_text("sends in")
    expect(row).to_contain_text("@")  # the customer's address it goes to
    expect(row.locator("button.undo")).to_be_visible()
    assert [m.status for m in _outbound(browser_db, first)] == [DeliveryStatus.pending]
    page.keyboard.press("u")
    expect(page.locator("#notice")).to_contain_text(f"Undone: nothing was sent for #{first}")
    expect(page.locator("#subject")).to_have_text("Charged twice for order 4411")  # open again
    expect(page.locator("#recent")).to_be_hidden()
    assert _outbound(browser_db, first) == []
    with Session(browser_db) as s:
        assert s.exec(select(Review).where(Review.ticket_id == first)).first() is None
        ticket = s.get(Ticket, first)
        assert ticket is not None and ticket.status == "triaged" and ticket.claimed_by == "ana"


def test_status_follows_the_delivery_and_undo_is_refused_once_sending_started(
    page: Page, seeded: list[int], browser_db: Engine
) -> None:
    first = seeded[0]
    _approve_first(page, first)
    row = page.locator(f"#recent-list li[data-id='{first}']")
    expect(row.locator("button.undo")).to_be_visible()
    # A delivery worker picks the reply up (its relay claimed it): Undo must now be refused.
    with Session(browser_db) as s:
        s.exec(
            update(OutboundMessage)
            .where(col(OutboundMessage.ticket_id) == first)
            .values(status=DeliveryStatus.sending, enqueued_at=utcnow(), attempts=1)
        )
        s.commit()
    row.locator("button.undo").click()
    expect(page.locator("#notice")).to_contain_text("can no longer be undone")
    expect(row).to_contain_text("sending (attempt 2")
    expect(row.locator("button.undo")).to_have_count(0)
    assert len(_outbound(browser_db, first)) == 1  # nothing withdrawn
    # The worker reports the server's refusal: the row turns into a failure with its reason.
    with Session(browser_db) as s:
        s.exec(
            update(OutboundMessage)
            .where(col(OutboundMessage.ticket_id) == first)
            .values(status=DeliveryStatus.failed, last_error="550 5.1.1 mailbox unknown")
        )
        s.commit()
    expect(row).to_contain_text("NOT sent: 550 5.1.1 mailbox unknown", timeout=8_000)
    expect(row).to_have_class("failed")
