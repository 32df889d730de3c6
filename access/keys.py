"""Scoped API keys for machines: created and revoked by CLI, shown once, stored hashed.

A key reads ``tf_<prefix>_<secret>``. The prefix (public: listings show it) finds the row;
the whole key's SHA-256 is compared in constant time. A fast hash is right here, unlike for
passwords: the secret is 256 random bits, so there is nothing to guess offline.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from shared.errors import ConflictError, InputError, NotFoundError
from shared.models import ApiKey, Scope, utcnow

KEY_PREFIX = "tf_"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass(frozen=True)
class NewKey:
    """A key just created: ``secret`` is the only copy of the key, shown once."""

    row: ApiKey
    secret: str


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    """Known scopes, deduplicated and ordered; an unknown one is an InputError naming it."""
    wanted = {s.strip().lower() for s in scopes if s.strip()}
    unknown = wanted - {s.value for s in Scope}
    if unknown:
        raise InputError(
            f"unknown scope(s) {', '.join(sorted(unknown))}; known: "
            f"{', '.join(s.value for s in Scope)}"
        )
    if not wanted:
        raise InputError(f"a key needs at least one scope: {', '.join(s.value for s in Scope)}")
    return [s.value for s in Scope if s.value in wanted]


def create_key(session: Session, name: str, scopes: Iterable[str]) -> NewKey:
    if not name or len(name) > 100 or not set(name) <= _NAME_CHARS:
        raise InputError(f"key name {name!r}: 1-100 letters, digits and . _ -")
    if session.exec(
        select(ApiKey).where(ApiKey.name == name, col(ApiKey.revoked_at).is_(None))
    ).first():
        raise ConflictError(f"a live key named {name!r} exists: revoke it first")
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(name=name, prefix=prefix, secret_hash=_digest(secret), scopes=parse_scopes(scopes))
    session.add(row)
    session.commit()
    session.refresh(row)
    return NewKey(row, secret)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.exec(select(ApiKey).order_by(col(ApiKey.id))).all())


def revoke_key(session: Session, name_or_prefix: str) -> ApiKey:
    """Revoke the live key with that name (or prefix); refused at once on its next use."""
    live = session.exec(
        select(ApiKey).where(
            (col(ApiKey.name) == name_or_prefix) | (col(ApiKey.prefix) == name_or_prefix),
            col(ApiKey.revoked_at).is_(None),
        )
    ).all()
    if not live:
        raise NotFoundError(f"no live key named {name_or_prefix!r}")
    for row in live:
        row.revoked_at = utcnow()
        session.add(row)
    session.commit()
    return live[0]


def find_key(session: Session, raw: str) -> ApiKey | None:
    """The live key ``raw`` is, or None; stamps ``last_used_at`` (at most once a minute)."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != KEY_PREFIX or len(raw) > 200:
        return None
    row = session.exec(select(ApiKey).where(ApiKey.prefix == parts[1])).first()
    if row is None or not secrets.compare_digest(row.secret_hash, _digest(raw)):
        return None
    if row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        row.last_used_at = now
        session.add(row)
        session.commit()
    return row
