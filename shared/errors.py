"""One exception hierarchy: the class says whether an error is worth retrying."""


class TicketflowError(Exception):
    """Base of every error ticketflow raises on purpose."""


class ConfigError(TicketflowError):
    """A setting is missing or invalid; the process must not start."""


class TransientError(TicketflowError):
    """Database, broker or timeout trouble: retry with backoff."""


class PermanentError(TicketflowError):
    """The ticket itself cannot be processed: mark it failed, do not retry."""


class NotFoundError(TicketflowError):
    """A referenced ticket or result does not exist."""


class ConflictError(TicketflowError):
    """The request contradicts the current state (e.g. reviewing a ticket twice)."""
