"""Every error ticketflow raises on purpose, in one tree; the class says what the caller does.

    TicketflowError
    ├── ConfigError        a setting or command-line option is invalid: stop at start (exit 2)
    ├── InputError         a file, row or request a person supplied is unusable: say where (422)
    │   └── SourceError    a mail source cannot be read at all (missing file, bad IMAP login)
    ├── TransientError     database, broker or timeout trouble: retry with backoff (503)
    │   └── QueueUnavailable   Redis refused a message mid-run; a rerun sends the rest
    ├── PermanentError     the ticket itself cannot be processed: mark it failed, no retry
    ├── NotFoundError      a referenced ticket or result does not exist (404)
    ├── ConflictError      the request contradicts the current state, e.g. a second review (409)
    └── DemoError          the demo cannot run or finish; the message says why

The API maps each class to its status once (``producer.api.app``); each CLI prints the message
and exits non-zero. Anything else is a bug and is logged with its traceback.
"""


class TicketflowError(Exception):
    """Base of every error ticketflow raises on purpose."""


class ConfigError(TicketflowError):
    """A setting is missing or invalid; the process must not start."""


class InputError(TicketflowError):
    """Unusable input from a person: the message names the file and line, or the field."""


class SourceError(InputError):
    """A mail source cannot be read at all (missing file, unreachable server, bad login)."""


class TransientError(TicketflowError):
    """Database, broker or timeout trouble: retry with backoff."""


class QueueUnavailable(TransientError):
    """Redis refused a message mid-run; what was stored is safe and a rerun sends the rest."""


class PermanentError(TicketflowError):
    """The ticket itself cannot be processed: mark it failed, do not retry."""


class NotFoundError(TicketflowError):
    """A referenced ticket or result does not exist."""


class ConflictError(TicketflowError):
    """The request contradicts the current state (e.g. reviewing a ticket twice)."""


class DemoError(TicketflowError):
    """The demo cannot run or finish; the message says why, without a traceback."""
