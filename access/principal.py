"""Who is asking: a logged-in person, a machine's key, or nobody (when reads are open)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.models import Role, Scope

ALL_SCOPES = frozenset(s.value for s in Scope)
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.reviewer.value: frozenset({Scope.read.value, Scope.review.value}),
    Role.admin.value: ALL_SCOPES,
}
# TICKETFLOW_API_KEYS: the keys of before scoped keys existed, now intake-only (and /metrics).
LEGACY_KEY_NAME = "TICKETFLOW_API_KEYS"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller. ``name``: the username, the key's name, or "anonymous"."""

    kind: Literal["user", "key", "anonymous"]
    name: str
    scopes: frozenset[str]
    role: str | None = None  # users only
    user_id: int | None = None  # users only
    key_id: int | None = None  # scoped keys only (None for TICKETFLOW_API_KEYS)
    csrf_token: str | None = None  # users only: what writes must echo
    expires_at: datetime | None = None  # users only: when the session ends if left idle

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def reviewer(self) -> str:
        """The name recorded on a review: the username, or ``key:NAME`` for a machine."""
        return self.name if self.kind == "user" else f"{self.kind}:{self.name}"
