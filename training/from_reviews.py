"""Training examples from the reviewers' decisions in the database.

Per ticket, the latest review of a triage result decides, field by field:

- a corrected label (``Review.corrected_*``) is the truth, whatever the decision;
- otherwise an approved or edited review confirms the label the classifier gave (an edit
  changes the reply, not the labels the reviewer saw and let stand);
- otherwise (a rejection without a correction) the field is not used: the reviewer said the
  result was wrong without saying what is right.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from shared.models import Review, ReviewDecision, Ticket, TriageResult
from shared.taxonomy import LABEL_FIELDS
from training.data import Example
from worker.drafting.prompting import TicketView, classification_text

CONFIRMING = (ReviewDecision.approve, ReviewDecision.edit)


def review_labels(review: Review, result: TriageResult) -> dict[str, str]:
    """The labels a review vouches for, by the rules above."""
    labels = {}
    for field in LABEL_FIELDS:
        corrected = (getattr(review, f"corrected_{field}") or "").strip()
        if corrected:
            labels[field] = corrected
        elif review.decision in CONFIRMING:
            labels[field] = str(getattr(result, field))
    return labels


def review_examples(session: Session, fields: tuple[str, ...] = LABEL_FIELDS) -> list[Example]:
    """One example per reviewed ticket, text as the classifier sees it, oldest ticket first."""
    rows = session.exec(
        select(Review, TriageResult, Ticket)
        .join(TriageResult, col(Review.triage_result_id) == col(TriageResult.id))
        .join(Ticket, col(Review.ticket_id) == col(Ticket.id))
        .order_by(col(Review.created_at), col(Review.id))
    ).all()
    latest: dict[int, Example] = {}
    for review, result, ticket in rows:  # later reviews of a ticket replace earlier ones
        labels = {f: v for f, v in review_labels(review, result).items() if f in fields}
        text = classification_text(TicketView(subject=ticket.subject, body=ticket.body))
        assert ticket.id is not None
        if labels and text:
            latest[ticket.id] = Example(text, labels)
        else:
            latest.pop(ticket.id, None)
    return [latest[k] for k in sorted(latest)]
