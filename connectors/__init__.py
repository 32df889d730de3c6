"""Helpdesk connectors: Zammad, Zendesk, Freshdesk, Chatwoot and Request Tracker.

``base`` is the one interface (verify and parse an inbound event; write back triage, draft
and reply; check the live setup), ``registry`` finds a connector by its configured name,
``http`` is the shared client. Inbound events go through ``routes`` and ``inbound``; writes
go through the delivery outbox (``delivery/``). No torch, no worker imports.
"""
