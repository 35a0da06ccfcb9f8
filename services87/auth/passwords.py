"""Password hashing with Argon2id (memory-hard). Passwords are never logged."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (64 MiB, t=3)
_DUMMY = _hasher.hash("services87-dummy-password")


def hash_password(password: str) -> str:
    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists: a missing hash is checked against a dummy."""
    try:
        return _hasher.verify(stored_hash or _DUMMY, password or "") and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
