"""Password hashing with Argon2id (memory-hard). Passwords are never logged.

Profiles (setting ``password_hash_profile``):

* ``rfc9106-low`` (default): argon2-cffi's defaults, RFC 9106's low-memory profile (64 MiB, t=3, p=4).
* ``test``: tiny parameters (8 MiB, t=1, p=1) so test suites that create many users start quickly.
  Never use it in production.

Verification always uses the parameters stored in the hash, so users hashed under one profile can still
log in under another.
"""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

PROFILES: dict[str, dict[str, Any]] = {
    "rfc9106-low": {},
    "test": {"time_cost": 1, "memory_cost": 8192, "parallelism": 1},
}

_hasher = PasswordHasher()
_profile = "rfc9106-low"
#: the hash an unknown user's password is checked against (same work as a known user's); made on first need or
#: by :func:`prepare`, not at import: every command line that imports this module would pay one hash for it
_dummy: str | None = None


def configure(profile: str) -> None:
    """Select the hashing profile for new hashes (and the dummy hash used for unknown users)."""
    global _hasher, _profile, _dummy
    if profile not in PROFILES:
        raise ValueError(f"unknown password_hash_profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if profile != _profile:
        _hasher = PasswordHasher(**PROFILES[profile])
        _profile = profile
        _dummy = None


def prepare() -> str:
    """The dummy hash of the current profile, made now if it is not yet (a server calls this before it
    listens, so that its first login of an unknown user costs what any other does)."""
    global _dummy
    if _dummy is None:
        _dummy = _hasher.hash("services87-dummy-password")
    return _dummy


def hash_password(password: str) -> str:
    if not isinstance(password, str) or not password:
        raise ValueError("password must be a non-empty string")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists: a missing hash is checked against a dummy."""
    try:
        return _hasher.verify(stored_hash or prepare(), password or "") and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
