"""Passwords (argon2 via pwdlib) and signed access tokens (JWT via PyJWT).

A login for an unknown username is verified against a dummy argon2 hash (:func:`verify_login`), so it
takes as long as a wrong password for a real user: the answer time does not reveal which usernames
exist. Tokens must carry ``sub``, ``iat`` and ``exp``; a token without them is refused.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from pwdlib import PasswordHash

from callcenter.config import get_settings

_hasher = PasswordHash.recommended()
ALGORITHM = "HS256"
#: Claims every accepted token carries (PyJWT refuses a token without one of them).
REQUIRED_CLAIMS = ("sub", "iat", "exp")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # malformed hash in the database: treat as a failed login
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """An argon2 hash of a random password, with the same parameters as real ones (made once)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_login(password: str, password_hash: str | None) -> bool:
    """Check ``password`` against the user's hash, or against a dummy hash when there is no user.

    Both paths run one argon2 verification, so an unknown username answers as slowly as a known one.
    """
    if password_hash is None:
        verify_password(password, _dummy_hash())
        return False
    return verify_password(password, password_hash)


def create_token(user_id: int, role: str, minutes: int | None = None) -> str:
    settings = get_settings()
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "iat": now,
        "exp": now + timedelta(minutes=minutes or settings.token_ttl_minutes),
    }
    return jwt.encode(payload, settings.secret_key, algorithm=ALGORITHM)


def decode_token(token: str) -> dict[str, Any]:
    """Raises ``jwt.PyJWTError`` when the token is invalid, expired or lacks ``sub``/``iat``/``exp``."""
    return jwt.decode(
        token, get_settings().secret_key, algorithms=[ALGORITHM], options={"require": list(REQUIRED_CLAIMS)}
    )
