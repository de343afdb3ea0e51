"""The signed-in user of a request: ``CurrentUser``; the client address for limits and audit; and
request phone numbers in E.164 form."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from accounts import passwords
from accounts.exceptions import InvalidToken
from accounts.models import User
from accounts.tokens import TokenType, decode_token
from api.deps import SessionDep, SettingsDep
from core.config import Settings
from core.exceptions import NotAuthenticated
from core.phone import InvalidPhoneNumber, normalise_phone

_bearer = HTTPBearer(auto_error=False, description="The access token from POST /auth/login.")


async def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise NotAuthenticated("sign in first: send 'Authorization: Bearer <access token>'")
    claims = decode_token(credentials.credentials, settings=settings, expected=TokenType.ACCESS)
    user = await session.get(User, claims["user_id"])
    if user is None or not user.is_active or user.erased_at is not None:
        raise InvalidToken("the account of this token is no longer active")
    if claims.get("ver") != user.token_version:
        raise InvalidToken("this session has ended; sign in again")
    return user


def client_ip(request: Request) -> str | None:
    """The peer address (a proxy in front must be trusted to pass the real one through)."""
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None


CurrentUser = Annotated[User, Depends(get_current_user)]
ClientIp = Annotated[str | None, Depends(client_ip)]


def parse_phone(raw: str, *, settings: Settings, field: str = "phone") -> str:
    """E.164 form of a phone in a request body; a bad one is a 422 on that field."""
    try:
        return normalise_phone(
            raw, default_country=settings.default_country, level=settings.auth.phone_validation
        )
    except InvalidPhoneNumber as exc:
        raise RequestValidationError(
            [{"loc": ("body", field), "msg": exc.message, "type": exc.code, "input": raw}]
        ) from None


def check_password(
    password: str, *, settings: Settings, user_inputs: Sequence[str], field: str = "password"
) -> str:
    """A new password that is too easy to guess is a 422 on that field, saying why."""
    reason = passwords.weakness(
        password, min_score=settings.auth.password_min_score, user_inputs=user_inputs
    )
    if reason is not None:
        raise RequestValidationError(
            [{"loc": ("body", field), "msg": reason, "type": "value_error", "input": None}]
        )
    return password
