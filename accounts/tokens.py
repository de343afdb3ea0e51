"""JWTs (HS256, pyjwt): short access tokens, and refresh tokens tracked in ``refresh_token``.

``decode_token`` is the only place a token is decoded.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

import jwt

from accounts.exceptions import InvalidToken
from accounts.models import User
from core.config import Settings

ALGORITHM = "HS256"


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: UUID
    expires_at: datetime


def signing_key(settings: Settings) -> bytes:
    """A 32-byte key of its own for JWTs, derived from the deployment secret (RFC 7518 3.2 wants
    at least 32 bytes for HS256; SMS-code hashes use the secret under another label)."""
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, b"waterbill jwt hs256", hashlib.sha256).digest()


def user_claims(user: User) -> dict[str, Any]:
    return {
        "user_id": user.id,
        "phone": user.phone,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "full_name": user.full_name,
        "role": user.role.value,
        "is_active": user.is_active,
        "ver": user.token_version,
    }


def encode_token(
    user: User,
    *,
    settings: Settings,
    token_type: TokenType,
    family: UUID | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    now = now or datetime.now(UTC)
    if token_type is TokenType.ACCESS:
        lifetime = timedelta(minutes=settings.auth.access_token_minutes)
    else:
        lifetime = timedelta(days=settings.auth.refresh_token_days)
    jti = uuid4()
    claims = {
        **user_claims(user),
        "type": token_type.value,
        "jti": str(jti),
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    if family is not None:
        claims["family"] = str(family)
    token = jwt.encode(claims, signing_key(settings), algorithm=ALGORITHM)
    return IssuedToken(token=token, jti=jti, expires_at=now + lifetime)


def decode_token(token: str, *, settings: Settings, expected: TokenType) -> dict[str, Any]:
    """The claims of a genuine, unexpired token of the expected type.

    Raises:
        InvalidToken: forged, expired, malformed, or of the other type.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            signing_key(settings),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "jti", "user_id"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("the token has expired") from None
    except jwt.InvalidTokenError:
        raise InvalidToken("the token is not valid") from None
    if claims.get("type") != expected.value:
        raise InvalidToken(f"an {expected.value} token is needed here")
    if not isinstance(claims["user_id"], int):
        raise InvalidToken("the token is not valid")
    return claims
