"""Task names: producers send by name and never import the worker."""

TRIAGE_TICKET = "ticketflow.triage_ticket"
DELIVER_REPLY = "ticketflow.deliver_reply"
DELIVER_WEBHOOK = "ticketflow.deliver_webhook"
DELIVER_CONNECTOR_WRITE = "ticketflow.deliver_connector_write"
