"""Write-backs to helpdesks: one attempt of one ``connector_write`` row (labels or draft), and
the helpdesk channel of approved replies (``outbound_message`` rows with channel helpdesk).

Same guarantees as every outbox row (``delivery.send``, ``delivery.status``): taken by one
worker at a time, retried with backoff on a ``TransientError``, failed with the reason on a
``PermanentError``, sent again by the sweeper if the worker died. Every attempt passes the
connector the row's idempotency key, and ``retry=True`` from the second attempt on, so a
connector whose write is not idempotent by nature looks for its earlier result first: a crash
between the helpdesk's answer and the row's ``sent`` never posts twice (see
docs/connectors/README.md for each helpdesk's worst case).
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session

from connectors.base import Connector, Draft, Reply, Target, TriageLabels, WriteResult
from connectors.registry import Registry
from shared.config import Settings
from shared.connector_config import connector_of
from shared.errors import NotFoundError, PermanentError, TransientError
from shared.models import ConnectorWrite, DeliveryStatus, OutboundMessage, Ticket

log = logging.getLogger(__name__)


def deliver_write(db: Engine, settings: Settings, helpdesks: Registry, row_id: int) -> str:
    """Write one row's labels or draft to its helpdesk; returns the outcome's name."""
    from delivery.send import Outcome, after_error
    from delivery.status import settle, take

    with Session(db, expire_on_commit=False) as s:
        if not take(s, ConnectorWrite, row_id, settings.delivery_lease_s):
            return Outcome.skipped
        row = s.get_one(ConnectorWrite, row_id)
        ticket = s.get(Ticket, row.ticket_id)
        try:
            if row.attempts > settings.delivery_max_attempts:
                raise PermanentError(
                    f"gave up after {settings.delivery_max_attempts} attempts: "
                    f"{row.last_error or 'no answer'}"
                )
            if ticket is not None and ticket.revision > row.revision:
                raise PermanentError(
                    f"not written: revision {ticket.revision} superseded revision {row.revision}"
                )
            result = _write(row, settings, helpdesks)
        except (PermanentError, TransientError) as err:
            status = getattr(err, "status", None)
            return after_error(
                s, ConnectorWrite, row_id, err, row.attempts, settings, response_status=status
            )
        except Exception as err:  # a bug: say so on the row; never retry blindly
            log.exception("connector write %s: unexpected error", row_id)
            reason = f"unexpected error: {type(err).__name__}: {err}"
            settle(s, ConnectorWrite, row_id, DeliveryStatus.failed, settings, reason)
            return Outcome.failed
        settle(s, ConnectorWrite, row_id, DeliveryStatus.sent, settings, remote_id=result.remote_id)
        return Outcome.sent


def _write(row: ConnectorWrite, settings: Settings, helpdesks: Registry) -> WriteResult:
    connector = _connector(helpdesks, row.connector)
    target = Target(
        ticket_ref=str(row.payload["ticket_ref"]),
        ticket_id=row.ticket_id,
        key=row.idempotency_key,
        retry=row.attempts > 1,
    )
    if row.kind == "triage":
        return connector.write_triage(target, TriageLabels(**row.payload["labels"]))
    if row.kind == "draft":
        draft = Draft(
            text=str(row.payload["text"]),
            warnings=[str(w) for w in row.payload.get("warnings", [])],
            review_url=f"{settings.base_url}/ui",
        )
        return connector.write_draft(target, draft)
    raise PermanentError(f"unknown write kind {row.kind!r}")


def send_helpdesk_reply(
    message: OutboundMessage, ticket: Ticket | None, reviewer: str, helpdesks: Registry
) -> WriteResult:
    """Post an approved reply in the ticket's helpdesk, or leave it there as a draft, as the
    connector's ``reply_mode`` says; raises what the connector raises."""
    name = connector_of(ticket.source if ticket else None)
    if ticket is None or name is None or not ticket.external_id:
        raise PermanentError("the ticket did not come from a helpdesk connector")
    connector = _connector(helpdesks, name)
    target = Target(
        ticket_ref=ticket.external_id,
        ticket_id=message.ticket_id,
        key=message.idempotency_key,
        retry=message.attempts > 1,
    )
    reply = Reply(message.body, reviewer, to=ticket.customer_email, subject=message.subject)
    return connector.write_reply(target, reply, connector.mode())


def _connector(helpdesks: Registry, name: str) -> Connector:
    try:
        return helpdesks.get(name)
    except NotFoundError:
        raise PermanentError(
            f"connector {name!r} is no longer configured (TICKETFLOW_CONNECTORS)"
        ) from None
