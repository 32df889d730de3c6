"""The last stage: approved replies reach the customer, events reach other systems.

A review commits an ``outbound_message`` row in its own transaction (``review.outbox``); after
the hold time a relay (``dispatch.relay`` with the tables of ``outboxes``) publishes it to the
delivery queue, and ``ticketflow deliver`` (``tasks``, ``cli``) sends it by email
(``smtp_channel``, ``compose``) or webhook (``webhook_channel``, ``signing``), recording the
outcome in one place (``status``). ``sweeper`` finds rows whose message was lost or whose
worker died; ``outbox`` deletes a ticket's rows (forget). Nothing here imports torch or the
worker.
"""
