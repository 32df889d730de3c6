"""Backfill's errors: unusable input stops before anything is stored; a lost queue stops after."""

from __future__ import annotations

from shared.errors import TicketflowError, TransientError


class InputError(TicketflowError):
    """Missing file, unknown format, bad ``--map`` or a mapped column the file lacks."""


class QueueUnavailable(TransientError):
    """Redis refused a message mid-run; what was stored is safe and a rerun sends the rest."""
