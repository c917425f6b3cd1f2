"""Local accounts' passwords: argon2id hashes (argon2-cffi's defaults), never stored or logged plain."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tally.people.model import PeopleError

_HASHER = PasswordHasher()
MIN_LENGTH = 12
MAX_LENGTH = 1024
#: Verified against when an account has no password, so a miss costs as long as a wrong password.
_DUMMY = _HASHER.hash("tally-no-such-account-password")


def hash_password(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PeopleError(f"a password has {MIN_LENGTH} to {MAX_LENGTH} characters")
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """argon2's verification (constant time in the hash comparison); False for a missing hash."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
