"""Password hashing with Argon2id (argon2-cffi's defaults, RFC 9106's second recommendation),
and the strength check: zxcvbn, whose dictionaries hold the common-password lists (30,000 of them,
"12345678" and "password" first) plus names and words, and which scores patterns too."""

from __future__ import annotations

from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
# Verified against when the phone is unknown, so a miss costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")

MIN_LENGTH = 8
MAX_LENGTH = 128


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; an absent or unreadable hash never matches."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def weakness(password: str, *, min_score: int, user_inputs: Sequence[str] = ()) -> str | None:
    """Why ``password`` is too easy to guess, or None when it scores ``min_score`` (0-4) or more.

    ``user_inputs`` (the person's phone and names) count as known words. About 1 ms for a usual
    password, up to 0.1 s at the 128-character maximum.
    """
    # A phone number is typed without its "+" in a password.
    known = [*user_inputs, *(value.lstrip("+") for value in user_inputs if value.startswith("+"))]
    result = zxcvbn(password, user_inputs=known, max_length=MAX_LENGTH)
    if result["score"] >= min_score:
        return None
    hint = result["feedback"]["warning"] or " ".join(result["feedback"]["suggestions"])
    message = "this password is too easy to guess; choose a longer or less common one"
    return f"{message} ({hint.rstrip('.')})" if hint else message
