"""Password hashing: argon2id through argon2-cffi, with its defaults (RFC 9106's low-memory
profile). Only the hash is stored; a hash made with older parameters is upgraded at login."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; a megabyte "password" is a DoS, not a secret


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Verified against when the user does not exist, so "no such user" takes as long as
    # "wrong password" and the response time does not reveal which usernames exist.
    return _hasher().hash("not-a-real-password-but-long-enough")


def check_password_rules(password: str) -> None:
    """Refuse passwords too short to resist guessing (NIST 800-63B: length, not composition)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"a password has at most {MAX_PASSWORD_CHARS} characters")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; ``stored_hash`` None burns the same time and says no."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher().verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)
