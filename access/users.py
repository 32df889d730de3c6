"""People who log in: add, list, disable, reset a password, authenticate.

Usernames are compared case-insensitively (stored lower-case), so "Ana" and "ana" are one
person and one throttle bucket.
"""

from __future__ import annotations

import re

from sqlalchemy import delete
from sqlmodel import Session, col, select

from access.passwords import hash_password, needs_rehash, verify_password
from shared.errors import ConflictError, InputError, NotFoundError
from shared.models import Role, User, UserSession

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._@+-]{0,99}")


def normalize_username(username: str) -> str:
    return username.strip().lower()


def _valid_username(username: str) -> str:
    name = normalize_username(username)
    if not USERNAME_RE.fullmatch(name):
        raise InputError(
            f"username {username!r}: 1-100 characters, letters, digits and . _ @ + - "
            "(starting with a letter or digit)"
        )
    return name


def _hash(password: str) -> str:
    try:
        return hash_password(password)
    except ValueError as err:
        raise InputError(str(err)) from None


def get_user(session: Session, username: str) -> User | None:
    return session.exec(select(User).where(User.username == normalize_username(username))).first()


def add_user(session: Session, username: str, password: str, role: Role = Role.reviewer) -> User:
    name = _valid_username(username)
    if get_user(session, name) is not None:
        raise ConflictError(f"user {name!r} already exists")
    user = User(username=name, password_hash=_hash(password), role=role)
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(col(User.username))).all())


def _existing(session: Session, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise NotFoundError(f"no user {normalize_username(username)!r}")
    return user


def set_disabled(session: Session, username: str, disabled: bool = True) -> User:
    """Disable (or enable) a user; a disabled user's live sessions end at once."""
    user = _existing(session, username)
    user.disabled = disabled
    session.add(user)
    if disabled:
        session.exec(delete(UserSession).where(col(UserSession.user_id) == user.id))
    session.commit()
    return user


def reset_password(session: Session, username: str, password: str) -> User:
    """Set a new password and end the user's sessions (whoever knew the old one is out)."""
    user = _existing(session, username)
    user.password_hash = _hash(password)
    session.add(user)
    session.exec(delete(UserSession).where(col(UserSession.user_id) == user.id))
    session.commit()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user when the password matches and the account is enabled; None otherwise.

    Always runs one argon2 verification, so timing does not tell which usernames exist."""
    user = get_user(session, username) if len(username) <= 200 else None
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.disabled:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
        session.commit()
    return user
