"""Server-side sessions: the cookie holds a random id, the row holds its SHA-256, the user,
the CSRF token and two deadlines (idle and absolute). Logging out or disabling a user deletes
the rows, so a stolen cookie stops working at once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from shared.config import Settings
from shared.models import User, UserSession, utcnow

TOUCH_EVERY_S = 30  # last_seen_at is written at most this often: a page's burst of requests is one


@dataclass(frozen=True)
class LiveSession:
    """A session that is valid now, with its user (enabled)."""

    row: UserSession
    user: User

    def expires_at(self, settings: Settings) -> datetime:
        """When it ends if unused from now: the earlier of the idle and absolute deadlines."""
        idle_end = self.row.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
        return min(idle_end, self.row.expires_at)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()


def start_session(session: Session, user: User, settings: Settings) -> tuple[str, LiveSession]:
    """A new session for ``user``: returns the cookie value (the only copy) and the session."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        id_hash=_digest(raw),
        user_id=user.id or 0,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return raw, LiveSession(row, user)


class SessionProblem(Exception):
    """Why a cookie does not open a session, in words a person understands."""


def load_session(session: Session, raw: str, settings: Settings) -> LiveSession:
    """The live session behind a cookie value; ``SessionProblem`` says why not."""
    if len(raw) > 200:
        raise SessionProblem("not logged in: the session cookie is not valid")
    row = session.exec(select(UserSession).where(UserSession.id_hash == _digest(raw))).first()
    if row is None:
        raise SessionProblem("not logged in, or the session ended: log in again")
    now = utcnow()
    idle_end = row.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if now >= row.expires_at or now >= idle_end:
        session.delete(row)
        session.commit()
        raise SessionProblem("your session expired: log in again")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        session.exec(delete(UserSession).where(col(UserSession.user_id) == row.user_id))
        session.commit()
        raise SessionProblem("this account is disabled: ask an admin")
    if (now - row.last_seen_at).total_seconds() >= TOUCH_EVERY_S:
        row.last_seen_at = now
        session.add(row)
        session.commit()
    return LiveSession(row, user)


def end_session(session: Session, raw: str) -> None:
    session.exec(delete(UserSession).where(col(UserSession.id_hash) == _digest(raw)))
    session.commit()


def purge_expired(session: Session, settings: Settings) -> int:
    """Delete sessions past either deadline (called at login: the table stays small)."""
    now = utcnow()
    idle_cut = now - timedelta(minutes=settings.session_idle_minutes)
    result = session.exec(
        delete(UserSession).where(
            (col(UserSession.expires_at) <= now) | (col(UserSession.last_seen_at) <= idle_cut)
        )
    )
    session.commit()
    return int(result.rowcount or 0)
