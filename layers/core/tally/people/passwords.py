"""Local accounts' passwords: argon2id hashes (argon2-cffi's defaults), never stored or logged plain.

argon2 loads, and the dummy hash is made, on the first sign-in or password change: a cold start that
serves agents and reports pays for neither (on AWS, argon2 is in the API's auth layer)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from tally.people.model import PeopleError

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 12
MAX_LENGTH = 1024


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


@cache
def _dummy() -> str:
    """Verified against when an account has no password, so a miss costs as long as a wrong password."""
    return _hasher().hash("tally-no-such-account-password")


def hash_password(password: str) -> str:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PeopleError(f"a password has {MIN_LENGTH} to {MAX_LENGTH} characters")
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """argon2's verification (constant time in the hash comparison); False for a missing hash."""
    from argon2.exceptions import InvalidHashError, VerificationError

    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher().verify(stored or _dummy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
