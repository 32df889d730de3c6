"""Task names: producers send by name and never import the worker."""

TRIAGE_TICKET = "ticketflow.triage_ticket"
