"""Password hashing: argon2id through argon2-cffi, with its default (RFC 9106 low-memory) cost.

Every call here is CPU-bound (tens of milliseconds by design): async callers run them in a thread.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher()  # module-level so that a test can swap in a cheaper one

_dummy: tuple[PasswordHasher, str] | None = None


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (they get stronger)."""
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def dummy_hash() -> str:
    """A hash of no one's password, made with today's parameters: verifying against it costs what a
    real verification costs, so a failed login for an unknown name takes as long as a wrong password."""
    global _dummy
    if _dummy is None or _dummy[0] is not HASHER:
        _dummy = (HASHER, HASHER.hash("no account has this password"))
    return _dummy[1]
