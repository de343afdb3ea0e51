"""Sign-up by phone, activation by SMS code, sign-in, token rotation, logout, password reset.

All public (``permissions.PUBLIC_PATHS``) and rate limited per client IP and per phone number.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from accounts import service as auth_service
from accounts.exceptions import AuthFailure
from accounts.models import CodePurpose
from accounts.schemas import (
    AcceptedOut,
    ActivateIn,
    LoginIn,
    PasswordResetConfirmIn,
    PasswordResetRequestIn,
    RegisterIn,
    ResendCodeIn,
    TokenOut,
)
from api.auth.cookie import (
    CLEAR_COOKIE_DOC,
    COOKIE,
    SET_COOKIE_DOC,
    Presented,
    SessionMode,
    clear_refresh_cookie,
    set_refresh_cookie,
)
from api.auth.deps import ClientIp, check_password, client_ip, parse_phone
from api.auth.throttle import AuthEndpoint, RateLimiter, enforce
from api.deps import SessionDep, SettingsDep
from api.errors import error_response, error_responses
from api.sms import drain_after_commit
from core.config import Settings
from core.exceptions import AppError

router = APIRouter(prefix="/auth", tags=["auth"], responses=error_responses(429))

CODE_SENT = "If this number can sign up or sign in here, a code is on its way by SMS."


def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]


class Throttle:
    """Counts the call against the client IP's limit before the body is even read."""

    def __init__(self, endpoint: AuthEndpoint) -> None:
        self.endpoint = endpoint

    async def __call__(self, request: Request, settings: SettingsDep) -> None:
        await enforce(
            get_limiter(request), settings.auth, self.endpoint, ip=client_ip(request) or "unknown"
        )


async def _throttle_phone(
    request: Request, settings: SettingsDep, endpoint: AuthEndpoint, phone: str
) -> None:
    await enforce(get_limiter(request), settings.auth, endpoint, phone=phone)


@asynccontextmanager
async def _keeping_failures(session: AsyncSession) -> AsyncIterator[None]:
    """Commit what a recorded failure wrote (attempt counts, audit, revocations), then fail."""
    try:
        yield
    except AuthFailure:
        await session.commit()
        raise


async def _send_after_commit(
    session: AsyncSession, background: BackgroundTasks, request: Request, queued: int | None
) -> None:
    """Commit the code and its SMS, then send it at once: FastAPI may run background tasks
    before the session dependency commits."""
    await session.commit()
    drain_after_commit(background, request, [] if queued is None else [queued])


def _tokens(
    pair: auth_service.TokenPair, response: Response, *, settings: Settings, mode: str | None
) -> TokenOut:
    """The pair as JSON; in the web app's flow the refresh token goes to the cookie instead."""
    if mode == "cookie":
        set_refresh_cookie(response, pair.refresh_token, settings=settings)
    return TokenOut(
        access_token=pair.access_token,
        refresh_token=None if mode == "cookie" else pair.refresh_token,
        expires_in=pair.expires_in,
    )


async def _failed_by_cookie(
    session: AsyncSession, exc: AppError, *, settings: Settings
) -> JSONResponse:
    """A refused cookie is of no further use: answer the error and clear it."""
    await session.rollback()
    answer = error_response(exc)
    clear_refresh_cookie(answer, settings=settings)
    return answer


_SETS_COOKIE: dict[int | str, dict[str, Any]] = {200: {"headers": SET_COOKIE_DOC}}


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    dependencies=[Depends(Throttle(AuthEndpoint.REGISTER))],
)
async def register(
    body: RegisterIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
    background: BackgroundTasks,
) -> AcceptedOut:
    """Create an inactive account and send its activation code by SMS."""
    phone = parse_phone(body.phone, settings=settings)
    await _throttle_phone(request, settings, AuthEndpoint.REGISTER, phone)
    check_password(
        body.password, settings=settings, user_inputs=(phone, body.first_name, body.last_name)
    )
    queued = await auth_service.register(
        session,
        settings=settings,
        phone=phone,
        first_name=body.first_name,
        last_name=body.last_name,
        password=body.password,
        language=body.language,
        ip=ip,
    )
    await _send_after_commit(session, background, request, queued)
    return AcceptedOut(detail=CODE_SENT)


@router.post(
    "/activate",
    response_model=TokenOut,
    dependencies=[Depends(Throttle(AuthEndpoint.ACTIVATE))],
    responses={**error_responses(400), **_SETS_COOKIE},
)
async def activate(
    body: ActivateIn,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
    mode: SessionMode = None,
) -> TokenOut:
    """Activate the account with the SMS code; signs in."""
    phone = parse_phone(body.phone, settings=settings)
    await _throttle_phone(request, settings, AuthEndpoint.ACTIVATE, phone)
    async with _keeping_failures(session):
        pair = await auth_service.activate(
            session, settings=settings, phone=phone, code=body.code, ip=ip
        )
    return _tokens(pair, response, settings=settings, mode=mode)


@router.post(
    "/resend-code",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    dependencies=[Depends(Throttle(AuthEndpoint.RESEND))],
)
async def resend_code(
    body: ResendCodeIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
    background: BackgroundTasks,
) -> AcceptedOut:
    """Send a new activation or password-reset code (limits: docs/security.md, "SMS codes")."""
    phone = parse_phone(body.phone, settings=settings)
    await _throttle_phone(request, settings, AuthEndpoint.RESEND, phone)
    queued = await auth_service.resend_code(
        session, settings=settings, phone=phone, purpose=body.purpose, ip=ip
    )
    await _send_after_commit(session, background, request, queued)
    return AcceptedOut(detail=CODE_SENT)


@router.post(
    "/login",
    response_model=TokenOut,
    dependencies=[Depends(Throttle(AuthEndpoint.LOGIN))],
    responses={**error_responses(401, 403), **_SETS_COOKIE},
)
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
    mode: SessionMode = None,
) -> TokenOut:
    """Sign in with phone and password: an access token (15 min) and a refresh token (7 days)."""
    phone = parse_phone(body.phone, settings=settings)
    await _throttle_phone(request, settings, AuthEndpoint.LOGIN, phone)
    async with _keeping_failures(session):
        pair = await auth_service.login(
            session, settings=settings, phone=phone, password=body.password, ip=ip
        )
    return _tokens(pair, response, settings=settings, mode=mode)


@router.post(
    "/refresh",
    response_model=TokenOut,
    dependencies=[Depends(Throttle(AuthEndpoint.OTHER))],
    responses={**error_responses(401, 403), **_SETS_COOKIE},
)
async def refresh(
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
    presented: Presented,
) -> TokenOut | JSONResponse:
    """Trade a refresh token (JSON body, or the web app's cookie) for a new pair; the old one
    stops working."""
    by_cookie = presented.by_cookie
    try:
        async with _keeping_failures(session):
            pair = await auth_service.refresh(
                session,
                settings=settings,
                token=presented.token,
                ip=ip,
                grace_s=settings.auth.refresh_reuse_grace_s if by_cookie else 0,
            )
    except AppError as exc:
        if not by_cookie:
            raise
        return await _failed_by_cookie(session, exc, settings=settings)
    mode = "cookie" if by_cookie else presented.mode
    return _tokens(pair, response, settings=settings, mode=mode)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    dependencies=[Depends(Throttle(AuthEndpoint.OTHER))],
    responses={**error_responses(401, 403), 204: {"headers": CLEAR_COOKIE_DOC}},
)
async def logout(
    session: SessionDep, settings: SettingsDep, ip: ClientIp, presented: Presented
) -> Response:
    """Revoke a refresh token (JSON body, or the web app's cookie, which is cleared)."""
    try:
        await auth_service.logout(session, settings=settings, token=presented.token, ip=ip)
    except AppError as exc:
        if not presented.by_cookie:
            raise
        return await _failed_by_cookie(session, exc, settings=settings)
    answer = Response(status_code=status.HTTP_204_NO_CONTENT)
    if presented.cookie_sent:
        clear_refresh_cookie(answer, settings=settings)
    return answer


@router.post(
    "/password-reset/request",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AcceptedOut,
    dependencies=[Depends(Throttle(AuthEndpoint.RESEND))],
)
async def request_password_reset(
    body: PasswordResetRequestIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
    background: BackgroundTasks,
) -> AcceptedOut:
    """Send a password-reset code to an active account's phone."""
    phone = parse_phone(body.phone, settings=settings)
    await _throttle_phone(request, settings, AuthEndpoint.RESEND, phone)
    queued = await auth_service.resend_code(
        session,
        settings=settings,
        phone=phone,
        purpose=CodePurpose.PASSWORD_RESET,
        ip=ip,
    )
    await _send_after_commit(session, background, request, queued)
    return AcceptedOut(detail=CODE_SENT)


@router.post(
    "/password-reset/confirm",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    dependencies=[Depends(Throttle(AuthEndpoint.OTHER))],
    responses={**error_responses(400), 204: {"headers": CLEAR_COOKIE_DOC}},
)
async def confirm_password_reset(
    body: PasswordResetConfirmIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
) -> Response:
    """Set a new password with the SMS code; signs out every session (and clears the web app's
    refresh cookie, which it revoked)."""
    phone = parse_phone(body.phone, settings=settings)
    await _throttle_phone(request, settings, AuthEndpoint.OTHER, phone)
    check_password(body.new_password, settings=settings, user_inputs=(phone,), field="new_password")
    async with _keeping_failures(session):
        await auth_service.reset_password(
            session,
            settings=settings,
            phone=phone,
            code=body.code,
            new_password=body.new_password,
            ip=ip,
        )
    answer = Response(status_code=status.HTTP_204_NO_CONTENT)
    if COOKIE in request.cookies:
        clear_refresh_cookie(answer, settings=settings)
    return answer
