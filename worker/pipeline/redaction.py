"""A ticket's view with personal data replaced by placeholders, and the vault to restore them.

Applied to everything a model reads: subject, body, the customer's name, and the history lines
of earlier tickets (one vault per ticket, so a value has one placeholder across all of them).
The database keeps the original text: reviewers read it there, and ``ticketflow forget`` /
``purge`` are what remove it.
"""

from __future__ import annotations

from dataclasses import replace

from privacy import Redactor, Vault
from worker.drafting.prompting import TicketView


def redact_view(view: TicketView, redactor: Redactor) -> tuple[TicketView, Vault]:
    vault = Vault()
    if not redactor.enabled:
        return view, vault

    def r(text: str) -> str:
        return redactor.redact(text, vault)

    return (
        TicketView(
            subject=r(view.subject),
            body=r(view.body),
            customer_name=r(view.customer_name) if view.customer_name else view.customer_name,
            history=tuple(
                replace(p, subject=r(p.subject), first_line=r(p.first_line)) for p in view.history
            ),
            thread=view.thread,
        ),
        vault,
    )
